"""split: the network's layout (784, m) float32, shuffling, sizes, and errors."""

import sys

import numpy as np
import pytest

from data.dataset import Dataset
from data.split import split


def dataset(n=50, labels=True) -> Dataset:
    """n images whose first pixel is the row number, labels row % 10."""
    images = np.zeros((n, 784), np.uint8)
    images[:, 0] = np.arange(n)
    images[:, 1] = 255
    return Dataset(images, np.arange(n) % 10 if labels else None, name="tiny (50)", source="test")


def test_shapes_and_dtypes():
    """X is (784, m) float32, y is (m,) int64, sizes as asked."""
    result = split(dataset(), dev_size=10, train_size=30)
    assert result.X_dev.shape == (784, 10) and result.X_train.shape == (784, 30)
    assert result.X_train.dtype == result.X_dev.dtype == np.float32
    assert result.y_train.shape == (30,) and result.y_dev.dtype == result.y_train.dtype == np.int64


def test_examples_are_contiguous_in_memory():
    """X is the transpose of a C-contiguous (m, 784) array: one example per memory row."""
    result = split(dataset(), dev_size=10)
    assert result.X_train.T.flags.c_contiguous and result.X_dev.T.flags.c_contiguous


def test_outputs_are_read_only():
    """No caller can change the arrays in place."""
    result = split(dataset(), dev_size=10)
    for array in (result.X_train, result.y_train, result.X_dev, result.y_dev):
        assert not array.flags.writeable


def test_pixels_are_scaled_to_0_1_in_both_sets():
    """Train and dev are both pixels / 255 (the notebook left dev unnormalised)."""
    result = split(dataset(), dev_size=10)
    for X in (result.X_train, result.X_dev):
        assert X.max() <= 1 and X[1].min() == 1.0 and X.min() >= 0


def test_labels_follow_their_images():
    """Each label stays with its image through the shuffle."""
    result = split(dataset(), dev_size=10)
    for X, y in ((result.X_train, result.y_train), (result.X_dev, result.y_dev)):
        rows = np.rint(X[0] * 255).astype(int)
        assert np.array_equal(y, rows % 10)


def test_same_seed_same_split_other_seed_other_split():
    """The seed alone decides the shuffle."""
    a, b, c = split(dataset(), 10, seed=3), split(dataset(), 10, seed=3), split(dataset(), 10, seed=4)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_dev, b.y_dev)
    assert not np.array_equal(a.X_train, c.X_train)


def test_uses_the_documented_permutation():
    """Dev is the first dev_size rows of default_rng(seed).permutation(n)."""
    order = np.random.default_rng(7).permutation(50)
    result = split(dataset(), dev_size=5, seed=7)
    assert np.array_equal(np.rint(result.X_dev[0] * 255), order[:5])


def test_train_and_dev_are_disjoint_and_cover_all():
    """No image is in both sets; without train_size, all others are train."""
    result = split(dataset(), dev_size=10)
    train, dev = set(np.rint(result.X_train[0] * 255)), set(np.rint(result.X_dev[0] * 255))
    assert not train & dev and len(train | dev) == 50


def test_train_size_caps_the_train_set():
    """train_size takes the next rows after dev, no more."""
    result = split(dataset(), dev_size=10, train_size=5)
    order = np.random.default_rng(0).permutation(50)
    assert np.array_equal(np.rint(result.X_train[0] * 255), order[10:15])


def test_works_across_chunks(monkeypatch):
    """Chunked conversion gives the same values as converting at once."""
    # sys.modules: `data.split` as an attribute is the re-exported function, not the module.
    monkeypatch.setattr(sys.modules["data.split"], "ROWS_PER_CHUNK", 3)
    data = dataset()
    result = split(data, dev_size=10)
    order = np.random.default_rng(0).permutation(50)
    assert np.array_equal(result.X_train.T, data.images[order[10:]].astype(np.float32) / 255)


@pytest.mark.parametrize("dev_size", [0, 50, 51])
def test_dev_size_out_of_range(dev_size):
    """dev_size must leave at least one training image and be at least 1."""
    with pytest.raises(ValueError, match=f"dev size must be 1..49 for tiny \\(50\\), got {dev_size}"):
        split(dataset(), dev_size=dev_size)


@pytest.mark.parametrize("train_size", [0, 41])
def test_train_size_out_of_range(train_size):
    """train_size must be 1..the images left after dev."""
    with pytest.raises(
        ValueError, match=f"train size must be 1..40 \\(50 images minus 10 for dev\\), got {train_size}"
    ):
        split(dataset(), dev_size=10, train_size=train_size)


def test_unlabelled_dataset_is_refused():
    """A dataset without labels (Kaggle test.csv) cannot be split for training."""
    with pytest.raises(ValueError, match="tiny \\(50\\) has no labels"):
        split(dataset(labels=False))


def test_raw_split_keeps_uint8_pixels_in_the_same_layout():
    """raw=True: X_train is the same rows as uint8 0..255 (784, m), examples contiguous, read-only;
    the dev set and the labels are what the float split gives."""
    images = np.random.default_rng(1).integers(0, 256, (50, 784)).astype(np.uint8)
    ds = Dataset(images, np.arange(50) % 10, name="tiny (50)", source="test")
    raw, scaled = split(ds, dev_size=10, seed=3, raw=True), split(ds, dev_size=10, seed=3)
    assert raw.X_train.dtype == np.uint8 and raw.X_train.shape == scaled.X_train.shape == (784, 40)
    assert scaled.X_train.dtype == np.float32 and scaled.X_train.T.flags.c_contiguous
    assert raw.X_train.T.flags.c_contiguous and not raw.X_train.flags.writeable
    np.testing.assert_array_equal(raw.X_train / np.float32(255), scaled.X_train)
    np.testing.assert_array_equal(raw.X_dev, scaled.X_dev)
    assert raw.X_dev.dtype == np.float32
    np.testing.assert_array_equal(raw.y_train, scaled.y_train)


def test_to_columns_keeps_order_and_scales():
    """to_columns gives every image, in order, as float32 columns in 0..1, examples contiguous."""
    from data import to_columns

    images = np.arange(3 * 784, dtype=np.int64).reshape(3, 784) % 256
    X = to_columns(images.astype(np.uint8))
    assert X.shape == (784, 3) and X.dtype == np.float32 and X.T.flags.c_contiguous
    np.testing.assert_allclose(X[:, 1] * 255, images[1], atol=1e-4)
