"""The run store: unguessable ids, untrusted ids refused, atomic saves, bad files read as None, a size bound."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dashboard.runs import store
from dashboard.runs.store import RunStore, new_id, valid_id

MB = 2**20


def age(run_store: RunStore, run_id: str, seconds_ago: float) -> None:
    """Pretend a run was last saved `seconds_ago` (mtime resolution would make fresh saves tie)."""
    path = run_store.path(run_id)
    stamp = path.stat().st_mtime - seconds_ago
    os.utime(path, (stamp, stamp))


def test_new_ids_are_128_bit_url_safe_and_distinct():
    """Ids are 32 hex digits (128 bits), valid, and do not repeat."""
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    for run_id in list(ids)[:50]:
        assert valid_id(run_id) and len(run_id) == 32
        assert set(run_id) <= set("0123456789abcdef")


@pytest.mark.parametrize("text", [
    "", "../" + "a" * 29, "a" * 31, "a" * 33, "a" * 10_000, "A" * 32, "g" * 32, "a" * 31 + "/",
    "a" * 31 + "\x00", "a" * 16 + "/../" + "a" * 12, " " + "a" * 31, "a" * 32 + "\n", "a" * 31 + "é",
    "a" * 28 + ".run", None, 12345, b"a" * 32, ["a" * 32],
])
def test_valid_id_rejects_everything_else(text):
    """A link's run value with path tricks, another length, capitals, or not a string is not an id."""
    assert not valid_id(text)


@pytest.mark.parametrize("text", ["../../etc/passwd", "a" * 31 + "/", "A" * 32, "a" * 5000])
def test_bad_ids_touch_no_file(tmp_path, text):
    """load gives None for a bad id; save and delete refuse it with ValueError; nothing is written."""
    run_store = RunStore(tmp_path / "runs")
    assert run_store.load(text) is None
    with pytest.raises(ValueError, match="not a run id"):
        run_store.save(text, b"x")
    with pytest.raises(ValueError, match="not a run id"):
        run_store.delete(text)
    assert list(tmp_path.rglob("*")) == []


def test_save_and_load_round_trip(tmp_path):
    """The bytes saved under an id come back as they were; saving again replaces them."""
    run_store = RunStore(tmp_path / "runs")
    run_id, other = new_id(), new_id()
    payload = bytes(range(256)) * 100
    run_store.save(run_id, payload)
    run_store.save(other, b"")
    assert run_store.load(run_id) == payload and run_store.load(other) == b""
    run_store.save(run_id, b"second")
    assert run_store.load(run_id) == b"second"
    assert sorted(run_store.ids()) == sorted([run_id, other])


def test_missing_id_loads_as_none(tmp_path):
    """A well-formed id nobody saved (another server's, an evicted one) gives None, also without a folder."""
    assert RunStore(tmp_path / "absent").load(new_id()) is None
    run_store = RunStore(tmp_path)
    run_store.save(new_id(), b"x")
    assert run_store.load(new_id()) is None


def test_delete(tmp_path):
    """A deleted run is gone; deleting a missing one is fine."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"x")
    run_store.delete(run_id)
    run_store.delete(run_id)
    assert run_store.load(run_id) is None and run_store.ids() == []


def test_damaged_files_load_as_none(tmp_path):
    """Truncated, grown, bit-flipped, foreign, empty, directory and unreadable files: None, no exception."""
    run_store = RunStore(tmp_path)
    payload = b"some run bytes" * 100
    good = store.pack(payload)
    cases = {
        "truncated": good[:-1],
        "header only": good[: store.HEADER.size],
        "half a header": good[:10],
        "empty": b"",
        "grown": good + b"x",
        "bit flipped": good[:-5] + bytes([good[-5] ^ 1]) + good[-4:],
        "foreign": b"PK\x03\x04" + payload,  # e.g. an .npz someone copied in
        "other version": good.replace(b"run\x00v1", b"run\x00v9", 1),
    }
    for label, content in cases.items():
        run_id = new_id()
        run_store.path(run_id).write_bytes(content)
        assert run_store.load(run_id) is None, label
    as_folder = new_id()
    run_store.path(as_folder).mkdir()
    assert run_store.load(as_folder) is None
    unreadable = new_id()
    run_store.save(unreadable, payload)
    run_store.path(unreadable).chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anything
            assert run_store.load(unreadable) is None
    finally:
        run_store.path(unreadable).chmod(0o600)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    """A save that fails half-way leaves the previous run intact and no temp file behind."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"old run")

    def fail(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", fail)  # the temp file is written, flushing it fails
    with pytest.raises(OSError, match="No space"):
        run_store.save(run_id, b"new run")
    assert run_store.load(run_id) == b"old run"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != store.LOCK_NAME) == [f"{run_id}.run"]


