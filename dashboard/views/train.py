"""The Train view: controls, the live status, curves and weight maps, and the mistakes gallery.

The run trains on the server (its worker, dashboard/runs/worker.py): the buttons send commands. While
it trains, the status row (every `live.STATUS_EVERY` seconds), curves and weight maps, and every
GALLERY_EVERY seconds the confusion matrix and the gallery, follow it through live feeds (`live.feed`:
the server pushes their changes to the browser, no rerun per redraw), and so do the gradient-health
curves while their expander is open, every HEALTH_EVERY seconds. Everything is
drawn anew on every full rerun (pause, step, reset). This file only lays out and draws.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import confusion_matrix, effective_lr
from core.optim import USUAL_LR
from core.run import last_healthy as core_last_healthy
from dashboard import settings, words
from dashboard.charts import figures as charts, grad as grad_charts
from dashboard.charts.livechart import live_status, status_payload
from dashboard.runs import alpha, history as runs, live, state
from dashboard.runs.feed import Chart
from dashboard.runs.state import Lab
from dashboard.runs.worker import FINISHED, Pause, Start, Step, Worker

LABEL = "Train"
BUTTON_WIDTH = 88  # pixels: "Step 100" whole, six buttons in a row from 1,100 px (columns cut labels there)
GALLERY_EVERY = 3.0  # seconds between gallery refreshes while running
PAGE = 64  # weight tiles per page
NARROW_WEIGHTS = 16  # up to this many hidden units the weight maps sit beside the curves
NARROW_HEIGHT = 500  # the curves' height then: as tall as the weight maps beside them (no empty space below)
WIDE_COLS = 16  # tiles per row when the weight maps span the page
WEIGHTS_EVERY = 2.0  # seconds between weight-map redraws while running: the browser's dearest redraw (1 s cost ~2 points of speed)
HEALTH_EVERY = 1.0  # seconds between redraws of the gradient-health curves while running
TENSORS = list(grad_charts.TENSORS)  # what the tiles show: W1, dW1 (this batch) or ΔW1 (the last step)
GALLERY_SIZE = 16  # two rows of eight
EMA_WEIGHT = 0.9
ANY = -1  # filter value: any digit
COMMAND_WAIT = 1.0  # seconds a click waits for its command to apply (one slice, ~0.1 s, in practice)
MESSAGE = "train_message"  # (kind, text) shown once at the top of the view
STEP_WAIT = 2.0  # seconds a Step click waits for its steps; longer ones go on while the page watches


def render() -> None:
    """Draw the whole view (on every full rerun)."""
    lab = state.get()
    # Each part that comes and goes (a message, a hint, the failure panel) lives in a slot that is always
    # there, so the fragments below keep their positions between full runs (Streamlit #16708: deltas
    # address elements by position, and a shifted fragment writes into the wrong place).
    message = st.session_state.pop(MESSAGE, None)
    with st.container():
        if message:
            getattr(st, message[0])(message[1])
    controls(lab)
    lr_controls(lab)
    with st.container():
        failure_panel(lab)
    with st.container():  # always there (see above)
        live.row(_worker, status_part, key="train")
    live.charts(_worker, charts_part, key="charts")
    health(lab)
    live.charts(_worker, gallery, key="gallery", every=GALLERY_EVERY)


def _worker() -> Worker | None:
    lab = state.get()
    return lab.worker if lab is not None else None


def _send(command, wait: float = COMMAND_WAIT) -> None:
    """A button's callback: the command goes to the run's worker; the full rerun that follows
    draws it applied (a Step that takes longer goes on while the page watches)."""
    state.get().worker.send(command, wait=wait)


# ----- controls (full reruns) -------------------------------------------------------------------
def controls(lab: Lab) -> None:
    """Start / Pause / Step 1, 10, 100 / Reset."""
    row = st.container(horizontal=True, vertical_alignment="center")  # a narrow window wraps it, cuts no label
    finished = lab.snapshot.status == FINISHED
    row.button("Start", key="start", type="primary", on_click=_send, args=(Start(),), width=BUTTON_WIDTH,
               disabled=lab.running or finished)
    row.button("Pause", key="pause", on_click=_send, args=(Pause(),), disabled=not lab.running, width=BUTTON_WIDTH)
    for n in (1, 10, 100):
        row.button(f"Step {n}", key=f"step{n}", on_click=_send, args=(Step(n), STEP_WAIT), width=BUTTON_WIDTH,
                   disabled=finished)
    row.button("Reset", key="reset", on_click=lambda: state.reset(state.get(), alpha.get()), width=BUTTON_WIDTH,
               help="New weights, same settings.")
    stop = lab.stop_at()
    row.caption((":material/play_arrow: training on the server" if lab.running else ":material/pause: paused")
                + (f" · stops at iteration {stop:,}" if stop else ""))
    slot = st.container()  # always there (see render)
    if lab.snapshot.note:
        slot.info(lab.snapshot.note + " Press Start to go on.", icon=":material/pause_circle:")
    elif lab.now.iteration == 0 and not lab.running and not finished:
        slot.info("Press **Start** to train the network live (or **Step 1** to watch one update). Move α while it "
                "trains and see what it does to the curves.", icon=":material/play_circle:")


# ----- after a failure (full reruns) ------------------------------------------------------------
def failure_panel(lab: Lab) -> None:
    """Why the run stopped and, when it can, one button back to just before it with a smaller α."""
    failure = lab.now.failure
    if failure is None:
        return
    usual = USUAL_LR[lab.now.config.optimizer]
    hint = "" if lab.now.config.optimizer == "plain" else f" ({lab.now.config.optimizer} usually starts at {usual:g})"
    st.error(f"**Training stopped:** {words.failure_text(failure)}. {words.failure_advice(failure)}{hint}",
             icon=":material/warning:")
    point = lab.now.rewind_point
    if point is None:
        return
    lr = rewind_lr(failure, alpha.get())
    since = [i for i, _ in lab.now.lr_changes if 0 < i <= failure.iteration]
    where = (f"just before α became {failure.lr:.3g}" if since and point.iteration <= since[-1]
             else "the newest moment kept before the failure")
    button, note = st.columns([1.6, 3], vertical_alignment="center")
    button.button(f"Rewind to iteration {point.iteration:,}, train on with α = {lr:g}", key="rewind", type="primary",
                  on_click=_rewind, args=(lr,), width="stretch",
                  help="Goes back to the run exactly as it was then (weights, optimizer, batch order, curves) and "
                       "trains on. The failed run stays in the Runs view.")
    note.caption(f"Iteration {point.iteration:,} is {where}. Set α below first to retry with another value; "
                 f"the failed run stays in **Runs** for comparison. No Reset needed.")


def rewind_lr(failure, lr: float) -> float:
    """The α a rewind trains on: the learner's when they lowered it below the failing α, else the suggestion."""
    if lr < failure.lr or failure.suggested_lr is None:
        return lr
    return failure.suggested_lr


