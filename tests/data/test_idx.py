"""IDX reading: good files in every accepted form, one test per kind of bad file."""

import gzip

import numpy as np
import pytest

from data.idx import load_idx_dir, load_idx_images, load_idx_labels


def idx_images(n=3, rows=28, cols=28, magic=2051, count=None, extra=b"", cut=0) -> bytes:
    """Bytes of an IDX image file; count overrides the header's image count."""
    pixels = (np.arange(n * rows * cols) % 256).astype(np.uint8).tobytes()
    header = b"".join(v.to_bytes(4, "big") for v in (magic, n if count is None else count, rows, cols))
    return header + pixels[: len(pixels) - cut] + extra


def idx_labels(labels=(5, 0, 4), magic=2049, count=None, extra=b"") -> bytes:
    """Bytes of an IDX label file."""
    header = magic.to_bytes(4, "big") + (len(labels) if count is None else count).to_bytes(4, "big")
    return header + bytes(labels) + extra


def write_pair(folder, prefix="train", images=None, labels=None, gz=False, dotted=False):
    """Write an image/label pair with MNIST's file names into folder."""
    for kind, ndim, content in (("images", 3, images or idx_images()), ("labels", 1, labels or idx_labels())):
        name = f"{prefix}-{kind}.idx{ndim}-ubyte" if dotted else f"{prefix}-{kind}-idx{ndim}-ubyte"
        if gz:
            name, content = name + ".gz", gzip.compress(content)
        (folder / name).write_bytes(content)


def test_reads_raw_images(tmp_path):
    """A raw IDX image file gives uint8 (n, 784) rows in file order."""
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_images())
    images = load_idx_images(path)
    assert images.shape == (3, 784) and images.dtype == np.uint8 and images.flags.c_contiguous
    assert images[1, 0] == 784 % 256


def test_images_are_a_view_of_the_file_bytes(tmp_path):
    """Images are read with frombuffer: no copy, and read-only."""
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(idx_images())
    images = load_idx_images(path)
    assert not images.flags.owndata and not images.flags.writeable


def test_gzip_is_detected_by_magic_bytes_not_extension(tmp_path):
    """Gzip content without .gz loads, and so does raw content named .gz."""
    zipped, raw = tmp_path / "images-no-extension", tmp_path / "raw.gz"
    zipped.write_bytes(gzip.compress(idx_images()))
    raw.write_bytes(idx_images())
    assert np.array_equal(load_idx_images(zipped), load_idx_images(raw))


def test_reads_bytes_with_a_display_name():
    """Bytes load like a file, and errors use the given display name."""
    assert load_idx_labels(idx_labels(), name="upload.idx").tolist() == [5, 0, 4]
    with pytest.raises(ValueError, match="^upload.idx: magic number"):
        load_idx_labels(idx_images(), name="upload.idx")


def test_labels_are_int64(tmp_path):
    """Labels come back as int64."""
    path = tmp_path / "labels"
    path.write_bytes(idx_labels())
    labels = load_idx_labels(path)
    assert labels.dtype == np.int64 and labels.tolist() == [5, 0, 4]


def test_label_file_given_as_images_names_both_magic_numbers(tmp_path):
    """A wrong magic number is reported with the file name, found and expected values."""
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_labels()))
    with pytest.raises(ValueError) as error:
        load_idx_images(path)
    assert str(error.value) == (
        "t10k-images-idx3-ubyte.gz: magic number 2049 (an IDX label file), expected 2051 (an IDX image file)"
    )


def test_unknown_magic_number(tmp_path):
    """A file that is not IDX at all is refused by its magic number."""
    path = tmp_path / "labels"
    path.write_bytes(b"hello world, not idx")
    with pytest.raises(ValueError, match=r"labels: magic number \d+, expected 2049 \(an IDX label file\)"):
        load_idx_labels(path)


def test_wrong_image_size(tmp_path):
    """Images that are not 28x28 are refused, saying the size found."""
    path = tmp_path / "images"
    path.write_bytes(idx_images(rows=32, cols=32))
    with pytest.raises(ValueError, match="images: images are 32x32 pixels, expected 28x28"):
        load_idx_images(path)


def test_truncated_images(tmp_path):
    """A payload shorter than the header's count is reported as truncated."""
    path = tmp_path / "images"
    path.write_bytes(idx_images(n=3, cut=10))
    with pytest.raises(
        ValueError, match=r"images: the header says 3 images \(2,352 bytes\), found only 2,342 bytes"
    ):
        load_idx_images(path)


