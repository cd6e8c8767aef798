"""The "Notebook vs corrected" view: two runs in lockstep, quirk switches, effective α and the quirk table.

AppTest runs use the small URL settings of `make_app` (2,000 training rows, 500 dev rows); the
pure helpers (lockstep stepping, the "why α = 1 worked" sentence, table cells) are tested directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.runs.worker import Start, Step
from tests.dashboard.conftest import wait_until

import data
from core import NOTEBOOK_QUIRKS, Quirks, effective_lr
from core.compare import QUIRK_NAMES
from dashboard import settings, words
from dashboard.runs import live, pair as pairs
from dashboard.runs.pair import Comparison, PairSettings
from dashboard.views import notebook
from tests.dashboard.conftest import feed_of, figure, metric, status_payloads


def status_rows(at) -> list[dict[str, str]]:
    """The two status rows (notebook, corrected) of the last run: label -> value, plus "note"."""
    rows = status_payloads(at)
    assert sorted(rows) == ["nb_status_0", "nb_status_1"], sorted(rows)
    return [{**{label: value for label, value, *_ in rows[key]["status"]}, "note": rows[key]["note"]}
            for key in ("nb_status_0", "nb_status_1")]


def pair(at) -> Comparison:
    """The session's pair of runs."""
    return at.session_state[notebook.PAIR_KEY]


@pytest.fixture(scope="module")
def small_split():
    """600 training and 200 dev rows of the bundled sample."""
    return data.split(data.load_sample(), dev_size=200, train_size=600, seed=0)


# ----- AppTest ----------------------------------------------------------------------------------
def test_tab_starts_at_the_notebooks_setting(make_app):
    """A fresh session has the notebook run (its quirks, α = 1, 1,000 iterations) and the corrected one, at 0."""
    at = make_app("notebook")
    assert not at.get("tabs") and at.button(key="nb_start")  # the view's own page, no tabs
    p = pair(at)
    assert (p.settings.lr, p.settings.iterations, p.settings.rows) == (1.0, 1000, 2000)  # 3,000 capped at the split
    assert p.notebook.quirks == NOTEBOOK_QUIRKS and p.corrected.quirks == Quirks()
    assert p.notebook.iteration == p.corrected.iteration == 0 and p.running is False
    assert p.notebook.m == p.corrected.m == 2000 and p.notebook.X_dev.shape[1] == 500
    names = [trace["name"] for trace in figure(at, "nb_accuracy_chart")["data"]]
    assert names == ["notebook · train", "notebook · dev", "corrected · train", "corrected · dev"]


def test_alpha_entry_takes_the_train_sliders_range(make_app):
    """The view's α entry accepts exactly the Train view's α slider range (settings.LR_MIN..LR_MAX)."""
    at = make_app("notebook")
    entry = at.number_input(key="nb_lr")
    assert (entry.proto.min, entry.proto.max) == (settings.LR_MIN, settings.LR_MAX)
    assert (settings.LR_STEPS[0], settings.LR_STEPS[-1]) == (settings.LR_MIN, settings.LR_MAX)


@pytest.mark.usefixtures("feeds_served")
def test_step_and_start_advance_both_runs_equally(make_app):
    """Step 10 and Start train the two runs in lockstep: always the same iteration; Pause stops both."""
    at = make_app("notebook")
    at.button(key="nb_step10").click().run()
    assert pair(at).notebook.iteration == pair(at).corrected.iteration == 10
    notebook_row, corrected_row = status_rows(at)
    assert notebook_row["iteration"] == corrected_row["iteration"] == "10"
    assert notebook_row["dev acc"].endswith("%") and corrected_row["dev acc"].endswith("%")
    assert (notebook_row["note"], corrected_row["note"]) == (None, None)
    at.checkbox(key="nb_quirk_train_accuracy_only").check().run()  # a new pair, at 0
    at.button(key="nb_step10").click().run()
    notebook_row, corrected_row = status_rows(at)
    assert notebook_row["dev acc"] == "not measured" and corrected_row["dev acc"].endswith("%")
    at.button(key="nb_start").click().run()
    p = pair(at)
    assert p.running
    assert feed_of(at, ["nb_accuracy_chart", "nb_loss_chart"]).worker is p.worker  # the curves follow the pair
    rows = feed_of(at, ["nb_status_0", "nb_status_1"])  # and the status rows, through a feed of their own
    assert rows.worker is p.worker and {chart.every for chart in rows.charts.values()} == {live.STATUS_EVERY}
    wait_until(lambda: p.notebook.iteration > 30, message="the pair's worker to train")  # no page run meanwhile
    at.run()  # a redraw shows the latest snapshot: both runs at the same iteration, curves up to it
    shown = p.worker.snapshot  # what was published by the time of the next read
    assert shown.view[0].iteration == shown.view[1].iteration
    assert figure(at, "nb_loss_chart")["data"][0]["x"][-1] >= 30
    at.button(key="nb_pause").click().run()
    stopped = pair(at).notebook.iteration
    at.run()
    assert pair(at).running is False and pair(at).notebook.iteration == pair(at).corrected.iteration == stopped


