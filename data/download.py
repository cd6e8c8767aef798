"""Download MNIST and Fashion-MNIST into a local cache, verified by MD5.

Each file is streamed to `<file>.partial`, checked against its published MD5, then renamed into
place, so the cache only ever holds complete, verified files. Mirrors are tried in order.
Nothing here runs at import time.
"""

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

CHUNK_BYTES = 1 << 16

# "md5": of the .gz file as the mirrors serve it (torchvision lists the same values); it is what
# a download is checked against. "raw_md5": of the decompressed file, for reference.
# Fashion-MNIST was checked against Debian's dataset-fashion-mnist package. Debian's .gz files
# have other MD5s: their gzip headers were rewritten for reproducible builds (stored file name
# dropped, mtime set to 2020-06-05), so each is 23-24 bytes shorter. The data is the same: they
# decompress to the raw_md5 values below, and putting the original header back (the file name,
# mtime 2017-08-31 10:50:06 UTC for train-*, 10:50:27 UTC for t10k-*) gives exactly these
# upstream .gz MD5s. So the upstream MD5s are kept: Debian's would reject what the mirrors serve.
DATASETS = {
    "mnist": {
        "title": "MNIST",
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        "files": {
            "train-images-idx3-ubyte.gz": {
                "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "bytes": 9912422,
                "raw_md5": "6bbc9ace898e44ae57da46a324031adb",
            },
            "train-labels-idx1-ubyte.gz": {
                "md5": "d53e105ee54ea40749a09fcbcd1e9432",
                "bytes": 28881,
                "raw_md5": "a25bea736e30d166cdddb491f175f624",
            },
            "t10k-images-idx3-ubyte.gz": {
                "md5": "9fb629c4189551a2d022fa330f9573f3",
                "bytes": 1648877,
                "raw_md5": "2646ac647ad5339dbf082846283269ea",
            },
            "t10k-labels-idx1-ubyte.gz": {
                "md5": "ec29112dd5afa0611ce80d1b7f02629c",
                "bytes": 4542,
                "raw_md5": "27ae3e4e09519cfbb04c329615203637",
            },
        },
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        "files": {
            "train-images-idx3-ubyte.gz": {
                "md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "bytes": 26421880,
                "raw_md5": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            },
            "train-labels-idx1-ubyte.gz": {
                "md5": "25c81989df183df01b3e8a0aad5dffbe",
                "bytes": 29515,
                "raw_md5": "9018921c3c673c538a1fc5bad174d6f9",
            },
            "t10k-images-idx3-ubyte.gz": {
                "md5": "bef4ecab320f06d8554ea6380940ec79",
                "bytes": 4422102,
                "raw_md5": "8181f5470baa50b63fa0f6fddb340f0a",
            },
            "t10k-labels-idx1-ubyte.gz": {
                "md5": "bb300cfdad3c16e7a12a480ee83cd310",
                "bytes": 5148,
                "raw_md5": "15d484375f8d13e6eb1aabb0c3f46965",
            },
        },
    },
}

Progress = Callable[[int, int, str], None]


class DownloadError(Exception):
    """No mirror delivered a file with the right checksum; the message says what each one did."""


class _TransferError(Exception):
    """A mirror answered, but the bytes were incomplete or wrong."""


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Return where datasets are kept: override, else $DIGIT_LAB_DATA, else the user's cache folder."""
    chosen = override or os.environ.get("DIGIT_LAB_DATA")
    if chosen:
        return Path(chosen).expanduser()
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home).expanduser() / "digit-lab"


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder of one dataset ("mnist" or "fashion-mnist") in the cache.

    Raises: ValueError for an unknown dataset name.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}, expected one of: {', '.join(DATASETS)}")
    return cache_dir(data_dir) / name


def is_downloaded(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """True if every file of the dataset is in the cache with the expected size (a cheap check)."""
    folder = dataset_dir(name, data_dir)
    files = DATASETS[name]["files"]
    return all(_size(folder / filename) == spec["bytes"] for filename, spec in files.items())


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    mirrors: list[str] | None = None,
    progress: Progress | None = None,
    timeout: float = 30,
) -> Path:
    """Download the dataset's missing or damaged files, trying each mirror in turn; return its folder.

    progress(done_bytes, total_bytes, filename) is called as each file arrives.
    Raises: ValueError for an unknown name; DownloadError if every mirror fails for a file.
    """
    folder = dataset_dir(name, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for filename, spec in DATASETS[name]["files"].items():
            path = folder / filename
            if path.is_file() and _md5(path) == spec["md5"]:
                if progress:
                    progress(spec["bytes"], spec["bytes"], filename)
                continue
            _fetch(name, filename, spec, path, mirrors or DATASETS[name]["mirrors"], progress, timeout)
    finally:
        _remove_if_empty(folder)
    return folder


def _fetch(
    name: str,
    filename: str,
    spec: dict,
    path: Path,
    mirrors: list[str],
    progress: Progress | None,
    timeout: float,
) -> None:
    """Try each mirror until one delivers the file with the right MD5; else raise DownloadError."""
    partial = path.with_name(path.name + ".partial")
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            _stream(url, partial, spec, progress, timeout)
            os.replace(partial, path)
            return
        except (OSError, ValueError, http.client.HTTPException, _TransferError) as error:
            failures.append(f"{url}: {_describe(error)}")
        finally:
            partial.unlink(missing_ok=True)
    raise DownloadError(
        f"could not download {filename} of {DATASETS[name]['title']}; "
        + "; ".join(failures)
        + ". The network may be offline or the mirrors unreachable; try again later, or put the "
        f"files in {path.parent} by hand."
    )


def _stream(url: str, partial: Path, spec: dict, progress: Progress | None, timeout: float) -> None:
    """Write url to partial, hashing as it goes.

    Raises: _TransferError if the body is cut short or the MD5 differs; OSError or
    http.client.HTTPException if the connection fails.
    """
    filename = partial.name.removesuffix(".partial")
    request = urllib.request.Request(url, headers={"User-Agent": "digit-lab"})
    digest, done = hashlib.md5(usedforsecurity=False), 0
    with urllib.request.urlopen(request, timeout=timeout) as response, open(partial, "wb") as file:
        announced = response.headers.get("Content-Length")
        total = int(announced) if announced else spec["bytes"]
        while chunk := response.read(CHUNK_BYTES):
            file.write(chunk)
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total, filename)
    # http.client returns a short body without complaint when the server closes early.
    if announced and done < total:
        raise _TransferError(f"connection dropped after {done:,} of {total:,} bytes")
    if digest.hexdigest() != spec["md5"]:
        raise _TransferError(f"checksum mismatch (MD5 {digest.hexdigest()}, expected {spec['md5']})")


def _describe(error: Exception) -> str:
    """A short, plain description of why a mirror failed."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP error {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot connect ({error.reason})"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, http.client.IncompleteRead):
        return "connection dropped mid-file"
    return str(error) or type(error).__name__


def _md5(path: Path) -> str:
    """MD5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _size(path: Path) -> int | None:
    """File size in bytes, or None if there is no such file."""
    return path.stat().st_size if path.is_file() else None


def _remove_if_empty(folder: Path) -> None:
    """Leave no empty dataset folder behind after a failed first download."""
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (or already gone): keep it