def _rewind(lr: float) -> None:
    """Callback: back to the failed run's rewind point (a new run, training at once) at α = lr."""
    point = state.get().now.rewind_point
    new = state.rewind(state.get(), lr)
    alpha.set_lr(lr)
    failed = f" The failed run is {runs.run_name(new.replaced)} in Runs." if new.replaced else ""
    st.session_state[MESSAGE] = ("success", f"Rewound to iteration {point.iteration:,}: training on with "
                                            f"α = {lr:g}.{failed}")


# ----- the live part -----------------------------------------------------------------------------
def status_part() -> None:
    """The status row: while the run trains it follows it through a feed of its own, once a second.

    Drawn by `live.row`, in the page's own flow (not a fragment), so that its word back when its feed
    ends (the run stopped) or is refused (a server that no longer knows it) reruns the whole page.
    """
    lab = state.get()
    url = live.feed("status", _worker, {"status": Chart(status_row, every=live.STATUS_EVERY)})
    live_status(status_row(lab.snapshot), key="status", feed=url)
    resting_notes(lab)


def charts_part() -> None:
    """Curves and weights: while the run trains they follow it through a live feed (dashboard/runs/feed.py:
    pushed to the browser, no rerun per redraw).

    Drawn by `live.charts`: a fragment without a timer while a feed draws, so that a chart's word back
    to Python (its first whole figure drawn, or a lost feed) and the tile choices rerun only this part,
    not the page, whose one-off messages stay.
    """
    lab = state.get()
    narrow = lab.now.params.hidden <= NARROW_WEIGHTS  # a small grid fits next to the curves
    row = st.container(key="train_charts")  # in a narrow window the tiles go below the curves (app.WRAPPING_ROWS)
    if narrow:
        loss_col, acc_col, weights_col = row.columns([1, 1, 1.05])
        width, height = 300, NARROW_HEIGHT
    else:
        loss_col, acc_col = row.columns(2)
        weights_col, width, height = st.container(), 470, 320
    with weights_col:
        tiles = weight_options(lab, wide=not narrow)
    smooth = EMA_WEIGHT if st.session_state.get("smooth") else None
    built = {
        "loss_chart": Chart(functools.partial(curve_figure, "loss", smooth=smooth, width=width, height=height),
                            config=live.CHART_CONFIG),
        "accuracy_chart": Chart(functools.partial(curve_figure, "accuracy", smooth=smooth, width=width,
                                                  height=height), config=live.CHART_CONFIG),
        "weights_chart": Chart(functools.partial(tiles_figure, tiles), every=WEIGHTS_EVERY, config=live.CHART_CONFIG),
        "output_chart": Chart(functools.partial(output_figure, tiles), every=WEIGHTS_EVERY, config=live.CHART_CONFIG),
    }
    url = live.feed("train", _worker, built)
    snapshot = lab.snapshot
    for col, name in ((loss_col, "loss_chart"), (acc_col, "accuracy_chart"), (weights_col, "weights_chart"),
                      (weights_col, "output_chart")):
        with col:
            live.chart(built[name].build(snapshot), key=name, config=built[name].config, feed=url)


