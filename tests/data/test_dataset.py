"""Dataset: the layout every loader promises, checked where a Dataset is built."""

import numpy as np
import pytest

from data.dataset import Dataset


def test_len_is_the_number_of_images():
    """len(dataset) counts images."""
    assert len(Dataset(np.zeros((3, 784), np.uint8), None, name="x (3)", source="test")) == 3


@pytest.mark.parametrize(
    "images",
    [np.zeros((3, 784), np.float32), np.zeros((3, 28, 28), np.uint8), np.zeros((784, 3), np.uint8).T],
)
def test_images_must_be_uint8_rows(images):
    """Images that are not C-contiguous uint8 (n, 784) are refused."""
    with pytest.raises(ValueError, match="images must be"):
        Dataset(images, None, name="x", source="test")


def test_labels_must_be_int64_with_one_per_image():
    """Labels of the wrong type or length are refused."""
    with pytest.raises(ValueError, match="labels must be int64"):
        Dataset(np.zeros((3, 784), np.uint8), np.zeros(3, np.uint8), name="x", source="test")
    with pytest.raises(ValueError, match="labels must be int64"):
        Dataset(np.zeros((3, 784), np.uint8), np.zeros(2, np.int64), name="x", source="test")


def test_datasets_compare_by_identity():
    """Datasets are hashable and compare by identity (no element-wise array comparison)."""
    a = Dataset(np.zeros((1, 784), np.uint8), None, name="x", source="test")
    b = Dataset(np.zeros((1, 784), np.uint8), None, name="x", source="test")
    assert a == a and a != b and len({a, b}) == 2
