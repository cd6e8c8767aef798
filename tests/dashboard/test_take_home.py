"""The app's take-home parts: the notebook and script downloads, and the "Inside a digit" pixel map.

AppTest cannot produce download bytes, so the byte producer the buttons call is run on the
session's own run (as the click would) and its script is executed on its own.
"""

from __future__ import annotations

import subprocess
import sys

import nbformat
import numpy as np

from core.inspect import score_gradient
from dashboard.views import sidebar
from tests.dashboard.conftest import figure, open_view
from tests.dashboard.test_codegen import FINAL, expected_line


def test_notebook_and_script_buttons_are_in_the_sidebar(make_app):
    """The sidebar offers the run as a notebook and as a script, beside the weights and metrics."""
    at = make_app()
    labels = [button.proto.label for button in at.sidebar.get("download_button")]
    assert "Notebook" in labels and "Script" in labels


def test_downloaded_script_retrains_the_apps_run(make_app, tmp_path):
    """After steps and a mid-run α change in the app, the Script download prints the run's final figures."""
    at = make_app()
    at.button(key="step10").click().run()
    at.number_input(key=f"lr_exact_{at.session_state['lr_version']}").set_value(0.3).run()
    at.button(key="step10").click().run()
    lab = at.session_state["lab"]
    assert lab.now.iteration == 20 and lab.now.lr_changes == [(0, 0.1), (10, 0.3)]
    path = tmp_path / "run.py"
    path.write_bytes(sidebar.run_as_code(lab, "py"))
    assert "LR_CHANGES = [[0, 0.1], [10, 0.3]]" in path.read_text() and "TRAIN_SIZE = 2000" in path.read_text()
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert FINAL.search(out.stdout).groups() == expected_line(lab.now)
    assert "digit-lab showed:" in out.stdout


def test_downloaded_notebook_is_valid(make_app):
    """The Notebook download is a valid nbformat 4 notebook of the same run."""
    at = make_app()
    lab = at.session_state["lab"]
    nb = nbformat.reads(sidebar.run_as_code(lab, "ipynb").decode("utf-8"), as_version=4)
    nbformat.validate(nb)
    assert any("ITERATIONS = 0 " in cell.source for cell in nb.cells if cell.cell_type == "code")


def test_pixel_map_is_the_predicted_digits_score_gradient(make_app):
    """Inside a digit shows ∂Z2[k]/∂x of the shown dev image for the predicted digit by default."""
    at = make_app()
    at.button(key="step10").click().run()
    open_view(at, "digit")
    trainer = at.session_state["lab"].now
    predicted = int(trainer.dev_predictions()[0][0])
    shown = figure(at, "digit_pixel_map")
    expected = score_gradient(trainer.params, trainer.X_dev[:, 0], predicted)
    np.testing.assert_allclose(shown["data"][0]["z"], expected, rtol=1e-5, atol=1e-7)
    assert f"Z2[{predicted}]" in shown["layout"]["title"]["text"]


def test_picking_another_digit_shows_its_map(make_app):
    """Choosing digit k in the picker shows the map of Z2[k] instead ("what would make it a 9?")."""
    at = make_app("digit")
    trainer = at.session_state["lab"].now
    predicted = int(trainer.dev_predictions()[0][0])
    other = (predicted + 1) % 10
    at.button_group(key="digit_map_k").set_value(str(other)).run()
    shown = figure(at, "digit_pixel_map")["data"][0]["z"]
    np.testing.assert_allclose(shown, score_gradient(trainer.params, trainer.X_dev[:, 0], other), rtol=1e-5,
                               atol=1e-7)
    assert not np.allclose(shown, score_gradient(trainer.params, trainer.X_dev[:, 0], predicted))
