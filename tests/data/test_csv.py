"""Kaggle CSV reading: good files in every accepted form, one test per kind of bad file."""

import gzip
import io
import zipfile

import numpy as np
import pytest

import data.csv as kaggle_csv
from data.csv import load_csv

HEADER = "label," + ",".join(f"pixel{i}" for i in range(784))
TEST_HEADER = HEADER.removeprefix("label,")


def row(label=3, pixel=0, **cells) -> str:
    """One train.csv row; cells like pixel5="abc" replace single values."""
    values = {"label": str(label), **{f"pixel{i}": str(pixel) for i in range(784)}, **cells}
    return ",".join(values.values())


def csv_text(*rows: str, header: str = HEADER) -> str:
    """A CSV file made of a header and rows."""
    return "\n".join([header, *rows]) + "\n"


def write(tmp_path, text: str, name: str = "train.csv"):
    """Write text to tmp_path/name and return the path."""
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(text: str, name: str = "train.csv") -> str:
    """The message of the ValueError that load_csv raises for text."""
    with pytest.raises(ValueError) as error:
        load_csv(text.encode(), name=name)
    return str(error.value)


def test_reads_train_csv(tmp_path):
    """A good train.csv gives uint8 images, int64 labels, a name with the count and the path."""
    path = write(tmp_path, csv_text(row(3, 0), row(9, 255)))
    dataset = load_csv(path)
    assert dataset.images.shape == (2, 784) and dataset.images.dtype == np.uint8
    assert dataset.images.flags.c_contiguous and dataset.images[1].min() == 255
    assert dataset.labels.dtype == np.int64 and dataset.labels.tolist() == [3, 9]
    assert dataset.name == "train.csv (2)" and dataset.source == str(path)


def test_reads_test_csv_without_labels(tmp_path):
    """A test.csv with only pixel columns gives labels=None."""
    dataset = load_csv(write(tmp_path, csv_text("7," * 783 + "7", header=TEST_HEADER), "test.csv"))
    assert dataset.labels is None and dataset.images.tolist() == [[7] * 784]


def test_reads_gzip_by_magic_bytes(tmp_path):
    """Gzip content is detected by its first bytes, whatever the name."""
    (tmp_path / "train.data").write_bytes(gzip.compress(csv_text(row(4)).encode()))
    assert load_csv(tmp_path / "train.data").labels.tolist() == [4]


def test_reads_zip_with_one_csv(tmp_path):
    """A zip holding one .csv (plus macOS junk) loads, and errors name the inner file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.csv", csv_text(row(5), row(6, pixel="x")))
        archive.writestr("__MACOSX/._train.csv", b"\x00\x05\x16\x07")
    (tmp_path / "digits.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match=r"^digits.zip/train.csv: row 2 \(line 3\), column pixel0: "):
        load_csv(tmp_path / "digits.zip")


def test_zip_with_several_csvs_is_refused():
    """A zip with more than one .csv says which ones it found."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.csv", csv_text(row()))
        archive.writestr("test.csv", csv_text(row()))
    with pytest.raises(
        ValueError, match="kaggle.zip: expected exactly one .csv file in the zip, found train.csv, test.csv"
    ):
        load_csv(buffer.getvalue(), name="kaggle.zip")


def test_zip_without_csv_is_refused():
    """A zip without any .csv says none was found."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match="expected exactly one .csv file in the zip, found none"):
        load_csv(buffer.getvalue(), name="x.zip")


def test_reads_bytes_with_display_name():
    """Bytes from an upload load, named by the display name."""
    dataset = load_csv(csv_text(row(1)).encode(), name="mine.csv")
    assert dataset.name == "mine.csv (1)" and dataset.source == "mine.csv"


def test_accepts_crlf_quotes_blank_lines_and_whole_floats():
    """Windows line ends, quoted numbers, blank lines and 7.0 are all read as integers."""
    text = csv_text(row(2, pixel0='"12"'), "", row(3, pixel1="7.0")).replace("\n", "\r\n")
    dataset = load_csv(text.encode(), name="x.csv")
    assert dataset.labels.tolist() == [2, 3] and dataset.images[0, 0] == 12 and dataset.images[1, 1] == 7


def test_non_numeric_cell():
    """A non-numeric cell is named by row, line, column, expected range and value found."""
    message = error_of(csv_text(*[row()] * 16, row(pixel301="abc")))
    assert message == "train.csv: row 17 (line 18), column pixel301: expected an integer 0..255, found 'abc'"


def test_empty_cell():
    """An empty cell is reported as such."""
    message = error_of(csv_text(row(pixel5="")))
    assert (
        message == "train.csv: row 1 (line 2), column pixel5: expected an integer 0..255, found an empty cell"
    )


def test_nan_cell():
    """A NaN cell is refused with the value found."""
    assert "row 1 (line 2), column pixel0: expected an integer 0..255, found 'NaN'" in error_of(
        csv_text(row(pixel0="NaN"))
    )


def test_pixel_out_of_range():
    """A pixel above 255 or below 0 is refused."""
    assert error_of(csv_text(row(pixel783="256"))).endswith(
        "column pixel783: expected an integer 0..255, found '256'"
    )
    assert error_of(csv_text(row(pixel0="-1"))).endswith(
        "column pixel0: expected an integer 0..255, found '-1'"
    )


def test_pixel_too_large_for_the_fast_path():
    """A value beyond int16 still gets a located message."""
    assert error_of(csv_text(row(pixel9="99999"))).endswith(
        "column pixel9: expected an integer 0..255, found '99999'"
    )


def test_label_out_of_range():
    """A label above 9 is refused, naming the label column."""
    message = error_of(csv_text(row(), row(label=10)))
    assert message == "train.csv: row 2 (line 3), column label: expected an integer 0..9, found '10'"


def test_non_integer_value():
    """A fractional pixel is refused."""
    assert error_of(csv_text(row(pixel2="1.5"))).endswith(
        "column pixel2: expected an integer 0..255, found '1.5'"
    )


def test_line_number_counts_blank_lines():
    """Blank lines do not count as rows, but the line number still matches an editor's."""
    message = error_of(csv_text(row(), "", "", row(label="x")))
    assert message.startswith("train.csv: row 2 (line 5), column label:")


