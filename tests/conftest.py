"""Test-wide setup: BLAS on one thread, as the app and the CLI run it (see dashboard/__init__.py)."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before any test module loads NumPy
