"""The LR lab and Runs views through AppTest (sweep, range test, run history, links) and their helpers.

Small data through the URL (2,000 train rows, 500 dev) keeps each run short. AppTest cannot fire
the sweep fragment's timer: each `run()` executes one tick, so a sweep is driven by calling
`run()` until it reports itself finished.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import data
from core import Quirks, TrainConfig
from core.sweep import RangeSuggestion, Sweep
from dashboard.charts import lab as lab_charts
from dashboard.runs import history as runs, live, sweeps
from dashboard.views import history as history_view
from tests.dashboard.conftest import charts, feed_of, figure, open_view, status_payload, status_row, wait_until


def lab(at):
    """The session's Lab (the Train view's run)."""
    return at.session_state["lab"]


def history(at) -> runs.RunHistory:
    """The session's run history (empty before anything made one)."""
    return at.session_state[runs.HISTORY_KEY] if runs.HISTORY_KEY in at.session_state else runs.RunHistory()


def sweep(at, rates: str = "0.1, 0.5, 50", iterations: int = 30):
    """Run a sweep with these rates and iteration budget to its end (in the LR lab view); return the SweepRun."""
    open_view(at, "lab")
    at.text_input(key="sweep_rates").set_value(rates).run()
    at.number_input(key="sweep_iterations").set_value(iterations).run()
    at.button(key="sweep_run").click().run()
    run = at.session_state["sweep"]
    wait_until(lambda: not run.running, timeout=60, message="the sweep to finish on the server")
    at.run()  # the page sees it finished (its runs join the history)
    assert not at.exception, at.exception
    return run


@pytest.mark.usefixtures("feeds_served")
def test_a_running_sweep_draws_its_curves_through_a_feed(make_app):
    """While a sweep runs, its two curves come whole with the URL of a feed of its worker; the split
    switch is beside them, and a finished sweep's curves carry no feed."""
    at = make_app()
    open_view(at, "lab")
    at.number_input(key="sweep_iterations").set_value(100_000).run()
    at.button(key="sweep_run").click().run()
    run = at.session_state["sweep"]
    assert feed_of(at, ["sweep_loss", "sweep_acc"]).worker is run.worker
    status = feed_of(at, ["sweep_status"])  # the status row's own feed, drawn outside any fragment
    assert status.worker is run.worker and status.charts["sweep_status"].every == live.STATUS_EVERY
    built = status.charts["sweep_status"].build(run.worker.snapshot)
    going = dict((label, value) for label, value, *_ in built["status"])["Runs going"]
    assert going.endswith(f" / {run.sweep.size}") and "ok" not in going  # "ok" once it stopped
    at.segmented_control(key="sweep_split").set_value("train").run()
    assert feed_of(at, ["sweep_loss", "sweep_acc"]).worker is run.worker  # drawn again: a new feed
    assert figure(at, "sweep_loss")["layout"]["title"]["text"].startswith("Train loss")
    at.button(key="sweep_stop").click().run()
    wait_until(lambda: not run.running, message="the sweep to stop")
    at.run()
    assert not any("feed" in json.loads(element.proto.json) for _, element in charts(at))
    assert "feed" not in status_payload(at)


def select_rows(at, rows: list[int]):
    """Select rows of the runs table, as a click in the browser would."""
    at.session_state["runs_table"] = {"selection": {"rows": rows}}
    return at.run()


def traces(at, key: str) -> list[dict]:
    """The traces of the chart with this key."""
    return figure(at, key)["data"]


# ----- run history -----------------------------------------------------------------------------
def test_run_table_lists_runs_after_a_reset(make_app):
    """A reset records the Train view's run; the table shows it and the current run, live."""
    at = make_app()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    (record,) = history(at).runs
    assert record.iterations == 10 and record.source == "Train" and record.weights is not None
    open_view(at, "runs")
    table = at.dataframe(key="runs_table").value
    assert list(table["run"]) == ["#1", "current"] and list(table["iterations"]) == [10, 0]
    assert table["dev acc"][0] == pytest.approx(100 * record.final["dev_acc"])  # percent, printed with one decimal
    columns = json.loads(at.dataframe(key="runs_table").proto.columns)
    assert columns["dev acc"]["type_config"]["format"] == columns["train acc"]["type_config"]["format"] == "%.1f%%"


