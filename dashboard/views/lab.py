"""The LR lab tab: race learning rates, find a range in one run, compare every run, share the setup.

- Sweep: N runs that differ only in α (`core.sweep.Sweep`: same initial weights, same batches)
  train in lockstep, live, in a fragment the browser reruns every TICK seconds while the sweep
  runs (as in views/train.py: draw, then train for the rest of the tick). Failed runs stop early
  and say why; the best by dev accuracy can become the Train tab's run.
- Range test: one run whose α grows each step (`core.sweep.lr_range_test`) and the suggested
  range (`suggest_lr`), with a button to use it.
- Run history (dashboard/runs.py): a table of this session's runs; selected runs are overlaid
  and exported.
- Link: every setting and α in the URL; `check_link` (called by app.py before the sidebar, while
  the query string is still as opened) says which values were ignored, and keeps `lr` current.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass, field

import streamlit as st

import data
from core import TrainConfig
from core.sweep import Sweep, log_spaced, lr_range_test, suggest_lr
from dashboard import export, lab_charts, runs, settings, state, urlstate
from dashboard.state import Lab

TICK = 0.2  # as views/train.py: ticks run back to back, RUN_TIME sets the redraw rate
RUN_TIME = 0.4  # longer than the Train tab's: N runs per step, and two charts of N curves to draw
MIN_BUDGET = 0.1
OVERLAY_EVERY = 1.0  # seconds between redraws of an overlay that shows the running Train run
MAX_RATES = 12
DEFAULT_RATES = log_spaced(0.01, 3.0, 7)
BUDGETS = {"iterations": (1, 100_000, 200, 50), "seconds": (1, 600, 20, 5)}  # min, max, default, step
RANGE_STOPS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0]
SWEEP_KEY, RANGE_KEY = "sweep", "range_test"
TABLE_KEY, TABLE_IDS_KEY, SELECTED_KEY = "runs_table", "runs_table_ids", "runs_selected"
LINK_CHECKED_KEY, NOTICES_KEY = "link_checked", "link_notices"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
LIVE_CONFIG = {"staticPlot": True}  # charts redrawn every tick (see views/train.py)


# ----- the sweep's state ---------------------------------------------------------------------------
@dataclass(eq=False)
class SweepRun:
    """A sweep, what it trains on, its budget and its wall-clock time; kept in st.session_state["sweep"]."""

    sweep: Sweep
    number: int  # 1, 2, ... within the session
    data_key: str
    data_name: str
    config: TrainConfig  # the Train tab's settings when it started (α aside)
    budget_kind: str  # "iterations" or "seconds" (of training)
    budget: float
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None
    running: bool = True
    recorded: bool = False
    step_time: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finished(self) -> bool:
        """Every run failed, the budget is spent, or the sweep could not go on."""
        sweep = self.sweep
        spent = sweep.iteration if self.budget_kind == "iterations" else sweep.seconds
        return all(sweep.failures) or spent >= self.budget

    def elapsed(self) -> float:
        """Wall-clock seconds from Run to the end (or now), drawing included."""
        return (self.ended or time.perf_counter()) - self.started

    def best(self, metric: str) -> int | None:
        """The best run by a metric (dev_acc, dev_loss), or None."""
        return self.sweep.best(metric)


def parse_rates(text: str) -> list[float]:
    """Learning rates from text such as "0.01, 0.1, 1", sorted, without repeats.

    Raises: ValueError saying what is wrong (not a number, out of range, none, too many).
    """
    rates = set()
    for part in (p for p in re.split(r"[,;\s]+", text.strip()) if p):
        try:
            lr = float(part)
        except ValueError:
            raise ValueError(f"{urlstate.shown(part, 20)!r} is not a number") from None
        if not (math.isfinite(lr) and urlstate.LR_LOW <= lr <= urlstate.LR_HIGH):
            raise ValueError(f"α = {urlstate.shown(part, 20)} is outside {urlstate.LR_LOW:g}..{urlstate.LR_HIGH:g}")
        rates.add(lr)
    if not rates:
        raise ValueError("enter at least one learning rate")
    if len(rates) > MAX_RATES:
        raise ValueError(f"at most {MAX_RATES} learning rates, got {len(rates)}")
    return sorted(rates)


def advance(run: SweepRun, budget: float) -> int:
    """Train the sweep for about `budget` seconds unless a click holds its lock; stop at its budget."""
    if not run.lock.acquire(blocking=False):
        return 0
    try:
        sweep, start = run.sweep, time.perf_counter()
        deadline = start + max(budget - run.step_time, 0.0)
        if run.budget_kind == "iterations":
            n = max(0, int(run.budget) - sweep.iteration)
        else:
            n, deadline = state.NO_STOP, min(deadline, start + max(run.budget - sweep.seconds - run.step_time, 0.0))
        done = sweep.step(n, deadline=deadline)
        if done == 0 and n > 0 and not run.finished():
            done = sweep.step(1)  # always make progress, however slow one step is
        if done:
            run.step_time = (time.perf_counter() - start) / done
        return done
    finally:
        run.lock.release()


def finish(run: SweepRun) -> None:
    """Stop a sweep for good and put its runs in the run history (once)."""
    with run.lock:  # wait for a tick in flight
        run.running = False
        run.ended = run.ended or time.perf_counter()
        if not run.recorded and run.sweep.iteration > 0:
            for record in runs.from_sweep(run.sweep, run.data_name, f"sweep {run.number}"):
                runs.session_history().add(record)
        run.recorded = True


def get_sweep() -> SweepRun | None:
    """This session's latest sweep, or None."""
    return st.session_state.get(SWEEP_KEY)


