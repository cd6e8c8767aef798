"""Shared reading helpers: paths, bytes or file objects in; bytes and a display name out."""

import gzip
import io
import zipfile
import zlib
from os import PathLike
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
NPY_MAGIC = b"\x93NUMPY"

Source = str | PathLike | bytes | bytearray | memoryview | io.IOBase


def read_source(source: Source, name: str | None = None) -> tuple[bytes, str, str]:
    """Return (content, display name for messages, source description) of a path, bytes or file.

    Raises: FileNotFoundError if a path does not exist; ValueError if it is a folder.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "upload"
        return bytes(source), label, label
    if hasattr(source, "read"):
        # Streamlit's UploadedFile and open files carry their own name.
        label = name or Path(str(getattr(source, "name", "upload"))).name
        # getvalue() (BytesIO, UploadedFile) does not depend on where an earlier read stopped.
        content = source.getvalue() if hasattr(source, "getvalue") else source.read()
        return content, label, label
    path = Path(source).expanduser()
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, expected a file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    return path.read_bytes(), name or path.name, str(path)


def gunzip(content: bytes, display: str) -> bytes:
    """Decompress content if it starts with the gzip magic bytes, else return it unchanged.

    Raises: ValueError if the gzip data is damaged or cut short.
    """
    if not content.startswith(GZIP_MAGIC):
        return content
    try:
        return gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{display}: the gzip data is damaged or incomplete ({error})") from None


def open_npz(content: bytes, display: str) -> np.lib.npyio.NpzFile:
    """Open an .npz archive held in memory, refusing pickles.

    Raises: ValueError if the content is not an .npz archive.
    """
    if content.startswith(NPY_MAGIC):
        raise ValueError(f"{display}: found a single .npy array, expected an .npz archive")
    if not content.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)):
        found = "pickled Python data" if content.startswith(b"\x80") else "something else"
        raise ValueError(f"{display}: expected a NumPy .npz archive, found {found}")
    try:
        return np.load(io.BytesIO(content), allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{display}: damaged .npz archive ({error})") from None


def get_array(npz: np.lib.npyio.NpzFile, key: str, display: str) -> np.ndarray:
    """Read one array from an open .npz archive.

    Raises: ValueError if the array is missing, pickled (object dtype) or damaged.
    """
    if key not in npz.files:
        found = ", ".join(npz.files) or "no arrays"
        raise ValueError(f"{display}: no array named {key!r}, found {found}")
    try:
        return npz[key]
    except ValueError as error:
        if "pickle" in str(error) or "Object arrays" in str(error):
            raise ValueError(
                f"{display}: array {key!r} is a pickled object array; pickled data is not accepted"
            ) from None
        raise ValueError(f"{display}: array {key!r} is damaged ({error})") from None
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise ValueError(f"{display}: array {key!r} is damaged ({error})") from None