def test_row_with_too_many_values():
    """A row with an extra value says how many it has."""
    assert error_of(csv_text(row(), row() + ",0")) == "train.csv: row 2 (line 3) has 786 values, expected 785"


def test_row_with_too_few_values():
    """A short row says how many values it has."""
    assert (
        error_of(csv_text(row().rsplit(",", 1)[0]))
        == "train.csv: row 1 (line 2) has 784 values, expected 785"
    )


def test_error_in_a_later_chunk_names_the_right_row(monkeypatch):
    """Row numbers stay right when the bad row is not in the first chunk."""
    monkeypatch.setattr(kaggle_csv, "CHUNK_ROWS", 3)
    message = error_of(csv_text(*[row()] * 7, row(pixel0="?"), row()))
    assert message.startswith("train.csv: row 8 (line 9), column pixel0:")


def test_chunks_are_stitched_in_order(monkeypatch):
    """Rows parsed in several chunks come back complete and in file order."""
    monkeypatch.setattr(kaggle_csv, "CHUNK_ROWS", 2)
    dataset = load_csv(csv_text(*[row(label=i % 10, pixel=i) for i in range(7)]).encode(), name="x.csv")
    assert dataset.labels.tolist() == [0, 1, 2, 3, 4, 5, 6] and dataset.images[:, 0].tolist() == list(
        range(7)
    )


def test_header_missing_column():
    """A missing column is named."""
    message = error_of(csv_text(header=HEADER.replace(",pixel5,", ",")))
    assert message.startswith(
        "train.csv: the header lacks column(s) pixel5; expected label,pixel0,...,pixel783"
    )


def test_header_extra_column():
    """An extra column is named."""
    assert "the header has unexpected column(s) id;" in error_of(csv_text(header="id," + HEADER))


def test_header_misordered_columns():
    """Columns out of order name the first position that differs."""
    message = error_of(csv_text(header=HEADER.replace("pixel5,pixel6", "pixel6,pixel5")))
    assert message == "train.csv: header column 7 is pixel6, expected pixel5 (the columns are out of order)"


def test_header_repeated_column():
    """A repeated column is named."""
    assert "the header repeats pixel5" in error_of(csv_text(header=HEADER.replace("pixel6", "pixel5")))


def test_header_is_checked_before_values():
    """A bad header is reported even when the values are bad too."""
    message = error_of(csv_text(row(pixel0="x"), header="x," + TEST_HEADER))
    assert message.startswith("train.csv: the header has unexpected column(s) x;")


def test_empty_file():
    """An empty (or blank) file says what was expected."""
    assert error_of("").startswith(
        "train.csv: the file is empty, expected a header label,pixel0,...,pixel783"
    )
    assert error_of("\n \n").startswith("train.csv: the file is empty")


def test_header_only():
    """A header without rows is refused."""
    assert error_of(csv_text()) == "train.csv: the file has a header but no data rows"


def test_missing_file(tmp_path):
    """A missing path is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="absent.csv: file not found"):
        load_csv(tmp_path / "absent.csv")


def test_kaggle_sized_file_parses_with_the_c_engine(monkeypatch):
    """A 42,000-row train.csv goes through pandas' C parser in whole chunks, never the per-cell Python path.

    (That path is what made large files slow; the speed itself is a benchmark's business, not a test's.)
    """
    import pandas as pd

    rng = np.random.default_rng(0)
    block = np.column_stack(
        [rng.integers(0, 10, 1000), rng.integers(0, 256, (1000, 784)) * (rng.random((1000, 784)) < 0.2)]
    )
    lines = "\n".join(",".join(map(str, values)) for values in block.tolist())
    content = (HEADER + "\n" + (lines + "\n") * 42).encode()
    engines, read_csv = [], pd.read_csv

    def recording_read_csv(*args, **kwargs):
        engines.append(kwargs.get("engine"))
        return read_csv(*args, **kwargs)

    def no_slow_path(*args, **kwargs):
        raise AssertionError("the per-cell Python parser ran on a good file")

    monkeypatch.setattr(pd, "read_csv", recording_read_csv)
    monkeypatch.setattr(kaggle_csv, "_raise_first_problem", no_slow_path)
    monkeypatch.setattr(kaggle_csv, "_row_problem", no_slow_path)
    dataset = load_csv(content, name="train.csv")
    assert engines == ["c"] * -(-42_000 // kaggle_csv.CHUNK_ROWS)  # one C-engine call per chunk
    assert len(dataset) == 42_000 and np.array_equal(dataset.images[41_000:], block[:, 1:])