# ----- callbacks (full reruns) ---------------------------------------------------------------------
def _start_sweep() -> None:
    """Run sweep: a new sweep on the Train tab's data and settings; the Train run pauses meanwhile."""
    try:
        rates = parse_rates(st.session_state.get("sweep_rates", ""))
    except ValueError as error:
        st.session_state["sweep_message"] = ("error", f"Cannot run the sweep: {error}.")
        return
    lab = state.get()
    with lab.lock:  # the Train run would share the CPU with the race
        lab.running = False
    old = get_sweep()
    if old is not None:
        finish(old)
    kind = st.session_state.get("sweep_budget_kind") or "iterations"
    budget = st.session_state.get(f"sweep_{kind}", BUDGETS[kind][2])
    split = lab.split
    sweep = Sweep(lab.config, rates, split.X_train, split.y_train, split.X_dev, split.y_dev)
    number = (old.number if old else 0) + 1
    st.session_state[SWEEP_KEY] = SweepRun(sweep, number, lab.data_key, lab.dataset.name, lab.config, kind, budget)


def _stop_sweep() -> None:
    run = get_sweep()
    if run is not None:
        finish(run)


def _continue_best() -> None:
    """The sweep's best run (dev accuracy) becomes the Train tab's run; α follows it."""
    run, lab = get_sweep(), state.get()
    best = run.best("dev_acc") if run else None
    if best is None or not can_continue(run, lab):
        return
    finish(run)
    with run.lock:
        trainer = run.sweep.to_trainer(best)
    # install() records the replaced Train run and builds the new Lab; its fresh trainer is then
    # swapped for the sweep's run (nothing else refers to the new Lab yet).
    new = state.install(lab.config.with_(lr=trainer.lr), lab.data_key, lab.dataset, lab.split)
    new.trainer = trainer
    set_alpha(new, trainer.lr)
    last = trainer.history.last
    text = (f"The sweep's best run (α = {trainer.lr:g}, dev accuracy {last['dev_acc']:.1%} at iteration "
            f"{trainer.iteration:,}) is now the run in the **Train** tab, with α = {trainer.lr:g}. "
            f"Open the Train tab and press Start to train it further.")
    st.session_state["continue_message"] = ("success", text)
    new.notice = f"Continued the sweep's α = {trainer.lr:g} run in the Train tab."


