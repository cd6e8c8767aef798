"""NPZ reading: X and y in the accepted shapes and types, one test per kind of bad file."""

import io

import numpy as np
import pytest

from data.npz import load_npz


def npz_bytes(**arrays) -> bytes:
    """An .npz archive of the given arrays (pickling allowed, to build bad files)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def good_X(n=4):
    """n images with distinct uint8 pixels."""
    return (np.arange(n * 784) % 256).astype(np.uint8).reshape(n, 784)


def error_of(content: bytes) -> str:
    """The message of the ValueError that load_npz raises for content."""
    with pytest.raises(ValueError) as error:
        load_npz(content, name="digits.npz")
    return str(error.value)


def test_reads_flat_uint8(tmp_path):
    """X (n, 784) uint8 and y load as they are, labels as int64; name and path recorded."""
    path = tmp_path / "digits.npz"
    path.write_bytes(npz_bytes(X=good_X(), y=np.array([0, 1, 2, 9], np.uint8)))
    dataset = load_npz(path)
    assert np.array_equal(dataset.images, good_X()) and dataset.images.flags.c_contiguous
    assert dataset.labels.dtype == np.int64 and dataset.labels.tolist() == [0, 1, 2, 9]
    assert dataset.name == "digits.npz (4)" and dataset.source == str(path)


def test_reads_square_images_from_bytes():
    """X (n, 28, 28) with int64 values is flattened row by row; bytes input works."""
    X = good_X().astype(np.int64).reshape(4, 28, 28)
    dataset = load_npz(npz_bytes(X=X, y=np.arange(4)), name="up.npz")
    assert np.array_equal(dataset.images, good_X()) and dataset.images.dtype == np.uint8


def test_float_pixels_are_scaled_with_rint():
    """Float pixels 0..1 become rint(x * 255) as uint8."""
    X = good_X() / 255
    X[0, 0] = 0.5  # 127.5 rounds to the even 128
    dataset = load_npz(npz_bytes(X=X.astype(np.float32), y=np.arange(4)))
    expected = good_X()
    expected[0, 0] = 128
    assert np.array_equal(dataset.images, expected)


def test_missing_array():
    """A missing X or y is named, with the arrays found."""
    assert (
        error_of(npz_bytes(images=good_X(), y=np.arange(4)))
        == "digits.npz: no array named 'X', found images, y"
    )


def test_object_array_is_refused():
    """An object (pickled) array is refused without unpickling it."""
    message = error_of(npz_bytes(X=good_X(), y=np.array([1, "a", None, 2], dtype=object)))
    assert message == "digits.npz: array 'y' is a pickled object array; pickled data is not accepted"


def test_wrong_image_shape():
    """X of the wrong shape says the shape found and the shapes expected."""
    message = error_of(npz_bytes(X=np.zeros((4, 32, 32), np.uint8), y=np.arange(4)))
    assert message == "digits.npz: X has shape (4, 32, 32), expected (n, 784) or (n, 28, 28) with n >= 1"


def test_wrong_label_shape():
    """One-hot y (n, 10) is refused."""
    assert "y has shape (4, 10), expected (n,)" in error_of(npz_bytes(X=good_X(), y=np.eye(10)[:4]))


def test_nan_pixels():
    """NaN in float X is refused, naming the first row with one."""
    X = good_X() / 255
    X[2, 5] = np.nan
    assert error_of(npz_bytes(X=X, y=np.arange(4))) == (
        "digits.npz: X has NaN or infinite values (first in row 3), expected finite numbers"
    )


def test_integer_pixels_out_of_range():
    """Integer pixels outside 0..255 are refused with the range found."""
    X = good_X().astype(np.int16)
    X[0, 0] = 300
    assert (
        error_of(npz_bytes(X=X, y=np.arange(4))) == "digits.npz: X has values from 0 to 300, expected 0..255"
    )


def test_float_pixels_out_of_range():
    """Float pixels above 1 are refused, hinting at the scaling."""
    message = error_of(npz_bytes(X=good_X().astype(np.float64), y=np.arange(4)))
    assert (
        message
        == "digits.npz: X has values from 0.0 to 255.0, expected 0..1 (float pixels must be scaled to 0..1)"
    )


def test_label_out_of_range():
    """Labels outside 0..9 are refused."""
    assert (
        error_of(npz_bytes(X=good_X(), y=np.array([0, 1, 2, 10])))
        == "digits.npz: y has values from 0 to 10, expected 0..9"
    )


def test_fractional_labels():
    """Float labels must be whole numbers."""
    assert "y has fractional values" in error_of(npz_bytes(X=good_X(), y=np.array([0, 1.5, 2, 3])))


def test_mismatched_lengths():
    """X and y of different lengths are refused, giving both counts."""
    assert error_of(npz_bytes(X=good_X(), y=np.arange(3))) == (
        "digits.npz: X has 4 images but y has 3 labels, expected the same number"
    )


def test_text_pixels_are_refused():
    """A string X is refused by type."""
    assert "X has type <U1, expected integers 0..255 or floats 0..1" in error_of(
        npz_bytes(X=np.full((2, 784), "a"), y=np.arange(2))
    )


def test_not_an_npz():
    """Text, a bare .npy or a pickle are refused as not an .npz archive."""
    assert error_of(b"label,pixel0\n") == "digits.npz: expected a NumPy .npz archive, found something else"
    buffer = io.BytesIO()
    np.save(buffer, good_X())
    assert error_of(buffer.getvalue()) == "digits.npz: found a single .npy array, expected an .npz archive"
    assert "found pickled Python data" in error_of(b"\x80\x04\x95")


def test_missing_file(tmp_path):
    """A missing path is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="absent.npz: file not found"):
        load_npz(tmp_path / "absent.npz")