def test_quirk_checkboxes_build_the_notebook_sides_quirks(make_app):
    """Each checkbox switches exactly its quirk on the notebook side; the corrected side keeps none."""
    at = make_app("notebook")
    at.checkbox(key="nb_quirk_double_dZ2").uncheck().run()
    assert pair(at).notebook.quirks == NOTEBOOK_QUIRKS.with_(double_dZ2=False)
    at.checkbox(key="nb_quirk_unscaled_dev").check().run()
    p = pair(at)
    assert p.notebook.quirks == NOTEBOOK_QUIRKS.with_(double_dZ2=False, unscaled_dev=True)
    assert p.corrected.quirks == Quirks()
    np.testing.assert_allclose(p.notebook.X_dev, p.split.X_dev * 255)  # the dev set left at 0..255
    at.checkbox(key="nb_quirk_global_m").uncheck().run()
    assert pair(at).notebook.quirks.global_m is None
    at.checkbox(key="nb_quirk_global_m").check().run()
    at.number_input(key="nb_global_m").set_value(2000).run()
    assert pair(at).notebook.quirks.global_m == 2000


def test_effective_alpha_shown_matches_effective_lr(make_app):
    """The effective α next to the α input is core.effective_lr of α, the rows and the notebook's quirks."""
    at = make_app("notebook")
    expected = effective_lr(1.0, 2000, NOTEBOOK_QUIRKS)
    assert metric(at, "Effective α · notebook") == f"{expected:.4g}" == "0.09524"
    assert metric(at, "Effective α · corrected") == "1"
    at.number_input(key="nb_lr").set_value(0.5).run()
    at.number_input(key="nb_rows").set_value(1000).run()
    assert metric(at, "Effective α · notebook") == f"{effective_lr(0.5, 1000, NOTEBOOK_QUIRKS):.4g}"
    assert pair(at).notebook.lr == 0.5 and pair(at).notebook.m == 1000
    assert any("0.5 · 2 · 1,000 / 42,000" in i.value for i in at.main.info)
    at.checkbox(key="nb_match_lr").check().run()
    assert pair(at).corrected.lr == pytest.approx(effective_lr(0.5, 1000, NOTEBOOK_QUIRKS))


def test_same_initial_weights_start_the_corrected_run_from_the_notebooks(make_app):
    """With "same initial weights" the corrected run starts from the notebook's uniform draws, else from its own."""
    at = make_app("notebook")
    assert not np.allclose(pair(at).corrected.params.W1, pair(at).notebook.params.W1)
    at.checkbox(key="nb_same_init").check().run()
    p = pair(at)
    np.testing.assert_allclose(p.corrected.params.b1, p.notebook.params.b1, rtol=1e-6)
    assert p.corrected.params.dtype == np.float32 and p.notebook.params.dtype == np.float64


def test_quirk_table_appears_after_the_button(make_app):
    """The quirks are explained in a table; "Measure each quirk" adds both flips' accuracies from quirk_effects."""
    at = make_app("notebook")
    explained = at.main.table[0].value  # before measuring: the quirks in words only
    assert list(explained.columns) == ["quirk", "what the notebook did", "what is right"] and len(explained) == 7
    assert notebook.EFFECTS_KEY not in at.session_state
    at.number_input(key="nb_effects_iterations").set_value(3).run()
    at.button(key="nb_effects").click().run()
    lr, rows, iterations, results = at.session_state[notebook.EFFECTS_KEY]
    assert (lr, rows, iterations) == (1.0, 2000, 3) and results["notebook"]["iterations"] == 3
    table = at.main.table[0].value
    assert len(table) == len(QUIRK_NAMES) and "dZ2 = 2(A2 − Y)" in table.iloc[0, 0]
    assert list(table.columns[3:]) == ["notebook, this one flipped", "corrected, this one switched on", "failures"]
    assert table.iloc[0, 3].startswith("off: ") and "%" in table.iloc[0, 4]
    assert table.iloc[4, 3].startswith("on: ")  # the dev-set quirk is off in the notebook's training code
    at.run()  # kept in session state: still shown on the next run
    assert len(at.main.table[0].value.columns) == 6


