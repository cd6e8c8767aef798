"""The "Notebook vs corrected" view: the notebook's network and the corrected one, trained side by side.

Both train on the same rows of the session's split (by default the notebook's setting: 3,000
rows, α = 1, 1,000 full-batch iterations) in lockstep (dashboard/runs/pair.py: a server-side
worker trains them; while they train their curves and status rows follow live feeds). Each of
the notebook's quirks has a checkbox (they build the notebook side's `Quirks`) and a plain-English
explanation, and `core.compare.quirk_effects` measures each one flipped alone, on request. This file
only lays out and draws.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import NOTEBOOK_QUIRKS, Quirks, TrainConfig, effective_lr
from core.compare import QUIRK_NAMES, activation_gap, quirk_effects
from dashboard import words
from dashboard.charts import maths as math_charts
from dashboard.charts.livechart import live_status, status_payload
from dashboard.runs import live, pair as pairs, state
from dashboard.runs.feed import Chart
from dashboard.runs.pair import KAGGLE_ROWS, NOTEBOOK, Comparison, PairSettings
from dashboard.runs.worker import Pause, Start, Step, Worker
from dashboard.settings import LR_MAX, LR_MIN
from dashboard.views import train
from data import Split

LABEL = "Notebook vs corrected"
PAIR_KEY = pairs.PAIR_KEY
EFFECTS_KEY = "notebook_effects"
LINEAR_KEY = "notebook_linear"
RUNS = ("notebook", "corrected")  # the order of Comparison.trainers
COMMAND_WAIT = 1.0  # seconds a click waits for the worker to apply its command
SETTING_WIDTH = 140  # pixels: each number box of the settings row (it wraps in a narrow window)


@dataclass(frozen=True)
class Quirk:
    """One of the notebook's quirks in words."""

    title: str
    did: str  # what the notebook does
    right: str  # what textbook gradient descent does


QUIRKS = {
    "double_dZ2": Quirk("dZ2 = 2(A2 − Y)",
                        "Doubles the output error: the derivative of a squared error, pasted onto softmax + "
                        "cross-entropy. Every gradient is 2× too large.",
                        "dZ2 = A2 − Y, the exact derivative of cross-entropy after softmax."),
    "global_m": Quirk("Gradients ÷ 42,000",
                      "Divides every gradient by 42,000, the rows of Kaggle's whole train.csv, whatever it really "
                      "trains on: on 3,000 rows every gradient is 14× too small.",
                      "Divide by m, the number of examples in the batch: the gradient of the mean loss."),
    "uniform_init": Quirk("Biases from U[0, 1)",
                          "W = U[0, 1)·0.01 (tiny, all positive) and b = U[0, 1) (biases up to 1).",
                          "W ~ N(0, 2/fan-in) (He), b = 0: symmetric weights at a size ReLU keeps alive."),
    "unshifted_softmax": Quirk("Softmax without max shift",
                               "exp(Z2) as is: once a logit passes ~709, exp overflows to inf and the loss "
                               "becomes NaN.",
                               "exp(Z2 − max Z2): the same probabilities, and it cannot overflow."),
    "unscaled_dev": Quirk("Dev set left 0..255",
                          "Forgets to divide the dev pixels by 255: dev images are 255× brighter than anything "
                          "seen in training.",
                          "Scale the dev set exactly like the training set (÷ 255)."),
    "train_accuracy_only": Quirk("Accuracy on train only",
                                 "Reports accuracy on the training set only, where memorising looks like learning.",
                                 "Also measure on held-out dev images the network never trains on."),
    "one_hot_from_max": Quirk("one_hot sized by y.max()+1",
                              "Y gets y.max()+1 rows: a batch without a 9 makes a 9-row Y and the code crashes.",
                              "one_hot(y, k=10): always 10 rows."),
}


# ----- widgets -> settings ----------------------------------------------------------------------------
def quirk_key(name: str) -> str:
    """The checkbox key of a quirk."""
    return f"nb_quirk_{name}"


