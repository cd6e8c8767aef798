"""Read Kaggle digit-recognizer CSV files: train.csv (label,pixel0..pixel783) or test.csv.

The file may be plain, gzip or a zip holding one .csv (told apart by their first bytes). Rows are
parsed by pandas' C engine in chunks of CHUNK_ROWS straight into the uint8 result; only a chunk
that fails is re-read cell by cell in Python, to name the row, column and value at fault.
"""

import io
import zipfile

import numpy as np

from data._io import ZIP_MAGIC, Source, gunzip, read_source
from data.dataset import PIXELS, Dataset

PIXEL_COLUMNS = [f"pixel{i}" for i in range(PIXELS)]
CHUNK_ROWS = 4096
EXPECTED_HEADER = "label,pixel0,...,pixel783 (or pixel0,...,pixel783 for a test file)"


def load_csv(source: Source, name: str | None = None) -> Dataset:
    """Load a Kaggle digit CSV (plain, .gz or .zip; a path, or bytes with a display name).

    Returns labels=None for a test.csv without a label column.
    Raises: FileNotFoundError if missing; ValueError naming the row, column and value at fault.
    """
    content, display, where = read_source(source, name)
    content, display = _unpack(gunzip(content, display), display)
    starts = _line_starts(content)
    if not starts:
        raise ValueError(f"{display}: the file is empty, expected a header {EXPECTED_HEADER}")
    columns = _check_header(_line(content, starts, 0), display)
    if len(starts) == 2:  # the header and the end offset
        raise ValueError(f"{display}: the file has a header but no data rows")
    images, labels = _parse_rows(content, starts, columns, display)
    return Dataset(images, labels, name=f"{display} ({len(images):,})", source=where)


def _unpack(content: bytes, display: str) -> tuple[bytes, str]:
    """Return the one .csv inside a zip archive, or the content itself if it is not a zip."""
    if not content.startswith(ZIP_MAGIC):
        return content, display
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            # macOS adds __MACOSX/._name.csv resource files that are not data.
            members = [
                info.filename
                for info in archive.infolist()
                if info.filename.lower().endswith(".csv") and not info.filename.startswith("__MACOSX/")
            ]
            if len(members) != 1:
                found = ", ".join(members) or "none"
                raise ValueError(f"{display}: expected exactly one .csv file in the zip, found {found}")
            return archive.read(members[0]), f"{display}/{members[0]}"
    except (zipfile.BadZipFile, OSError) as error:
        raise ValueError(f"{display}: damaged zip archive ({error})") from None


def _line_starts(content: bytes) -> list[int]:
    """Byte offsets of the non-blank lines (pandas skips blank lines too), plus the end offset.

    The header is line index 0, so data row r (1-based) starts at starts[r].
    """
    starts, position = [], 0
    while position < len(content):
        end = content.find(b"\n", position)
        end = len(content) if end == -1 else end
        if content[position:end].strip():
            starts.append(position)
        position = end + 1
    return starts + [len(content)] if starts else []


def _line(content: bytes, starts: list[int], index: int) -> str:
    """The text of non-blank line `index` (0 = header)."""
    text = content[starts[index] : starts[index + 1]].split(b"\n", 1)[0]
    return text.decode("utf-8-sig", errors="replace").strip()


def _check_header(header: str, display: str) -> list[str]:
    """Return the column names if they are label,pixel0..pixel783 or pixel0..pixel783.

    Raises: ValueError naming repeated, missing, extra or misordered columns.
    """
    columns = [cell.strip().strip('"') for cell in header.split(",")]
    expected = (["label"] if "label" in columns else []) + PIXEL_COLUMNS
    if columns == expected:
        return columns
    repeated = sorted({c for i, c in enumerate(columns) if c in columns[:i]})
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    problems = [f"repeats {_some(repeated)}"] * bool(repeated)
    problems += [f"lacks column(s) {_some(missing)}"] * bool(missing)
    problems += [f"has unexpected column(s) {_some(extra)}"] * bool(extra)
    if problems:
        raise ValueError(f"{display}: the header {' and '.join(problems)}; expected {EXPECTED_HEADER}")
    position = next(i for i, (a, b) in enumerate(zip(columns, expected, strict=True)) if a != b)
    raise ValueError(
        f"{display}: header column {position + 1} is {columns[position]}, expected "
        f"{expected[position]} (the columns are out of order)"
    )


