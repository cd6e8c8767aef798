"""The Streamlit settings shipped in .streamlit/config.toml."""

import json
import os
import subprocess
import sys
import tomllib

from tests.dashboard.conftest import ROOT

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
OPTIONS = {f"{section}.{key}": value for section, values in CONFIG.items() for key, value in values.items()}


def test_streamlit_started_in_the_repository_uses_every_setting(tmp_path):
    """Streamlit run from the repository root finds the file and each option in it takes its value there."""
    code = ("import json; from streamlit import config; config.get_config_options(force_reparse=True); "
            f"print(json.dumps({{name: config.get_option(name) for name in {sorted(OPTIONS)!r}}}))")
    env = {**os.environ, "HOME": str(tmp_path)}  # no ~/.streamlit/config.toml of whoever runs the tests
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == OPTIONS


def test_every_key_is_known_to_streamlit():
    """Each key in the file is a real Streamlit 1.67 option (a typo would be silently ignored)."""
    from streamlit import config

    options = config.get_config_options()
    assert set(OPTIONS) <= set(options), set(OPTIONS) - set(options)