def status_row(snapshot) -> dict:
    """The status figures of a snapshot: iteration, epoch, training time, speed, dead neurons and the latest
    loss and accuracies (after a failure: with the change from the last healthy evaluation), and a
    warning line when the latest steps are far from a healthy size."""
    run = snapshot.view
    last, rate, healthy = run.history.last, snapshot.rate, last_healthy(run)
    cells = [
        ("Iteration", f"{run.iteration:,}"),
        ("Epoch", f"{run.epoch:,.0f}" if run.batch_size >= run.m else f"{run.epoch:,.2f}"),  # full batch: whole
        ("Train time", _duration(run.seconds)),
        ("Iterations/s", f"{rate:,.0f}" if rate is not None else "–"),
        ("Dead neurons", f"{run.dead_units().mean():.0%}"),
    ]
    for label, field, shown in (("Train loss", "train_loss", _loss), ("Train acc", "train_acc", _percent),
                                ("Dev acc", "dev_acc", _percent)):
        delta, tone = (_was(last, healthy, field), _tone(last, healthy, field)) if healthy else (None, None)
        cells.append((label, shown(last[field]), delta, tone))
    note = grad_charts.health_note({k: run.history.column(f"update_{k}") for k in ("W1", "W2")})
    return status_payload(cells, note)


def resting_notes(lab: Lab) -> None:
    """Under the status row of a run that is not training: what its failure figures mean, or its stop."""
    trainer = lab.now
    healthy = last_healthy(trainer)
    if healthy:
        last = trainer.history.last
        st.caption(f"The figures above are the network as it failed (iteration {last['iteration']:,}); below "
                   f"each, the change from the last healthy evaluation, at iteration {healthy['iteration']:,}: "
                   f"train loss {_loss(healthy['train_loss'])}, train acc {_percent(healthy['train_acc'])} and "
                   f"dev acc {_percent(healthy['dev_acc'])}.")
    if lab.snapshot.status == FINISHED and not trainer.failure:
        st.info(f"Reached the stop-at iteration {lab.stop_at():,}. Raise it in the sidebar to go on, or Reset.")


def last_healthy(run) -> dict | None:
    """A failed run's last healthy evaluation: its rewind point's newest row (before the failing α took
    over), else the row before its failing step; None while it is healthy."""
    return core_last_healthy(run.failure, run.history.rows, run.rewind_point)


def _was(now: dict, before: dict, field: str) -> str:
    """A metric's delta text: the change since the last healthy row (short: it shares a narrow column)."""
    a, b = now[field], before[field]
    if math.isnan(a):
        return "NaN"
    return f"{a - b:+.3g}" if field == "train_loss" else f"{(a - b) * 100:+.1f} pts"


def _tone(now: dict, before: dict, field: str) -> str:
    """"bad" when a figure got worse since the last healthy row (the loss up, an accuracy down, or NaN)."""
    a, b = now[field], before[field]
    worse = math.isnan(a) or (a > b if field == "train_loss" else a < b)
    return "bad" if worse else "good"


