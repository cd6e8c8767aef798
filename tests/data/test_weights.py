"""Weights files: round trips in every form, and one test per kind of bad file."""

import io
import json

import numpy as np
import pytest

from data.weights import load_weights, save_weights, weights_bytes

ARRAYS = {"W1": np.arange(6, dtype=np.float32).reshape(2, 3), "b1": np.zeros((2, 1))}
META = {"hidden": 2, "lr": 0.1, "note": "ünïcode ok"}


def npz_bytes(**arrays) -> bytes:
    """An .npz archive of the given arrays (pickling allowed, to build bad files)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def meta_array(meta) -> np.ndarray:
    """meta as the UTF-8 JSON bytes that save_weights stores."""
    return np.frombuffer(json.dumps(meta).encode(), np.uint8)


def error_of(content: bytes) -> str:
    """The message of the ValueError that load_weights raises for content."""
    with pytest.raises(ValueError) as error:
        load_weights(content, name="model.npz")
    return str(error.value)


def assert_round_trip(arrays, meta):
    """arrays and meta equal ARRAYS and META, dtypes included."""
    assert meta == META and list(arrays) == ["W1", "b1"]
    for key, array in ARRAYS.items():
        assert arrays[key].dtype == array.dtype and np.array_equal(arrays[key], array)


def test_round_trip_through_a_path(tmp_path):
    """save_weights then load_weights on a path gives back the arrays and meta, file name unchanged."""
    path = tmp_path / "model.weights"
    save_weights(path, ARRAYS, META)
    assert path.is_file() and not (tmp_path / "model.weights.npz").exists()
    assert_round_trip(*load_weights(path))


def test_round_trip_through_a_file_object():
    """Weights can be written to and read from file objects."""
    buffer = io.BytesIO()
    save_weights(buffer, ARRAYS, META)
    buffer.seek(0)
    assert_round_trip(*load_weights(buffer))


def test_weights_bytes_round_trip():
    """weights_bytes gives a download that load_weights reads back."""
    assert_round_trip(*load_weights(weights_bytes(ARRAYS, META)))


def test_file_loads_without_pickle():
    """The saved file opens with plain numpy and allow_pickle=False."""
    with np.load(io.BytesIO(weights_bytes(ARRAYS, META)), allow_pickle=False) as npz:
        assert set(npz.files) == {"W1", "b1", "meta"} and npz["meta"].dtype == np.uint8


def test_meta_as_a_string_array_is_accepted():
    """A meta stored as a str array (another writer's choice) is read too."""
    arrays, meta = load_weights(npz_bytes(W1=ARRAYS["W1"], meta=np.array(json.dumps(META))))
    assert meta == META and list(arrays) == ["W1"]


def test_array_named_meta_is_refused_when_saving():
    """An array cannot take the reserved name "meta"."""
    with pytest.raises(ValueError, match="cannot be named 'meta'"):
        weights_bytes({"meta": np.zeros(1)}, {})


def test_pickled_array_is_refused():
    """An object array is refused with "pickled data is not accepted"."""
    message = error_of(npz_bytes(W1=np.array([{"a": 1}], dtype=object), meta=meta_array(META)))
    assert message == "model.npz: array 'W1' is a pickled object array; pickled data is not accepted"


def test_a_pickle_file_is_refused():
    """A plain pickle is not mistaken for weights."""
    assert (
        error_of(b"\x80\x04\x95\x00") == "model.npz: expected a NumPy .npz archive, found pickled Python data"
    )


def test_nan_is_refused_naming_the_array():
    """NaN in an array is refused, naming the array."""
    bad = ARRAYS["W1"].copy()
    bad[0, 0] = np.nan
    assert error_of(npz_bytes(W1=bad, meta=meta_array(META))) == (
        "model.npz: array 'W1' contains NaN or infinite values, expected finite numbers"
    )


def test_inf_is_refused_naming_the_array():
    """Infinity in an array is refused, naming the array."""
    assert "array 'b1' contains NaN or infinite" in error_of(
        npz_bytes(b1=np.array([np.inf]), meta=meta_array(META))
    )


def test_non_numeric_array_is_refused():
    """A text array is refused, naming it and its type."""
    assert error_of(npz_bytes(W1=np.array(["a"]), meta=meta_array(META))) == (
        "model.npz: array 'W1' has type <U1, expected numbers"
    )


def test_missing_meta():
    """A file without meta says it is not a digit-lab weights file."""
    assert (
        error_of(npz_bytes(W1=ARRAYS["W1"]))
        == "model.npz: no 'meta' entry, expected weights saved by digit-lab"
    )


def test_meta_not_json():
    """meta that is not JSON is refused."""
    assert error_of(npz_bytes(meta=np.frombuffer(b"{not json", np.uint8))).startswith(
        "model.npz: 'meta' is not valid JSON"
    )


def test_meta_not_an_object():
    """meta must be a JSON object, not a list."""
    assert (
        error_of(npz_bytes(meta=meta_array([1, 2])))
        == "model.npz: 'meta' is a JSON list, expected a JSON object"
    )


def test_not_an_npz():
    """Random bytes are refused as not an .npz archive; a damaged zip likewise."""
    assert error_of(b"hello") == "model.npz: expected a NumPy .npz archive, found something else"
    assert error_of(weights_bytes(ARRAYS, META)[:50]).startswith("model.npz: damaged .npz archive")


def test_missing_file(tmp_path):
    """A missing path is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="absent.npz: file not found"):
        load_weights(tmp_path / "absent.npz")


def test_history_may_hold_nan_weights_may_not(tmp_path):
    """A run's history marks unmeasured metrics as NaN and loads; NaN in any other array is refused."""
    path = tmp_path / "run.npz"
    history = np.array([[0, np.nan], [10, 0.5]])
    save_weights(path, {"W1": np.ones((2, 2)), "history": history}, {"format": "x"})
    arrays, _ = load_weights(path)
    np.testing.assert_array_equal(arrays["history"], history)
    save_weights(path, {"W1": np.full((2, 2), np.nan), "history": history}, {})
    with pytest.raises(ValueError, match="'W1' contains NaN"):
        load_weights(path)