def can_continue(run: SweepRun | None, lab: Lab) -> bool:
    """The sweep exists, has a best run, and was made with the Train tab's current data and settings."""
    return (run is not None and run.best("dev_acc") is not None
            and state.run_key(run.data_key, run.config) == lab.run_key)


def set_alpha(lab: Lab, lr: float) -> None:
    """Make `lr` the session's α: the α widgets show it (new version) and the Train run uses it from now on."""
    st.session_state["lr"] = float(lr)
    st.session_state["lr_version"] = st.session_state.get("lr_version", 0) + 1
    lab.trainer.set_lr(float(lr))


def _use_suggestion(lr: float) -> None:
    lab = state.get()
    set_alpha(lab, lr)
    lab.notice = f"α set to {lr:.3g} (the range test's suggestion) for the Train tab's run."


def _clear_history() -> None:
    runs.session_history().clear()
    st.session_state[SELECTED_KEY] = []


def _dismiss_notices() -> None:
    st.session_state[NOTICES_KEY] = []


# ----- the link ------------------------------------------------------------------------------------
def check_link() -> None:
    """Check the URL's settings once per session and show what was ignored; keep `lr` in the URL current.

    Called by app.py before the sidebar: on a session's first run the query string is still as it
    was opened (bound widgets drop bad values silently while they are drawn).
    """
    if not st.session_state.get(LINK_CHECKED_KEY):
        st.session_state[LINK_CHECKED_KEY] = True
        _, st.session_state[NOTICES_KEY] = urlstate.parse_query(st.query_params.to_dict())
        text = st.query_params.get("lr")
        if text is not None:
            try:  # α is not a bound widget: apply it here (app.init_lr then keeps it)
                st.session_state.setdefault("lr", urlstate.PARAMS["lr"].parse(text))
            except ValueError:
                del st.query_params["lr"]
    notices = st.session_state.get(NOTICES_KEY)
    if notices:
        notice_col, dismiss_col = st.columns([12, 1], vertical_alignment="center")
        notice_col.warning("**This link had settings that cannot be used; the defaults stand in.**\n\n"
                     + "\n".join(f"- {n}" for n in notices), icon=":material/link_off:")
        dismiss_col.button("Dismiss", key="link_dismiss", on_click=_dismiss_notices)
    sync_lr()


def sync_lr() -> None:
    """Put the session's α in the URL's `lr` (removed at the default), so the address bar is a link too."""
    lr = st.session_state.get("lr")
    if lr is None:
        return
    wanted = None if lr == settings.DEFAULTS["lr"] else urlstate.PARAMS["lr"].format(lr)
    if st.query_params.get("lr") != wanted:
        if wanted is None:
            del st.query_params["lr"]
        else:
            st.query_params["lr"] = wanted


def current_setup() -> dict:
    """The settings a link carries: data source, every sidebar setting and α."""
    return {**settings.current_values(), "data_source": st.session_state.get("data_source", "sample")}


def share() -> None:
    """"Copy link to this setup": the link in a code block, which has a copy button."""
    values = current_setup()
    note = ("**Copy link to this setup** (the box's copy button): it opens with these settings, this α and "
            "this stop-at; press Start to replay the run (same seed, weights and batches).")
    if values["data_source"] == "upload":
        note += " An uploaded file is not in the link: whoever opens it uploads their own."
    st.caption(note + " α changed in the Train tab since the last click here? **Refresh** updates the link.")
    st.code(urlstate.link(values, st.context.url), language=None, wrap_lines=True)


# ----- drawing -------------------------------------------------------------------------------------
LABEL = "LR lab"


