"""The "Inside a digit" view: one image's way through the current network, a drawing pad, and a W1 replay.

For a dev image (picked by index, or among the Train view's gallery of mistakes) or a drawing, it
shows the 28x28 input, the h hidden activations, what each hidden neuron adds to each digit's
logit (`core.inspect.explain`) and the softmax probabilities. The drawing part is a fragment, so
a new stroke reruns only it. The replay scrubs through the W1 snapshots the trainer kept.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.inspect import explain, score_gradient
from dashboard.charts import figures as charts, maths as math_charts
from dashboard.charts.livechart import live_chart
from dashboard.runs import state
from dashboard.runs.state import Lab
from dashboard.views import canvas
from dashboard.views import train
from data.preprocess import mnist_style

LABEL = "Inside a digit"
SOURCES = ("Dev image", "Draw")
REPLAY_TILES = 64  # neurons shown in the replay (the first ones)
PREDICTED = "predicted"  # the pixel map's default digit
CONFIG = {"displaylogo": False, "displayModeBar": False}


def render() -> None:
    """Draw the view."""
    lab = state.get()
    st.caption("Follow one image through the network as it is right now (train it in the Train view, then come "
               "back): pixels → hidden neurons → one score (logit) per digit → probabilities.")
    source = st.segmented_control("Image", SOURCES, default=SOURCES[0], key="digit_source", persist_state="page",
                                  required=True,
                                  label_visibility="collapsed")
    if source == "Draw":
        st.fragment(drawn, key="digit_draw")()
    else:
        dev_image(lab)
    replay(lab)


# ----- the image ----------------------------------------------------------------------------------
def dev_image(lab: Lab) -> None:
    """Pick a dev image by index or among the Train view's mistakes, and show its way through the network."""
    d = lab.now.y_dev.size
    if st.session_state.get("digit_index", 0) >= d:  # the dev set shrank since: start over
        st.session_state["digit_index"] = 0
    left, right = st.container(key="digit_image").columns([1, 3.2], gap="medium")  # app.WRAPPING_ROWS
    with left:
        i = int(st.number_input(f"Dev image (0 to {d - 1:,})", 0, d - 1, 0, key="digit_index", persist_state="page"))
        mistake_picker(lab)
        live_chart(math_charts.image_figure(lab.split.X_dev[:, i], f"Input x: dev image {i}", height=240),
                   key="digit_input", config=CONFIG, static=True)
    with right:
        explanation(lab, lab.now.X_dev[:, i], true_label=int(lab.now.y_dev[i]))


def mistake_picker(lab: Lab) -> None:
    """A list of the mistakes the Train view's gallery shows (same digit filters); choosing one shows it."""
    preds, probs = lab.now.dev_predictions()
    true, pred = st.session_state.get("gallery_filter", (train.ANY, train.ANY))
    picked, _ = train.mistakes(lab.now.y_dev, preds, probs, true, pred)
    y = lab.now.y_dev
    st.selectbox("…or a mistake from the Train view's gallery", [int(i) for i in picked], index=None,
                 format_func=lambda i: f"#{i}: a {y[i]} taken for a {preds[i]} ({probs[preds[i], i]:.0%})",
                 key="digit_mistake", on_change=_mistake_chosen, placeholder=f"{len(picked)} mistakes",
                 disabled=not picked.size)


def _mistake_chosen() -> None:
    """Callback: show the chosen mistake (the index input follows)."""
    chosen = st.session_state.get("digit_mistake")
    if chosen is not None:
        st.session_state["digit_index"] = chosen


def drawn() -> None:
    """The drawing pad, and the drawing made MNIST-like (cropped, scaled to 20x20, centred) and explained."""
    lab = state.get()
    left, right = st.columns([1.45, 3], gap="medium")  # the pad is 280 px wide
    with left:
        try:
            image = canvas.drawing_pad("digit_pad")
        except ValueError as error:
            st.error(f"Could not read the drawing: {error}")
            return
        if image is None:
            with right:
                st.info("Draw a digit on the black pad: the network's answer appears when you lift the pen.")
            return
        x = drawing_input(image)
        live_chart(math_charts.image_figure(x, "What the network sees (28x28)", height=240),
                   key="digit_processed", config=CONFIG, static=True)
        st.caption("Like MNIST: cropped to the ink, scaled to fit 20x20, centred by mass in 28x28.")
    with right:
        explanation(lab, x)


def drawing_input(image: np.ndarray) -> np.ndarray:
    """A drawing (ink bright on black, any size) as the network's input: MNIST-style, pixels / 255.

    Shapes: image (H, W) -> x (784,) float32 in 0..1.
    """
    return mnist_style(image).reshape(784).astype(np.float32) / 255


