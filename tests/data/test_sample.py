"""The bundled sample: present, small, complete, and what its README says it is."""

import numpy as np

from data.idx import load_idx_dir
from data.sample import SAMPLE_PATH, load_sample


def test_sample_loads():
    """load_sample gives 10,000 uint8 images with int64 labels, named and sourced "sample"."""
    sample = load_sample()
    assert len(sample) == 10_000 and sample.images.shape == (10_000, 784)
    assert sample.images.dtype == np.uint8 and sample.labels.dtype == np.int64
    assert sample.name == "MNIST sample (10,000)" and sample.source == "sample"


def test_sample_has_every_digit():
    """All ten digits are present, in MNIST's proportions for images 0..9999."""
    counts = np.bincount(load_sample().labels, minlength=10).tolist()
    assert counts == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def test_sample_file_is_small():
    """The bundled file stays under 3 MB, and its README ships beside it."""
    assert SAMPLE_PATH.stat().st_size < 3_000_000
    assert (SAMPLE_PATH.parent / "README.md").is_file()


def test_sample_is_mnist_training_images_0_to_9999(shared_mnist):
    """The sample equals MNIST training images 0..9999 grouped by digit, as the README says."""
    train = load_idx_dir(shared_mnist)
    order = np.argsort(train.labels[:10_000], kind="stable")
    sample = load_sample()
    assert np.array_equal(sample.images, train.images[order]) and np.array_equal(
        sample.labels, train.labels[order]
    )