def render() -> None:
    """Draw the tab (skipped while another tab is open)."""
    if st.session_state.get("view", LABEL) != LABEL:
        return
    lab = state.get()
    st.caption("Tune α as an experiment: race learning rates from the same start, find a range in one run, "
               "compare this session's runs, share the setup as a link.")
    sweep_controls()
    show_message("sweep_message")
    run = get_sweep()
    st.fragment(sweep_live, run_every=TICK if run is not None and run.running else None, key="sweep_live")()
    left, right = st.columns([1.25, 3], vertical_alignment="center")
    with left:
        continue_button(run, lab)
    with right:
        sweep_summary(run)
    show_message("continue_message")
    link, button = st.columns([6, 1], vertical_alignment="bottom")
    with link:
        share()
    button.button("Refresh", key="share_refresh", help="Rebuild the link with the current α and settings.")
    range_section(lab)
    history_section(lab)


def show_message(key: str) -> None:
    """Show a callback's message once (the next full run drops it)."""
    message = st.session_state.pop(key, None)
    if message:
        getattr(st, message[0])(message[1])


def sweep_controls() -> None:
    """Rates, budget, Run and Stop."""
    st.subheader("Learning-rate sweep", divider="gray")
    run = get_sweep()
    running = run is not None and run.running
    rates, kind_col, budget_col, start_col, stop_col = st.columns([3.2, 1.5, 1.1, 1, 1], vertical_alignment="bottom")
    rates.text_input("Learning rates α (comma-separated)", ", ".join(f"{lr:g}" for lr in DEFAULT_RATES),
                     key="sweep_rates", max_chars=300,
                     help=f"Up to {MAX_RATES} values in {urlstate.LR_LOW:g}..{urlstate.LR_HIGH:g}. The default is "
                          f"7 rates log-spaced from 0.01 to 3. Everything else comes from the sidebar.")
    kind = kind_col.segmented_control("Budget", list(BUDGETS), default="iterations", key="sweep_budget_kind",
                                      required=True, help="Stop after this many iterations, or seconds of training.")
    low, high, default, step = BUDGETS[kind or "iterations"]
    budget_col.number_input(kind or "iterations", low, high, default, step=step, key=f"sweep_{kind or 'iterations'}")
    start_col.button("Run sweep", key="sweep_run", type="primary", on_click=_start_sweep, width="stretch",
                     disabled=running, help="All runs start from the same weights and see the same batches. "
                                            "Pauses the Train tab's run.")
    stop_col.button("Stop sweep", key="sweep_stop", on_click=_stop_sweep, width="stretch", disabled=not running)


def sweep_live() -> None:
    """One tick: status, the race's curves and the failures; then train for the rest of the tick."""
    run = get_sweep()
    if run is None:
        st.info("Choose the rates and a budget, then **Run sweep**: the runs train side by side from the same "
                "initial weights, each curve drawn as it goes.")
        return
    started = time.perf_counter()
    split = sweep_status(run)
    sweep_charts(run, split)
    sweep_failures(run)
    if run.running:
        advance(run, max(MIN_BUDGET, RUN_TIME - (time.perf_counter() - started)))
        if run.finished():
            finish(run)
            st.rerun()  # a full run: clears the timer and updates the buttons