def quirks_from(values: dict) -> Quirks:
    """The notebook side's Quirks from the checkboxes' values (missing: the notebook's defaults)."""
    on = {name: values.get(quirk_key(name), bool(getattr(NOTEBOOK_QUIRKS, name))) for name in QUIRK_NAMES}
    global_m = int(values.get("nb_global_m", KAGGLE_ROWS)) if on.pop("global_m") else None
    return Quirks(global_m=global_m, **on)


def read_settings(lab: state.Lab) -> PairSettings:
    """The settings from this view's widgets (or their defaults before they are drawn)."""
    s = st.session_state
    return PairSettings(lr=float(s.get("nb_lr", NOTEBOOK.lr)),
                        iterations=int(s.get("nb_iterations", NOTEBOOK.iterations)),
                        rows=min(int(s.get("nb_rows", NOTEBOOK.train_size)), lab.split.y_train.size),
                        quirks=quirks_from(dict(s)), same_init=bool(s.get("nb_same_init", False)),
                        match_lr=bool(s.get("nb_match_lr", False)), seed=lab.config.seed)


# ----- the view -----------------------------------------------------------------------------------
def render() -> None:
    """Draw the view."""
    lab = state.get()
    rows = st.session_state.setdefault("nb_rows", min(NOTEBOOK.train_size, lab.split.y_train.size))
    if rows > lab.split.y_train.size:  # the training split shrank since
        st.session_state["nb_rows"] = lab.split.y_train.size
    settings_row(lab)
    settings = read_settings(lab)
    pair = pairs.sync(settings, lab.split)
    st.info(why_alpha_worked(settings), icon=":material/lightbulb:")
    st.caption(f"Press Start and compare. Then try: untick “Gradients ÷ {KAGGLE_ROWS:,}” (the notebook takes α at "
               "face value and breaks too), or tick “Use the notebook's effective α” (the corrected run learns "
               "as well).")
    controls(pair)
    left, right = st.columns([1, 2.6], gap="medium")
    with left:
        quirk_switches()
        corrected_options()
    with right:
        live.row(_worker, status_part, key="notebook_live")
        live.charts(_worker, curves_part, key="notebook_charts")
    effects_section(lab, settings)
    linear_section(lab, settings)


def settings_row(lab: state.Lab) -> None:
    """α with the effective α of both sides next to it, iterations and training rows."""
    row = st.container(horizontal=True, vertical_alignment="bottom")  # wraps in a narrow window, cuts no label
    row.number_input("α (learning rate)", LR_MIN, LR_MAX, NOTEBOOK.lr, step=0.1, format="%.4g", key="nb_lr",
                     persist_state="page", width=SETTING_WIDTH)
    settings = read_settings(lab)
    row.metric("Effective α · notebook", f"{settings.notebook_lr:.4g}", width="content",
               help="The step the notebook really takes (`core.effective_lr`): α · 2 (dZ2 doubled) · m / 42,000 "
                    "(gradients divided by 42,000 instead of m, the training rows of a full batch).")
    row.metric("Effective α · corrected", f"{settings.corrected_lr:.4g}", width="content")
    row.number_input("Iterations", 1, 100_000, NOTEBOOK.iterations, step=100, key="nb_iterations",
                     persist_state="page", width=SETTING_WIDTH)
    row.number_input("Training rows", 1, lab.split.y_train.size, step=500, key="nb_rows", persist_state="page",
                     width=SETTING_WIDTH,
                     help="The first rows of the session's training split (set in the sidebar); full batch.")


def corrected_options() -> None:
    """The two options of the corrected run."""
    st.markdown("**The corrected run**")
    st.checkbox("Same initial weights", key="nb_same_init", persist_state="page",
                help="The corrected run starts from the notebook's initial weights (its uniform draws when that "
                     "quirk is on) instead of its own He initialisation.")
    st.checkbox("Use the notebook's effective α", key="nb_match_lr", persist_state="page",
                help="Then the only differences left are the quirks themselves.")


