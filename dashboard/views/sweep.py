"""The LR lab view: race learning rates from the same start, and find a range in one run.

- Sweep: N runs that differ only in α (`dashboard/runs/sweeps.py` around `core.sweep.Sweep`: same
  initial weights, same batches) train in lockstep on the server (a worker), drawn live (the curves
  follow a live feed, and so does the status row). Failed runs stop early and say why; the
  best by dev accuracy can become the Train view's run.
- Range test: one run whose α grows each step (`core.sweep.RangeTest`, on the server) and the suggested
  range (`suggest_lr`), with a button to use it.
The runs land in the Runs view (views/history.py). This file only lays out and draws.
"""

from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from dashboard import settings, words
from dashboard.charts import lab as lab_charts
from dashboard.charts.livechart import live_status, status_payload
from dashboard.runs import alpha, history as runs, live, state, sweeps
from dashboard.runs.feed import Chart
from dashboard.runs.session import RANGE_KEY
from dashboard.runs.state import Lab
from dashboard.runs.sweeps import BUDGETS, DEFAULT_RATES, MAX_RATES, SweepRun
from dashboard.runs.worker import Worker
from dashboard.views import train as train_view

LABEL = "LR lab"
TRAIN_PAGE = "views/train.py"  # as app.PAGES lists it, relative to the app's entry file
GO_TRAIN = "sweep_go_train"  # set by Continue: the next run of this view switches to the Train view
RANGE_STOPS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]


def render() -> None:
    """Draw the view."""
    if st.session_state.pop(GO_TRAIN, False):
        # a callback cannot switch pages: the run it triggers does; the link (its bound settings) stays as it is
        st.switch_page(TRAIN_PAGE, query_params=unbound_params())
    lab = state.get()
    st.caption("Tune α as an experiment: race learning rates from the same start, find a range in one run. "
               "Every run lands in the **Runs** view for comparison and export.")
    sweep_controls()
    show_message("sweep_message")
    live.row(_worker, sweep_live, key="sweep_live")
    live.charts(_worker, sweep_charts_part, key="sweep_charts")
    run = sweeps.get()
    left, right = st.columns([1.25, 3], vertical_alignment="center")
    with left:
        continue_button(run, lab)
    with right:
        sweep_summary(run)
    range_section(lab)


def _worker() -> Worker | None:
    run = sweeps.get()
    return run.worker if run is not None else None


def unbound_params() -> dict:
    """The link's parameters no widget is bound to (st.switch_page may not set bound ones; their widgets keep them)."""
    return {k: v for k, v in st.query_params.to_dict().items() if k not in settings.BOUND}


def show_message(key: str) -> None:
    """Show a callback's message once (the next full run drops it)."""
    message = st.session_state.pop(key, None)
    if message:
        getattr(st, message[0])(message[1])


# ----- callbacks (full reruns) ---------------------------------------------------------------------
def _start_sweep() -> None:
    """Run sweep: a new sweep on the Train view's data and settings; the Train run pauses meanwhile."""
    try:
        rates = sweeps.parse_rates(st.session_state.get("sweep_rates", ""))
    except ValueError as error:
        st.session_state["sweep_message"] = ("error", f"Cannot run the sweep: {error}.")
        return
    kind = st.session_state.get("sweep_budget_kind") or "iterations"
    sweeps.start(rates, kind, st.session_state.get(f"sweep_{kind}", BUDGETS[kind][2]))


def _stop_sweep() -> None:
    run = sweeps.get()
    if run is not None:
        sweeps.finish(run)


def _continue_best() -> None:
    """The sweep's best run (dev accuracy) becomes the Train view's run; α follows it."""
    run, lab = sweeps.get(), state.get()
    if not sweeps.can_continue(run, lab):
        return
    new = sweeps.continue_best(run, lab)
    trainer = new.now
    old = new.replaced
    replaced = (f"It replaced the Train view's run, now {runs.run_name(old)} in the **Runs** view "
                f"(α = {runs.alpha_text(old.lr_changes)}, {old.iterations:,} iterations)." if old is not None
                else "The Train view's run it replaced had not trained yet.")
    text = (f"Continued sweep {run.number}'s best run here: α = {trainer.lr:g}, dev accuracy "
            f"{trainer.history.last['dev_acc']:.1%} at iteration {trainer.iteration:,}. {replaced} "
            f"Press Start to train it further.")
    st.session_state[train_view.MESSAGE] = ("success", text)
    st.session_state[GO_TRAIN] = True