def _loss(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:.3g}"


def lr_controls(lab: Lab) -> None:
    """α: a log-scale slider and an exact entry showing `alpha.get()`, both setting it through `alpha.set_lr`.

    Drawn on full runs only, beside the training controls: a change reruns the page once, like a
    click, whereas three widgets redrawn on every tick of the live fragment kept the browser busy
    (the whole view: 0.58 -> 0.53 cores of Chromium once they moved out, measured).

    Their keys carry α's version, so a change draws both anew with the new value. Setting one
    widget from the other's callback instead races with the ticks: a tick sent before the browser
    saw the new value carries the old one back, and the two widgets then flip each other forever.
    """
    version, lr = alpha.version(), alpha.get()
    slider, exact = f"lr_slider_{version}", f"lr_exact_{version}"
    left, mid, right = st.columns([4, 1.3, 1.5], vertical_alignment="bottom")  # "Smooth (EMA)" whole at 1,100 px
    left.select_slider("α (learning rate), log scale", slider_steps(lr), value=lr, key=slider,
                       format_func=lambda v: f"{v:g}", on_change=_lr_changed, args=(slider, version),
                       help="Round stops, plus the α in use when it lies between them: the slider and the exact "
                            "field always show the α that trains.")
    mid.number_input("exact α", min_value=settings.LR_EXACT_MIN, max_value=settings.LR_EXACT_MAX, value=lr, step=0.001,
                     format="%.4g", key=exact,
                     on_change=_lr_changed, args=(exact, version))
    right.checkbox("Smooth (EMA)", key="smooth", help=f"Exponential moving average, weight {EMA_WEIGHT}.")
    if lab.config.mode == "notebook":
        st.caption(f"Notebook mode: each step really moves by the effective α = {_effective_lr(lab):.4g} "
                   f"(see the sidebar).")


def _lr_changed(key: str, version: int) -> None:
    """Callback of both α widgets. Reports from widgets of an older version (sent before the browser
    saw the new ones) and first reports of new widgets (their own value) change nothing."""
    if version == alpha.version():
        alpha.set_lr(float(st.session_state[key]))
        alpha.forget_undo()


def slider_steps(lr: float) -> list[float]:
    """The slider's stops with `lr` among them, so the slider can show exactly the α in use (0.17 too)."""
    return sorted({*settings.LR_STEPS, lr})


def nearest_step(lr: float) -> float:
    """The slider step closest to lr on a log scale."""
    steps = np.asarray(settings.LR_STEPS)
    return float(steps[np.argmin(np.abs(np.log(steps) - math.log(lr)))])


def _effective_lr(lab: Lab) -> float:
    """The step size the notebook's quirks really take with the current α and batch."""
    return effective_lr(lab.now.lr, lab.now.batch_size, lab.now.quirks)


def curve_figure(metric: str, snapshot, smooth: float | None, width: int, height: int):
    """Loss or accuracy against iteration, train and dev, with the α changes marked (and a failure); size in pixels."""
    run = snapshot.view
    history, failure = run.history, run.failure
    failed = (failure.iteration, words.failure_text(failure)) if failure else None
    field = "loss" if metric == "loss" else "acc"
    return charts.curves_spec(history.column("iteration"), history.column(f"train_{field}"),
                              history.column(f"dev_{field}"), list(run.lr_changes), metric, smooth, width=width,
                              failure=failed, height=height)


@dataclass(frozen=True)
class Tiles:
    """What the weight maps show: which tensor, which page of hidden units, how laid out."""

    kind: str
    first: int
    count: int
    cols: int | None
    width: int


def weight_options(lab: Lab, wide: bool) -> Tiles:
    """The tiles' tensor (W1, this batch's dW1 or the last ΔW1) and page (by 64 when h > 64); `wide` spans the page."""
    kind = st.segmented_control("Tiles show", TENSORS, key="tiles_tensor", default=TENSORS[0], required=True,
                                help="W1: the weights. dW1: the gradient of this batch (the next step moves "
                                     "against it). ΔW1: what the last step changed. One zero-centred colour "
                                     "scale per tensor.") or TENSORS[0]
    if _tensors(lab.now, kind)[0] is None:
        st.caption("No step yet: dW1 and ΔW1 appear after the first update (press Step 1).")
    h = lab.now.params.hidden
    first = _page(h)
    k = min(PAGE, h - first)
    cols = math.ceil(k / math.ceil(k / WIDE_COLS)) if wide else None  # even rows of at most 16
    return Tiles(kind, first, k, cols, 1000 if wide else 300)


