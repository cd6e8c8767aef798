"""MNIST-style preprocessing of drawings."""

import numpy as np
import pytest

from data.preprocess import mnist_style, resample_matrix


def centre_of_mass(img):
    """(row, col) centre of mass of an image."""
    total = img.sum()
    return (img.sum(axis=1) @ np.arange(img.shape[0]) / total,
            img.sum(axis=0) @ np.arange(img.shape[1]) / total)


def test_off_centre_stroke_ends_up_centred():
    """A stroke drawn in a corner of a big canvas comes out centred by mass in 28x28."""
    canvas = np.zeros((280, 280))
    canvas[20:120, 30:45] = 1.0  # a vertical bar, top-left
    canvas[20:35, 30:90] = 1.0  # and a top bar: a '7'-ish shape, lopsided mass
    out = mnist_style(canvas)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    cy, cx = centre_of_mass(out.astype(float))
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1


def test_longer_side_scaled_to_20():
    """The ink's bounding box becomes 20 px on its longer side, keeping the aspect ratio."""
    canvas = np.zeros((300, 300))
    canvas[50:250, 100:150] = 255  # 200 tall, 50 wide
    out = mnist_style(canvas)
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() + 1 == 20
    assert cols.max() - cols.min() + 1 == 5


def test_empty_drawing_is_blank():
    """Nothing drawn gives an all-zero image, not an error."""
    assert not mnist_style(np.zeros((50, 50))).any()


def test_bad_input_is_refused():
    """A 3-D array or NaN pixels raise a clear ValueError."""
    with pytest.raises(ValueError, match="2-D"):
        mnist_style(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError):
        mnist_style(np.full((4, 4), np.nan))


def test_resample_matrix_preserves_mass():
    """Area resampling rows are averages: a constant image stays constant."""
    R = resample_matrix(20, 137)
    np.testing.assert_allclose(R.sum(axis=1), 1)
    np.testing.assert_allclose(R @ np.full(137, 0.7), 0.7)
