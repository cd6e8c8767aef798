"""The "Math" view: the notebook's equations, each next to the live tensor it produces.

For the Train view's current weights and one dev image or a batch of training rows, every tensor of
one gradient-descent step comes from `core.inspect.step_tensors` (with the run's quirks, so in
notebook mode the equations and numbers are the notebook's); the gradient check is
`core.inspect.gradient_check`. One part (forward, backward, update, check) is drawn at a time.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import Quirks
from core.model import pixels
from core.activations import FORMULAS
from core.inspect import gradient_check, step_tensors
from dashboard.charts import grad as grad_charts, maths as math_charts
from dashboard.charts.livechart import live_chart
from dashboard.runs import state
from dashboard.runs.state import Lab

LABEL = "Math"
SCOPES = ("One dev image", "Training batch")
PARTS = ("Forward pass", "Backward pass", "Update", "Gradient check")
CHECK_ROWS = 16  # training rows in the gradient check's batch
CHECK_LIMIT = 1e-4
CONFIG = {"displaylogo": False, "displayModeBar": False}
NUMBER_WIDTH = 160  # pixels: the dev image's or the batch's number field, "Dev image (0–999)" whole
HIDDEN, DIGIT, EXAMPLE, PIXEL = "hidden neuron", "digit", "example", "pixel"


def render() -> None:
    """Draw the view."""
    lab = state.get()
    st.caption("The network's equations as the notebook writes them (columns are examples), each next to "
               "the tensor it produces right now, for the Train view's current weights. Train a little, then "
               "come back: the numbers change, the equations don't.")
    row = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")  # wraps in a narrow window
    scope = row.segmented_control("Input", SCOPES, default=SCOPES[1], key="math_scope", persist_state="page",
                                  required=True)
    if scope == SCOPES[0]:
        d = lab.split.y_dev.size
        i = int(row.number_input(f"Dev image (0–{d - 1:,})", 0, d - 1, 0, key="math_index", persist_state="page",
                                 width=NUMBER_WIDTH))
        X, y = lab.split.X_dev[:, [i]], lab.split.y_dev[[i]]
    else:
        m_max = min(512, lab.split.y_train.size)
        m = int(row.number_input("Rows m", 1, m_max, min(64, m_max), key="math_batch", persist_state="page",
                                 help="The first m training rows form X (784, m).", width=NUMBER_WIDTH))
        X, y = lab.split.X_train[:, :m], lab.split.y_train[:m]
    part = row.segmented_control("Show", PARTS, default=PARTS[0], key="math_part", persist_state="page",
                                 required=True)
    params, quirks = lab.now.params, lab.now.quirks
    T = step_tensors(params, pixels(X, params.dtype), y, quirks, lab.config.activation)  # raw uint8 train columns too
    st.caption(shapes_line(T, params.hidden) + (f" · notebook quirks on: {quirks_on(quirks)}" if quirks.any else ""))
    {PARTS[0]: forward_part, PARTS[1]: backward_part, PARTS[2]: update_part, PARTS[3]: check_part}[part](lab, T)


# The hidden layer's g and g' for each activation (the sidebar's setting): (LaTeX, what it means).
ACTIVATION_ROWS = {
    "relu": (r"A_1 = g(Z_1) = \mathrm{ReLU}(Z_1) = \max(Z_1,\, 0)",
             "Negative sums are cut to 0: the neuron stays silent for that image."),
    "identity": (r"A_1 = g(Z_1) = Z_1",
                 "No activation: A1 is Z1 as it is. Then Z2 = W2 (W1 X + b1) + b2 = (W2 W1) X + (W2 b1 + b2): "
                 "the whole network is one linear map of the pixels, however many hidden units it has."),
    "sigmoid": (r"A_1 = g(Z_1) = \sigma(Z_1) = \frac{1}{1 + e^{-Z_1}}",
                "Each sum is squashed into 0..1: large positive sums give ~1, large negative ones ~0."),
    "tanh": (r"A_1 = g(Z_1) = \tanh(Z_1)", "Each sum is squashed into −1..1, centred on 0."),
}
DERIVATIVE_ROWS = {
    name: (rf"dZ_1 = W_2^{{\top}} dZ_2 \odot g'(Z_1), \quad {FORMULAS[name][1]}",
           "The error sent back through W2 to each hidden neuron, times how much that neuron's g responds there "
           "(⊙ multiplies element by element). " + note)
    for name, note in {
        "relu": "ReLU'(Z1) is 1 where Z1 > 0, else 0: only active neurons learn, and a neuron silent on every "
                "image never learns again (it is dead).",
        "identity": "g' is 1 everywhere: the error passes back unchanged.",
        "sigmoid": "σ' is at most 1/4 and near 0 where σ saturates: gradients shrink as they pass back.",
        "tanh": "tanh' is at most 1 and near 0 where tanh saturates.",
    }.items()}


def shapes_line(T: dict[str, np.ndarray], hidden: int) -> str:
    """A one-line summary of the network's and the batch's sizes."""
    m = T["X"].shape[1]
    return f"h = {hidden} hidden neurons, m = {m} example{'s' if m > 1 else ''}: X is 784 × {m}"


def quirks_on(quirks: Quirks) -> str:
    """The names of the quirks switched on."""
    return ", ".join(name for name, value in vars(quirks).items() if value)


def one_over_m(quirks: Quirks) -> str:
    """The 1/m factor in LaTeX: the batch's m, or the notebook's global m."""
    if quirks.global_m:
        return rf"\frac{{1}}{{{quirks.global_m:,}}}".replace(",", r"{,}")
    return r"\frac{1}{m}"


# ----- the parts ----------------------------------------------------------------------------------
def forward_part(lab: Lab, T: dict[str, np.ndarray]) -> None:
    """Z1, A1, Z2, A2 (and X itself)."""
    softmax_note = ("The notebook computes e^Z2 without first subtracting the column's largest Z2: the same "
                    "numbers until a logit passes ~709, then exp overflows to inf and the result is NaN."
                    if lab.now.quirks.unshifted_softmax else
                    "Computed as e^(Z2 − max Z2) / Σ e^(Z2 − max Z2): the same value, but it cannot overflow.")
    rows = [
        ("X", r"X = \text{pixels} / 255", "The input: one column of 784 pixel values per image (0 = no ink, drawn "
         "white; 1 = full ink, drawn darkest).",
         PIXEL, EXAMPLE),
        ("Z1", r"Z_1 = W_1 X + b_1", "Each hidden neuron's weighted sum of the 784 pixels plus its bias, per image.",
         HIDDEN, EXAMPLE),
        ("A1", *ACTIVATION_ROWS[lab.config.activation], HIDDEN, EXAMPLE),
        ("Z2", r"Z_2 = W_2 A_1 + b_2", "One score (logit) per digit, made from the h activations.", DIGIT, EXAMPLE),
        ("A2", r"A_2 = \mathrm{softmax}(Z_2), \quad A_2[k] = \frac{e^{Z_2[k]}}{\sum_{j=0}^{9} e^{Z_2[j]}}",
         "Scores become probabilities: positive, summing to 1 in each column. " + softmax_note, DIGIT, EXAMPLE),
    ]
    equations(rows, T)


def backward_part(lab: Lab, T: dict[str, np.ndarray]) -> None:
    """Y, dZ2, dW2, db2, dZ1, dW1, db1."""
    quirks = lab.now.quirks
    k = one_over_m(quirks)
    m_note = (f" The notebook divides by {quirks.global_m:,} (a global row count), not by this batch's "
              f"m = {T['X'].shape[1]:,}: every gradient comes out {T['X'].shape[1] / quirks.global_m:.3g}× too small."
              if quirks.global_m else "")
    dZ2 = (r"dZ_2 = 2\,(A_2 - Y)" if quirks.double_dZ2 else r"dZ_2 = A_2 - Y")
    dZ2_note = ("The notebook doubles it (the derivative of a squared error, pasted onto softmax + cross-entropy): "
                "gradients 2× too large." if quirks.double_dZ2 else
                "For softmax followed by cross-entropy, ∂loss/∂Z2 is exactly predicted minus true probability.")
    rows = [
        ("Y", r"Y = \mathrm{one\_hot}(y)", "The right answers: column i is 1 at its label, 0 elsewhere.", DIGIT,
         EXAMPLE),
        ("dZ2", dZ2, "How the loss changes with each logit. " + dZ2_note, DIGIT, EXAMPLE),
        ("dW2", rf"dW_2 = {k}\, dZ_2\, A_1^{{\top}}",
         "How each output weight should change: error × activation, averaged over the examples." + m_note,
         DIGIT, HIDDEN),
        ("db2", rf"db_2 = {k} \sum_i dZ_2[:, i]", "The output biases' gradient: the error summed over examples.",
         DIGIT, ""),
        ("dZ1", *DERIVATIVE_ROWS[lab.config.activation], HIDDEN, EXAMPLE),
        ("dW1", rf"dW_1 = {k}\, dZ_1\, X^{{\top}}",
         "How each of the 784 input weights of each neuron should change: one 28x28 map per neuron.", HIDDEN, PIXEL),
        ("db1", rf"db_1 = {k} \sum_i dZ_1[:, i]", "The hidden biases' gradient.", HIDDEN, ""),
    ]
    equations(rows, T)


def update_part(lab: Lab, T: dict[str, np.ndarray]) -> None:
    """W -= α·dW, and how big that step is next to the weights."""
    trainer = lab.now
    lr = trainer.current_lr()
    left, right = st.columns([1, 1.6], gap="medium")
    with left:
        st.latex(r"\begin{aligned} W_1 &\leftarrow W_1 - \alpha\, dW_1 \\ b_1 &\leftarrow b_1 - \alpha\, db_1 \\"
                 r"W_2 &\leftarrow W_2 - \alpha\, dW_2 \\ b_2 &\leftarrow b_2 - \alpha\, db_2 \end{aligned}")
        st.markdown(f"Gradient descent: each parameter takes a small step against its gradient, the direction in "
                    f"which the loss grows fastest. α = **{lr:.4g}** (the Train view's learning rate).")
        if trainer.config.optimizer != "plain":
            st.caption(f"This run uses {trainer.config.optimizer}, which reshapes the step; the plain update "
                       "shown here is the notebook's.")
        if trainer.quirks.global_m or trainer.quirks.double_dZ2:
            st.caption("With the notebook's gradients (scaled as on the Backward pass part), the step really taken "
                       "is smaller or larger than α suggests: see the Notebook vs corrected view.")
    sizes = relative_steps(trainer.params.to_arrays(), T, lr)
    with right:
        live_chart(math_charts.bars_figure(np.array(list(sizes.values())), list(sizes),
                                           "Size of one step: ‖α·dW‖ / ‖W‖", x_title="parameter"),
                   key="math_update", config=CONFIG, static=True)
    right.caption(f"{grad_charts.RULE_OF_THUMB} Near 100% the weights are thrown around (the loss explodes). "
                  "Gradients here are for the chosen input, not the run's batch, so one image's step can be "
                  "larger than the run's.")


def relative_steps(params: dict[str, np.ndarray], T: dict[str, np.ndarray], lr: float) -> dict[str, float]:
    """‖α·dP‖ / ‖P‖ for P in W1, b1, W2, b2 (0 where P is all zeros)."""
    out = {}
    for name, P in params.items():
        norm = float(np.linalg.norm(P))
        out[name] = float(lr * np.linalg.norm(T["d" + name]) / norm) if norm > 0 else 0.0
    return out


def check_part(lab: Lab, T: dict[str, np.ndarray]) -> None:
    """Backprop's gradients against central differences, on a small batch of training rows."""
    X, y = lab.split.X_train[:, :CHECK_ROWS], lab.split.y_train[:CHECK_ROWS]  # gradient_check reads them as pixels
    errors = gradient_check(lab.now.params, X, y, activation=lab.config.activation)
    left, right = st.container(key="math_eq_check").columns([1.4, 1], gap="medium")  # app.WRAPPING_ROWS
    with left:
        st.latex(r"\frac{\partial L}{\partial w} \approx \frac{L(w + \varepsilon) - L(w - \varepsilon)}"
                 r"{2\varepsilon}, \qquad \varepsilon = 10^{-5}")
        st.markdown(f"Nudge one weight a tiny bit up and down, measure the loss L (mean cross-entropy on the first "
                    f"{CHECK_ROWS} training rows) both times: the slope is the true derivative. Compare it with "
                    "what backprop computed for that weight (12 random weights per tensor):")
        st.latex(r"\text{relative error} = \frac{|\text{backprop} - \text{slope}|}{|\text{backprop}| + "
                 r"|\text{slope}|}")
        worst = max(errors.values())
        verdict = st.success if worst < CHECK_LIMIT else st.error
        verdict(f"Largest relative error {worst:.1e} ({'<' if worst < CHECK_LIMIT else '≥'} {CHECK_LIMIT:g}): "
                + ("the backward equations are the exact gradient of the loss, for these weights."
                   if worst < CHECK_LIMIT else "backprop and the measured slope disagree."))
    with right:
        st.table([{"tensor": f"d{name}", "relative error": f"{error:.1e}",
                   "check": "✓" if error < CHECK_LIMIT else "✗"} for name, error in errors.items()],
                 hide_index=True)
        st.caption("Errors of 1e-7 or less are floating-point rounding. This checks the corrected backward pass "
                   "(dZ2 = A2 − Y, divided by the batch's m): the notebook's 2·(A2 − Y) / 42,000 gives the right "
                   "direction but the wrong size, and would fail it.")


# ----- one equation next to its tensor ----------------------------------------------------------------
def equations(rows: list[tuple[str, str, str, str, str]], T: dict[str, np.ndarray]) -> None:
    """For each (name, LaTeX, note, row label, column label): the equation and note, then the tensor's chart."""
    for name, tex, note, row_label, col_label in rows:
        row = st.container(key=f"math_eq_{name}")  # the tensor below its equation when narrow (app.WRAPPING_ROWS)
        left, right = row.columns([1, 1.3], gap="medium", vertical_alignment="center")  # side by side from 1,280 px
        with left:
            st.latex(tex)
            st.caption(f"**{name}**: {shape_text(T[name])} — {note}")
        with right:
            live_chart(math_charts.tensor_figure(T[name], f"{name} {shape_text(T[name])}", row_label, col_label),
                       key=f"math_{name}", config=CONFIG, static=True)


def shape_text(A: np.ndarray) -> str:
    """A tensor's shape as "(10, 64)"."""
    return "(" + ", ".join(str(n) for n in A.shape) + ")"


if __name__ == "__main__":  # run as a page by st.navigation (dashboard/app.py)
    render()