def tiles_figure(tiles: Tiles, snapshot):
    """The first layer's tiles of one page, dead neurons crossed out (W1 before the first step)."""
    run = snapshot.view
    first_layer, _, kind = _shown(run, tiles.kind)
    dead = run.dead_units()[tiles.first:tiles.first + tiles.count]
    return grad_charts.layer_spec(first_layer[tiles.first:tiles.first + tiles.count], kind, dead, tiles.first,
                                  tiles.cols, tiles.width)


def output_figure(tiles: Tiles, snapshot):
    """The output layer's W2 / dW2 / ΔW2 beside the tiles."""
    _, output_layer, kind = _shown(snapshot.view, tiles.kind)
    return grad_charts.output_spec(output_layer, kind, width=min(tiles.width, 460))


def _shown(run, kind: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(first layer, output layer, kind) the maps show: `kind`'s tensors, or W1 / W2 before the first step."""
    first_layer, output_layer = _tensors(run, kind)
    if first_layer is None:
        return run.params.W1, run.params.W2, TENSORS[0]
    return first_layer, output_layer, kind


def _tensors(trainer, kind: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(first layer (h, 784), output layer (10, h)) of the tensor the tiles show, or (None, None) before a step."""
    source = {"W1": trainer.params, "dW1": trainer.last_grads, "ΔW1": trainer.last_update}[kind]
    return (None, None) if source is None else (source.W1, source.W2)


def health(lab: Lab) -> None:
    """Each layer's gradient norm and update-to-weight ratio over the run, α changes marked.

    Drawn only while its expander is open (a closed one would still make the browser draw the
    chart on every refresh); while the run trains it follows it through a feed, every HEALTH_EVERY
    seconds, like the curves (`live.charts`).
    """
    box = st.expander("Gradient health: norms and update sizes per step", key="health_open", on_change="rerun")
    if box.open:
        with box:
            live.charts(_worker, health_part, key="health", every=HEALTH_EVERY)


def health_part() -> None:
    """The gradient-health curves inside the open expander, and what they mean."""
    chart = Chart(health_figure, every=HEALTH_EVERY, config=live.CHART_CONFIG)
    url = live.feed("health", _worker, {"health_chart": chart})
    live.chart(chart.build(state.get().snapshot), key="health_chart", config=chart.config, feed=url)
    st.caption("‖dW‖ is the gradient's size; ‖ΔW‖/‖W‖ is how much one step changes a layer (shaded: "
               f"{grad_charts.HEALTHY[0]:g} to {grad_charts.HEALTHY[1]:g}). {grad_charts.RULE_OF_THUMB}")


def health_figure(snapshot):
    """The gradient-health curves of a snapshot of the run."""
    history, changes = snapshot.view.history, list(snapshot.view.lr_changes)
    updates = {k: history.column(f"update_{k}") for k in ("W1", "W2")}
    grads = {k: history.column(f"grad_{k}") for k in ("W1", "W2")}
    return grad_charts.health_figure(history.column("iteration"), grads, updates, changes, width=1000)


def _page(h: int) -> int:
    """The first neuron of the weight-map page chosen (a page selector appears above PAGE units)."""
    if h <= PAGE:
        return 0
    pages = list(range(0, h, PAGE))
    first = st.segmented_control("Neurons", pages, key="weights_page", default=0, required=True,
                                 format_func=lambda s: f"{s}–{min(s + PAGE, h) - 1}")
    return first if first in pages else 0


# ----- the gallery ------------------------------------------------------------------------------
def gallery() -> None:
    """Dev confusion matrix (click a cell to filter) and the misclassified dev images.

    Drawn by `live.charts` like the curves: while the run trains both follow it through a feed of their
    own, rebuilt every GALLERY_EVERY seconds (no rerun); a filter or a cell click reruns this part.
    """
    lab = state.get()
    true, pred = st.session_state.setdefault("gallery_filter", (ANY, ANY))
    built = {
        "confusion": Chart(functools.partial(confusion_figure, lab.split.y_dev, (_none(true), _none(pred))),
                           every=GALLERY_EVERY, config=live.CHART_CONFIG),
        "gallery_chart": Chart(functools.partial(mistakes_figure, lab.split, true, pred), every=GALLERY_EVERY,
                               config=live.CHART_CONFIG),
    }
    url = live.feed("gallery", _worker, built)
    snapshot = lab.snapshot
    left, right = st.container(key="train_mistakes").columns([2, 3])  # stacked when narrow (app.WRAPPING_ROWS)
    with left:
        st.caption("**Dev confusion matrix**: click a cell to show those mistakes.")
        live.chart(built["confusion"].build(snapshot), key="confusion", on_click=_cell_clicked,
                   config=live.CHART_CONFIG, feed=url)
    with right:
        st.caption("**Misclassified dev images**, the most confident first.")
        filters(true, pred)
        live.chart(built["gallery_chart"].build(snapshot), key="gallery_chart", config=live.CHART_CONFIG, feed=url)


def confusion_figure(y_dev: np.ndarray, selected: tuple[int | None, int | None], snapshot):
    """The dev confusion matrix of the snapshot's weights, the filtered cells outlined."""
    preds, _ = snapshot.view.dev_predictions()
    return charts.confusion_figure(confusion_matrix(y_dev, preds), selected)


def mistakes_figure(split, true: int, pred: int, snapshot):
    """The most confident dev mistakes matching the filter, under a line with how many there are."""
    y = split.y_dev
    preds, probs = snapshot.view.dev_predictions()
    picked, matching = mistakes(y, preds, probs, true, pred)
    wrong = preds != y
    filtered = (true, pred) != (ANY, ANY)  # short enough for the column's one line at 1,100 px either way
    title = (f"{wrong.sum():,} of {y.size:,} misclassified ({wrong.mean():.1%}); {matching:,} match the filter"
             if filtered else f"{wrong.sum():,} of {y.size:,} dev images misclassified ({wrong.mean():.1%})")
    images = np.rint(split.X_dev[:, picked].T * 255).astype(np.uint8)  # (k, 784)
    return charts.gallery_figure(images, y[picked], preds[picked], probs[preds[picked], picked], title=title)


def filters(true: int, pred: int) -> None:
    """The two digit filters; their keys carry a version that a cell click bumps (see lr_controls)."""
    version = st.session_state.setdefault("filter_version", 0)
    digits = list(range(ANY, 10))
    for col, name, which, value in zip(st.columns(2), ("True digit", "Predicted digit"), (0, 1), (true, pred)):
        key = f"filter_{which}_{version}"
        col.selectbox(name, digits, index=digits.index(value), format_func=lambda d: "any" if d == ANY else str(d),
                      key=key, on_change=_filter_changed, args=(which, key, version))


def mistakes(y: np.ndarray, preds: np.ndarray, probs: np.ndarray, true: int = ANY, pred: int = ANY,
             limit: int = GALLERY_SIZE) -> tuple[np.ndarray, int]:
    """Indices of the most confident mistakes with the given true / predicted digit, and how many match.

    Shapes: y, preds (d,), probs (10, d) -> indices (<= limit,).
    """
    chosen = (preds != y) & ((y == true) if true != ANY else True) & ((preds == pred) if pred != ANY else True)
    picked = np.flatnonzero(chosen)
    confidence = probs[preds[picked], picked]
    return picked[np.argsort(-confidence, kind="stable")][:limit], int(chosen.sum())


def _filter_changed(which: int, key: str, version: int) -> None:
    """Callback of the digit filters (0 = true digit, 1 = predicted); stale versions are ignored (see _lr_changed)."""
    if version != st.session_state["filter_version"]:
        return
    chosen = list(st.session_state["gallery_filter"])
    chosen[which] = st.session_state[key]
    st.session_state["gallery_filter"] = tuple(chosen)


def _cell_clicked(x: float, y: float) -> None:
    """Callback: a confusion-matrix cell click (x: predicted, y: true digit) sets both filters (and
    redraws the two selectboxes)."""
    true, pred = round(y), round(x)
    if 0 <= true <= 9 and 0 <= pred <= 9:
        st.session_state["gallery_filter"] = (true, pred)
        st.session_state["filter_version"] += 1


def _none(digit: int) -> int | None:
    return None if digit == ANY else digit


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1%}"


if __name__ == "__main__":  # run as a page by st.navigation (dashboard/app.py)
    render()
