"""Shuffle a labelled Dataset into dev and train sets in the network's layout.

This is the one place data is put in the layout of core: columns are examples, X is (784, m)
float32 pixels / 255. Each X is the transpose of a C-contiguous (m, 784) array, so one example
(a column of X) is contiguous in memory and a batch of columns is a cheap row slice underneath.

With `raw=True` the training set stays raw uint8 pixels in that layout, a quarter of the
memory (46 MB instead of 185 MB for MNIST); core.model divides by 255 as it reads each chunk
(core.model.pixels gives the float view of a slice). The dev set is always float32.
"""

from dataclasses import dataclass

import numpy as np

from data.dataset import PIXELS, Dataset

ROWS_PER_CHUNK = 4096


@dataclass(frozen=True, eq=False)
class Split:
    """Train and dev sets, read-only.

    Shapes: X_train (784, m_train) float32 (uint8 raw pixels when split with raw=True),
    y_train (m_train,) int64, X_dev (784, m_dev) float32, y_dev (m_dev,) int64.
    """

    X_train: np.ndarray  # (784, m_train) float32 or raw uint8, a view of a C-contiguous (m_train, 784) array
    y_train: np.ndarray  # (m_train,) int64
    X_dev: np.ndarray  # (784, m_dev) float32
    y_dev: np.ndarray  # (m_dev,) int64


def split(dataset: Dataset, dev_size: int = 1000, train_size: int | None = None, seed: int = 0,
          raw: bool = False) -> Split:
    """Shuffle rows with the seed; the first dev_size go to dev, the next train_size (None: all) to train.

    Shapes: dataset.images (n, 784) uint8 -> X_dev (784, dev_size), X_train (784, m_train) float32,
    or X_train uint8 0..255 with `raw` (for core, which scales it on the fly; a quarter of the memory).
    Raises: ValueError if the dataset has no labels or a size is out of range.
    """
    n = len(dataset)
    if dataset.labels is None:
        raise ValueError(
            f"{dataset.name} has no labels (like a Kaggle test.csv), so it cannot be used for training"
        )
    if not 1 <= dev_size < n:
        raise ValueError(f"dev size must be 1..{n - 1:,} for {dataset.name}, got {dev_size:,}")
    available = n - dev_size
    if train_size is not None and not 1 <= train_size <= available:
        raise ValueError(
            f"train size must be 1..{available:,} ({n:,} images minus {dev_size:,} for dev), "
            f"got {train_size:,}"
        )
    order = np.random.default_rng(seed).permutation(n)
    dev, train = order[:dev_size], order[dev_size : dev_size + (train_size or available)]
    return Split(
        X_train=_raw_columns(dataset.images, train) if raw else _scaled_columns(dataset.images, train),
        y_train=_read_only(dataset.labels[train]),
        X_dev=_scaled_columns(dataset.images, dev),
        y_dev=_read_only(dataset.labels[dev]),
    )


def to_columns(images: np.ndarray) -> np.ndarray:
    """All images, in order, as float32 pixels / 255 columns (for evaluating saved weights).

    Shapes: images (n, 784) uint8 -> (784, n) float32.
    """
    return _scaled_columns(images, np.arange(len(images)))


def _scaled_columns(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Gather rows as float32 pixels / 255, a chunk at a time, and return them as columns.

    Shapes: images (n, 784) uint8, rows (m,) -> (784, m) float32.
    """
    X = np.empty((len(rows), PIXELS), np.float32)  # (m, 784); returned transposed as (784, m)
    # Chunks keep the temporaries small: no float64 or second float32 copy of the whole set.
    for start in range(0, len(rows), ROWS_PER_CHUNK):
        chunk = slice(start, start + ROWS_PER_CHUNK)
        np.divide(images[rows[chunk]], np.float32(255), out=X[chunk])
    return _read_only(X).T


def _raw_columns(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Gather rows as they are, uint8, and return them as columns. Shapes: (n, 784), (m,) -> (784, m)."""
    return _read_only(images[rows]).T


def _read_only(array: np.ndarray) -> np.ndarray:
    """Mark an array read-only, so no caller can change data others hold."""
    array.setflags(write=False)
    return array