def _use_suggestion(lr: float) -> None:
    alpha.set_lr(lr)
    state.get().notice = f"α set to {lr:.3g} (the range test's suggestion) for the Train view's run."


# ----- the sweep -----------------------------------------------------------------------------------
def sweep_controls() -> None:
    """Rates, budget, Run and Stop."""
    st.subheader("Learning-rate sweep", divider="gray")
    run = sweeps.get()
    running = run is not None and run.running
    # One row that wraps in a narrow window (in equal columns, "Run sweep" and "seconds" were cut at 1,100 px).
    row = st.container(horizontal=True, vertical_alignment="bottom")
    row.text_input("Learning rates α (comma-separated)", ", ".join(f"{lr:g}" for lr in DEFAULT_RATES),
                   key="sweep_rates", max_chars=300, width=300,
                   help=f"Up to {MAX_RATES} values in {sweeps.LR_LOW:g}..{sweeps.LR_HIGH:g}. The default is "
                        f"7 rates log-spaced from 0.01 to 3. Everything else comes from the sidebar.")
    kind = row.segmented_control("Budget", list(BUDGETS), default="iterations", key="sweep_budget_kind",
                                 required=True, help="Stop after this many iterations, or seconds of training.")
    low, high, default, step = BUDGETS[kind or "iterations"]
    row.number_input(kind or "iterations", low, high, default, step=step, key=f"sweep_{kind or 'iterations'}",
                     width=110)
    row.button("Run sweep", key="sweep_run", type="primary", on_click=_start_sweep, disabled=running,
               help="All runs start from the same weights and see the same batches. Pauses the Train view's run.")
    row.button("Stop sweep", key="sweep_stop", on_click=_stop_sweep, disabled=not running)


def sweep_live() -> None:
    """The status row: the sweep's figures and failures, following it through a feed of its own once a
    second while it runs (`live.row`: in the page's own flow, so its feed's end reruns the page)."""
    run = sweeps.get()
    if run is None:
        st.info("Choose the rates and a budget, then **Run sweep**: the runs train side by side from the same "
                "initial weights, each curve drawn as it goes.")
        return
    build = functools.partial(sweep_status, run)
    url = live.feed("sweep_status", _worker, {"sweep_status": Chart(build, every=live.STATUS_EVERY)})
    live_status(build(run.worker.snapshot), key="sweep_status", feed=url)
    state_text = "running" if run.running else "finished"
    st.caption(f"Sweep {run.number}, {state_text}: {run.sweep.size} runs stacked in one network · "
               f"{run.sweep.y_train.size:,} train rows · {sweeps.describe(run.config)} · {BEST_NOTE}")


def sweep_charts_part() -> None:
    """The race's curves: while it runs they follow it through a live feed (`live.charts`: see the
    Train view's `charts_part`)."""
    run = sweeps.get()
    if run is None:
        return
    split = st.segmented_control("Curves of", ["dev", "train"], default="dev", key="sweep_split", required=True,
                                 help="Draw the dev or the training set's curves.") or "dev"
    built = {f"sweep_{field_}": Chart(functools.partial(sweep_figure, metric, field_, split),
                                      config=live.CHART_CONFIG) for metric, field_ in (("loss", "loss"),
                                                                                       ("accuracy", "acc"))}
    url = live.feed("sweep", _worker, built)
    snapshot = run.worker.snapshot
    for col, (name, chart) in zip(st.columns(2), built.items()):
        with col:
            live.chart(chart.build(snapshot), key=name, config=chart.config, feed=url)


