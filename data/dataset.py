"""The one value every loader returns: images, labels and where they came from."""

from dataclasses import dataclass

import numpy as np

PIXELS = 784  # 28 x 28, flattened row by row as in the IDX files


# eq=False: the generated __eq__/__hash__ would compare arrays element-wise and fail.
@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels from one file or folder.

    Shapes: images (n, 784) uint8, C-contiguous; labels (n,) int64, or None (Kaggle test.csv).
    """

    images: np.ndarray  # uint8 (n, 784), C-contiguous
    labels: np.ndarray | None  # int64 (n,), None when the file has no labels
    name: str  # shown to people, e.g. "MNIST train (60,000)"
    source: str  # file path, upload name, or "sample"

    def __post_init__(self):
        """Check the layout promised above, so a bad Dataset fails where it is built.

        Raises: ValueError if images or labels have the wrong dtype or shape.
        """
        images, labels = self.images, self.labels
        if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != PIXELS:
            raise ValueError(f"images must be uint8 (n, {PIXELS}), got {images.dtype} {images.shape}")
        if not images.flags.c_contiguous:
            raise ValueError("images must be C-contiguous (one image per row in memory)")
        if labels is not None and (labels.dtype != np.int64 or labels.shape != images.shape[:1]):
            raise ValueError(f"labels must be int64 ({len(images)},), got {labels.dtype} {labels.shape}")

    def __len__(self) -> int:
        """Number of images."""
        return self.images.shape[0]
