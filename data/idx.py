"""Read MNIST-style IDX files (raw or gzip) into uint8 images and int64 labels.

An IDX file is a 4-byte big-endian magic number (2051 = unsigned bytes in 3 dimensions for
images, 2049 = 1 dimension for labels), one big-endian uint32 per dimension, then the data.
"""

from pathlib import Path

import numpy as np

from data._io import Source, gunzip, read_source
from data.dataset import PIXELS, Dataset

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
KIND = {IMAGES_MAGIC: "an IDX image file", LABELS_MAGIC: "an IDX label file"}
PREFIX = {"train": "train", "test": "t10k"}


def load_idx_images(path: Source, name: str | None = None) -> np.ndarray:
    """Read an IDX image file (raw or .gz; a path, or bytes with a display name).

    Shapes: returns (n, 784) uint8, C-contiguous, read-only (a view of the decompressed bytes).
    Raises: FileNotFoundError if missing; ValueError for a bad magic number, size or length.
    """
    pixels, (n, rows, cols), display = _read_idx(path, name, IMAGES_MAGIC)
    if (rows, cols) != (28, 28):
        raise ValueError(f"{display}: images are {rows}x{cols} pixels, expected 28x28")
    return pixels.reshape(n, PIXELS)


def load_idx_labels(path: Source, name: str | None = None) -> np.ndarray:
    """Read an IDX label file (raw or .gz; a path, or bytes with a display name).

    Shapes: returns (n,) int64.
    Raises: FileNotFoundError if missing; ValueError for a bad magic number, length or label.
    """
    labels, _, display = _read_idx(path, name, LABELS_MAGIC)
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        first = bad[0]
        raise ValueError(f"{display}: label number {first + 1:,} is {labels[first]}, expected 0..9")
    return labels.astype(np.int64)


def load_idx_dir(directory: str | Path, split: str = "train", title: str | None = None) -> Dataset:
    """Load the images and labels of one split ("train" or "test") from an MNIST-style folder.

    title names the data in Dataset.name (default: the folder's name), e.g. "MNIST train (60,000)".
    Raises: FileNotFoundError if the folder or a file is missing; ValueError for bad content.
    """
    if split not in PREFIX:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: folder not found")
    images_path = _find_idx(directory, split, "images", 3)
    labels_path = _find_idx(directory, split, "labels", 1)
    images, labels = load_idx_images(images_path), load_idx_labels(labels_path)
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path.name} has {len(images):,} images but {labels_path.name} has "
            f"{len(labels):,} labels, expected the same number"
        )
    name = f"{title or directory.name} {split} ({len(images):,})"
    return Dataset(images, labels, name=name, source=str(directory))


def _find_idx(directory: Path, split: str, kind: str, ndim: int) -> Path:
    """Find e.g. train-images-idx3-ubyte, its dotted variant train-images.idx3-ubyte, or a .gz."""
    stems = [f"{PREFIX[split]}-{kind}-idx{ndim}-ubyte", f"{PREFIX[split]}-{kind}.idx{ndim}-ubyte"]
    for stem in stems:
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    expected = " or ".join(f"{stem}[.gz]" for stem in stems)
    raise FileNotFoundError(f"{directory}: no {split} {kind} file, expected {expected}")


def _read_idx(source: Source, name: str | None, magic: int) -> tuple[np.ndarray, tuple, str]:
    """Check an IDX header and return (flat uint8 payload view, dimensions, display name)."""
    content, display, _ = read_source(source, name)
    content = gunzip(content, display)
    if not content:
        raise ValueError(f"{display}: the file is empty, expected {KIND[magic]}")
    found = int.from_bytes(content[:4], "big")
    if found != magic:
        kind = f" ({KIND[found]})" if found in KIND else ""
        raise ValueError(f"{display}: magic number {found}{kind}, expected {magic} ({KIND[magic]})")
    ndim = 3 if magic == IMAGES_MAGIC else 1
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(f"{display}: only {len(content)} bytes, expected a {header_size}-byte IDX header")
    dims = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return _payload(content, header_size, dims, display), dims, display


def _payload(content: bytes, header_size: int, dims: tuple, display: str) -> np.ndarray:
    """View the bytes after the header, checking their length against the header's counts."""
    what = "images" if len(dims) == 3 else "labels"
    expected, found = int(np.prod(dims)), len(content) - header_size
    if dims[0] == 0:
        raise ValueError(f"{display}: the header says 0 {what}, expected at least 1")
    if found < expected:
        raise ValueError(
            f"{display}: the header says {dims[0]:,} {what} ({expected:,} bytes), "
            f"found only {found:,} bytes: the file is truncated"
        )
    if found > expected:
        raise ValueError(
            f"{display}: {found - expected:,} unexpected bytes after the last of {dims[0]:,} {what} "
            "(trailing garbage)"
        )
    # frombuffer views the decompressed bytes: no copy, and the result is read-only.
    return np.frombuffer(content, np.uint8, count=expected, offset=header_size)