# ----- its way through the network --------------------------------------------------------------------
def explanation(lab: Lab, x: np.ndarray, true_label: int | None = None) -> None:
    """Prediction, probabilities, hidden activations and contributions for one input x (784,)."""
    params = lab.now.params
    e = explain(params, x, lab.now.config.activation)
    k = e.prediction
    cells = st.columns([1, 1, 1, 2.4], vertical_alignment="center")
    cells[0].metric("Prediction", str(k))
    cells[1].metric("Confidence", f"{e.probs[k]:.1%}")
    if true_label is not None:
        cells[2].metric("True label", str(true_label), delta="right" if k == true_label else "wrong",
                        delta_color="normal" if k == true_label else "inverse", delta_arrow="off")
    cells[3].caption(f"Network at iteration {lab.now.iteration:,} of the Train view's run "
                     f"(h = {params.hidden}). Probabilities = softmax(Z2): they sum to {e.probs.sum():.3f}.")
    left, right = st.columns(2)
    with left:
        live_chart(math_charts.bars_figure(e.probs, [str(d) for d in range(10)], "Probabilities A2 = softmax(Z2)",
                                           x_title="digit", highlight=k, percent=True),
                   key="digit_probs", config=CONFIG, static=True)
    hidden = [str(j) for j in range(params.hidden)]
    with right:
        live_chart(math_charts.bars_figure(e.A1, hidden, "Activations A1 = ReLU(W1·x + b1)",
                                           x_title="hidden neuron j"), key="digit_hidden", config=CONFIG, static=True)
    live_chart(math_charts.contributions_figure(e.contributions, params.b2[:, 0], e.Z2, highlight=k),
               key="digit_contributions", config=CONFIG, static=True)
    st.caption("Each cell is W2[k, j] · A1[j]: red pushes digit k up, blue pushes it down. A row's sum plus its "
               "bias is the logit Z2[k]; the largest logit gets the largest probability. A neuron with A1[j] = 0 "
               "(a white column) says nothing about this image.")
    pixel_map(lab, x, k)


def pixel_map(lab: Lab, x: np.ndarray, predicted: int) -> None:
    """The 28x28 map of ∂Z2[k]/∂x (core.inspect.score_gradient) for the predicted digit or one the user picks."""
    st.markdown("#### Which pixels move a digit's score")
    choice = st.segmented_control("Digit k", [PREDICTED, *(str(d) for d in range(10))], default=PREDICTED,
                                  key="digit_map_k", persist_state="page",
                                  help="The predicted digit, or any other: what would make it a 9?")
    k = predicted if choice in (None, PREDICTED) else int(choice)
    grid = score_gradient(lab.now.params, x, k, lab.now.config.activation)
    left, right = st.columns([1.3, 1], vertical_alignment="center")
    with left:
        live_chart(math_charts.saliency_figure(grid, x, f"∂Z2[{k}]/∂x: digit {k}'s score (outline: the digit)"),
                   key="digit_pixel_map", config=CONFIG, static=True)
    right.caption(f"The gradient of digit {k}'s logit Z2[{k}] with respect to each input pixel, from the network's "
                  f"own backward pass: dZ2 = e_{k} (1 for digit {k}, 0 for the others), dZ1 = W2ᵀ·dZ2 ∗ g'(Z1), "
                  "dx = W1ᵀ·dZ1. Red: more ink on that pixel raises the score; blue: it lowers it; white: no "
                  "effect at this image. The colours are symmetric around 0; the black line outlines the digit's "
                  "strokes (pixels above half ink)."
                  + (" Hidden neurons that are off for this image (ReLU at 0) pass nothing back."
                     if lab.now.config.activation == "relu" else ""))


# ----- weight replay ------------------------------------------------------------------------------
def frames(trainer) -> list[tuple[int, np.ndarray]]:
    """The trainer's W1 snapshots, ending with the current W1 when that is newer than the last snapshot."""
    snapshots = list(trainer.snapshots)
    if not snapshots or snapshots[-1][0] != trainer.iteration:
        snapshots.append((trainer.iteration, trainer.params.W1))
    return snapshots


def replay(lab: Lab) -> None:
    """A scrubber over the W1 snapshots the trainer kept (log-spaced) and the current W1, drawing every neuron's."""
    st.markdown("#### Weight replay: how each hidden neuron's W1 grew")
    snapshots = frames(lab.now)
    iterations = [it for it, _ in snapshots]
    if len(iterations) < 2:
        st.caption("Only the initial weights so far: train in the Train view, then come back to replay.")
        chosen = iterations[0]
    else:
        chosen = st.select_slider("Iteration (snapshots are log-spaced: dense early, when weights change most)",
                                  iterations, value=iterations[-1], key="digit_replay",
                                  format_func=lambda it: f"{it:,}")
    W1 = dict(snapshots)[chosen][:REPLAY_TILES]
    figure = charts.weights_figure(W1, np.zeros(len(W1), dtype=bool), width=1000 if len(W1) > 16 else 700,
                                   cols=min(len(W1), 16 if len(W1) > 16 else 8))
    figure.update_layout(title=dict(text=f"W1 at iteration {chosen:,}: one 28x28 tile per hidden neuron"))
    live_chart(figure, key="digit_replay_chart", config=CONFIG, static=True)
    hidden = lab.now.params.hidden
    first = f"The first {REPLAY_TILES} of {hidden} neurons. " if hidden > REPLAY_TILES else ""
    st.caption(first + "Red: the pixel pushes the neuron up; blue: down.")  # in the title it was cut at 900 px


if __name__ == "__main__":  # run as a page by st.navigation (dashboard/app.py)
    render()
