"""Digit data for digit-lab: load it, check it, and put it in the network's layout.

Formats, one loader each, all returning a `Dataset` (uint8 images (n, 784), int64 labels):
MNIST/Fashion-MNIST IDX files (raw or .gz), Kaggle digit-recognizer CSV (plain, .gz or .zip),
NumPy .npz with arrays X and y, and a bundled 10,000-image MNIST sample for offline use.
Also: verified downloads into a cache folder, trained weights as .npz, and `split`, the one
place data becomes float32 (784, m) columns. Errors are ValueError/FileNotFoundError messages
that name the file and say expected vs found.

Imports numpy, pandas (only when a CSV is read) and the stdlib only; no I/O at import time.
"""

from data.csv import load_csv
from data.dataset import Dataset
from data.download import (
    DATASETS,
    DownloadError,
    cache_dir,
    dataset_dir,
    download,
    is_downloaded,
)
from data.idx import load_idx_dir, load_idx_images, load_idx_labels
from data.npz import load_npz
from data.sample import load_sample
from data.sources import load_source
from data.split import Split, split, to_columns
from data.weights import load_weights, save_weights, weights_bytes

__all__ = [
    "DATASETS",
    "Dataset",
    "DownloadError",
    "Split",
    "cache_dir",
    "dataset_dir",
    "download",
    "is_downloaded",
    "load_csv",
    "load_idx_dir",
    "load_idx_images",
    "load_idx_labels",
    "load_npz",
    "load_sample",
    "load_source",
    "load_weights",
    "save_weights",
    "split",
    "to_columns",
    "weights_bytes",
]
