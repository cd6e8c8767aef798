"""Runs kept on disk under unguessable ids, so a reload, a reconnect or a shared link brings a run back.

A `RunStore` keeps one opaque byte string per run id (the app stores `data.run_bytes(state)`;
the store never looks inside). Plain Python: no Streamlit, no NumPy.

- Ids are 128 random bits from `secrets`, written as 32 lowercase hex digits: URL-safe, and
  still distinct on a case-insensitive file system (base64 ids would not be). A `?run=` value
  comes from a link, so it is untrusted: `valid_id` accepts exactly that form and nothing else,
  which rules out path tricks ("..", "/", NUL) and long strings before any file is touched.
- Saving is atomic: the bytes go to a temp file in the same folder, are flushed to disk, then
  `os.replace`d over the old file. A reader sees the old run or the new one, never half a file.
- Each file carries a small header (magic, payload length, CRC-32), so `load` can tell a whole
  file from a truncated or damaged one. `load` never raises for a bad file: a missing id, a
  corrupt, short, foreign or unreadable file all give None, and the caller starts a fresh run.
- The folder is bounded: the runs saved longest ago are deleted until the folder fits
  `max_bytes`, in an eviction pass after the first save of a process and then after every
  EVICT_SLACK of `max_bytes` written (a pass lists and stats every file: 90 ms for 14,000 files,
  which once a second, after every save of a training session, took a tenth of a core beside the
  training), so the folder may exceed its bound by that much between passes. The run just saved
  is never deleted, even if it alone is larger.
- Parts: a run may keep big pieces that stop changing (a long history's full blocks, weight
  snapshots) in part files of their own beside it (`<id>.<name>.part`, each packed like a run), so
  that saving it again every second writes only what changed. `save` is given the parts the run
  needs, by name, each with a function that makes its bytes; it writes only those not stored yet
  (a name must stand for one content, e.g. its digest), and the run's header lists them. A run's
  size is its file plus its parts; eviction and `delete` remove them together, and parts no
  longer listed (or left by a save that never finished) go once they are `min_age` old.

Several writers (replicas of the app sharing one folder, see the README's "Serving a class"):
- Temp names are unique (`mkstemp`), so two processes saving the same id each write their own
  temp file; the last `os.replace` wins and a reader still sees one whole file or the other. A
  part is never rewritten in place (its name is its content) and stays while any save lists it.
- Eviction never removes a run saved less than `min_age` seconds ago (MIN_AGE_SECONDS, 5
  minutes, by the file's modification time, which each save renews). A replica saves a session
  once a second while anything in it changes, so a run that any replica is training or a page is
  using is always younger than that; a resting run's replica holds it in memory, and its next
  change saves it again, and its saver `touch`es the runs pages are watching every minute, so
  those stay young too. The folder may exceed its bound by what was saved in the last 5 minutes.
- Eviction and saving exclude each other through an advisory lock on `.lock` in the folder
  (`fcntl.flock`: shared while a save checks its parts and replaces its file, exclusive while an
  eviction pass looks at the files and deletes): without it, a run found old could be saved again
  by another replica between the look and the delete, and vanish, or a part found unlisted be
  listed again. Shared storage must support these locks
  (a local disk, NFSv4, CephFS do); where `fcntl` does not exist (Windows) the lock is skipped
  and only the age rule protects runs. Clocks of machines sharing the folder should agree to
  well within `min_age` (NTP).
- A folder that cannot be written (gone, read-only, full) makes `save` raise OSError; the app
  keeps training and says so (dashboard/runs/session.py). `load` and eviction treat it as empty.

Where: `folder` argument, else $DIGIT_LAB_RUNS, else ($XDG_CACHE_HOME or ~/.cache)/digit-lab/runs.
Bound: `max_bytes` argument, else $DIGIT_LAB_RUNS_MAX_MB megabytes, else DEFAULT_MAX_MB.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; the age rule alone protects runs being saved
    fcntl = None

ID_BYTES = 16  # 128 bits
ID_PATTERN = re.compile(r"[0-9a-f]{32}")  # 2 hex digits per byte
SUFFIX = ".run"
PART_SUFFIX = ".part"
PART_NAME_LENGTH = 32
PART_NAME = re.compile(r"[0-9a-f]{32}")  # a part's name within its run (the caller's digest of its content)
TEMP_PREFIX = ".partial-"
STALE_TEMP_SECONDS = 3600  # temp files older than this were left by a crashed save
EVICT_SLACK = 0.01  # share of max_bytes a store writes between eviction passes (5 MB of the default 512)
MIN_AGE_SECONDS = 300  # eviction spares runs saved more recently than this (by any replica)
LOCK_NAME = ".lock"  # saves hold it shared, eviction exclusive
DEFAULT_MAX_MB = 512
FOLDER_ENV = "DIGIT_LAB_RUNS"
MAX_MB_ENV = "DIGIT_LAB_RUNS_MAX_MB"
# Header: magic, payload length (uint64), CRC-32 of the payload (uint32), big-endian.
MAGIC = b"digit-lab run\x00v1"
HEADER = struct.Struct(f">{len(MAGIC)}sQI")
# A run with parts: magic, the part list's length (uint32), payload length, CRC-32 of list and payload;
# then the part names (ASCII, one after the other), then the payload.
MAGIC_PARTS = b"digit-lab run\x00v2"
HEADER_PARTS = struct.Struct(f">{len(MAGIC_PARTS)}sIQI")


def new_id() -> str:
    """A fresh run id: 128 random bits as 32 lowercase hex digits."""
    return secrets.token_hex(ID_BYTES)


def valid_id(text: object) -> bool:
    """True if `text` has the exact form of an id made by `new_id` (safe to use in a file name)."""
    return isinstance(text, str) and ID_PATTERN.fullmatch(text) is not None


def default_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """$DIGIT_LAB_RUNS, else ($XDG_CACHE_HOME or ~/.cache)/digit-lab/runs."""
    chosen = environ.get(FOLDER_ENV)
    if chosen:
        return Path(chosen).expanduser()
    cache_home = environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "digit-lab" / "runs"


def default_max_bytes(environ: Mapping[str, str] = os.environ) -> int:
    """$DIGIT_LAB_RUNS_MAX_MB in bytes, else DEFAULT_MAX_MB.

    Raises: ValueError with one sentence if the variable is not a positive number.
    """
    text = environ.get(MAX_MB_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_MB * 2**20
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = float("nan")
    if not megabytes > 0 or megabytes == float("inf"):
        raise ValueError(f"{MAX_MB_ENV} must be a positive number of megabytes, got {text!r}")
    return int(megabytes * 2**20)


def pack(payload: bytes, parts: Iterable[str] = ()) -> bytes:
    """The file content for `payload` (and the names of the parts it needs): header, then the bytes."""
    names = "".join(parts).encode("ascii")
    if not names:
        return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload
    return HEADER_PARTS.pack(MAGIC_PARTS, len(names), len(payload), zlib.crc32(payload, zlib.crc32(names))) \
        + names + payload


def unpack(content: bytes) -> bytes | None:
    """The payload of a file written by `pack`, or None if it is short, foreign or damaged."""
    unpacked = unpack_parts(content)
    return None if unpacked is None else unpacked[0]


def unpack_parts(content: bytes) -> tuple[bytes, list[str]] | None:
    """(payload, part names) of a file written by `pack`, or None if it is short, foreign or damaged."""
    magic = content[:len(MAGIC)]
    if magic == MAGIC and len(content) >= HEADER.size:
        _, length, crc = HEADER.unpack_from(content)
        payload = content[HEADER.size:]
        return (payload, []) if length == len(payload) and crc == zlib.crc32(payload) else None
    if magic != MAGIC_PARTS or len(content) < HEADER_PARTS.size:
        return None
    _, size, length, crc = HEADER_PARTS.unpack_from(content)
    names, payload = content[HEADER_PARTS.size:HEADER_PARTS.size + size], content[HEADER_PARTS.size + size:]
    if len(names) != size or length != len(payload) or crc != zlib.crc32(payload, zlib.crc32(names)):
        return None
    listed = [names[i:i + PART_NAME_LENGTH].decode("ascii", "replace") for i in range(0, size, PART_NAME_LENGTH)]
    return (payload, listed) if all(PART_NAME.fullmatch(n) for n in listed) else None


class RunStore:
    """Opaque bytes per run id in one folder, saved atomically, bounded in size (oldest saves evicted)."""

    def __init__(self, folder: str | os.PathLike | None = None, max_bytes: int | None = None,
                 min_age: float = MIN_AGE_SECONDS):
        """Use `folder` (default: `default_folder()`), created on first save, holding at most `max_bytes`
        of runs older than `min_age` seconds.

        Raises: ValueError if max_bytes (or $DIGIT_LAB_RUNS_MAX_MB) is not positive.
        """
        self.folder = Path(folder).expanduser() if folder is not None else default_folder()
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
        if self.max_bytes <= 0:
            raise ValueError(f"the run store's size limit must be positive, got {max_bytes}")
        self.min_age = float(min_age)
        self._evicting = threading.Lock()  # one eviction pass at a time per store object
        self._unchecked: int | None = None  # bytes saved since the last eviction pass (None: no pass yet)
        self._counting = threading.Lock()

    def path(self, run_id: str) -> Path:
        """The file of a run id.

        Raises: ValueError if the id is not one `new_id` could have made.
        """
        if not valid_id(run_id):
            raise ValueError(f"not a run id: {str(run_id)[:40]!r}")
        return self.folder / f"{run_id}{SUFFIX}"

    def part_path(self, run_id: str, name: str) -> Path:
        """The file of one of a run's parts.

        Raises: ValueError if the id or the name is not valid.
        """
        if not PART_NAME.fullmatch(str(name)):
            raise ValueError(f"not a part name: {str(name)[:40]!r}")
        self.path(run_id)  # checks the id
        return Path(self._part_file(run_id, name))

    def _part_file(self, run_id: str, name: str) -> str:
        return os.path.join(self.folder, f"{run_id}.{name}{PART_SUFFIX}")  # (a str: Path costs 40 us a part)

    def save(self, run_id: str, payload: bytes, parts: Mapping[str, Callable[[], bytes]] | None = None) -> None:
        """Write the run atomically (temp file + os.replace) with the `parts` it needs (name -> a function making
        that part's bytes, called only when the part is not stored yet), then evict the oldest runs beyond the limit.

        Raises: ValueError for an invalid id or part name; OSError if the folder cannot be written (the old
        file, if any, is then left as it was, and so are its parts).
        """
        target, parts = self.path(run_id), parts or {}
        paths = {name: self._part_file(run_id, name) for name in parts}
        if not all(PART_NAME.fullmatch(name) for name in parts):
            raise ValueError(f"not part names: {sorted(parts)[:3]!r}")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # runs are private to the user
        content = pack(bytes(payload), list(parts))
        temp, written = self._written(content), len(content)
        try:
            with self._locked(exclusive=False):  # not while an eviction pass may have found the old file or a part old
                for name, path in paths.items():
                    if not os.path.exists(path):
                        part = pack(bytes(parts[name]()))
                        os.replace(self._written(part), path)
                        written += len(part)
                os.replace(temp, target)
        except BaseException:
            _remove(temp)
            raise
        if self._due(written):
            self.evict(keep=run_id)

    def _due(self, written: int) -> bool:
        """Count `written` bytes; whether an eviction pass is due (the first save, or EVICT_SLACK written)."""
        with self._counting:
            due = self._unchecked is None or self._unchecked + written >= EVICT_SLACK * self.max_bytes
            self._unchecked = 0 if due else self._unchecked + written
            return due

    def part(self, run_id: object, name: object) -> bytes | None:
        """The bytes of a run's part, or None (never an exception) for an invalid id or name, a missing part or
        a damaged file."""
        try:
            return unpack(self.part_path(run_id, name).read_bytes())
        except (OSError, ValueError):
            return None

    def _written(self, content: bytes) -> Path:
        """A new temp file in the folder holding `content`, flushed to disk."""
        handle, temp = tempfile.mkstemp(dir=self.folder, prefix=TEMP_PREFIX, suffix=SUFFIX)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            _remove(Path(temp))
            raise
        return Path(temp)

    def touch(self, run_id: str) -> bool:
        """Mark a stored run as saved now, so eviction spares it for another `min_age`; False if it is not
        there (evicted, or the store is unreachable).

        Raises: ValueError for an invalid id.
        """
        path = self.path(run_id)
        with self._locked(exclusive=False):
            try:
                os.utime(path)
            except OSError:
                return False
        return True

    def load(self, run_id: object) -> bytes | None:
        """The bytes last saved under `run_id`, or None.

        None (never an exception) for an invalid id, a missing run, and a file that is short,
        damaged, not written by this store, or unreadable: a link's run id is untrusted.
        """
        if not valid_id(run_id):
            return None
        try:
            content = self.path(run_id).read_bytes()
        except (OSError, ValueError):
            return None
        return unpack(content)

    def delete(self, run_id: str) -> None:
        """Forget a run and its parts (nothing happens if it is not there).

        Raises: ValueError for an invalid id.
        """
        _remove(self.path(run_id))
        for path, _, _ in self._files()[1].get(run_id, []):
            _remove(path)

    def ids(self) -> list[str]:
        """The stored run ids, the one saved longest ago first."""
        return [path.name[: -len(SUFFIX)] for path, _, _ in self._files()[0]]

    def total_bytes(self) -> int:
        """Bytes used by the stored runs and their parts."""
        runs, parts = self._files()
        return sum(size for _, size, _ in runs) + sum(size for its in parts.values() for _, size, _ in its)

    def evict(self, keep: str | None = None) -> list[str]:
        """Delete the runs saved longest ago, with their parts, until the folder fits max_bytes; never `keep`, never
        a run saved less than `min_age` seconds ago (by any process).

        Also removes temp files left by saves that crashed, parts whose run is gone, and the parts of `keep` its
        file no longer lists (read here, under the lock: another replica may have saved it last), each once it is
        `min_age` old. Returns the evicted ids.
        """
        with self._evicting, self._locked(exclusive=True):
            self._remove_stale_temps()
            runs, parts = self._files()
            young_from = time.time_ns() - int(self.min_age * 1e9)
            for run_id in set(parts) - {path.name[: -len(SUFFIX)] for path, _, _ in runs} - {keep}:
                parts[run_id] = self._remove_old(parts[run_id], young_from)  # a deleted run's, a crashed first save's
            listed = self._listed(keep) if keep is not None else None
            if listed is not None:
                mine = parts.get(keep, [])
                unlisted = [part for part in mine if os.path.basename(part[0]).split(".")[1] not in listed]
                parts[keep] = [part for part in mine if part not in unlisted] + self._remove_old(unlisted, young_from)
            sizes = {run_id: sum(size for _, size, _ in its) for run_id, its in parts.items()}
            total = sum(size for _, size, _ in runs) + sum(sizes.values())
            evicted = []
            for path, size, mtime in runs:  # oldest first
                if total <= self.max_bytes or mtime > young_from:
                    break  # the rest are younger still
                run_id = path.name[: -len(SUFFIX)]
                if run_id == keep:
                    continue
                _remove(path)
                for part, _, _ in parts.get(run_id, []):
                    _remove(part)
                total -= size + sizes.get(run_id, 0)
                evicted.append(run_id)
            return evicted

    def _listed(self, run_id: str) -> set[str] | None:
        """The parts the run's file lists, or None when it cannot be read (then none of its parts is removed)."""
        try:
            unpacked = unpack_parts(self.path(run_id).read_bytes())
        except (OSError, ValueError):
            return None
        return None if unpacked is None else set(unpacked[1])

    @staticmethod
    def _remove_old(files: list[tuple[str, int, int]], young_from: int) -> list[tuple[str, int, int]]:
        """Delete the files changed before `young_from` (ns); the ones left."""
        for path, _, mtime in files:
            if mtime <= young_from:
                _remove(path)
        return [file for file in files if file[2] > young_from]

    @contextlib.contextmanager
    def _locked(self, exclusive: bool):
        """Hold the folder's advisory lock (shared or exclusive) across processes; nothing without fcntl
        or when the lock file cannot be opened (then a save still happens: losing it would be worse)."""
        handle = None
        if fcntl is not None:
            with contextlib.suppress(OSError):
                handle = os.open(self.folder / LOCK_NAME, os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            if handle is not None:
                fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            if handle is not None:
                os.close(handle)  # closing releases the lock

    def _files(self) -> tuple[list[tuple[Path, int, int]], dict[str, list[tuple[str, int, int]]]]:
        """From one listing of the folder: (path, size, mtime in ns) of each run file, oldest save first (ties by
        name, so the order is total), and of each part file, by run id."""
        runs, parts = [], {}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return runs, parts
        for entry in entries:
            run_id, _, rest = entry.name.partition(".")
            if not valid_id(run_id):
                continue  # temp files and anything else a person put there
            is_run = rest == SUFFIX[1:]
            if not (is_run or (rest.endswith(PART_SUFFIX) and PART_NAME.fullmatch(rest[:-len(PART_SUFFIX)]))):
                continue
            try:
                info = entry.stat()
            except OSError:  # deleted by another save's eviction meanwhile
                continue
            if is_run:
                runs.append((Path(entry.path), info.st_size, info.st_mtime_ns))
            else:
                parts.setdefault(run_id, []).append((entry.path, info.st_size, info.st_mtime_ns))
        runs.sort(key=lambda run: (run[2], run[0].name))
        return runs, parts

    def _remove_stale_temps(self) -> None:
        """Delete temp files older than STALE_TEMP_SECONDS (a save in progress is younger)."""
        cutoff = time.time() - STALE_TEMP_SECONDS
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                try:
                    if entry.stat().st_mtime < cutoff:
                        _remove(Path(entry.path))
                except OSError:
                    continue


def _remove(path: str | Path) -> None:
    """Delete a file if it is there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