def test_truncated_labels(tmp_path):
    """A label file claiming more labels than it holds is refused."""
    path = tmp_path / "labels"
    path.write_bytes(idx_labels(count=10))
    with pytest.raises(ValueError, match=r"labels: the header says 10 labels .*truncated"):
        load_idx_labels(path)


def test_trailing_garbage(tmp_path):
    """Bytes after the last image are reported, with how many."""
    path = tmp_path / "images"
    path.write_bytes(idx_images(extra=b"junk"))
    with pytest.raises(ValueError, match="images: 4 unexpected bytes after the last of 3 images"):
        load_idx_images(path)


def test_label_out_of_range(tmp_path):
    """A label above 9 is reported with its 1-based position and value."""
    path = tmp_path / "labels"
    path.write_bytes(idx_labels((1, 2, 12)))
    with pytest.raises(ValueError, match="labels: label number 3 is 12, expected 0..9"):
        load_idx_labels(path)


def test_empty_file(tmp_path):
    """An empty file gets a clear message."""
    path = tmp_path / "images"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="images: the file is empty, expected an IDX image file"):
        load_idx_images(path)


def test_header_cut_short(tmp_path):
    """A file shorter than its header is refused."""
    path = tmp_path / "images"
    path.write_bytes(idx_images()[:10])
    with pytest.raises(ValueError, match="images: only 10 bytes, expected a 16-byte IDX header"):
        load_idx_images(path)


def test_zero_images(tmp_path):
    """A header announcing no images is refused."""
    path = tmp_path / "images"
    path.write_bytes(idx_images(n=0))
    with pytest.raises(ValueError, match="images: the header says 0 images, expected at least 1"):
        load_idx_images(path)


def test_damaged_gzip(tmp_path):
    """A cut-off gzip stream is reported as damaged, not as a crash."""
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx_images())[:-20])
    with pytest.raises(ValueError, match="images.gz: the gzip data is damaged or incomplete"):
        load_idx_images(path)


def test_missing_file(tmp_path):
    """A missing path is a FileNotFoundError naming it."""
    with pytest.raises(FileNotFoundError, match="nope-idx3-ubyte: file not found"):
        load_idx_images(tmp_path / "nope-idx3-ubyte")


@pytest.mark.parametrize("gz", [False, True])
def test_dir_finds_train_files(tmp_path, gz):
    """load_idx_dir pairs train images with labels, raw or gzip, and names the dataset."""
    write_pair(tmp_path, gz=gz)
    dataset = load_idx_dir(tmp_path, title="MNIST")
    assert len(dataset) == 3 and dataset.labels.tolist() == [5, 0, 4]
    assert dataset.name == "MNIST train (3)" and dataset.source == str(tmp_path)


def test_dir_finds_dotted_test_files(tmp_path):
    """The dotted names (t10k-images.idx3-ubyte) are found for split="test"."""
    write_pair(tmp_path, prefix="t10k", images=idx_images(n=2), labels=idx_labels((7, 2)), dotted=True)
    assert load_idx_dir(tmp_path, "test").labels.tolist() == [7, 2]


def test_dir_count_mismatch(tmp_path):
    """Image and label files with different counts are refused, naming both."""
    write_pair(tmp_path, labels=idx_labels((1, 2)))
    with pytest.raises(ValueError) as error:
        load_idx_dir(tmp_path)
    assert str(error.value) == (
        "train-images-idx3-ubyte has 3 images but train-labels-idx1-ubyte has 2 labels, "
        "expected the same number"
    )


def test_dir_missing_files(tmp_path):
    """A folder without the split's files says which names it looked for."""
    write_pair(tmp_path)
    with pytest.raises(
        FileNotFoundError, match=r"no test images file, expected t10k-images-idx3-ubyte\[.gz\]"
    ):
        load_idx_dir(tmp_path, "test")


def test_dir_missing_folder(tmp_path):
    """A missing folder is a FileNotFoundError."""
    with pytest.raises(FileNotFoundError, match="folder not found"):
        load_idx_dir(tmp_path / "absent")


def test_dir_bad_split(tmp_path):
    """Only "train" and "test" are accepted as split."""
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'dev'"):
        load_idx_dir(tmp_path, "dev")


def test_full_mnist(shared_mnist):
    """The real MNIST files give 60,000 + 10,000 images with the published label counts."""
    train = load_idx_dir(shared_mnist, "train", title="MNIST")
    assert train.images.shape == (60_000, 784) and train.name == "MNIST train (60,000)"
    assert np.bincount(train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    test = load_idx_dir(shared_mnist, "test")
    assert len(test) == 10_000 and test.labels[:5].tolist() == [7, 2, 1, 0, 4]
