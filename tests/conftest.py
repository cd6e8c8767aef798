"""Test-wide setup: BLAS on one thread, as the app and the CLI run it (see dashboard/__init__.py),
and the shared MNIST files for the tests that use the full data set."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before any test module loads NumPy

# The `shared` folder sits beside the repository (…/shared next to …/main).
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture(scope="session")
def shared_mnist() -> Path:
    """The shared MNIST folder; skipped when absent, but a failure under CI=true."""
    missing = [name for name in MNIST_FILES if not (SHARED_MNIST / name).is_file()]
    if missing:
        message = f"shared MNIST files not found in {SHARED_MNIST}: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_MNIST
