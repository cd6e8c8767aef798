"""Downloads from a local mirror: verified, atomic, mirror fallback, and clean failures."""

import hashlib

import pytest

from data.download import (
    DATASETS,
    DownloadError,
    cache_dir,
    dataset_dir,
    download,
    is_downloaded,
)


@pytest.fixture
def labels_only(small_mnist, monkeypatch):
    """Shrink the (small) MNIST to its two label files: one file per split is enough for these tests."""
    files = {name: spec for name, spec in DATASETS["mnist"]["files"].items() if "labels" in name}
    monkeypatch.setitem(DATASETS["mnist"], "files", files)
    return files


def cached_files(root):
    """Every file under root, as relative paths."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_real_checksums_match_the_shared_files(shared_mnist):
    """DATASETS holds the true MD5s and sizes of the MNIST .gz files."""
    for name, spec in DATASETS["mnist"]["files"].items():
        content = (shared_mnist / name).read_bytes()
        assert hashlib.md5(content).hexdigest() == spec["md5"] and len(content) == spec["bytes"]


def test_downloads_all_files_verified(mirror, tmp_path):
    """A full download fetches the four files, verified, with no .partial left behind."""
    seen = []
    folder = download(
        "mnist", tmp_path, mirrors=[f"{mirror.url}/good/"], progress=lambda *args: seen.append(args)
    )
    assert folder == tmp_path / "mnist" and is_downloaded("mnist", tmp_path)
    assert cached_files(tmp_path) == sorted(f"mnist/{name}" for name in DATASETS["mnist"]["files"])
    for name, spec in DATASETS["mnist"]["files"].items():
        assert hashlib.md5((folder / name).read_bytes()).hexdigest() == spec["md5"]
        assert (spec["bytes"], spec["bytes"], name) in seen


def test_checksum_mismatch_leaves_nothing(mirror, tmp_path, labels_only):
    """Wrong bytes raise DownloadError naming the mirror and leave the cache empty."""
    with pytest.raises(DownloadError) as error:
        download("mnist", tmp_path, mirrors=[f"{mirror.url}/corrupt/"])
    message = str(error.value)
    assert f"{mirror.url}/corrupt/train-labels-idx1-ubyte.gz: checksum mismatch" in message
    assert "network may be offline" in message
    assert cached_files(tmp_path) == [] and not (tmp_path / "mnist").exists()


def test_connection_dropped_mid_file(mirror, tmp_path, labels_only):
    """A body cut short is an error and leaves no partial file."""
    size = labels_only["train-labels-idx1-ubyte.gz"]["bytes"]
    with pytest.raises(DownloadError, match=f"connection dropped after {size // 2:,} of {size:,} bytes"):
        download("mnist", tmp_path, mirrors=[f"{mirror.url}/drop/"])
    assert cached_files(tmp_path) == []


def test_timeout_moves_on_to_the_next_mirror(mirror, tmp_path, labels_only):
    """A mirror that does not answer in time is skipped for the next one."""
    download("mnist", tmp_path, mirrors=[f"{mirror.url}/slow/", f"{mirror.url}/good/"], timeout=0.2)
    assert is_downloaded("mnist", tmp_path)


def test_falls_back_to_the_second_mirror(mirror, tmp_path, labels_only):
    """A 404 on the first mirror is followed by success on the second."""
    download("mnist", tmp_path, mirrors=[f"{mirror.url}/missing/", f"{mirror.url}/good/"])
    assert cached_files(tmp_path) == sorted(f"mnist/{name}" for name in labels_only)
    assert mirror.requests[:2] == ["/missing/train-labels-idx1-ubyte.gz", "/good/train-labels-idx1-ubyte.gz"]


def test_all_mirrors_failing_lists_each(mirror, tmp_path, labels_only):
    """The error lists every mirror with what went wrong there."""
    with pytest.raises(DownloadError) as error:
        download(
            "mnist",
            tmp_path,
            mirrors=[f"{mirror.url}/missing/", f"{mirror.url}/corrupt/", "http://127.0.0.1:9/"],
        )
    message = str(error.value)
    assert "missing/train-labels-idx1-ubyte.gz: HTTP error 404" in message
    assert "corrupt/train-labels-idx1-ubyte.gz: checksum mismatch" in message
    assert "http://127.0.0.1:9/train-labels-idx1-ubyte.gz: cannot connect" in message


def test_present_files_are_not_fetched_again(mirror, tmp_path, labels_only):
    """Files already in the cache with the right checksum are not requested."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes((mirror.root / "t10k-labels-idx1-ubyte.gz").read_bytes())
    download("mnist", tmp_path, mirrors=[f"{mirror.url}/good/"])
    assert mirror.requests == ["/good/train-labels-idx1-ubyte.gz"]
    download("mnist", tmp_path, mirrors=[f"{mirror.url}/good/"])
    assert mirror.requests == ["/good/train-labels-idx1-ubyte.gz"]


def test_damaged_cached_file_is_replaced(mirror, tmp_path, labels_only):
    """A cached file with the wrong checksum is downloaded again."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    download("mnist", tmp_path, mirrors=[f"{mirror.url}/good/"])
    spec = labels_only["train-labels-idx1-ubyte.gz"]
    assert hashlib.md5((folder / "train-labels-idx1-ubyte.gz").read_bytes()).hexdigest() == spec["md5"]


def test_cache_dir_precedence(monkeypatch, tmp_path):
    """The override wins, then DIGIT_LAB_DATA, then XDG_CACHE_HOME, then ~/.cache."""
    monkeypatch.setenv("DIGIT_LAB_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir(tmp_path / "over") == tmp_path / "over"
    assert cache_dir() == tmp_path / "env"
    monkeypatch.delenv("DIGIT_LAB_DATA")
    assert cache_dir() == tmp_path / "xdg" / "digit-lab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "digit-lab"


def test_dataset_dir_and_unknown_names(tmp_path):
    """Each dataset has its own folder; an unknown name lists the known ones."""
    assert dataset_dir("fashion-mnist", tmp_path) == tmp_path / "fashion-mnist"
    assert not is_downloaded("mnist", tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'emnist', expected one of: mnist, fashion-mnist"):
        download("emnist", tmp_path)