def sweep_status(run: SweepRun) -> str:
    """Iteration, elapsed and training time, runs still going, the best so far; returns the curves chosen."""
    sweep = run.sweep
    alive = sum(f is None for f in sweep.failures)
    best = run.best("dev_acc")
    target = f" / {int(run.budget):,}" if run.budget_kind == "iterations" else ""
    cells = [
        ("Iteration", f"{sweep.iteration:,}{target}"),
        ("Elapsed", duration(run.elapsed())),
        ("Training time", duration(sweep.seconds) + (f" / {run.budget:g} s" if run.budget_kind == "seconds" else "")),
        ("Runs going", f"{alive} / {sweep.size}" if run.running else f"{alive} ok / {sweep.size}"),
        ("Best dev acc", f"{sweep.histories[best].last['dev_acc']:.1%}" if best is not None else "–"),
        ("Best α", f"{sweep.lrs[best]:g}" if best is not None else "–"),
    ]
    cols = st.columns([1.2, 1, 1.1, 1, 1, 0.8, 1.2], vertical_alignment="bottom")
    for col, (label, value) in zip(cols, cells):
        col.metric(label, value)
    split = cols[-1].segmented_control("Curves of", ["dev", "train"], default="dev", key="sweep_split",
                                       required=True, help="Draw the dev or the training set's curves.")
    state_text = "running" if run.running else "finished"
    st.caption(f"Sweep {run.number}, {state_text}: {sweep.size} runs stacked in one network · "
               f"{sweep.y_train.size:,} train rows · {describe(run.config)} · {BEST_NOTE}")
    return split or "dev"


BEST_NOTE = f"{lab_charts.BEST_ACC} best dev acc, {lab_charts.BEST_LOSS} best dev loss, {lab_charts.FAILED} stopped"


def sweep_charts(run: SweepRun, split: str) -> None:
    """Loss and accuracy per α on the dev or train set ("dev", "train"), the best runs marked."""
    sweep = run.sweep
    histories = [list(h.rows) for h in sweep.histories]  # list(): a click's run may append meanwhile
    failures = [runs.failure_kind(f) if f else None for f in sweep.failures]
    x = [[r["iteration"] for r in rows] for rows in histories]
    best_acc, best_loss = run.best("dev_acc"), run.best("dev_loss")
    config = LIVE_CONFIG if run.running else CHART_CONFIG
    for col, metric, field_ in zip(st.columns(2), ("loss", "accuracy"), ("loss", "acc")):
        values = [[r[f"{split}_{field_}"] for r in rows] for rows in histories]
        figure = lab_charts.sweep_figure(sweep.lrs, x, values, failures, best_acc, best_loss, metric, split)
        col.plotly_chart(figure, key=f"sweep_{field_}", config=config)


def sweep_failures(run: SweepRun) -> None:
    """Why each failed run stopped."""
    sweep = run.sweep
    failed = [(lr, f) for lr, f in zip(sweep.lrs, sweep.failures) if f]
    if failed:
        st.warning("**Stopped early:**\n" + "\n".join(f"- α = {lr:g}: {message}" for lr, message in failed),
                   icon=":material/warning:")


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
    """Continue the best run in the Train tab (enabled once the sweep has stopped)."""
    best = run.best("dev_acc") if run and not run.running else None
    label = (f"Continue α = {run.sweep.lrs[best]:g} in the Train tab" if best is not None
             else "Continue the best run in the Train tab")
    ok = can_continue(run, lab)
    why = ("Run a sweep first." if run is None else "Stop the sweep first, or let it finish." if run.running
           else "Every run failed." if best is None else "" if ok
           else "The sidebar's data or settings changed since this sweep: run it again.")
    st.button(label, key="sweep_continue", on_click=_continue_best, disabled=run is None or run.running or not ok,
              width="stretch", help=why or "Replaces the Train tab's run by this one, weights and curves included; "
                                           "α follows.")
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
                      help="One run from the Train tab's settings and initial weights; α is multiplied by the "
                           "same factor each step, until the loss blows up."):
        if low >= high:
            st.session_state[RANGE_KEY] = {"error": "Choose a range whose end is above its start."}
        else:
            with st.spinner("Running the range test…"):
                st.session_state[RANGE_KEY] = range_test(lab, low, high, int(steps))
    result = st.session_state.get(RANGE_KEY)
    if result is None:
        st.caption("One run whose α grows exponentially each step: the loss falls once α is large enough and "
                   "blows up once it is too large. The steepest fall suggests a good α.")
        return
    if "error" in result:
        st.error(result["error"])
        return
    chart, side = st.columns([3, 1.2], vertical_alignment="center")
    suggestion = result["suggestion"]
    chart.plotly_chart(lab_charts.range_figure(result["lrs"], result["losses"], suggestion), key="range_chart",
                       config=CHART_CONFIG)
    with side:
        st.caption(f"{len(result['lrs'])} steps in {result['seconds']:.1f} s on {result['setup']}.")
        if suggestion is None:
            st.info("No clear steep fall in the loss: try a wider range or more steps.")
            return
        st.markdown(f"Suggested **α = {suggestion.lr:.3g}**, where the smoothed loss falls fastest; "
                    f"the shaded band ({suggestion.low:.3g} – {suggestion.high:.3g}) falls at least half as fast.")
        st.button(f"Use α = {suggestion.lr:.3g}", key="range_use", type="primary", on_click=_use_suggestion,
                  args=(float(f"{suggestion.lr:.3g}"),), width="stretch",
                  help="Sets α for the Train tab's run (applied live, like the α slider).")