def why_alpha_worked(settings: PairSettings) -> str:
    """The one sentence that answers "α = 1 (??????)", with the current numbers."""
    q, lr, rows, real = settings.quirks, settings.lr, settings.rows, settings.notebook_lr
    if real == lr:
        return (f"With the notebook's gradient scaling switched off, α = {lr:g} means what it says on both sides: "
                f"switch “Gradients ÷ {KAGGLE_ROWS:,}” and “dZ2 = 2(A2 − Y)” back on to see why α = 1 worked.")
    causes, formula = [], [f"{lr:g}"]
    if q.double_dZ2:
        causes.append("doubles dZ2")
        formula.append("2")
    if q.global_m:
        kaggle = " (the rows of Kaggle's whole train.csv)" if q.global_m == KAGGLE_ROWS else ""
        causes.append(f"divides every gradient by {q.global_m:,}{kaggle} instead of the {rows:,} rows it trains on")
        formula.append(f"{rows:,} / {q.global_m:,}")
    title = f"Why α = {lr:g} “worked”" if real < lr else f"What α = {lr:g} really does"
    head = (f"**{title}:** the notebook {' and '.join(causes)}, so each step really moves by "
            f"α = {' · '.join(formula)} = **{real:.3g}**")
    if settings.match_lr:
        return head + "; the corrected run, given that same α, learns as well without any quirk."
    ratio = lr / real
    return head + (f", an ordinary learning rate; the corrected run takes α = {lr:g} at face value: "
                   f"steps {ratio:.3g}× {'larger' if ratio > 1 else 'smaller'}.")


def controls(pair: Comparison) -> None:
    """Start / Pause / Step 10 / Reset for both runs together."""
    row = st.container(horizontal=True, vertical_alignment="center")  # wraps in a narrow window, cuts no label
    row.button("Start", key="nb_start", type="primary", on_click=_send, args=(Start(),),
               width=train.BUTTON_WIDTH, disabled=pair.running or pair.done)
    row.button("Pause", key="nb_pause", on_click=_send, args=(Pause(),), width=train.BUTTON_WIDTH,
               disabled=not pair.running)
    row.button("Step 10", key="nb_step10", on_click=_send, args=(Step(10),), width=train.BUTTON_WIDTH,
               disabled=pair.done)
    row.button("Reset", key="nb_reset", on_click=pairs.reset, width=train.BUTTON_WIDTH,
               help="Both runs back to iteration 0.")
    # Drawn on full runs only: while training, the iteration it would show is the one of the click.
    where = "" if pair.running else f" at iteration {max(t.iteration for t in pair.trainers):,}"
    row.caption((":material/play_arrow: training both" if pair.running else ":material/pause: paused")
                + f"{where} · {pair.settings.iterations:,} iterations · same {pair.settings.rows:,} "
                  f"training rows, {pair.split.y_dev.size:,} dev rows")


def _worker() -> Worker | None:
    pair = pairs.get()
    return pair.worker if pair is not None else None


def _send(command) -> None:
    """A button's callback: the command goes to the pair's worker (the rerun draws it applied)."""
    pairs.get().worker.send(command, wait=COMMAND_WAIT)


def quirk_switches() -> None:
    """One checkbox per quirk (they build the notebook side's Quirks), with what it does in words."""
    st.markdown("**The notebook's quirks** · switch one off to see what it does")
    for name in QUIRK_NAMES:
        quirk = QUIRKS[name]
        st.checkbox(quirk.title, value=bool(getattr(NOTEBOOK_QUIRKS, name)), key=quirk_key(name), persist_state="page",
                    help=f"**Notebook:** {quirk.did}\n\n**Right:** {quirk.right}")
        if name == "global_m" and st.session_state.get(quirk_key(name)):
            st.number_input("the notebook's global m", 1, 10_000_000, KAGGLE_ROWS, step=1000, key="nb_global_m",
                            persist_state="page", help="The row count the notebook divides every gradient by.")
    st.caption("On by default: what the notebook's training code does (`core.NOTEBOOK_QUIRKS`). The last three "
               "only change what is measured or when it crashes; hover a name for what is right.")


# ----- the live part ----------------------------------------------------------------------------------
SIDES = (":red[**Notebook, as written**]", ":blue[**Corrected**]")


