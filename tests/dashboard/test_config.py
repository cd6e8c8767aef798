"""The Streamlit settings shipped in .streamlit/config.toml."""

import tomllib

from tests.dashboard.conftest import ROOT

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())


def test_server_settings_fit_a_hosted_deployment():
    """Headless, no file watching or rerun-on-save, an upload limit, and no fixed address (hosts choose it)."""
    server = CONFIG["server"]
    assert server["headless"] is True and server["runOnSave"] is False and server["fileWatcherType"] == "none"
    assert 100 <= server["maxUploadSize"] <= 1000  # room for Kaggle's 73 MB train.csv
    assert "address" not in server


def test_runner_and_client_settings():
    """No usage stats, no magic, no GC pass after every tick, a minimal toolbar and no tracebacks for visitors."""
    assert CONFIG["browser"]["gatherUsageStats"] is False
    assert CONFIG["runner"] == {"magicEnabled": False, "postScriptGC": False}
    assert CONFIG["client"]["toolbarMode"] == "minimal"
    assert CONFIG["client"]["showErrorDetails"] in ("type", "none")
    assert CONFIG["theme"]["base"] == "light"
    assert CONFIG["global"]["disableWidgetStateDuplicationWarning"] is True  # a restore sets widgets on purpose


def test_every_key_is_known_to_streamlit():
    """Each key in the file is a real Streamlit 1.67 option (a typo would be silently ignored)."""
    from streamlit import config

    options = config.get_config_options()
    for section, values in CONFIG.items():
        for key in values:
            assert f"{section}.{key}" in options, f"{section}.{key}"