def range_test(lab: Lab, low: float, high: float, steps: int) -> dict:
    """Run the range test on the Train tab's data and settings."""
    start = time.perf_counter()
    lrs, losses = lr_range_test(lab.config, lab.split.X_train, lab.split.y_train, low, high, steps)
    return dict(lrs=lrs, losses=losses, suggestion=suggest_lr(lrs, losses), seconds=time.perf_counter() - start,
                setup=f"{lab.dataset.name} ({lab.split.y_train.size:,} train rows), {describe(lab.config)}")


# ----- run history ---------------------------------------------------------------------------------
def history_section(lab: Lab) -> None:
    """The runs table (select rows to compare), the overlay of the selected runs, export and clear."""
    st.subheader("Runs of this session", divider="gray")
    history = runs.session_history()
    if not len(history):  # no table yet: nothing to compare (and the page's first render stays lighter)
        st.caption("No finished runs yet. The Train tab's runs appear here when they are replaced (Reset, new "
                   "settings, a sweep run continued), next to the current run, and so does every sweep run.")
        return
    records = [*history.runs, runs.from_trainer(lab.trainer, lab.dataset.name, live=True)]
    ids = [r.id for r in records]
    if st.session_state.get(TABLE_IDS_KEY) != ids:  # rows moved: select the same runs at their new places
        chosen = st.session_state.get(SELECTED_KEY, [])
        st.session_state[TABLE_KEY] = {"selection": {"rows": [ids.index(i) for i in chosen if i in ids]}}
        st.session_state[TABLE_IDS_KEY] = ids
    st.caption(f"Every run of this session: the Train tab's runs as they are replaced (Reset, new settings) "
               f"and each sweep run; the last row is the Train tab's current run, live. At most {runs.MAX_RUNS} "
               f"are kept. **Select rows** to overlay their curves; the legend names what differs.")
    import pandas as pd  # here, not at the top: pandas costs the app's first render ~0.5 s

    event = st.dataframe(pd.DataFrame(runs.table_rows(records)), key=TABLE_KEY, on_select="rerun",
                         selection_mode="multi-row", hide_index=True, column_config=TABLE_COLUMNS,
                         height=min(38 + 35 * len(records), 330))
    selected = [ids[r] for r in event.selection.rows if 0 <= r < len(ids)]
    st.session_state[SELECTED_KEY] = selected
    st.fragment(overlay, run_every=OVERLAY_EVERY if lab.running and runs.LIVE_ID in selected else None,
                key="runs_overlay")()
    export_buttons(history, selected)


TABLE_COLUMNS = {
    "train loss": st.column_config.NumberColumn(format="%.3f"),
    "dev loss": st.column_config.NumberColumn(format="%.3f"),
    "train acc": st.column_config.NumberColumn(format="percent"),
    "dev acc": st.column_config.NumberColumn(format="percent"),
    "iterations": st.column_config.NumberColumn(format="localized"),
}