def status_part() -> None:
    """Each run's status row under its name; while they train both follow the pair through a feed of their
    own once a second (`live.row`: in the page's own flow, so the feed's end reruns the page)."""
    pair = pairs.get()
    built = {f"nb_status_{i}": Chart(functools.partial(status, i), every=live.STATUS_EVERY) for i in range(2)}
    url = live.feed("notebook_status", _worker, built)
    snapshot = pair.worker.snapshot
    for col, title, (name, chart) in zip(st.columns(2, gap="medium"), SIDES, built.items()):
        with col:
            st.markdown(title)
            live_status(chart.build(snapshot), key=name, feed=url)


def status(i: int, snapshot) -> dict:
    """Run i's status row in a snapshot of the pair's worker (0: the notebook's): iteration, effective α and
    the latest accuracies; its failure in words as the warning line."""
    run = snapshot.view[i]
    last = run.history.last
    dev = "not measured" if run.quirks.train_accuracy_only else _percent(last["dev_acc"])  # the notebook's own report
    cells = [("iteration", f"{run.iteration:,}"),
             ("effective α", f"{effective_lr(run.lr, run.batch_size, run.quirks):.3g}"),
             ("train acc", _percent(last["train_acc"])), ("dev acc", dev)]
    note = f"Stopped: {words.failure_text(run.failure)}" if run.failure else None
    return status_payload(cells, note)


def curves_part() -> None:
    """Accuracy and loss of both runs, train solid and dev dotted; while they train the charts follow
    them through a live feed (`live.charts`: see the Train view's `charts_part`)."""
    pair = pairs.get()
    built = {f"nb_{metric}_chart": Chart(functools.partial(pair_figure, metric), config=live.CHART_CONFIG)
             for metric in ("accuracy", "loss")}
    url = live.feed("notebook", _worker, built)
    snapshot = pair.worker.snapshot
    for col, (name, chart) in zip(st.columns(2), built.items()):
        with col:
            live.chart(chart.build(snapshot), key=name, config=chart.config, feed=url)


def pair_figure(metric: str, snapshot):
    """One metric ("accuracy" or "loss") of both runs in a snapshot of the pair's worker."""
    data = {name: (run.history.column("iteration"), run.history.column(f"train_{_short(metric)}"),
                   run.history.column(f"dev_{_short(metric)}")) for name, run in zip(RUNS, snapshot.view)}
    return math_charts.pair_curves_figure(data, metric)


def _short(metric: str) -> str:
    return "acc" if metric == "accuracy" else "loss"


def _percent(value: float) -> str:
    return "–" if np.isnan(value) else f"{value:.1%}"


# ----- each quirk measured alone ------------------------------------------------------------------
def effects_section(lab: state.Lab, settings: PairSettings) -> None:
    """A button that measures every quirk flipped alone (`quirk_effects`), and the table of results."""
    st.markdown("#### What each quirk does, measured one at a time")
    cols = st.columns([1, 1.3, 4], vertical_alignment="bottom")
    iterations = int(cols[0].number_input("Iterations per run", 1, 10_000, min(300, settings.iterations), step=100,
                                          key="nb_effects_iterations", persist_state="page"))
    clicked = cols[1].button("Measure each quirk", key="nb_effects", on_click=_pause_for_effects, width="stretch",
                             wrap=True,
                             help="16 runs: both baselines, and each quirk switched off in the notebook / on in "
                                  "the corrected run, all with this view's α, rows and seed.")
    cols[2].caption(f"16 training runs of {iterations:,} iterations on {settings.rows:,} rows"
                    + _estimate(iterations) + ". Results are kept for this session.")
    if clicked:
        with st.spinner(f"Training 16 runs of {iterations:,} iterations…"):
            results = measure(lab, settings, iterations)
        st.session_state[EFFECTS_KEY] = (settings.lr, settings.rows, iterations, results)
    stored = st.session_state.get(EFFECTS_KEY)
    if stored is None:
        st.table(effects_table(None), hide_index=True)
        st.caption("Press “Measure each quirk” to add what each one does to the accuracies.")
        return
    lr, rows, iterations, results = stored
    nb, co = results["notebook"], results["corrected"]
    st.markdown(f"After {iterations:,} iterations with α = {lr:g} on {rows:,} rows: the notebook reaches "
                f"**{nb['train_acc']:.1%}** train / **{_percent(nb['dev_acc'])}** dev, the corrected run "
                f"**{co['train_acc']:.1%}** / **{_percent(co['dev_acc'])}**"
                + (f" ({words.failure_text(co['failure'])})" if co["failure"] else "") + ".")
    st.table(effects_table(results), hide_index=True)
    if co["train_acc"] < nb["train_acc"] - 0.2:
        real = effective_lr(lr, rows, NOTEBOOK_QUIRKS.with_(global_m=settings.quirks.global_m or KAGGLE_ROWS))
        st.caption(f"At α = {lr:g} the corrected run itself is unstable, so its column is mostly noise: even a change "
                   f"that computes the same numbers (the softmax shift) sends it elsewhere. To read that column, "
                   f"measure again with α = {real:.3g}, the notebook's effective α (the notebook's own runs then "
                   f"crawl).")