def sweep_status(run: SweepRun, snapshot) -> dict:
    """The status row of a snapshot of the sweep's worker: iteration, elapsed and training time, runs still
    going, the best so far; why each failed run stopped, as its warning line."""
    sweep = snapshot.view
    alive = sum(f is None for f in sweep.failures)
    best = sweep.best("dev_acc")
    target = f" / {int(run.budget):,}" if run.budget_kind == "iterations" else ""
    cells = [
        ("Iteration", f"{sweep.iteration:,}{target}"),
        ("Elapsed", duration(run.elapsed())),
        ("Training time", duration(sweep.seconds) + (f" / {run.budget:g} s" if run.budget_kind == "seconds" else "")),
        ("Runs going", f"{alive} / {sweep.size}" if snapshot.active else f"{alive} ok / {sweep.size}"),
        ("Best dev acc", f"{sweep.histories[best].last['dev_acc']:.1%}" if best is not None else "–"),
        ("Best α", f"{sweep.lrs[best]:g}" if best is not None else "–"),
    ]
    failed = [f"α = {lr:g}: {words.failure_text(f)}" for lr, f in zip(sweep.lrs, sweep.failures) if f]
    return status_payload(cells, "Stopped early: " + "; ".join(failed) if failed else None)


BEST_NOTE = f"{lab_charts.BEST_ACC} best dev acc, {lab_charts.BEST_LOSS} best dev loss, {lab_charts.FAILED} stopped"


def sweep_figure(metric: str, field_: str, split: str, snapshot):
    """Loss or accuracy per α on the dev or train set ("dev", "train") in a snapshot of the sweep's worker,
    the best runs marked."""
    sweep = snapshot.view
    failures = [words.failure_short(f) if f else None for f in sweep.failures]
    x = [h.column("iteration") for h in sweep.histories]  # only the rows new since the last build are read
    values = [h.column(f"{split}_{field_}") for h in sweep.histories]
    return lab_charts.sweep_figure(sweep.lrs, x, values, failures, sweep.best("dev_acc"), sweep.best("dev_loss"),
                                   metric, split)


def sweep_summary(run: SweepRun | None) -> None:
    """The best runs in words, once the sweep has stopped."""
    best_acc, best_loss = (run.best("dev_acc"), run.best("dev_loss")) if run and not run.running else (None, None)
    if best_acc is None:
        return
    sweep = run.sweep
    acc, loss = sweep.histories[best_acc].last["dev_acc"], sweep.histories[best_loss].last["dev_loss"]
    st.success(f"Best by dev accuracy: **α = {sweep.lrs[best_acc]:g}** ({acc:.1%}); by dev loss: "
               f"**α = {sweep.lrs[best_loss]:g}** ({loss:.3f}). {sweep.iteration:,} iterations in "
               f"{duration(run.elapsed())} ({duration(sweep.seconds)} of training).")


def continue_button(run: SweepRun | None, lab: Lab) -> None:
    """Continue the best run in the Train view (enabled once the sweep has stopped)."""
    best = run.best("dev_acc") if run and not run.running else None
    label = (f"Continue α = {run.sweep.lrs[best]:g} in the Train view" if best is not None
             else "Continue the best run in the Train view")
    ok = sweeps.can_continue(run, lab)
    why = ("Run a sweep first." if run is None else "Stop the sweep first, or let it finish." if run.running
           else "Every run failed." if best is None else "" if ok
           else "The sidebar's data or settings changed since this sweep: run it again.")
    st.button(label, key="sweep_continue", on_click=_continue_best, disabled=run is None or run.running or not ok,
              width="stretch", wrap=True,  # a narrow column: two lines, not "Continue the best run in…"
              help=why or "Opens the Train view with this run, weights and curves included; α follows. The Train "
                          "view's run it replaces stays in the Runs view.")
    if why and run is not None and not run.running:
        st.caption(why)