def test_failed_replace_keeps_the_old_file(tmp_path, monkeypatch):
    """If the final rename fails (after the temp file is complete), the old run stays and the temp goes."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"old run")

    def fail(source, target):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store.os, "replace", fail)
    with pytest.raises(PermissionError):
        run_store.save(run_id, b"new run")
    monkeypatch.undo()
    assert run_store.load(run_id) == b"old run"
    assert [p.name for p in tmp_path.iterdir() if p.name != store.LOCK_NAME] == [f"{run_id}.run"]


def test_killed_writer_leaves_old_file(tmp_path):
    """A process killed in the middle of a save (after writing part of the temp file) leaves the old run."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"old run")
    script = (
        "import os, sys\n"
        "from dashboard.runs import store\n"
        "def stop(*a, **k):\n"
        "    os._exit(9)\n"  # dies between the write and the rename, as a kill -9 would
        "store.os.fsync = stop\n"
        f"store.RunStore({str(tmp_path)!r}).save({run_id!r}, b'new run' * 1000)\n"
    )
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 9
    assert run_store.load(run_id) == b"old run"
    assert run_store.ids() == [run_id]  # the left-over temp file is not a run


def test_stale_temp_files_are_cleaned(tmp_path):
    """A temp file left by a crash long ago is removed by the next save; a fresh one is left alone."""
    run_store = RunStore(tmp_path)
    stale, fresh = tmp_path / f"{store.TEMP_PREFIX}old.run", tmp_path / f"{store.TEMP_PREFIX}new.run"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    old = stale.stat().st_mtime - store.STALE_TEMP_SECONDS - 10
    os.utime(stale, (old, old))
    run_store.save(new_id(), b"x")
    assert not stale.exists() and fresh.exists()


def test_eviction_keeps_the_folder_under_its_limit(tmp_path):
    """Beyond max_bytes the runs saved longest ago go first; the folder never ends above the limit."""
    run_store = RunStore(tmp_path, max_bytes=int(3.5 * MB))
    saved, base = [], time.time() - 1000
    for n in range(8):
        run_id = new_id()
        run_store.save(run_id, bytes([n]) * MB)
        saved.append(run_id)
        os.utime(run_store.path(run_id), (base + n, base + n))  # one save per second, as mtime sees it
        assert run_store.total_bytes() <= run_store.max_bytes
    assert run_store.ids() == saved[-3:]
    assert [run_store.load(run_id)[:1] for run_id in saved[-3:]] == [bytes([5]), bytes([6]), bytes([7])]
    assert all(run_store.load(run_id) is None for run_id in saved[:-3])


def test_eviction_follows_last_save_not_creation(tmp_path):
    """A run saved again recently outlives runs created after it but not saved since."""
    run_store = RunStore(tmp_path, max_bytes=int(2.5 * MB))
    first, second = new_id(), new_id()
    run_store.save(first, b"a" * MB)
    run_store.save(second, b"b" * MB)
    age(run_store, first, 2 * store.MIN_AGE_SECONDS)
    age(run_store, second, 1.5 * store.MIN_AGE_SECONDS)
    run_store.save(first, b"c" * MB)  # now the newest save
    third = new_id()
    run_store.save(third, b"d" * MB)
    assert run_store.load(second) is None
    assert run_store.load(first) == b"c" * MB and run_store.load(third) == b"d" * MB


