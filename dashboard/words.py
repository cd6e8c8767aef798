"""What a failure means, in words: the one place `core.run.Failure` values become sentences.

core reports facts (kind, iteration, α, loss, dead units); the CLI and every view of the app
say them with these functions, so no code reads meaning back out of text.
"""

from __future__ import annotations

import math

from core.run import Failure

SHORT = {"diverged": "diverged (NaN)", "exploded": "exploded", "dead": "all ReLUs dead", "collapsed": "collapsed",
         "bad_batch": "bad batch"}
CHANCE = "chance level (≤ 25%)"


def failure_short(failure: Failure) -> str:
    """A word or two for a table: "exploded", "diverged (NaN)", "all ReLUs dead", "collapsed", "bad batch"."""
    return SHORT[failure.kind]


def failure_text(failure: Failure) -> str:
    """What happened, in one sentence with its numbers (no advice)."""
    f, lr = failure, f"α = {failure.lr:.3g}"
    if f.kind == "diverged":
        cause = ("the unshifted softmax overflowed (exp of a large logit)" if f.detail == "softmax"
                 else "the weights blew up")
        return f"training diverged at iteration {f.iteration} with {lr}: {cause} and the loss became NaN"
    if f.kind == "dead":
        return (f"all {f.hidden} hidden neurons died at iteration {f.iteration} with {lr}: every ReLU outputs 0 on "
                f"every training image, so no gradient can bring them back and the loss is stuck near chance "
                f"(ln 10 ≈ {math.log(10):.3f})")
    if f.kind == "exploded":
        return (f"the loss exploded to {f.loss:.3g} at iteration {f.iteration} with {lr} "
                f"(it started at {f.start_loss:.3g})")
    if f.kind == "collapsed":
        return (f"the network collapsed by iteration {f.iteration} with {lr}: {f.dead} of {f.hidden} hidden "
                f"neurons are dead and training accuracy has stayed at {CHANCE} for 100 iterations")
    k = f.detail
    return (f"iteration {f.iteration}: one_hot(y) made {k} rows because this batch has no label {k}..9; "
            f"the notebook's code crashes here (shapes (10, m) vs ({k}, m))")


def failure_advice(failure: Failure) -> str:
    """What to try next, for a person at the controls ("" when α is not to blame)."""
    if failure.suggested_lr is None:
        return ""
    return f"Try α ≤ {failure.suggested_lr:g}."
