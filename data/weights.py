"""Save and load trained weights as .npz: one array per parameter plus a JSON `meta` entry.

Only format checks live here (readable, no pickles, numeric, finite, meta is a JSON object);
whether the shapes fit a network is for core to decide.
"""

import io
import json
from os import PathLike

import numpy as np

from data._io import Source, get_array, open_npz, read_source

META_KEY = "meta"
MAY_HOLD_NAN = frozenset({"history"})  # a run's evaluations: NaN marks a metric not measured (no dev set)


def save_weights(path_or_file: str | PathLike | io.IOBase, arrays: dict[str, np.ndarray], meta: dict) -> None:
    """Write arrays and meta (JSON-serialisable dict) to an .npz loadable with allow_pickle=False.

    Raises: ValueError if an array is named "meta"; TypeError if meta is not JSON-serialisable.
    """
    if META_KEY in arrays:
        raise ValueError(f"an array cannot be named {META_KEY!r}: that name holds the metadata")
    meta_bytes = np.frombuffer(json.dumps(meta).encode("utf-8"), np.uint8)
    if hasattr(path_or_file, "write"):
        np.savez(path_or_file, **arrays, **{META_KEY: meta_bytes})
        return
    # Open the file ourselves: np.savez would append ".npz" to any other file name.
    with open(path_or_file, "wb") as file:
        np.savez(file, **arrays, **{META_KEY: meta_bytes})


def weights_bytes(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    """Return the .npz that save_weights would write, as bytes (for a download button)."""
    buffer = io.BytesIO()
    save_weights(buffer, arrays, meta)
    return buffer.getvalue()


def load_weights(source: Source, name: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Read (arrays, meta) written by save_weights from a path, bytes or file object.

    Raises: FileNotFoundError if missing; ValueError if not an .npz, pickled, non-numeric,
    not finite, or without a valid JSON `meta`.
    """
    content, display, _ = read_source(source, name)
    with open_npz(content, display) as npz:
        if META_KEY not in npz.files:
            raise ValueError(f"{display}: no {META_KEY!r} entry, expected weights saved by digit-lab")
        arrays = {key: get_array(npz, key, display) for key in npz.files}
    meta = _parse_meta(arrays.pop(META_KEY), display)
    for key, array in arrays.items():
        _check_numeric(array, key, display, finite=key.rsplit(".", 1)[-1] not in MAY_HOLD_NAN)  # "run.history" too
    return arrays, meta


def _parse_meta(array: np.ndarray, display: str) -> dict:
    """Decode the JSON object stored as UTF-8 bytes (or as a str array)."""
    if array.dtype != np.uint8 and array.dtype.kind != "U":
        raise ValueError(f"{display}: {META_KEY!r} has type {array.dtype}, expected JSON text")
    try:
        text = str(array[()]) if array.dtype.kind == "U" else array.tobytes().decode("utf-8")
        meta = json.loads(text)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{display}: {META_KEY!r} is not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{display}: {META_KEY!r} is a JSON {type(meta).__name__}, expected a JSON object")
    return meta


def _check_numeric(array: np.ndarray, key: str, display: str, finite: bool = True) -> None:
    """Raise ValueError unless the array holds (finite) numbers."""
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{display}: array {key!r} has type {array.dtype}, expected numbers")
    if finite and not np.isfinite(array).all():
        raise ValueError(f"{display}: array {key!r} contains NaN or infinite values, expected finite numbers")
