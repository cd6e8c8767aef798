"""The bundled offline sample: 10,000 MNIST training images (see sample/README.md)."""

from dataclasses import replace
from pathlib import Path

from data.dataset import Dataset
from data.npz import load_npz

SAMPLE_PATH = Path(__file__).resolve().parent / "sample" / "mnist_sample.npz"


def load_sample() -> Dataset:
    """Load the bundled sample (MNIST training images 0..9999, grouped by digit); no network needed."""
    dataset = load_npz(SAMPLE_PATH)
    return replace(dataset, name=f"MNIST sample ({len(dataset):,})", source="sample")
