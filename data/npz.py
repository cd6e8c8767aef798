"""Read images and labels from a NumPy .npz archive with arrays X and y (no pickles)."""

import numpy as np

from data._io import Source, get_array, open_npz, read_source
from data.dataset import PIXELS, Dataset


def load_npz(source: Source, name: str | None = None) -> Dataset:
    """Load X ((n, 784) or (n, 28, 28); integers 0..255 or floats 0..1) and y (n,) labels 0..9.

    Float pixels are scaled back to uint8 as rint(x * 255).
    Raises: FileNotFoundError if missing; ValueError for a missing, pickled or malformed array.
    """
    content, display, where = read_source(source, name)
    with open_npz(content, display) as npz:
        X, y = get_array(npz, "X", display), get_array(npz, "y", display)
    images, labels = _images(X, display), _labels(y, display)
    if len(images) != len(labels):
        raise ValueError(
            f"{display}: X has {len(images):,} images but y has {len(labels):,} labels, "
            "expected the same number"
        )
    return Dataset(images, labels, name=f"{display} ({len(images):,})", source=where)


def _images(X: np.ndarray, display: str) -> np.ndarray:
    """Check X and return it as uint8 (n, 784), C-contiguous."""
    if X.ndim == 3 and X.shape[1:] == (28, 28):
        X = X.reshape(len(X), PIXELS)
    if X.ndim != 2 or X.shape[1] != PIXELS or len(X) == 0:
        raise ValueError(f"{display}: X has shape {X.shape}, expected (n, 784) or (n, 28, 28) with n >= 1")
    if np.issubdtype(X.dtype, np.integer):
        _check_range(X, 255, "X", display)
        return np.ascontiguousarray(X, dtype=np.uint8)
    if np.issubdtype(X.dtype, np.floating):
        _check_finite(X, "X", display)
        # Floats are taken as pixels / 255; a float array of 0..255 is a likely mistake.
        _check_range(X, 1, "X", display, hint=" (float pixels must be scaled to 0..1)")
        return np.rint(X * 255).astype(np.uint8)
    raise ValueError(f"{display}: X has type {X.dtype}, expected integers 0..255 or floats 0..1")


def _labels(y: np.ndarray, display: str) -> np.ndarray:
    """Check y and return it as int64 (n,)."""
    if y.ndim != 1:
        raise ValueError(f"{display}: y has shape {y.shape}, expected (n,) with one label 0..9 per image")
    if np.issubdtype(y.dtype, np.floating):
        _check_finite(y, "y", display)
        if not np.array_equal(y, np.round(y)):
            raise ValueError(f"{display}: y has fractional values, expected whole numbers 0..9")
    elif not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{display}: y has type {y.dtype}, expected integers 0..9")
    _check_range(y, 9, "y", display)
    return y.astype(np.int64)


def _check_finite(values: np.ndarray, key: str, display: str) -> None:
    """Raise ValueError naming the first NaN or infinite entry."""
    bad = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
    if bad.size:
        raise ValueError(
            f"{display}: {key} has NaN or infinite values (first in row {bad[0] + 1:,}), "
            "expected finite numbers"
        )


def _check_range(values: np.ndarray, high: int, key: str, display: str, hint: str = "") -> None:
    """Raise ValueError if values fall outside 0..high, giving the range found."""
    low_found, high_found = values.min(), values.max()
    if low_found < 0 or high_found > high:
        raise ValueError(
            f"{display}: {key} has values from {low_found} to {high_found}, expected 0..{high}{hint}"
        )