# ----- pure helpers -----------------------------------------------------------------------------
def test_step_keeps_lockstep_and_goes_on_alone_after_a_failure(small_split):
    """Both runs get the same steps; when one fails the other continues alone, up to the last iteration."""
    settings = PairSettings(lr=10.0, iterations=30, rows=600)  # α = 10 makes the corrected run explode
    p = pairs.build(settings, small_split)
    assert p.worker.send(Step(1), wait=10) and p.notebook.iteration == p.corrected.iteration == 1
    while not p.done:
        p.worker.send(Step(5), wait=10)
    assert p.corrected.failure and p.corrected.failure.kind == "exploded"
    assert p.notebook.failure is None and p.notebook.iteration == 30 and p.done
    p.worker.send(Step(5), wait=10)
    assert p.worker.engine.iteration == 30


def test_advance_stops_at_the_last_iteration(small_split):
    """Started, the pair's worker trains both runs up to the configured iterations and no further."""
    p = pairs.build(PairSettings(lr=0.5, iterations=7, rows=600), small_split)
    p.worker.send(Start(), wait=5)
    wait_until(lambda: p.done, message="the pair to finish")
    assert p.notebook.iteration == p.corrected.iteration == 7


def test_why_alpha_worked_names_the_live_numbers():
    """The sentence gives α · 2 · m / 42,000 and the ratio to the corrected run's α, or says nothing is rescaled."""
    text = notebook.why_alpha_worked(PairSettings(lr=1.0, rows=3000))
    assert "1 · 2 · 3,000 / 42,000 = **0.143**" in text and "7× larger" in text
    matched = notebook.why_alpha_worked(PairSettings(lr=1.0, rows=3000, match_lr=True))
    assert "given that same α" in matched
    doubled = notebook.why_alpha_worked(PairSettings(lr=1.0, quirks=Quirks(double_dZ2=True)))
    assert doubled.startswith("**What α = 1 really does:**") and "= **2**" in doubled and "0.5× smaller" in doubled
    plain = notebook.why_alpha_worked(PairSettings(quirks=Quirks(uniform_init=True)))
    assert "means what it says" in plain


def test_quirks_from_checkbox_values():
    """Missing checkboxes take the notebook's defaults; the global m comes from its own input."""
    assert notebook.quirks_from({}) == NOTEBOOK_QUIRKS
    values = {notebook.quirk_key("uniform_init"): False, notebook.quirk_key("one_hot_from_max"): True,
              "nb_global_m": 60_000}
    assert notebook.quirks_from(values) == NOTEBOOK_QUIRKS.with_(uniform_init=False, one_hot_from_max=True,
                                                                 global_m=60_000)


def test_table_cells_show_accuracy_changes():
    """A cell reads "train / dev (Δ train / Δ dev pts)", n/a where dev was not measured."""
    baseline = dict(train_acc=0.91, dev_acc=0.895)
    assert notebook.outcome(dict(train_acc=0.812, dev_acc=0.803), baseline) == "81.2% / 80.3% (−9.8 / −9.2 pts)"
    assert notebook.outcome(dict(train_acc=0.9, dev_acc=float("nan")), baseline).endswith("(−1.0 / n/a pts)")


def test_one_click_tests_the_linear_claim(make_app):
    """The identity-vs-ReLU button trains both and states the gap and the affine-map check."""
    at = make_app("notebook")
    at.number_input(key="nb_linear_iterations").set_value(20).run()
    at.number_input(key="nb_linear_hidden").set_value(16).run()
    at.button(key="nb_linear").click().run()
    assert not at.exception
    text = "\n".join(m.value for m in at.main.markdown)
    assert "a gap of" in text and "one affine map" in text
    rows = at.main.table[-1].value
    assert list(rows["g"]) == ["relu", "identity"] and set(rows["iterations"]) == {"20"}


def test_a_failed_run_says_why_under_its_figures(make_app):
    """α = 10 explodes the corrected run within 10 steps: its status row says so, the notebook's has no note."""
    at = make_app("notebook")
    at.number_input(key="nb_lr").set_value(settings.LR_MAX).run()
    at.button(key="nb_step10").click().run()
    notebook_row, corrected_row = status_rows(at)
    failure = pair(at).corrected.failure
    assert failure is not None and notebook_row["note"] is None
    assert corrected_row["note"] == f"Stopped: {words.failure_text(failure)}"
