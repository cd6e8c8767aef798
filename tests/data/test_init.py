"""The data package: its public names, and what importing it pulls in."""

import subprocess
import sys
from pathlib import Path

import data


def test_public_names_are_exported():
    """Every name in __all__ is importable from data."""
    assert all(hasattr(data, name) for name in data.__all__)


def test_import_is_light():
    """Importing data loads neither pandas (deferred to CSV reading), streamlit nor core."""
    script = "import sys, data; print(sorted({'pandas', 'streamlit', 'core'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
