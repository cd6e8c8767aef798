"""Turn a drawing into an MNIST-style digit: the digit's box scaled to 20x20, centred by mass in 28x28.

MNIST's own recipe (LeCun et al.): size-normalise each digit to fit a 20x20 box keeping its
aspect ratio, anti-aliased, then place it in a 28x28 image so that its centre of mass sits at
the centre. A network trained on MNIST expects exactly that, so a drawing must get it too.
"""

from __future__ import annotations

import numpy as np

BOX = 20
SIDE = 28


def resample_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Area-averaging weights: row i says how much of each input cell falls into output cell i.

    Shapes: -> (n_out, n_in), rows sum to 1.
    """
    edges = np.linspace(0, n_in, n_out + 1)
    left, right = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(right, cells + 1) - np.maximum(left, cells), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def mnist_style(image: np.ndarray, threshold: float = 0.1) -> np.ndarray:
    """Crop to the ink, scale the longer side to 20 px, centre the mass in 28x28.

    `image` is grayscale, ink bright on dark, any size, values 0..1 or 0..255.
    Shapes: (H, W) -> (28, 28) uint8. An empty drawing gives all zeros.
    Raises: ValueError for an image that is not 2-D or holds NaN.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or not np.isfinite(image).all():
        raise ValueError(f"expected a 2-D grayscale image of finite values, got shape {image.shape}")
    peak = image.max(initial=0)
    if peak <= 0:
        return np.zeros((SIDE, SIDE), np.uint8)
    ink = image / peak
    rows, cols = np.nonzero(ink > threshold)
    if rows.size == 0:
        return np.zeros((SIDE, SIDE), np.uint8)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = resample_matrix(out_h, h) @ crop @ resample_matrix(out_w, w).T  # (out_h, out_w)
    return _centre_by_mass(small)


def _centre_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste `digit` into 28x28 so its centre of mass lands on the image centre (clipped to fit)."""
    h, w = digit.shape
    total = digit.sum()
    cy = (digit.sum(axis=1) @ np.arange(h)) / total
    cx = (digit.sum(axis=0) @ np.arange(w)) / total
    top = int(np.clip(round((SIDE - 1) / 2 - cy), 0, SIDE - h))
    left = int(np.clip(round((SIDE - 1) / 2 - cx), 0, SIDE - w))
    canvas = np.zeros((SIDE, SIDE))
    canvas[top:top + h, left:left + w] = digit
    return np.rint(np.clip(canvas, 0, 1) * 255).astype(np.uint8)