# ----- range test ----------------------------------------------------------------------------------
def range_section(lab: Lab) -> None:
    """α from tiny to huge in one run; the loss against α; the suggested range and a button to use it."""
    st.subheader("Learning-rate range test", divider="gray")
    span_col, steps_col, run_col = st.columns([3, 1, 1.2], vertical_alignment="bottom")
    low, high = span_col.select_slider("α grows from … to", RANGE_STOPS, value=(1e-4, 10.0), key="range_span",
                                       format_func=lambda v: f"{v:g}")
    steps = steps_col.number_input("Steps", 10, 1000, 100, step=10, key="range_steps")
    if run_col.button("Run range test", key="range_run", width="stretch",
                      help="One run from the Train view's settings and initial weights; α is multiplied by the "
                           "same factor each step, until the loss blows up."):
        if low >= high:
            st.session_state["range_error"] = "Choose a range whose end is above its start."
        else:
            st.session_state.pop("range_error", None)
            st.session_state[RANGE_KEY] = sweeps.range_test(lab, low, high, int(steps))
    if "range_error" in st.session_state:
        st.error(st.session_state["range_error"])
    if st.session_state.get(RANGE_KEY) is None:
        st.caption("One run whose α grows exponentially each step: the loss falls once α is large enough and "
                   "blows up once it is too large. The steepest fall suggests a good α.")
        return
    chart, side = st.columns([3, 1.2], vertical_alignment="center")
    with chart:
        live.charts(_range_worker, range_chart, key="range_charts")
    with side:
        live.row(_range_worker, range_status, key="range_live")
        range_outcome()


def _range_worker() -> Worker | None:
    return st.session_state[RANGE_KEY].worker  # None for a test restored from a save


def range_chart() -> None:
    """The loss against α; while the test runs it follows it through a live feed (`live.charts`)."""
    run = st.session_state[RANGE_KEY]
    chart = Chart(lambda snapshot: lab_charts.range_figure(snapshot.view.lrs, snapshot.view.losses),
                  config=live.CHART_CONFIG)
    url = live.feed("range", _range_worker, {"range_chart": chart})
    live.chart(lab_charts.range_figure(run.result.lrs, run.result.losses, run.suggestion()), key="range_chart",
               config=chart.config, feed=url)


def range_status() -> None:
    """Steps, α and loss so far, training time; while the test runs they follow it through a feed of their
    own (`live.row`: in the page's own flow, so the feed's end reruns the page, which draws the outcome)."""
    run = st.session_state[RANGE_KEY]
    url = live.feed("range_status", _range_worker, {"range_status": Chart(lambda s: range_status_row(s.view))})
    live_status(range_status_row(run.result), key="range_status", feed=url)
    st.caption(f"On {run.setup}.")


def range_status_row(result) -> dict:
    """A range test's figures (a core.sweep.RangeResult) as a status row."""
    last = (f"{result.lrs[-1]:.3g}", f"{result.losses[-1]:.3g}") if result.lrs else ("–", "–")
    return status_payload([("Steps", f"{len(result.lrs):,}"), ("α", last[0]), ("Loss", last[1]),
                           ("Time", duration(result.seconds))])


def range_outcome() -> None:
    """Once the test has stopped: the suggested α and its button (full runs only)."""
    run = st.session_state[RANGE_KEY]
    if run.running:
        return
    suggestion = run.suggestion()
    if suggestion is None:
        st.info("No clear steep fall in the loss: try a wider range or more steps.")
        return
    st.markdown(f"Suggested **α = {suggestion.lr:.3g}**, where the smoothed loss falls fastest; "
                f"the shaded band ({suggestion.low:.3g} – {suggestion.high:.3g}) falls at least half as fast.")
    st.button(f"Use α = {suggestion.lr:.3g}", key="range_use", type="primary", on_click=_use_suggestion,
              args=(float(f"{suggestion.lr:.3g}"),), width="stretch",
              help="Sets α for the Train view's run (applied live, like the α slider).")


# ----- small helpers -------------------------------------------------------------------------------
def duration(seconds: float) -> str:
    """"4.2 s" or "1 min 05 s"."""
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


if __name__ == "__main__":  # run as a page by st.navigation (dashboard/app.py)
    render()