def _some(names: list[str], limit: int = 5) -> str:
    """List a few names, then say how many more there are."""
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _parse_rows(
    content: bytes, starts: list[int], columns: list[str], display: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse all data rows, a chunk at a time, straight into the result arrays.

    Shapes: returns images (n, 784) uint8 and labels (n,) int64, or None without a label column.
    """
    n, width = len(starts) - 2, len(columns)
    images = np.empty((n, PIXELS), np.uint8)  # (n, 784), filled chunk by chunk
    labels = np.empty(n, np.int64) if columns[0] == "label" else None
    limits = _limits(columns)
    for first in range(0, n, CHUNK_ROWS):
        last = min(first + CHUNK_ROWS, n)
        chunk = _parse_chunk(content[starts[first + 1] : starts[last + 1]], width)
        if chunk is None or chunk.shape != (last - first, width) or _out_of_range(chunk, limits):
            _raise_first_problem(content, starts, first, last, columns, display)
        images[first:last] = chunk[:, -PIXELS:]
        if labels is not None:
            labels[first:last] = chunk[:, 0]
    return images, labels


def _limits(columns: list[str]) -> np.ndarray:
    """Largest allowed value of each column: 9 for the label, 255 for a pixel."""
    return np.array([9 if column == "label" else 255 for column in columns], np.int16)


def _parse_chunk(text: bytes, width: int) -> np.ndarray | None:
    """Fast path: the C parser with an int16 dtype hint; None if any cell does not parse."""
    # Imported here: pandas adds ~75 MB and ~0.5 s to every `import data`, and only CSV needs it.
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.BytesIO(text),
            engine="c",
            header=None,
            names=range(width),
            index_col=False,
            dtype=np.int16,
        )
    except (ValueError, OverflowError):  # pandas' ParserError is a ValueError
        return None
    return frame.to_numpy()


def _out_of_range(chunk: np.ndarray, limits: np.ndarray) -> bool:
    """True if any value is below 0 or above its column's limit."""
    return bool(chunk.min() < 0 or (chunk.max(axis=0) > limits).any())


def _raise_first_problem(
    content: bytes, starts: list[int], first: int, last: int, columns: list[str], display: str
) -> None:
    """Slow path: find the first bad row or cell of rows first..last-1 in Python and raise.

    Raises: ValueError always; names the row (1 = first data row), its line in the file,
    the column, and expected vs found.
    """
    for row in range(first + 1, last + 1):
        problem = _row_problem(_line(content, starts, row).split(","), columns)
        if problem:
            line = _line_number(content, starts[row])
            raise ValueError(f"{display}: row {row:,} (line {line:,}){problem}")
    raise ValueError(f"{display}: rows {first + 1:,}..{last:,} could not be read as comma-separated integers")


def _row_problem(cells: list[str], columns: list[str]) -> str:
    """Describe what is wrong with one row (the text after "row N (line L)"), or "" if nothing."""
    if len(cells) != len(columns):
        return f" has {len(cells)} values, expected {len(columns)}"
    for column, cell, limit in zip(columns, cells, _limits(columns), strict=True):
        if not _is_integer_in(cell, limit):
            found = repr(cell.strip()) if cell.strip() else "an empty cell"
            return f", column {column}: expected an integer 0..{limit}, found {found}"
    return ""


def _is_integer_in(cell: str, limit: int) -> bool:
    """True if the cell holds a whole number 0..limit (written like 7, 7.0 or "7")."""
    try:
        value = float(cell.strip().strip('"'))
    except ValueError:
        return False
    return value.is_integer() and 0 <= value <= limit


def _line_number(content: bytes, offset: int) -> int:
    """1-based line number of the byte at offset (counts blank lines, as an editor does)."""
    return content.count(b"\n", 0, offset) + 1