def test_empty_runs_are_not_recorded(make_app):
    """A run replaced before its first step (a settings change right after a reset) is not kept."""
    at = make_app()
    at.number_input(key="hidden").set_value(12).run()
    assert len(history(at)) == 0


def test_selecting_two_runs_overlays_them_with_what_differs_in_the_legend(make_app):
    """Two runs with α 0.1 and 0.5 overlay as two curves each labelled by its α; CSV has both."""
    at = make_app()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    at.number_input(key=f"lr_exact_{at.session_state['lr_version']}").set_value(0.5).run()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    assert [r.config["lr"] for r in history(at).runs] == [0.1, 0.5]
    open_view(at, "runs")
    select_rows(at, [0, 1])
    assert at.session_state["runs_selected"] == [1, 2]
    for key in ("overlay_loss", "overlay_acc"):
        legend = [t["name"] for t in traces(at, key) if t["showlegend"]]
        assert legend == ["α=0.1", "α=0.5"]
    assert any("Differs between these runs: α" in c.value for c in at.caption)
    assert not at.download_button(key="runs_csv").disabled
    csv_lines = runs.metrics_csv(history(at).get([1, 2])).decode().splitlines()
    assert len(csv_lines) == 1 + 2 + 2  # header, two evaluations (0, 10) per run


@pytest.mark.usefixtures("feeds_served")
def test_the_overlay_follows_the_running_train_run_through_a_feed(make_app):
    """With the Train view's run selected while it trains, the overlay's two charts come with a feed of its
    worker that builds them from its snapshots (a stored run beside it); unselected, no feed."""
    at = make_app()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()  # run 1 stored; the new run is the live row
    at.button(key="start").click().run()
    open_view(at, "runs")
    select_rows(at, [0, 1])
    assert at.session_state["runs_selected"] == [1, runs.LIVE_ID]
    registered = feed_of(at, ["overlay_loss", "overlay_acc"])
    assert registered.worker is lab(at).worker
    wait_until(lambda: lab(at).worker.snapshot.iteration >= 30, message="the run to train")
    built = registered.charts["overlay_loss"].build(lab(at).worker.snapshot)
    assert max(max(trace.x) for trace in built.data if len(trace.x)) >= 30  # the live run as the snapshot has it
    assert len([trace for trace in built.data if trace.showlegend is not False]) == 2  # the stored run, the live one
    select_rows(at, [0])
    assert not any("feed" in json.loads(element.proto.json) for _, element in charts(at))


def test_selection_follows_runs_when_rows_move(make_app):
    """A selected run stays selected when new runs push it to another row (selection is by run id)."""
    at = make_app()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    at.button(key="step10").click().run()
    open_view(at, "runs")
    select_rows(at, [1])  # the current run, after #1
    assert at.session_state["runs_selected"] == [runs.LIVE_ID]
    open_view(at, "train").button(key="reset").click().run()  # the current run becomes #2 in row 1
    open_view(at, "runs")  # the new current run is row 2
    assert at.session_state["runs_selected"] == [runs.LIVE_ID]
    assert list(at.session_state["runs_table"]["selection"]["rows"]) == [2]


def test_one_selected_run_offers_its_weights(make_app):
    """With exactly one stored run selected, its kept weights download as an .npz that loads back."""
    at = make_app()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    open_view(at, "runs")
    assert at.download_button(key="runs_weights").disabled
    select_rows(at, [0])
    assert not at.download_button(key="runs_weights").disabled
    (record,) = history(at).runs
    arrays, meta = data.load_weights(history_view.one_run_weights(history(at), [record.id])())
    np.testing.assert_array_equal(arrays["W1"], record.weights["W1"])
    assert meta["iteration"] == 10 and meta["run"] == "#1"
    select_rows(at, [0, 1])
    assert at.download_button(key="runs_weights").disabled


def test_clear_history_empties_the_table(make_app):
    """Clear history forgets every stored run (the table waits for the next one)."""
    at = make_app()
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    open_view(at, "runs")
    assert len(at.dataframe) == 1
    at.button(key="runs_clear").click().run()
    assert len(history(at)) == 0 and len(at.dataframe) == 0
    assert any("No finished runs yet" in c.value for c in at.caption)