def _pause_for_effects() -> None:
    """Callback: the measurement takes the server for a while, so pause the pair first."""
    pair = pairs.get()
    if pair is not None:
        pair.worker.send(Pause(), wait=COMMAND_WAIT)


def _estimate(iterations: int) -> str:
    """", about N s" from the pair's measured speed, or "" before it trained."""
    pair = pairs.get()
    if pair is None or pair.notebook.iteration == 0:
        return ""
    per_iteration = sum(t.seconds / max(t.iteration, 1) for t in pair.trainers)
    return f", about {8 * per_iteration * iterations:.0f} s here"


@st.cache_data(max_entries=16, show_spinner=False)
def _measured(key: tuple, _config: TrainConfig, _split: Split, rows: int, iterations: int) -> dict:
    """`quirk_effects`, shared by sessions with the same data and settings (the runs are seeded)."""
    X, y = _split.X_train[:, :rows], _split.y_train[:rows]
    return quirk_effects(_config, X, y, _split.X_dev, _split.y_dev, iterations)


def measure(lab: state.Lab, settings: PairSettings, iterations: int) -> dict:
    """Every quirk flipped alone from both baselines, with this view's α, rows, hidden size and seed."""
    config = TrainConfig(hidden=settings.hidden, lr=settings.lr, seed=settings.seed, eval_every=NOTEBOOK.eval_every,
                         notebook_m=settings.quirks.global_m or KAGGLE_ROWS)
    key = (lab.data_key, lab.config.dev_size, lab.config.train_size, lab.config.seed, repr(config))
    return _measured(key, config, lab.split, settings.rows, iterations)


def effects_table(results: dict | None) -> list[dict]:
    """One row per quirk: what the notebook did, what is right and, once measured, each flip's accuracies and failures.

    `results` is what `quirk_effects` returns, or None before it was measured.
    """
    rows = []
    for name in QUIRK_NAMES:
        row = {"quirk": f"**{QUIRKS[name].title}**", "what the notebook did": QUIRKS[name].did,
               "what is right": QUIRKS[name].right}
        if results is not None:
            on_in_notebook = bool(getattr(NOTEBOOK_QUIRKS, name))
            flipped = results[f"notebook {'without' if on_in_notebook else 'with'} {name}"]
            added = results[f"corrected with {name}"]
            failures = [f"{who}: {words.failure_text(r['failure'])}"
                        for who, r in (("notebook", flipped), ("corrected", added)) if r["failure"]]
            row.update({
                "notebook, this one flipped": f"{'off' if on_in_notebook else 'on'}: "
                                              f"{outcome(flipped, results['notebook'])}",
                "corrected, this one switched on": outcome(added, results["corrected"]),
                "failures": "; ".join(failures) or "–",
            })
        rows.append(row)
    return rows


