"""The "Math" view: equations next to the live tensors of one step, and the gradient check.

AppTest runs use the small URL settings of `make_app`; the tensor figure builders of
dashboard/charts/maths.py are tested directly.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.inspect import step_tensors
from dashboard.charts import maths as math_charts
from dashboard.views import math_view
from tests.dashboard.conftest import figure, open_view


def captions(at) -> str:
    """All captions of the Math view, joined."""
    return "\n".join(c.value for c in at.main.caption)


def latex(at) -> str:
    """All LaTeX of the Math view, joined."""
    return "\n".join(e.value for e in at.main.latex)


# ----- AppTest ----------------------------------------------------------------------------------
def test_forward_pass_shows_shapes_and_tensors_of_the_network(make_app):
    """With h = 16 and a batch of 64 rows, Z1 and A1 are (16, 64), Z2 and A2 (10, 64), drawn with those values."""
    at = make_app("math", hidden=16)
    trainer = at.session_state["lab"].now
    text = captions(at)
    assert "h = 16 hidden neurons, m = 64 examples" in text
    assert "**Z1**: (16, 64)" in text and "**A1**: (16, 64)" in text and "**A2**: (10, 64)" in text
    assert r"Z_1 = W_1 X + b_1" in latex(at)
    X, y = trainer.X_train[:, :64], trainer.y_train[:64]
    expected = step_tensors(trainer.params, X, y)
    np.testing.assert_allclose(figure(at, "math_Z1")["data"][0]["z"], expected["Z1"], rtol=1e-5, atol=1e-6)
    probs = figure(at, "math_A2")["data"][0]["z"]
    np.testing.assert_allclose(probs.sum(axis=0), 1, rtol=1e-5)


def test_backward_pass_shows_gradients_with_the_runs_quirks(make_app):
    """In notebook mode the backward equations are the notebook's (2(A2 − Y), ÷ 42,000) and so are the numbers."""
    at = make_app("math", mode="notebook")
    at.segmented_control(key="math_part").set_value("Backward pass").run()
    assert r"dZ_2 = 2\,(A_2 - Y)" in latex(at) and r"\frac{1}{42{,}000}" in latex(at)
    text = captions(at)
    assert "**dW1**: (10, 784)" in text and "**dW2**: (10, 10)" in text and "**db1**: (10, 1)" in text
    trainer = at.session_state["lab"].now
    expected = step_tensors(trainer.params, trainer.X_train[:, :64], trainer.y_train[:64], trainer.quirks)
    np.testing.assert_allclose(figure(at, "math_dW2")["data"][0]["z"], expected["dW2"], rtol=1e-6)


@pytest.mark.parametrize("activation, g, g_prime", [("identity", r"A_1 = g(Z_1) = Z_1", r"g'(z) = 1"),
                                                    ("tanh", r"\tanh(Z_1)", r"1 - \tanh^2 z")])
def test_the_math_follows_the_chosen_activation(make_app, activation, g, g_prime):
    """With another activation the view writes its g and g', computes with it, and its gradient check passes."""
    at = make_app("math", activation=activation)
    assert g in latex(at)
    trainer = at.session_state["lab"].now
    expected = step_tensors(trainer.params, trainer.X_train[:, :64], trainer.y_train[:64], trainer.quirks, activation)
    np.testing.assert_allclose(figure(at, "math_A1")["data"][0]["z"], expected["A1"], rtol=1e-5, atol=1e-6)
    at.segmented_control(key="math_part").set_value("Backward pass").run()
    assert g_prime in latex(at)
    at.segmented_control(key="math_part").set_value("Gradient check").run()
    assert all(float(e) < 1e-4 for e in at.main.table[0].value["relative error"])


def test_one_dev_image_gives_columns_of_one(make_app):
    """For one dev image every (·, m) tensor has one column; Z1 is drawn as h bars."""
    at = make_app("math")
    at.segmented_control(key="math_scope").set_value("One dev image").run()
    at.number_input(key="math_index").set_value(7).run()
    assert "**Z1**: (10, 1)" in captions(at)
    trainer = at.session_state["lab"].now
    expected = step_tensors(trainer.params, trainer.X_dev[:, [7]], trainer.y_dev[[7]])
    bars = figure(at, "math_Z1")["data"][0]
    assert bars["type"] == "bar"
    np.testing.assert_allclose(bars["y"], expected["Z1"][:, 0], rtol=1e-5, atol=1e-6)


def test_update_shows_the_relative_step_of_each_parameter(make_app):
    """The update part draws ‖α·dW‖ / ‖W‖ for W1, b1, W2, b2 with the Train tab's α."""
    at = make_app()
    at.button(key="step10").click().run()
    open_view(at, "math")
    at.segmented_control(key="math_part").set_value("Update").run()
    trainer = at.session_state["lab"].now
    T = step_tensors(trainer.params, trainer.X_train[:, :64], trainer.y_train[:64])
    bars = figure(at, "math_update")["data"][0]
    assert list(bars["x"]) == ["W1", "b1", "W2", "b2"]
    expected = 0.1 * np.linalg.norm(T["dW1"]) / np.linalg.norm(trainer.params.W1)
    assert bars["y"][0] == pytest.approx(expected, rel=1e-5)


def test_gradient_check_passes_on_the_current_weights(make_app):
    """The gradient check shows one relative error per tensor, each below 1e-4, and says backprop is exact."""
    at = make_app()
    at.button(key="step10").click().run()
    open_view(at, "math")
    at.segmented_control(key="math_part").set_value("Gradient check").run()
    table = at.main.table[0].value
    assert list(table["tensor"]) == ["dW1", "db1", "dW2", "db2"]
    assert all(float(e) < 1e-4 for e in table["relative error"]) and set(table["check"]) == {"✓"}
    assert any("exact gradient" in s.value for s in at.main.success)


# ----- figure builders --------------------------------------------------------------------------
@pytest.mark.parametrize("shape, kind", [((784, 64), "tiles"), ((10, 784), "tiles"), ((10, 1), "bars"),
                                         ((10,), "bars"), ((10, 64), "heatmap"), ((10, 10), "heatmap")])
def test_tensor_kind_follows_the_shape(shape, kind):
    """784-long axes become 28x28 tiles, vectors bars, everything else a heatmap."""
    assert math_charts.tensor_kind(np.zeros(shape)) == kind


def test_tensor_figure_tiles_each_image_and_centres_signed_values():
    """X (784, m) is drawn as one tile per column; signed tensors get a diverging scale centred on zero."""
    X = np.random.default_rng(0).random((784, 3), dtype=np.float32)
    Z = math_charts.tensor_figure(X, "X").data[0].z
    np.testing.assert_array_equal(Z[:28, :28], X[:, 0].reshape(28, 28))
    np.testing.assert_array_equal(Z[:28, 30:58], X[:, 1].reshape(28, 28))
    signed = math_charts.tensor_figure(np.array([[-2.0, 1.0], [0.5, 0.0]]), "dZ").data[0]
    assert signed.zmid == 0 and signed.zmin == -2 and signed.zmax == 2


def test_pair_curves_overlay_runs_and_skip_unmeasured_dev():
    """Each run gets a train and a dev line in its colour; an all-NaN dev curve (not measured) is left out."""
    x = np.arange(3.0)
    fig = math_charts.pair_curves_figure({"notebook": (x, x / 3, np.full(3, np.nan)), "corrected": (x, x / 4, x / 5)})
    assert [t.name for t in fig.data] == ["notebook · train", "corrected · train", "corrected · dev"]
    assert fig.data[0].line.color == math_charts.RUN_COLORS["notebook"] and fig.data[2].line.dash == "dot"
