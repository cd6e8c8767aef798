"""load_source: every SOURCE form resolves to the right loader, with clear errors otherwise."""

import numpy as np
import pytest

from data.download import DATASETS
from data.sources import load_source
from tests.data.conftest import SMALL_ROWS


def link_mnist(source, cache):
    """Make cache/mnist hold the MNIST files of `source` (symlinks: no copying)."""
    folder = cache / "mnist"
    folder.mkdir(parents=True)
    for name in DATASETS["mnist"]["files"]:
        (folder / name).symlink_to(source / name)


def test_sample():
    """ "sample" is the bundled sample."""
    assert load_source("sample").source == "sample"


def test_csv_path(tmp_path):
    """A .csv path is read as a Kaggle CSV."""
    path = tmp_path / "train.csv"
    path.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n" + "4" + ",0" * 784 + "\n")
    assert load_source(str(path)).labels.tolist() == [4]


def test_npz_path(tmp_path):
    """An .npz path is read as arrays X and y."""
    path = tmp_path / "digits.npz"
    np.savez(path, X=np.zeros((2, 784), np.uint8), y=np.array([1, 2]))
    assert load_source(str(path)).labels.tolist() == [1, 2]


def test_idx_folder_uses_split(small_mnist):
    """A folder of IDX files is read with the given split."""
    assert len(load_source(str(small_mnist), split="test")) == SMALL_ROWS["t10k"]
    assert len(load_source(str(small_mnist), split="train")) == SMALL_ROWS["train"]


def test_named_dataset_from_cache(tmp_path, small_mnist):
    """ "mnist-test" reads the cached MNIST test set, titled MNIST, without downloading."""
    link_mnist(small_mnist, tmp_path)
    dataset = load_source("mnist-test", data_dir=tmp_path, download_missing=False)
    assert dataset.name == f"MNIST test ({SMALL_ROWS['t10k']})"


def test_named_dataset_not_downloaded(tmp_path):
    """Without download_missing, a missing dataset says which command fetches it."""
    with pytest.raises(
        FileNotFoundError, match="MNIST is not downloaded yet .*; run: digit-lab download mnist$"
    ):
        load_source("mnist", data_dir=tmp_path, download_missing=False)


def test_named_dataset_downloads_when_missing(tmp_path, mirror, monkeypatch):
    """With download_missing, a missing dataset is downloaded, reporting progress, then loaded."""
    monkeypatch.setitem(DATASETS["mnist"], "mirrors", [f"{mirror.url}/good/"])
    seen = []
    dataset = load_source("mnist-test", data_dir=tmp_path, progress=lambda *args: seen.append(args[2]))
    assert len(dataset) == SMALL_ROWS["t10k"] and set(seen) == set(DATASETS["mnist"]["files"])


def test_unknown_keyword():
    """An unknown word lists the accepted forms."""
    with pytest.raises(ValueError, match="unknown source 'emnist'; SOURCE can be sample, mnist, mnist-test"):
        load_source("emnist")


def test_missing_path(tmp_path):
    """A path that does not exist is a FileNotFoundError listing the accepted forms."""
    with pytest.raises(FileNotFoundError, match="absent.csv: no such file or folder; SOURCE can be sample"):
        load_source(str(tmp_path / "absent.csv"))


def test_unsupported_file_kind(tmp_path):
    """A file of an unknown kind is refused, listing the accepted forms."""
    path = tmp_path / "digits.png"
    path.write_bytes(b"\x89PNG")
    with pytest.raises(ValueError, match="digits.png: cannot tell what kind of file this is; SOURCE can be"):
        load_source(str(path))
