"""The sidebar's model and training settings, and their one conversion into a `TrainConfig`.

Each setting is a keyed widget bound to the URL (`bind="query-params"`), so a link can carry a
setup such as `?mode=notebook&hidden=32`; Streamlit drops values that are out of range or not an
option, so a bad link falls back to the defaults instead of failing. The learning rate is not
here: it lives in dashboard/runs/alpha.py, is shown next to the training controls and applies live.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from core import TrainConfig, effective_lr
from core.activations import ACTIVATIONS
from core.config import MAX_HIDDEN, eval_every_for
from dashboard.runs import alpha

DEFAULTS = dict(hidden=10, activation="relu", mode="corrected", notebook_m=42_000, full_batch=True, batch_size=128,
                optimizer="plain", seed=0, dev_size=1000, train_size=0, stop_at=0, lr=alpha.DEFAULT)
LR_MIN, LR_MAX = 0.001, 10.0  # the α slider's range, and the notebook view's α entry
LR_EXACT_MIN, LR_EXACT_MAX = 1e-5, 100.0  # the exact-α entry's range: what a link and a sweep may carry
SOURCE_LABELS = {"sample": "Sample", "mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "upload": "Upload CSV"}
MAX_STOP = 100_000_000  # the stop-at entry's largest value (0 means no stop)
# The log-scale slider's stops: round numbers, about evenly spaced in log(α), 10 per decade.
LR_STEPS = [round(m * 10.0**e, 6) for e in range(-3, 1) for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)] + [LR_MAX]
MODES = ("corrected", "notebook")
BOUND = (set(DEFAULTS) - {"lr"}) | {"data_source"}  # URL parameters bound to widgets (α is set by urlstate)
OPTIMIZERS = ("plain", "momentum", "adam")  # shown as is: bound widgets put the shown label in the URL


def value(key: str):
    """A setting's current value, or its default when its widget is not shown."""
    return st.session_state.get(key, DEFAULTS[key])


def config_from_settings(values: Mapping) -> TrainConfig:
    """The one place widget values become a `TrainConfig`.

    `values` maps setting names (DEFAULTS' keys) to values; missing ones take the default.
    Raises: ValueError for a setting out of range.
    """
    v = {**DEFAULTS, **{k: values[k] for k in DEFAULTS if k in values and values[k] is not None}}
    batch_size = None if v["full_batch"] else int(v["batch_size"])
    return TrainConfig(
        hidden=int(v["hidden"]), activation=v["activation"], lr=float(v["lr"]), mode=v["mode"], notebook_m=int(v["notebook_m"]),
        batch_size=batch_size, optimizer=v["optimizer"],
        seed=int(v["seed"]), dev_size=int(v["dev_size"]), train_size=int(v["train_size"]) or None,
        iterations=int(v["stop_at"]) or None, eval_every=eval_every_for(batch_size),
    )


def current_values() -> dict:
    """Every setting's current value (from the widgets' session state, else the default), α from its owner."""
    return {**{key: value(key) for key in DEFAULTS}, "lr": alpha.get()}


def render(train_rows: int | None = None) -> None:
    """Draw the settings widgets (in the current container); `train_rows` sizes the effective-α note."""
    bind = "query-params"
    st.number_input("Hidden units h", 1, MAX_HIDDEN, DEFAULTS["hidden"], key="hidden", bind=bind,
                    help=f"784 → h → 10. Weight maps are paged above 64 units. Max {MAX_HIDDEN}.")
    st.selectbox("Activation g", ACTIVATIONS, key="activation", bind=bind,
                 help="The hidden layer's A1 = g(Z1). relu: the notebook's. identity: no activation at all, so "
                      "the network is one linear map (test the notebook's claim in the Notebook view). "
                      "sigmoid, tanh: the classic smooth ones.")
    st.segmented_control("Mode", MODES, default=DEFAULTS["mode"],
                         key="mode", bind=bind, required=True,
                         help="notebook: the original code's quirks on purpose (dZ2 doubled, gradients divided "
                              "by a global m, uniform init, unshifted softmax). corrected: textbook gradient descent.")
    if value("mode") == "notebook":
        notebook_settings(train_rows)
    st.checkbox("Full batch", DEFAULTS["full_batch"], key="full_batch", bind=bind,
                help="Every step uses all training rows, as the notebook does.")
    if not value("full_batch"):
        st.number_input("Batch size", 1, 100_000, DEFAULTS["batch_size"], key="batch_size", bind=bind)
    st.selectbox("Optimizer", OPTIMIZERS, key="optimizer", bind=bind, on_change=_optimizer_changed,
                 help="plain: W -= α·dW. momentum: heavy ball with β = 0.9. adam: Adam (β1 = 0.9, β2 = 0.999). "
                      "Switching sets α to the optimizer's usual start (plain 0.1, momentum 0.01, adam 0.001).")
    undo = alpha.undo_note()
    if undo is not None:
        text, before = undo
        note, button = st.columns([2.2, 1], vertical_alignment="center")
        note.info(text, icon=":material/tune:")
        button.button(f"Undo (α = {before:g})", key="alpha_undo", on_click=alpha.undo, width="stretch")
    left, right = st.columns(2)
    left.number_input("Seed", 0, 2**31 - 1, DEFAULTS["seed"], key="seed", bind=bind,
                      help="Shuffles the data split and the batches, and draws the initial weights.")
    right.number_input("Dev rows", 1, 100_000, DEFAULTS["dev_size"], step=100, key="dev_size", bind=bind,
                       help="Held-out rows for the dev curves, the gallery and the confusion matrix.")
    left, right = st.columns(2)
    left.number_input("Train rows", 0, 10_000_000, DEFAULTS["train_size"], step=1000, key="train_size",
                      bind=bind, help="Use only this many training rows (faster steps); 0 = all.")
    right.number_input("Stop at iteration", 0, MAX_STOP, DEFAULTS["stop_at"], step=100, key="stop_at",
                       bind=bind, help="Start pauses when the run gets here; 0 = never. Changing it keeps the run.")
    st.caption("Changing a setting above starts a new run; α (next to the controls) applies live.")


def _optimizer_changed() -> None:
    """Callback: α follows the optimizer to its usual start (with an undo)."""
    alpha.follow_optimizer(st.session_state["optimizer"])


def notebook_settings(train_rows: int | None) -> None:
    """The notebook's global m, and the step size its quirks really take (`core.effective_lr`)."""
    st.number_input("Notebook's m", 1, 10_000_000, DEFAULTS["notebook_m"], step=1000, key="notebook_m",
                    bind="query-params", help="The notebook divides every gradient by this global row count "
                                              "(42,000 = rows of Kaggle's train.csv), whatever the batch.")
    if train_rows:
        config = config_from_settings(current_values())
        batch = min(config.batch_size or train_rows, train_rows)
        lr_eff = effective_lr(config.lr, batch, config.effective_quirks)
        st.caption(f"Effective α = α · 2 · m / {config.notebook_m:,} = **{lr_eff:.4g}** "
                   f"(α = {config.lr:g}, m = {batch:,} rows per step)")