def outcome(result: dict, baseline: dict) -> str:
    """"train / dev" accuracies and their change from the baseline in points, e.g. "81.2% / 80.3% (−9.8 / −9.2)"."""
    def delta(key: str) -> str:
        change = 100 * (result[key] - baseline[key])
        return "n/a" if np.isnan(change) else f"{change:+.1f}".replace("-", "−")
    return (f"{result['train_acc']:.1%} / {_percent(result['dev_acc'])} "
            f"({delta('train_acc')} / {delta('dev_acc')} pts)")


# ----- "without the activation function ... just a fancy linear equation" ---------------------------
def linear_section(lab: state.Lab, settings: PairSettings) -> None:
    """One click: the same corrected run with ReLU and without any activation, and the measured gap."""
    st.markdown("#### “Without the activation function, the network is just a fancy linear equation”")
    st.caption("The notebook's claim, tested: the same corrected network, the same rows, α, seed and initial "
               "weights, trained once with ReLU and once with g(z) = z.")
    cols = st.columns([1, 1, 1, 1, 1.4], vertical_alignment="bottom")
    hidden = int(cols[0].number_input("Hidden units", 1, 512, 64, key="nb_linear_hidden", persist_state="page"))
    optimizer = cols[1].selectbox("Optimizer", ("adam", "plain"), key="nb_linear_optimizer", persist_state="page")
    lr = float(cols[2].number_input("α", 1e-4, 10.0, 0.003, step=0.001, format="%.4g", key="nb_linear_lr",
                                    persist_state="page"))
    iterations = int(cols[3].number_input("Iterations", 1, 5000, 300, step=100, key="nb_linear_iterations",
                                          persist_state="page"))
    if cols[4].button("Train with and without ReLU", key="nb_linear", on_click=_pause_for_effects, width="stretch",
                      wrap=True):
        config = TrainConfig(hidden=hidden, optimizer=optimizer, lr=lr, seed=settings.seed,
                             eval_every=max(iterations, 1))
        X, y = lab.split.X_train[:, :settings.rows], lab.split.y_train[:settings.rows]
        with st.spinner(f"Training 2 runs of {iterations:,} iterations…"):
            results = activation_gap(config, X, y, lab.split.X_dev, lab.split.y_dev, iterations)
        st.session_state[LINEAR_KEY] = (hidden, optimizer, lr, iterations, settings.rows, results)
    stored = st.session_state.get(LINEAR_KEY)
    if stored is not None:
        st.markdown(linear_verdict(*stored))
        st.table(linear_table(stored[-1]), hide_index=True)


def linear_table(results: dict) -> list[dict]:
    """One row per activation: final train and dev accuracy and loss, and how it ended."""
    return [{"g": name, "train acc": f"{r['train_accuracy']:.1%}", "dev acc": f"{r['dev_accuracy']:.1%}",
             "dev loss": f"{r['dev_loss']:.3f}", "iterations": f"{r['iterations']:,}",
             "ended": words.failure_short(r["failure"]) if r["failure"] else "ok"} for name, r in results.items()]


def linear_verdict(hidden: int, optimizer: str, lr: float, iterations: int, rows: int, results: dict) -> str:
    """The measured gap in words, with the check that the identity network is one affine map."""
    relu, identity = results["relu"], results["identity"]
    gap = 100 * (relu["dev_accuracy"] - identity["dev_accuracy"])
    return (f"784-{hidden}-10, {optimizer}, α = {lr:g}, {iterations:,} iterations on {rows:,} rows: with ReLU "
            f"**{relu['dev_accuracy']:.1%}** dev accuracy, without any activation **{identity['dev_accuracy']:.1%}**: "
            f"a gap of **{gap:+.1f} points**. Without g the logits equal one affine map (W2·W1)·x + (W2·b1 + b2) "
            f"(largest relative difference {identity['affine_error']:.1e}): the hidden layer adds nothing a "
            f"single layer could not do, so this network is softmax regression in disguise. Digits are mostly "
            f"linearly separable (a linear model reaches about 90%), so the gap is a few points here; it grows "
            f"with more hidden units, more rows and longer training, where only ReLU can use them.")


if __name__ == "__main__":  # run as a page by st.navigation (dashboard/app.py)
    render()