# ----- sweep -----------------------------------------------------------------------------------
def test_sweep_races_marks_the_diverging_rate_and_highlights_the_best(make_app):
    """3 rates: α = 50 explodes and is marked with its reason, the best is drawn thick with a star."""
    at = make_app()
    run = sweep(at)
    assert run.sweep.iteration == 30 and run.sweep.failures[2] and run.sweep.failures[2].kind == "exploded"
    names = [t["name"] for t in traces(at, "sweep_acc") if t.get("showlegend", True)]
    best = run.best("dev_acc")
    assert f"α=50 {lab_charts.FAILED} exploded" in names and names[best].startswith(f"α={run.sweep.lrs[best]:g} ★")
    widths = {t["name"]: t["line"]["width"] for t in traces(at, "sweep_acc") if t["mode"] == "lines"}
    assert widths[names[best]] == 4 and widths[f"α=50 {lab_charts.FAILED} exploded"] < 4
    assert status_payload(at)["note"].startswith("Stopped early: α = 50: the loss exploded")
    assert any("Best by dev accuracy" in s.value for s in at.success)
    assert [r.source for r in history(at).runs] == ["sweep 1"] * 3
    shown = status_row(at)
    assert shown["Iteration"] == "30 / 30" and shown["Runs going"] == "2 ok / 3" and shown["Best α"] == f"{run.sweep.lrs[best]:g}"


def test_continue_moves_the_best_run_to_the_train_tab(make_app):
    """Continue makes the best sweep run the Train view's trainer, at its iteration, with α following."""
    at = make_app()
    run = sweep(at)
    best = run.best("dev_acc")
    weights = run.sweep.state(best).params.W1
    at.button(key="sweep_continue").click().run()
    trainer, worker = lab(at).now, lab(at).worker
    assert trainer.lr == run.sweep.lrs[best] == at.session_state["lr"] and trainer.iteration == 30
    np.testing.assert_array_equal(trainer.params.W1, weights)
    assert any(f"Continued sweep 1's best run here: α = {trainer.lr:g}" in s.value for s in at.success)
    assert at.query_params["lr"] == repr(run.sweep.lrs[best])  # the address bar carries the new α
    open_view(at, "train").button(key="step10").click().run()  # it trains on from there
    assert lab(at).worker is worker and lab(at).now.iteration == 40


def test_two_sweeps_with_the_same_settings_draw_the_same_curves(make_app):
    """Same seed and settings: a second sweep gives exactly the first one's curves."""
    at = make_app(full_batch="false", batch_size="100")
    sweep(at, "0.05, 0.5", 20)
    loss_1, acc_1 = traces(at, "sweep_loss"), traces(at, "sweep_acc")
    sweep(at, "0.05, 0.5", 20)
    assert at.session_state["sweep"].number == 2
    for a, b in zip(loss_1 + acc_1, traces(at, "sweep_loss") + traces(at, "sweep_acc")):
        np.testing.assert_array_equal(a["y"], b["y"])
    first, second = history(at).runs[:2], history(at).runs[2:]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.column("dev_loss"), b.column("dev_loss"))


def test_sweep_pauses_the_train_run_and_bad_rates_are_refused(make_app):
    """Run sweep pauses a running Train run; rates that are not numbers show why and start nothing."""
    at = make_app()
    at.button(key="start").click().run()
    open_view(at, "lab")
    at.text_input(key="sweep_rates").set_value("0.1, fast").run()
    at.button(key="sweep_run").click().run()
    assert "sweep" not in at.session_state and any("'fast' is not a number" in e.value for e in at.error)
    at.text_input(key="sweep_rates").set_value("0.1").run()
    at.number_input(key="sweep_iterations").set_value(5).run()
    at.button(key="sweep_run").click().run()
    assert lab(at).running is False and at.session_state["sweep"].sweep.size == 1


