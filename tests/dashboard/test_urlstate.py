"""Settings in the URL: the round trip, hostile values falling back with a notice, limits matching the widgets."""

import math
import subprocess
import sys

import pytest

from dashboard import settings, urlstate

CHANGED = dict(data_source="fashion-mnist", mode="notebook", hidden=32, notebook_m=5000, full_batch=False,
               batch_size=64, optimizer="adam", lr=0.0123, seed=7, dev_size=500, train_size=3000, stop_at=400)


def test_round_trip_settings_to_query_to_settings():
    """Every setting survives settings -> query -> settings, with no notice."""
    query = urlstate.to_query(CHANGED)
    assert query["data_source"] == "Fashion-MNIST" and query["full_batch"] == "false" and query["lr"] == "0.0123"
    values, notices = urlstate.parse_query(query)
    assert values == {**urlstate.DEFAULTS, **CHANGED} and notices == []


def test_defaults_and_settings_that_do_not_apply_stay_out_of_the_link():
    """Default values, the batch size under full batch and m outside notebook mode are not in the query."""
    assert urlstate.to_query(urlstate.DEFAULTS) == {}
    assert urlstate.to_query({"batch_size": 64, "notebook_m": 5000, "hidden": 16}) == {"hidden": "16"}
    values, _ = urlstate.parse_query(urlstate.to_query({**CHANGED, "mode": "corrected", "full_batch": True}))
    assert values == urlstate.relevant({**CHANGED, "mode": "corrected", "full_batch": True})


def test_link_joins_the_address_and_the_query():
    """The link is the app's address plus the encoded query; without an address it is the query alone."""
    assert urlstate.link({"hidden": 16, "data_source": "upload"}, "http://host:8501/") == \
        "http://host:8501/?data_source=Upload+CSV&hidden=16"
    assert urlstate.link({"lr": 0.5}) == "?lr=0.5"
    assert urlstate.link({}, "http://host/") == "http://host/"


def test_the_setup_link_opens_the_app_not_the_page_it_was_made_on():
    """The link's address is the app's (its Train view), from the Runs page's URL, under a base path too."""
    assert urlstate.app_url("http://host:8501/runs") == "http://host:8501/"
    assert urlstate.app_url("https://lab.example/digits/runs?hidden=16", "/digits/") == "https://lab.example/digits/"
    assert urlstate.app_url("http://host/", "") == "http://host/"
    assert urlstate.app_url(None) is None and urlstate.link({"hidden": 16}, urlstate.app_url("")) == "?hidden=16"


@pytest.mark.parametrize("key, text", [
    ("hidden", "-5"), ("hidden", "abc"), ("hidden", "9999"), ("hidden", "1.5"), ("hidden", ""),
    ("lr", "nan"), ("lr", "1e9"), ("lr", "inf"), ("lr", "-0.1"), ("lr", "0"), ("lr", "0x10"),
    ("mode", "<script>alert(1)</script>"), ("mode", "Notebook"), ("optimizer", "sgd"), ("optimizer", "1"),
    ("data_source", "mnist"), ("full_batch", "maybe"), ("batch_size", "0"), ("seed", "-1"),
    ("stop_at", str(10**12)), ("train_size", "1e3"), ("dev_size", "9" * 5000),
])
def test_hostile_values_fall_back_to_the_default_with_a_notice(key, text):
    """An unusable value keeps the default and yields one notice naming the parameter and the value."""
    values, notices = urlstate.parse_query({key: text})
    assert values[key] == urlstate.DEFAULTS[key]
    assert len(notices) == 1 and f"`{key}=" in notices[0] and "using" in notices[0]
    assert urlstate.shown(text) in notices[0]


def test_huge_and_odd_strings_are_cut_and_made_safe_in_notices():
    """A 100,000-character value, backticks and control characters are shown short, on one line, inert."""
    _, notices = urlstate.parse_query({"mode": "x" * 100_000, "optimizer": "a`b\nc"})
    assert all(len(n) < 300 for n in notices) and "100,000 characters" in notices[0]
    assert "a'b�c" in notices[1] and "\n" not in notices[1]


def test_unknown_keys_are_reported_by_name_up_to_five():
    """Unknown parameters are listed in one notice (five names at most) and change nothing."""
    query = {f"junk{i}": "1" for i in range(8)}
    values, notices = urlstate.parse_query({**query, "k" * 500: "v"})
    assert values == urlstate.DEFAULTS and len(notices) == 1
    assert "`junk0`" in notices[0] and "`junk4`" in notices[0] and "junk5" not in notices[0]
    assert "and 4 more" in notices[0]


def test_repeated_parameter_uses_its_last_value_and_nothing_raises():
    """`?hidden=3&hidden=abc` reads the last value, as Streamlit does; odd containers never raise."""
    values, notices = urlstate.parse_query({"hidden": ["3", "abc"], "seed": ["4"], "mode": []})
    assert values["hidden"] == 10 and values["seed"] == 4 and len(notices) == 2


def test_values_that_python_reads_as_numbers_are_accepted_like_streamlit_does():
    """" 16 " and "1_6" are 16 for Streamlit's int(); "TRUE" is true; α keeps full precision."""
    values, notices = urlstate.parse_query({"hidden": " 16 ", "seed": "1_6", "full_batch": "TRUE", "lr": "0.1234567"})
    assert (values["hidden"], values["seed"], values["full_batch"], values["lr"]) == (16, 16, True, 0.1234567)
    assert notices == []
    lr = math.pi / 100
    assert urlstate.parse_query(urlstate.to_query({"lr": lr}))[0]["lr"] == lr


def test_url_limits_match_the_sidebar_widgets(make_app):
    """The ranges and choices the URL accepts are exactly those of the sidebar widgets and the exact-α entry."""
    at = make_app(mode="notebook", full_batch="false")
    for key, param in urlstate.PARAMS.items():
        if param.kind == "int":
            widget = at.number_input(key=key)
            assert (widget.proto.min, widget.proto.max) == (param.low, param.high), key
    exact = at.number_input(key=f"lr_exact_{at.session_state['lr_version']}")
    assert (exact.proto.min, exact.proto.max) == (urlstate.LR_LOW, urlstate.LR_HIGH)
    assert list(at.radio(key="data_source").options) == [shown for shown, _ in urlstate.PARAMS["data_source"].choices]
    assert list(at.selectbox(key="optimizer").options) == list(settings.OPTIMIZERS)
    assert (urlstate.LR_LOW, urlstate.LR_HIGH) == (settings.LR_EXACT_MIN, settings.LR_EXACT_MAX)  # one owner


def test_urlstate_imports_no_view():
    """urlstate is a helper the views use: importing it loads no module of dashboard.views."""
    code = "import sys, dashboard.urlstate; print(sorted(m for m in sys.modules if m.startswith('dashboard.views')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert set(urlstate.PARAMS) == set(urlstate.DEFAULTS) == {"data_source", *settings.DEFAULTS}


def test_activation_travels_in_the_link():
    """?activation=identity is read as the setting; an unknown activation is named in a notice."""
    values, notices = urlstate.parse_query({"activation": "identity"})
    assert values["activation"] == "identity" and not notices
    assert urlstate.to_query({**settings.DEFAULTS, "activation": "tanh"}) == {"activation": "tanh"}
    values, notices = urlstate.parse_query({"activation": "softplus"})
    assert values["activation"] == "relu" and "relu, identity, sigmoid, tanh" in notices[0]
    assert settings.config_from_settings({"activation": "sigmoid"}).activation == "sigmoid"