def test_an_eviction_pass_follows_the_first_save_then_each_slack_written(tmp_path, monkeypatch):
    """A pass lists and stats every file of the folder (90 ms for 14,000), so it does not follow every save of a
    session saved once a second: it follows a process's first save, then each EVICT_SLACK of the limit written."""
    run_store = RunStore(tmp_path, max_bytes=100_000)  # a pass per 1,000 bytes written
    passes, evict = [], run_store.evict  # this store's: the app's saver, in this process, saves to others meanwhile
    monkeypatch.setattr(run_store, "evict", lambda keep=None: passes.append(keep) or evict(keep))
    run_id = new_id()
    sizes = []
    for n in range(20):
        run_store.save(run_id, b"x" * 290, {name(n): lambda: b"p" * 10})
        sizes.append(run_store.path(run_id).stat().st_size + run_store.part_path(run_id, name(n)).stat().st_size)
    slack = store.EVICT_SLACK * run_store.max_bytes
    later = sum(sizes[1:])  # each later pass comes once at least `slack`, at most `slack` and one save, are written
    assert passes[0] == run_id and later // (slack + max(sizes)) <= len(passes) - 1 <= later // slack
    assert len(passes) < len(sizes) / 2  # 7 passes for 20 saves


def test_the_run_just_saved_is_never_evicted(tmp_path):
    """A run larger than the whole limit is still kept (everything older goes)."""
    run_store = RunStore(tmp_path, max_bytes=MB, min_age=0)
    small = new_id()
    run_store.save(small, b"x" * 1000)
    big = new_id()
    run_store.save(big, b"y" * (2 * MB))
    assert run_store.load(big) == b"y" * (2 * MB) and run_store.load(small) is None


def test_eviction_ignores_other_files(tmp_path):
    """Files that are not runs (a README a host put there) are neither counted nor deleted."""
    (tmp_path / "README.txt").write_bytes(b"z" * (2 * MB))
    run_store = RunStore(tmp_path, max_bytes=MB)
    run_id = new_id()
    run_store.save(run_id, b"x")
    assert (tmp_path / "README.txt").exists() and run_store.load(run_id) == b"x"


def test_concurrent_saves_and_loads(tmp_path):
    """Threads saving one id and others while readers load: a reader only ever sees a whole payload."""
    run_store = RunStore(tmp_path, max_bytes=40 * 100_000, min_age=0)
    shared = new_id()
    payloads = [bytes([n]) * 100_000 for n in range(6)]
    run_store.save(shared, payloads[0])
    errors, seen = [], set()
    stop = threading.Event()

    def writer(n):
        try:
            for _ in range(30):
                run_store.save(shared, payloads[n])
                run_store.save(new_id(), payloads[n])  # others, so eviction runs concurrently too
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def reader():
        while not stop.is_set():
            content = run_store.load(shared)
            if content not in payloads:
                errors.append(AssertionError(f"partial read of {None if content is None else len(content)} bytes"))
            else:
                seen.add(content[0])

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(1, 6)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors, errors[:3]
    assert len(seen) > 1
    assert run_store.load(shared) in payloads
    assert run_store.total_bytes() <= run_store.max_bytes
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(store.TEMP_PREFIX)]


