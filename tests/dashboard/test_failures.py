"""A too-large α in the dashboard: the failure drawn and told alike everywhere, rewind, α per optimizer (issue 20)."""

from __future__ import annotations

import math

import pytest

from dashboard.runs import history as runs
from tests.dashboard.conftest import figure, open_view, status_payload, status_row, wait_until
from tests.dashboard.runs.test_session import reopen
from tests.dashboard.test_app import lab, lr_input


def blow_up(at, healthy: int = 30, huge: float = 1.0):
    """Step `healthy` iterations at the default α, set a huge α in the exact field, step until the run fails."""
    at.button(key="step10").click().run()
    wait_until(lambda: lab(at).now.iteration >= 10, message="10 steps")
    for _ in range(healthy // 10 - 1):
        at.button(key="step10").click().run()
    wait_until(lambda: lab(at).now.iteration >= healthy and not lab(at).running, message="the healthy steps")
    lr_input(at).set_value(huge).run()
    at.button(key="step100").click().run()
    wait_until(lambda: lab(at).now.failure is not None, message="the run to fail")
    at.run()
    assert not at.exception, at.exception
    return lab(at).now


def test_a_failure_shows_the_failed_state_and_the_runs_row_agrees(make_app):
    """After a blow-up the status row shows the failing step (last healthy beside it) and the Runs row says the same."""
    at = make_app()
    run = blow_up(at)
    failing, healthy = run.history.rows[-1], run.rewind_point.history[-1]  # the last row before α was raised
    assert failing["iteration"] == run.failure.iteration
    cells = {label: (value, delta, tone) for label, value, delta, tone in status_payload(at)["status"]}
    change = failing["dev_acc"] - healthy["dev_acc"]
    assert cells["Dev acc"] == ("–" if math.isnan(failing["dev_acc"]) else f"{failing['dev_acc']:.1%}",
                                "NaN" if math.isnan(change) else f"{change * 100:+.1f} pts",
                                "bad" if math.isnan(change) or change < 0 else "good")
    assert cells["Iteration"][1:] == (None, None)  # only the loss and accuracies have a change
    assert any(f"dev acc {healthy['dev_acc']:.1%}" in c.value for c in at.main.caption)
    loss = figure(at, "loss_chart")
    marks = [t for t in loss["data"] if t.get("name") == "train: failed"]
    assert marks and marks[0]["x"][0] == run.failure.iteration and "stopped" in marks[0]["hovertemplate"]
    assert at.button(key="rewind").label.startswith(f"Rewind to iteration {run.rewind_point.iteration:,}")
    at.button(key="reset").click().run()  # the failed run joins the history as it is replaced
    stored = at.session_state[runs.HISTORY_KEY].runs[-1]
    row = runs.table_rows([stored])[0]
    assert row["status"] != "ok" and row["iterations"] == run.failure.iteration
    assert row["dev acc"] == pytest.approx(100 * failing["dev_acc"], nan_ok=True)
    assert row["train loss"] == pytest.approx(failing["train_loss"], nan_ok=True)
    assert stored.rows[-1]["iteration"] == run.failure.iteration


def test_a_failed_run_opened_again_still_offers_its_rewind(make_app):
    """The rewind point is saved with the run: a session opening the link (a reload the server no longer holds,
    or a copy) shows the same Rewind button, and it goes back to the same weights."""
    at = make_app()
    run = blow_up(at)
    point = run.rewind_point
    again = reopen(dict(at.query_params))
    restored = lab(again).now
    assert restored.failure == run.failure and restored.rewind_point.iteration == point.iteration
    assert again.button(key="rewind").label == at.button(key="rewind").label
    again.button(key="rewind").click().run()
    wait_until(lambda: lab(again).now.failure is None and lab(again).now.iteration >= point.iteration,
               message="the rewound run")
    again.button(key="pause").click().run() if lab(again).running else None
    rewound = lab(again).now
    assert [r["train_loss"] for r in rewound.history.rows[:len(point.history)]] == [r["train_loss"] for r in point.history]


def test_rewind_goes_back_before_the_change_and_trains_on_with_a_smaller_alpha(make_app):
    """One click: the run as it was before α was raised, training at the suggested α; the failed branch in Runs."""
    at = make_app()
    run = blow_up(at)
    point, suggested = run.rewind_point, run.failure.suggested_lr
    assert point.iteration == 30
    at.button(key="rewind").click().run()
    assert not at.exception, at.exception
    new = lab(at)
    assert new.now.failure is None and new.now.lr == suggested and at.session_state["lr"] == suggested
    assert new.now.lr_changes[:2] == [(0, 0.1), (30, suggested)]  # the rewound run's very first step takes it
    wait_until(lambda: lab(at).now.iteration > 30, message="the rewound run to train on")
    assert new.replaced is not None and new.replaced.failure is not None
    assert new.replaced.source == "Train (failed branch)"
    assert any("Rewound to iteration 30" in s.value for s in at.success)


def test_lowering_alpha_after_a_failure_offers_a_rewind_with_that_alpha(make_app):
    """A learner who sets a smaller α after a failure gets the rewind button with their α."""
    at = make_app()
    blow_up(at)
    lr_input(at).set_value(0.03).run()
    at.run()
    assert at.button(key="rewind").label.endswith("α = 0.03")
    assert at.button(key="start").disabled  # the failed run itself cannot go on: only the rewind


def test_switching_the_optimizer_sets_its_usual_alpha_with_an_undo(make_app):
    """Plain at 0.17, then Adam: α becomes 0.001 (said so); Undo brings 0.17 back."""
    at = make_app()
    lr_input(at).set_value(0.17).run()
    at.selectbox(key="optimizer").set_value("adam").run()
    assert at.session_state["lr"] == 0.001 and lab(at).now.lr == 0.001
    assert any("0.001" in i.value and "adam" in i.value.lower() for i in at.sidebar.info)
    at.button(key="alpha_undo").click().run()
    assert at.session_state["lr"] == 0.17 and lab(at).now.lr == 0.17


def test_the_slider_shows_the_exact_alpha(make_app):
    """An α between the slider's round stops (0.17) is what both the slider and the exact field show."""
    at = make_app()
    lr_input(at).set_value(0.17).run()
    assert lr_input(at, "slider").value == 0.17 and lr_input(at).value == 0.17


def test_continue_in_train_switches_to_the_train_view_and_names_the_replaced_run(make_app):
    """The LR lab's Continue opens the Train view, says which run it replaced, and that run is in Runs."""
    at = make_app()
    at.button(key="step10").click().run()
    wait_until(lambda: lab(at).now.iteration >= 10 and not lab(at).running, message="10 steps")
    open_view(at, "lab")
    at.text_input(key="sweep_rates").set_value("0.05, 0.2").run()
    at.number_input(key="sweep_iterations").set_value(20).run()
    at.button(key="sweep_run").click().run()
    wait_until(lambda: at.session_state["sweep"].finished(), message="the sweep")
    at.run()
    at.button(key="sweep_continue").click().run()
    assert not at.exception, at.exception
    assert at.session_state["lr"] in (0.05, 0.2)
    assert status_row(at)["Iteration"]  # the Train view is the page now
    assert lab(at).now.m == 2000 and at.query_params["train_size"] == "2000"  # the link's settings stay
    replaced = lab(at).replaced
    assert replaced is not None and replaced in at.session_state[runs.HISTORY_KEY].runs
    assert any(runs.run_name(replaced) in s.value for s in at.success)