def test_sweep_with_a_seconds_budget_stops_when_the_budget_is_spent(make_app):
    """With a budget of 1 s of training the sweep stops by itself on the server, unfailed, once its training time reaches 1 s."""
    at = make_app("lab")
    at.segmented_control(key="sweep_budget_kind").set_value("seconds").run()
    at.number_input(key="sweep_seconds").set_value(1).run()
    at.text_input(key="sweep_rates").set_value("0.1, 0.3").run()
    at.button(key="sweep_run").click().run()
    run = at.session_state["sweep"]
    assert run.budget_kind == "seconds" and run.budget == 1
    wait_until(lambda: not run.running, timeout=60, message="the sweep to stop on its budget")  # no page run meanwhile
    assert run.finished() and run.sweep.failures == [None, None] and run.sweep.iteration > 0
    assert run.sweep.seconds >= run.budget  # stopped by the budget (the engine's own clock), not before it


# ----- range test ------------------------------------------------------------------------------
def test_range_test_draws_the_suggested_band_and_applies_it(make_app):
    """The range test plots loss vs α on a log axis with the band low..high, a line at α, and a Use button."""
    at = make_app("lab")
    at.number_input(key="range_steps").set_value(60).run()
    at.button(key="range_run").click().run()
    run = at.session_state["range_test"]
    wait_until(lambda: not run.running, timeout=60, message="the range test on the server")
    at.run()
    suggestion, result = run.suggestion(), run.result
    assert suggestion is not None and suggestion.low <= suggestion.lr <= suggestion.high
    chart = figure(at, "range_chart")
    assert chart["layout"]["xaxis"]["type"] == "log"
    band, line = chart["layout"]["shapes"]
    assert (band["type"], band["x0"], band["x1"]) == ("rect", suggestion.low, suggestion.high)
    assert (line["type"], line["x0"]) == ("line", suggestion.lr)
    assert len(chart["data"][0]["x"]) == len(result.lrs) > 10
    shown = status_row(at)
    assert shown["Steps"] == f"{len(result.lrs):,}" and shown["Loss"] == f"{result.losses[-1]:.3g}"
    at.button(key="range_use").click().run()
    lr = float(f"{suggestion.lr:.3g}")
    assert at.session_state["lr"] == lr and lab(at).now.lr == lr


@pytest.mark.usefixtures("feeds_served")
def test_a_running_range_test_follows_feeds_and_shows_its_outcome_once_stopped(make_app):
    """While the range test runs, its chart and its status row come with feeds of its worker (no fragment
    ticks); once it stopped, the page's next run draws them without feeds, with the suggestion."""
    at = make_app("lab")
    at.number_input(key="range_steps").set_value(1000).run()
    at.button(key="range_run").click().run()
    run = at.session_state["range_test"]
    assert run.running, "the test finished before the page drew it running: give it more steps"
    assert feed_of(at, ["range_chart"]).worker is run.worker
    status = feed_of(at, ["range_status"])
    assert status.worker is run.worker
    assert "range_use" not in [b.key for b in at.button]  # no outcome while it runs
    wait_until(lambda: not run.running, timeout=60, message="the range test on the server")
    at.run()
    assert not any("feed" in json.loads(element.proto.json) for _, element in charts(at))
    assert "feed" not in status_payload(at) and "range_use" in [b.key for b in at.button]


# ----- links -----------------------------------------------------------------------------------
def test_hostile_link_shows_notices_and_uses_defaults(make_app):
    """`?hidden=-5&lr=nan&mode=<script>&junk=1` shows what was ignored and runs on the defaults."""
    at = make_app(hidden="-5", lr="nan", mode="<script>", junk="1")
    assert not at.exception
    text = " ".join(w.value for w in at.warning)
    assert "`hidden=-5`" in text and "`lr=nan`" in text and "`mode=<script>`" in text and "`junk`" in text
    config = lab(at).now.config
    assert (config.hidden, config.mode, lab(at).now.lr) == (10, "corrected", 0.1)
    assert "lr" not in at.query_params
    at.button(key="link_dismiss").click().run()
    assert not any("cannot be used" in w.value for w in at.warning)


def test_shared_link_restores_the_setup_and_the_copy_link_carries_it(make_app):
    """Opening `?mode=notebook&hidden=16&lr=0.5` sets that run up; the link shown carries the same settings."""
    at = make_app("runs", mode="notebook", hidden="16", lr="0.5")
    trainer = lab(at).now
    assert (trainer.config.mode, trainer.config.hidden, trainer.lr) == ("notebook", 16, 0.5)
    assert not at.warning
    (code,) = [c.value for c in at.code if c.value.startswith("?")]
    assert "mode=notebook" in code and "hidden=16" in code and "lr=0.5" in code and "train_size=2000" in code