def test_default_folder_follows_the_environment(tmp_path, monkeypatch):
    """$DIGIT_LAB_RUNS wins, else $XDG_CACHE_HOME/digit-lab/runs, else ~/.cache/digit-lab/runs."""
    monkeypatch.delenv("DIGIT_LAB_RUNS", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert RunStore().folder == tmp_path / "home" / ".cache" / "digit-lab" / "runs"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert RunStore().folder == tmp_path / "xdg" / "digit-lab" / "runs"
    monkeypatch.setenv("DIGIT_LAB_RUNS", str(tmp_path / "hosted"))
    assert RunStore().folder == tmp_path / "hosted"
    assert RunStore(tmp_path / "argument").folder == tmp_path / "argument"
    assert not any(tmp_path.iterdir())  # nothing is created before the first save


def test_size_limit_from_argument_and_environment(monkeypatch):
    """max_bytes argument, else $DIGIT_LAB_RUNS_MAX_MB, else the default; bad values get one sentence."""
    monkeypatch.delenv("DIGIT_LAB_RUNS_MAX_MB", raising=False)
    assert RunStore("unused").max_bytes == store.DEFAULT_MAX_MB * MB
    monkeypatch.setenv("DIGIT_LAB_RUNS_MAX_MB", "2.5")
    assert RunStore("unused").max_bytes == int(2.5 * MB)
    assert RunStore("unused", max_bytes=1000).max_bytes == 1000
    for bad in ("0", "-3", "lots", "nan", "inf"):
        monkeypatch.setenv("DIGIT_LAB_RUNS_MAX_MB", bad)
        expected = f"DIGIT_LAB_RUNS_MAX_MB must be a positive number of megabytes, got '{bad}'"
        with pytest.raises(ValueError, match=expected):
            RunStore("unused")
    with pytest.raises(ValueError, match="must be positive"):
        RunStore("unused", max_bytes=0)


def test_store_imports_no_streamlit():
    """The store is plain Python: importing it loads neither Streamlit nor NumPy."""
    root = Path(__file__).resolve().parents[3]
    code = "import sys, dashboard.runs.store; print('streamlit' in sys.modules, 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    assert result.stdout.split() == ["False", "False"]


# ----- several writers: replicas of the app sharing one folder -------------------------------------------
def test_runs_saved_within_min_age_are_never_evicted(tmp_path):
    """Over the limit, runs saved less than min_age ago stay (another replica may be training them); older ones go."""
    run_store = RunStore(tmp_path, max_bytes=MB)
    saved = [new_id() for _ in range(4)]
    for run_id in saved:
        run_store.save(run_id, b"x" * MB)
    assert sorted(run_store.ids()) == sorted(saved)  # 4 MB in a 1 MB store: all young, all kept
    for n, run_id in enumerate(saved[:3]):
        age(run_store, run_id, store.MIN_AGE_SECONDS + 100 - n)  # saved[0] the oldest; saved[3] stays young
    newest = new_id()
    run_store.save(newest, b"y" * (MB // 50))  # more than EVICT_SLACK of the limit: an eviction pass follows
    assert run_store.ids() == [saved[3], newest]


# Each process re-saves its share of the old runs and new runs of its own, evicting after each save; it
# prints every id whose save returned. It re-saves the youngest old runs first, which an eviction pass that
# started at the same moment deletes last: without the store's lock they would vanish.
WRITER = """
import sys, time
from pathlib import Path
from dashboard.runs.store import RunStore
folder, go, ids = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
run_store = RunStore(folder, max_bytes=20_000)
while not go.exists():
    time.sleep(0.001)
for run_id in ids:
    run_store.save(run_id, run_id.encode() * 100)
    print(run_id, flush=True)
"""


def test_two_processes_saving_and_evicting_lose_nothing(tmp_path):
    """Two processes saving and evicting on one folder at once: every run either saved is there and whole afterwards."""
    folder, go = tmp_path / "runs", tmp_path / "go"
    seed = RunStore(folder)
    folder.mkdir()
    old = [new_id() for _ in range(800)]
    for n, run_id in enumerate(old):  # written directly: a save per file would evict, slowly
        seed.path(run_id).write_bytes(store.pack(b"old" * 1000))
        age(seed, run_id, store.MIN_AGE_SECONDS + 1000 - n)  # old[0] the oldest
    shares = [old[-1::-2][:100] + [new_id() for _ in range(20)], old[-2::-2][:100] + [new_id() for _ in range(20)]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(store.__file__).parents[2]),
                                                       os.environ.get("PYTHONPATH", "")])}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(go), *ids], env=env,
                                stdout=subprocess.PIPE, text=True) for ids in shares]
    try:
        time.sleep(1.0)  # both started and waiting, so that they really overlap
        go.touch()
        outputs = [writer.communicate(timeout=120)[0].split() for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    assert [writer.returncode for writer in writers] == [0, 0]
    assert outputs == shares  # every save returned
    lost = [run_id for ids in shares for run_id in ids if seed.load(run_id) != run_id.encode() * 100]
    assert not lost, f"{len(lost)} runs saved by one process were evicted by the other, e.g. {lost[:2]}"
    assert set(seed.ids()) == {run_id for ids in shares for run_id in ids}  # the old runs not saved again: gone
    assert not [p for p in folder.iterdir() if p.name.startswith(store.TEMP_PREFIX)]


# ----- parts ---------------------------------------------------------------------------------------
def name(n: int) -> str:
    """A valid part name (the caller's digest; any 32 hex digits)."""
    return f"{n:032x}"


def age_part(run_store: RunStore, run_id: str, part: str, seconds_ago: float) -> None:
    path = run_store.part_path(run_id, part)
    stamp = path.stat().st_mtime - seconds_ago
    os.utime(path, (stamp, stamp))


def test_parts_are_written_once_and_read_back(tmp_path):
    """A run's parts come back by name; a part already stored is not made again; the run file lists them."""
    run_store = RunStore(tmp_path)
    run_id, made = new_id(), []

    def maker(n):
        return lambda: made.append(n) or bytes([n]) * 1000

    run_store.save(run_id, b"head 1", {name(1): maker(1), name(2): maker(2)})
    assert made == [1, 2]
    run_store.save(run_id, b"head 2", {name(1): maker(1), name(2): maker(2), name(3): maker(3)})
    assert made == [1, 2, 3]  # 1 and 2 were stored: not made again
    assert run_store.load(run_id) == b"head 2"
    assert [run_store.part(run_id, name(n)) for n in (1, 2, 3)] == [bytes([n]) * 1000 for n in (1, 2, 3)]
    assert store.unpack_parts(run_store.path(run_id).read_bytes()) == (b"head 2", [name(1), name(2), name(3)])
    assert run_store.total_bytes() > 3000 and run_store.ids() == [run_id]


def test_a_missing_damaged_or_foreign_part_reads_as_none(tmp_path):
    """part() never raises: a bad id or name, a part not there, a damaged one all give None."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"head", {name(1): lambda: b"part"})
    path = run_store.part_path(run_id, name(1))
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    assert run_store.part(run_id, name(1)) is None
    assert run_store.part(run_id, name(2)) is None and run_store.part(new_id(), name(1)) is None
    for bad in ("../" + "a" * 29, "A" * 32, None, "a" * 31):
        assert run_store.part(run_id, bad) is None and run_store.part(bad, name(1)) is None
    with pytest.raises(ValueError, match="not part names"):
        run_store.save(run_id, b"head", {"../x": lambda: b""})


def test_a_damaged_part_list_loads_as_none(tmp_path):
    """The run file's list of parts is under its CRC: a changed name makes the whole file unreadable."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"head", {name(1): lambda: b"part"})
    path = run_store.path(run_id)
    content = bytearray(path.read_bytes())
    content[store.HEADER_PARTS.size] ^= 1
    path.write_bytes(bytes(content))
    assert run_store.load(run_id) is None


def test_delete_and_eviction_take_a_runs_parts_with_it(tmp_path):
    """A run's size counts its parts; evicting or deleting a run removes its parts too."""
    run_store = RunStore(tmp_path, max_bytes=int(2.5 * MB))
    old, other = new_id(), new_id()
    run_store.save(old, b"old", {name(1): lambda: b"a" * MB, name(2): lambda: b"b" * MB})
    age(run_store, old, 2 * store.MIN_AGE_SECONDS)
    run_store.save(other, b"other", {name(1): lambda: b"c" * MB})  # 3 MB in all: the old run goes, parts and all
    assert run_store.ids() == [other] and run_store.part(old, name(1)) is None
    assert sorted(p.name for p in tmp_path.glob("*.part")) == [f"{other}.{name(1)}.part"]
    run_store.delete(other)
    assert list(tmp_path.glob("*.part")) == [] and run_store.total_bytes() == 0


def test_parts_no_longer_listed_go_once_old(tmp_path):
    """A save drops its run's parts it no longer lists, but only once they are min_age old (another replica may
    be about to list a young one); parts of a run that is gone go the same way; other runs' parts stay."""
    run_store = RunStore(tmp_path, max_bytes=100)  # a tiny limit: an eviction pass follows every save
    run_id, other, gone = new_id(), new_id(), new_id()
    run_store.save(other, b"other", {name(9): lambda: b"kept"})
    run_store.save(gone, b"gone", {name(8): lambda: b"orphan"})
    run_store.path(gone).unlink()  # a save of a new run crashed before its file, or a delete crashed half way
    run_store.save(run_id, b"1", {name(1): lambda: b"x", name(2): lambda: b"y"})
    run_store.save(run_id, b"2", {name(2): lambda: b"y", name(3): lambda: b"z"})
    assert run_store.part(run_id, name(1)) == b"x"  # unlisted but young
    age_part(run_store, run_id, name(1), 2 * store.MIN_AGE_SECONDS)
    age_part(run_store, run_id, name(2), 2 * store.MIN_AGE_SECONDS)  # old but listed
    age_part(run_store, gone, name(8), 2 * store.MIN_AGE_SECONDS)
    age_part(run_store, other, name(9), 2 * store.MIN_AGE_SECONDS)  # old, listed by its own run
    run_store.save(run_id, b"3", {name(2): lambda: b"y", name(3): lambda: b"z"})
    assert run_store.part(run_id, name(1)) is None and run_store.part(gone, name(8)) is None
    assert run_store.part(run_id, name(2)) == b"y" and run_store.part(other, name(9)) == b"kept"


def test_a_part_removed_meanwhile_is_written_again(tmp_path):
    """Whether a part is stored is checked at each save, so one lost (a person, a full eviction) comes back."""
    run_store = RunStore(tmp_path)
    run_id = new_id()
    run_store.save(run_id, b"1", {name(1): lambda: b"x"})
    run_store.part_path(run_id, name(1)).unlink()
    run_store.save(run_id, b"2", {name(1): lambda: b"x"})
    assert run_store.part(run_id, name(1)) == b"x"


def test_a_part_the_run_file_lists_stays_whoever_saved_it_last(tmp_path, monkeypatch):
    """Two replicas saving one run: the eviction pass after a save keeps the parts the run's file lists now,
    even when another replica replaced that file between the save and the pass."""
    a, b = RunStore(tmp_path), RunStore(tmp_path)
    run_id = new_id()
    a.save(run_id, b"1", {name(1): lambda: b"x"})
    age_part(a, run_id, name(1), 2 * store.MIN_AGE_SECONDS)
    real = b.evict

    def a_saves_first(**kwargs):
        a.save(run_id, b"a", {name(1): lambda: b"x"})  # between b's file and b's eviction pass
        return real(**kwargs)

    monkeypatch.setattr(b, "evict", a_saves_first)
    b.save(run_id, b"b", {name(2): lambda: b"y"})
    assert a.load(run_id) == b"a" and a.part(run_id, name(1)) == b"x"