def selected_records(history: runs.RunHistory, selected: list[int]) -> list[runs.RunRecord]:
    """The selected runs in table order, the Train tab's current run measured now."""
    lab = state.get()
    stored = history.get([i for i in selected if i != runs.LIVE_ID])
    stored.sort(key=lambda r: r.id)
    live = [runs.from_trainer(lab.trainer, lab.dataset.name, live=True)] if runs.LIVE_ID in selected else []
    return stored + live


def overlay() -> None:
    """The selected runs' loss and accuracy curves on two charts."""
    records = selected_records(runs.session_history(), st.session_state.get(SELECTED_KEY, []))
    if not records:
        st.info("Select one or more rows above to overlay their curves.")
        return
    labels = runs.legend_labels(records)
    x = [r.column("iteration") for r in records]
    for col, metric, name in zip(st.columns(2), ("loss", "accuracy"), ("loss", "acc")):
        figure = lab_charts.overlay_figure(labels, x, [r.column(f"train_{name}") for r in records],
                                           [r.column(f"dev_{name}") for r in records], metric)
        col.plotly_chart(figure, key=f"overlay_{name}", config=CHART_CONFIG)
    keys = runs.differing(records)
    if len(records) > 1:
        st.caption("Differs between these runs: " + (", ".join(runs.SETTING_NAMES[k] for k in keys) or "nothing "
                                                      "(same settings: told apart by run number)") + ".")


def export_buttons(history: runs.RunHistory, selected: list[int]) -> None:
    """Selected runs as CSV and JSON (made at click time), one run's weights, and Clear history."""
    cols = st.columns([1, 1, 1.3, 1, 2])
    none = not selected

    def records():
        return selected_records(history, selected)

    cols[0].download_button("Selected as CSV", data=lambda: runs.metrics_csv(records()), file_name="digit-lab-runs.csv",
                            mime="text/csv", on_click="ignore", key="runs_csv", disabled=none, width="stretch")
    cols[1].download_button("Selected as JSON", data=lambda: runs.metrics_json(records()),
                            file_name="digit-lab-runs.json", mime="application/json", on_click="ignore",
                            key="runs_json", disabled=none, width="stretch")
    weights = one_run_weights(history, selected)
    cols[2].download_button("Weights .npz", data=weights or b"", file_name="digit-lab-run-weights.npz",
                            mime="application/octet-stream", on_click="ignore", key="runs_weights",
                            disabled=weights is None, width="stretch",
                            help="Select exactly one run whose weights were kept (the newest runs keep theirs).")
    cols[3].button("Clear history", key="runs_clear", on_click=_clear_history, width="stretch",
                   disabled=not len(history))


def one_run_weights(history: runs.RunHistory, selected: list[int]):
    """A callable making the .npz of the one selected run, or None if not exactly one with weights is selected."""
    if len(selected) != 1:
        return None
    if selected[0] == runs.LIVE_ID:
        lab = state.get()
        return lambda: export.weights_npz(lab.trainer, lab.dataset.name)
    found = history.get(selected)
    if not found or found[0].weights is None:
        return None
    record = found[0]
    meta = {**record.config, "iteration": record.iterations, "data": record.data, "run": runs.run_name(record),
            "saved_by": "digit-lab dashboard (LR lab)"}
    return lambda: data.weights_bytes(record.weights, meta)


# ----- small helpers -------------------------------------------------------------------------------
def describe(config: TrainConfig) -> str:
    """The settings that shape a run, briefly."""
    batch = "full batch" if config.batch_size is None else f"batch {config.batch_size}"
    return f"h = {config.hidden}, {config.mode}, {batch}, {config.optimizer}, seed {config.seed}"


def duration(seconds: float) -> str:
    """"4.2 s" or "1 min 05 s"."""
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"