def test_link_keeps_an_alpha_outside_the_slider_range(make_app):
    """α = 0.0005 (typed in the exact entry, below the slider) survives a link."""
    at = make_app(lr="0.0005")
    assert lab(at).now.lr == 0.0005 and not at.warning


# ----- pure helpers ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("0.01, 0.1, 1", [0.01, 0.1, 1.0]), ("1 0.1;0.1,, 0.01 ", [0.01, 0.1, 1.0]), ("3e-3", [0.003]),
])
def test_parse_rates_reads_lists(text, expected):
    """Commas, spaces or semicolons separate rates; they come back sorted without repeats."""
    assert sweeps.parse_rates(text) == expected


@pytest.mark.parametrize("text, message", [
    ("", "at least one"), ("0.1, x", "not a number"), ("0.1, nan", "outside"), ("0, 0.1", "outside"),
    ("1000", "outside"), (", ".join(str(0.01 * i) for i in range(1, 14)), "at most 12"),
])
def test_parse_rates_refuses_bad_lists(text, message):
    """Empty lists, non-numbers, rates outside 1e-5..100 and more than 12 rates raise ValueError."""
    with pytest.raises(ValueError, match=message):
        sweeps.parse_rates(text)


def test_sweep_figure_marks_best_and_failed_runs():
    """The best run is thick with a star at its end, a failed run dotted with a cross; colours follow α."""
    x = [np.arange(5) * 10.0, np.arange(5) * 10.0, np.array([0.0])]
    y = [np.linspace(2, 1, 5), np.linspace(2, 0.5, 5), np.array([2.3])]
    fig = lab_charts.sweep_figure([0.01, 0.1, 5.0], x, y, [None, None, "exploded"], 1, 1, "loss").to_dict()
    lines = [t for t in fig["data"] if t["mode"] == "lines"]
    markers = [t for t in fig["data"] if t["mode"] == "markers"]
    assert [t["name"] for t in lines] == ["α=0.01", "α=0.1 ★◆", "α=5 ✗ exploded"]
    assert [t["line"]["width"] for t in lines] == [1.8, 4, 1.8] and lines[2]["line"]["dash"] == "dot"
    assert [m["marker"]["symbol"] for m in markers] == ["star", "x"]
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert len(set(lab_charts.rate_colors([0.01, 0.1, 5.0]))) == 3


def test_range_figure_before_the_first_step_is_empty():
    """Drawn right after Run range test, before the worker's first step: two empty curves, no error."""
    fig = lab_charts.range_figure(np.array([]), np.array([])).to_dict()
    assert [len(trace["x"]) for trace in fig["data"]] == [0, 0]


def test_range_figure_without_suggestion_has_no_band():
    """No suggestion: the curves alone, no shapes."""
    lrs = np.geomspace(1e-3, 1, 20)
    fig = lab_charts.range_figure(lrs, np.linspace(2.3, 1, 20), None).to_dict()
    assert not fig["layout"].get("shapes") and len(fig["data"]) == 2
    fig = lab_charts.range_figure(lrs, np.linspace(2.3, 1, 20), RangeSuggestion(0.1, 0.05, 0.2)).to_dict()
    assert fig["layout"]["annotations"][0]["x"] == pytest.approx(-1.0)  # annotations take log10 on a log axis


def test_a_sweep_core_cannot_continue_stops_with_its_reason():
    """When core raises for every run (the one-hot quirk on a batch without 9s), the sweep stops and says why."""
    parts = data.split(data.load_sample(), dev_size=50, train_size=200, seed=0)
    config = TrainConfig(batch_size=2, quirks=Quirks(one_hot_from_max=True))
    run = sweeps.make(config, [0.1, 0.2], parts, 1, "sample", "sample", "iterations", 500)
    wait_until(run.finished, message="the sweep to stop")
    assert run.finished() and all(f.kind == "bad_batch" for f in run.sweep.failures)
