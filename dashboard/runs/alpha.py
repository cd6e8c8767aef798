"""α, the learning rate of the session's run: one owner, one way to read it, one setter.

The value lives in `st.session_state["lr"]`. Everything else follows it: the α widgets of the
Train view only show it (their keys carry `version()`, bumped by every change, so both are drawn
anew with the new value) and call `set_lr`; `set_lr` sends it to the run's worker, which applies it
at the next step and records it in `lr_changes` (the curves' markers, the run history); the link's `lr` parameter follows on every full
run (`urlstate.sync_link`); a new run starts at `get()`. A link's α comes in once, through `init`.
"""

from __future__ import annotations

import math

import streamlit as st

from core.optim import USUAL_LR
from dashboard.runs import state
from dashboard.runs.worker import SetLR

KEY, VERSION_KEY = "lr", "lr_version"
UNDO_KEY = "alpha_before_switch"  # (α before, optimizer) after a switch of optimizer set α
NAMES = {"plain": "plain gradient descent", "momentum": "momentum", "adam": "Adam"}
SOURCES = {"plain": "this dashboard's default", "momentum": "plain's 0.1 × (1 − β) for β = 0.9",
           "adam": "Kingma & Ba 2015, the Adam paper's default"}
DEFAULT = 0.1
WAIT = 1.0  # seconds to wait for the worker to apply a change (one slice in practice)


def get() -> float:
    """The session's α."""
    return float(st.session_state.get(KEY, DEFAULT))


def version() -> int:
    """The α widgets' key version (bumped by each change)."""
    return st.session_state.get(VERSION_KEY, 0)


def init(lr: float | None = None) -> None:
    """Give the session its first α once: `lr` (from a link) or the default."""
    st.session_state.setdefault(KEY, DEFAULT if lr is None else float(lr))
    st.session_state.setdefault(VERSION_KEY, 0)


def set_lr(lr: float, send: bool = True) -> bool:
    """Make `lr` the session's α from the next step on; False when it already was.

    `send=False`: the session's α only, not the current run's (a settings change is about to
    replace the run, which then starts at it).
    Raises: ValueError for a rate that is not a positive finite number.
    """
    lr = float(lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"learning rate must be a positive number, got {lr!r}")
    lab = state.get()
    if lab is not None and send and lab.now.failure is None:  # a failed run stays as it failed (a rewind takes α)
        lab.worker.send(SetLR(lr), wait=WAIT)  # the next full run draws it recorded
    if lr == st.session_state.get(KEY):
        return False
    st.session_state[KEY] = lr
    st.session_state[VERSION_KEY] = version() + 1
    return True


def follow_optimizer(optimizer: str) -> None:
    """The optimizer changed: α becomes its usual starting value (core.optim.USUAL_LR), with an undo.

    Called from the optimizer widget's callback, before the settings change replaces the run: the
    new run starts at this α (the old run is not sent it).
    """
    before, usual = get(), USUAL_LR[optimizer]
    st.session_state.pop(UNDO_KEY, None)
    if before != usual:
        set_lr(usual, send=False)
        st.session_state[UNDO_KEY] = (before, optimizer)


def undo_note() -> tuple[str, float] | None:
    """(What the last optimizer switch did to α, the α before it), while it can be undone; else None."""
    undo = st.session_state.get(UNDO_KEY)
    if undo is None:
        return None
    before, optimizer = undo
    return (f"α set to {USUAL_LR[optimizer]:g}, the usual start for {NAMES[optimizer]} ({SOURCES[optimizer]}).",
            before)


def undo() -> None:
    """Callback: back to the α the learner had before the optimizer switch."""
    undo_ = st.session_state.pop(UNDO_KEY, None)
    if undo_ is not None:
        set_lr(undo_[0])


def forget_undo() -> None:
    """The learner chose α themselves: the switch's undo is no longer offered."""
    st.session_state.pop(UNDO_KEY, None)
