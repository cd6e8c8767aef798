"""Resolve the SOURCE strings of the command line (and dashboard) to a loaded Dataset."""

import os
from pathlib import Path

from data.csv import load_csv
from data.dataset import Dataset
from data.download import DATASETS, Progress, dataset_dir, download, is_downloaded
from data.idx import load_idx_dir
from data.npz import load_npz
from data.sample import load_sample

# SOURCE keyword -> (dataset name in the cache, split it always means or None for `split`)
NAMED = {
    "mnist": ("mnist", None),
    "mnist-test": ("mnist", "test"),
    "fashion-mnist": ("fashion-mnist", None),
    "fashion-mnist-test": ("fashion-mnist", "test"),
}
ACCEPTED = (
    "sample, mnist, mnist-test, fashion-mnist, fashion-mnist-test, a Kaggle .csv/.csv.gz/.zip file, "
    "an .npz file with arrays X and y, or a folder of MNIST IDX files"
)


def load_source(
    source: str,
    split: str = "train",
    data_dir: str | os.PathLike | None = None,
    download_missing: bool = True,
    progress: Progress | None = None,
) -> Dataset:
    """Load a SOURCE: a keyword (sample, mnist, mnist-test, fashion-mnist[-test]), a file or a folder.

    Keywords win over same-named folders (write ./mnist for the folder). split applies to
    "mnist", "fashion-mnist" and IDX folders. A missing named dataset is downloaded into
    data_dir (see download.cache_dir) when download_missing, reporting to progress.
    Raises: FileNotFoundError if a path or an undownloaded dataset is missing; ValueError for
    an unknown source or bad content; download.DownloadError if a download fails.
    """
    if source == "sample":
        return load_sample()
    if source in NAMED:
        name, fixed_split = NAMED[source]
        return _load_named(name, fixed_split or split, data_dir, download_missing, progress)
    return _load_path(source, split)


def _load_named(
    name: str,
    split: str,
    data_dir: str | os.PathLike | None,
    download_missing: bool,
    progress: Progress | None,
) -> Dataset:
    """Load a dataset from the cache, downloading it first if allowed."""
    if not is_downloaded(name, data_dir):
        if not download_missing:
            raise FileNotFoundError(
                f"{DATASETS[name]['title']} is not downloaded yet (looked in {dataset_dir(name, data_dir)}); "
                f"run: digit-lab download {name}"
            )
        download(name, data_dir, progress=progress)
    return load_idx_dir(dataset_dir(name, data_dir), split, title=DATASETS[name]["title"])


def _load_path(source: str, split: str) -> Dataset:
    """Load a file or folder by its kind."""
    path = Path(source).expanduser()
    lower = path.name.lower()
    if path.is_dir():
        return load_idx_dir(path, split)
    if not path.exists():
        if os.sep in source or "/" in source or "." in path.name:
            raise FileNotFoundError(f"{source}: no such file or folder; SOURCE can be {ACCEPTED}")
        raise ValueError(f"unknown source {source!r}; SOURCE can be {ACCEPTED}")
    if lower.endswith((".csv", ".csv.gz", ".zip")):
        return load_csv(path)
    if lower.endswith(".npz"):
        return load_npz(path)
    raise ValueError(f"{source}: cannot tell what kind of file this is; SOURCE can be {ACCEPTED}")
