"""The network's math: forward, backward, softmax, one-hot, quirks."""

import math

import numpy as np
import pytest

from core.inspect import gradient_check
from core.model import (
    NOTEBOOK_QUIRKS, CHUNK, Params, Quirks, backward, cross_entropy, forward, gradients, init_params,
    one_hot, softmax,
)


def tiny(h=5, m=7, seed=0, dtype=np.float64):
    """A small random network and batch for exact checks."""
    rng = np.random.default_rng(seed)
    params = init_params(h, rng, dtype)
    params = params.map(lambda a: a + rng.standard_normal(a.shape) * 0.1)  # nonzero biases too
    X = rng.random((784, m))
    y = rng.integers(0, 10, m)
    return params, X, y


def loss_of(params, X, y):
    """Mean cross-entropy of the network on (X, y)."""
    return cross_entropy(forward(params, X).Z2, y)


def test_backward_matches_central_differences():
    """Analytic gradients equal central differences of the mean cross-entropy (rel. error < 1e-6)."""
    params, X, y = tiny()
    errors = gradient_check(params, X, y, eps=1e-6, samples=8)
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_catches_a_wrong_gradient(monkeypatch):
    """The check itself is not vacuous: a backward that is 10% off shows a large error."""
    import core.inspect

    params, X, y = tiny()
    real = core.inspect.backward
    monkeypatch.setattr(core.inspect, "backward", lambda *a, **k: real(*a, **k).map(lambda g: g * 1.1))
    assert min(gradient_check(params, X, y).values()) > 0.01


def test_loss_at_uniform_output_is_ln10():
    """All-equal logits give loss ln 10 whatever the labels."""
    Z2 = np.zeros((10, 50))
    assert cross_entropy(Z2, np.arange(50) % 10) == pytest.approx(math.log(10))


def test_softmax_finite_at_extremes():
    """The shifted softmax stays finite and sums to 1 for logits of ±1000."""
    Z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [0.0, 0.0]])
    A = softmax(Z)
    assert np.isfinite(A).all()
    np.testing.assert_allclose(A.sum(axis=0), 1)


def test_unshifted_softmax_overflows_without_raising():
    """The notebook's softmax gives NaN on a large logit instead of raising."""
    A = softmax(np.array([[1000.0], [0.0]]), shift=False)
    assert np.isnan(A).any()


def test_one_hot_has_explicit_k():
    """one_hot keeps 10 rows even for a batch without 9s, and rejects labels outside 0..k-1."""
    Y = one_hot(np.array([0, 3, 3]))
    assert Y.shape == (10, 3) and Y.sum() == 3 and Y[3, 1] == 1
    with pytest.raises(ValueError, match="0..9"):
        one_hot(np.array([10]))


def test_shapes_follow_the_table():
    """Forward and backward produce the documented shapes for h hidden units and m examples."""
    params, X, y = tiny(h=6, m=4)
    cache = forward(params, X)
    assert (cache.Z1.shape, cache.A1.shape, cache.Z2.shape, cache.A2.shape) == ((6, 4), (6, 4), (10, 4), (10, 4))
    grads = backward(params, X, cache, one_hot(y, dtype=np.float64))
    assert {k: v.shape for k, v in grads.to_arrays().items()} == {
        "W1": (6, 784), "b1": (6, 1), "W2": (10, 6), "b2": (10, 1)}


def test_chunked_gradients_equal_one_pass():
    """The cache-blocked pass gives the same gradients, loss and hits as one big forward/backward."""
    params, X, y = tiny(m=53)
    whole = backward(params, X, forward(params, X), one_hot(y, dtype=np.float64))
    chunked = gradients(params, X, y, chunk=10)
    for a, b in zip(whole.to_arrays().values(), chunked.grads.to_arrays().values()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert chunked.loss == pytest.approx(loss_of(params, X, y))
    assert chunked.hits == int((forward(params, X).Z2.argmax(0) == y).sum())


def test_he_init_and_zero_biases_are_seeded():
    """Corrected init: He-scaled weights, zero biases, identical for the same seed, float32."""
    a = init_params(10, np.random.default_rng(3))
    b = init_params(10, np.random.default_rng(3))
    assert a.dtype == np.float32 and not a.b1.any() and not a.b2.any()
    assert a.W1.std() == pytest.approx(math.sqrt(2 / 784), rel=0.1)
    for x, z in zip(a.to_arrays().values(), b.to_arrays().values()):
        np.testing.assert_array_equal(x, z)


def test_quirk_uniform_init():
    """Notebook init: W in [0, 0.01), b in [0, 1)."""
    p = init_params(10, np.random.default_rng(0), np.float64, uniform=True)
    assert 0 <= p.W1.min() and p.W1.max() < 0.01 and 0 <= p.b1.min() and p.b1.max() < 1
    assert p.b1.std() > 0.1  # really spread over [0, 1), not zeros


def test_quirk_double_dZ2_doubles_every_gradient():
    """dZ2 = 2(A2-Y) multiplies all four gradients by exactly 2."""
    params, X, y = tiny()
    plain = gradients(params, X, y).grads
    doubled = gradients(params, X, y, Quirks(double_dZ2=True)).grads
    for a, b in zip(plain.to_arrays().values(), doubled.to_arrays().values()):
        np.testing.assert_allclose(b, 2 * a)


def test_quirk_global_m_rescales_by_batch_over_table_rows():
    """Dividing by the table's 42,000 rows instead of m scales gradients by m/42000."""
    params, X, y = tiny(m=7)
    plain = gradients(params, X, y).grads
    global_m = gradients(params, X, y, Quirks(global_m=42_000)).grads
    np.testing.assert_allclose(global_m.W1, plain.W1 * 7 / 42_000)


def test_quirk_unshifted_softmax_only_changes_overflow():
    """Without the max shift results agree on small logits but turn to NaN on huge ones."""
    params, X, y = tiny()
    np.testing.assert_allclose(gradients(params, X, y, Quirks(unshifted_softmax=True)).grads.W2,
                               gradients(params, X, y).grads.W2, rtol=1e-9)
    big = params.map(lambda a: a * 1000)
    assert not np.isfinite(gradients(big, X, y, Quirks(unshifted_softmax=True)).grads.W2).all()
    assert np.isfinite(gradients(big, X, y).grads.W2).all()


def test_quirk_one_hot_from_max_fails_on_batch_without_nines():
    """one_hot sized by y.max()+1 breaks exactly when the batch lacks a 9."""
    params, X, _ = tiny(m=4)
    with pytest.raises(ValueError, match="no label 9"):
        gradients(params, X, np.array([0, 1, 2, 8]), Quirks(one_hot_from_max=True))
    gradients(params, X, np.array([0, 1, 9, 8]), Quirks(one_hot_from_max=True))  # no error with a 9


def test_notebook_quirks_are_the_documented_four():
    """Notebook mode turns on exactly the training-code quirks, with m = 42,000."""
    assert NOTEBOOK_QUIRKS == Quirks(double_dZ2=True, global_m=42_000, uniform_init=True,
                                     unshifted_softmax=True)
    assert CHUNK >= 1024


@pytest.mark.parametrize("bad, message", [
    ({"W1": np.zeros((3, 784)), "b1": np.zeros((3, 1)), "W2": np.zeros((10, 4)), "b2": np.zeros((10, 1))}, "W2 has shape"),
    ({"W1": np.zeros((3, 784)), "b1": np.zeros((3, 1)), "W2": np.zeros((10, 3))}, "missing array"),
    ({"W1": np.full((3, 784), np.nan), "b1": np.zeros((3, 1)), "W2": np.zeros((10, 3)), "b2": np.zeros((10, 1))}, "finite"),
    ({"W1": np.zeros((3, 783)), "b1": np.zeros((3, 1)), "W2": np.zeros((10, 3)), "b2": np.zeros((10, 1))}, "W1 has shape"),
])
def test_params_from_arrays_rejects_bad_weights(bad, message):
    """Loaded weights with a wrong shape, a missing array or NaN get a message naming the array."""
    with pytest.raises(ValueError, match=message):
        Params.from_arrays(bad)


# ---- the hot path: gradients, evaluate and predict_proba on the compute pool -------------------
from core import pool  # noqa: E402
from core.model import TASKS, _chunks, evaluate, pack, packed_gradients, pixels, predict_proba, unpack  # noqa: E402


@pytest.fixture
def workers():
    """Set the compute pool's size for one test; back to the default afterwards."""
    yield pool.set_workers
    pool.set_workers(None)


def mnist_like(m=3000, h=10, seed=0, runs=None):
    """A float32 network and a batch of raw uint8 "images" laid out as data.split does."""
    rng = np.random.default_rng(seed)
    params = init_params(h, rng)
    params = params.map(lambda a: (a + rng.standard_normal(a.shape) * 0.05).astype(np.float32))
    if runs:
        params = params.map(lambda a: np.stack([a * (1 + 0.1 * r) for r in range(runs)]))
    images = (rng.random((m, 784)) < 0.2) * rng.integers(0, 256, (m, 784))
    X_raw = np.ascontiguousarray(images.astype(np.uint8)).T  # (784, m), examples contiguous
    return params, X_raw, np.divide(X_raw, np.float32(255)), rng.integers(0, 10, m)


@pytest.mark.parametrize("m", [1, 100, 2016, 2017, 4095, 4096, 9000, 41_000, 59_000])
def test_chunks_tile_the_columns_in_equal_pieces_a_multiple_of_tasks(m):
    """A pass's chunks cover 0..m in order, none wider than CHUNK, sizes within one column of each
    other, and from TASKS * 512 columns on their number is a multiple of TASKS (the bundled sample's
    9,000 training rows: 8 x 1,125, four for each of two workers, not 4,032 + 4,032 + 936)."""
    chunks = _chunks(m, CHUNK)
    assert [s for s, _ in chunks] == [0, *[e for _, e in chunks[:-1]]] and chunks[-1][1] == m
    sizes = [e - s for s, e in chunks]
    assert max(sizes) <= CHUNK and max(sizes) - min(sizes) <= 1
    if m >= TASKS * 512:
        assert len(chunks) % TASKS == 0
    else:
        assert len(chunks) == -(-m // CHUNK)
    if m == 9000:
        assert (len(chunks), max(sizes)) == (8, 1125)


def reference(params, X, y, quirks=Quirks()):
    """The gradients and loss as forward/backward/cross_entropy define them, in float64."""
    p64, X64 = params.map(lambda a: a.astype(np.float64)), X.astype(np.float64)
    cache = forward(p64, X64, shift=not quirks.unshifted_softmax)
    grads = backward(p64, X64, cache, one_hot(y, dtype=np.float64), quirks.global_m,
                     2.0 if quirks.double_dZ2 else 1.0)
    return grads, cross_entropy(cache.Z2, y), int((cache.Z2.argmax(0) == y).sum())


def assert_float32_close(actual, expected):
    """Equal up to float32 rounding: 1e-5 relative, or 1e-6 of the array's largest entry."""
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6 * float(np.abs(expected).max()))


@pytest.mark.parametrize("quirks", [Quirks(), NOTEBOOK_QUIRKS], ids=["corrected", "notebook"])
def test_gradients_equal_the_math_at_float32_tolerance(quirks, workers):
    """The pooled, blocked float32 pass gives the float64 math's gradients, loss and hits."""
    workers(2)
    params, _, X, y = mnist_like(m=2500)
    result = gradients(params, X, y, quirks, chunk=1024)
    grads, loss, hits = reference(params, X, y, quirks)
    for name in ("W1", "b1", "W2", "b2"):
        got = getattr(result.grads, name)
        assert got.dtype == np.float32 and got.shape == getattr(params, name).shape
        assert_float32_close(got, getattr(grads, name))
    assert result.loss == pytest.approx(loss, rel=1e-6) and result.hits == hits
    np.testing.assert_array_equal(result.active, (forward(params, X).A1 > 0).any(axis=1))


def test_raw_uint8_pixels_give_the_float_results(workers):
    """X as raw uint8 pixels gives what X / 255 gives, up to float32 rounding (the 1/255 sits on W1)."""
    workers(2)
    params, X_raw, X, y = mnist_like(m=2100)
    raw, scaled = gradients(params, X_raw, y), gradients(params, X, y)
    for a, b in zip(raw.grads.to_arrays().values(), scaled.grads.to_arrays().values()):
        assert_float32_close(a, b)
    assert raw.loss == pytest.approx(scaled.loss, rel=1e-6) and raw.hits == scaled.hits
    loss_raw, acc_raw, preds_raw, active_raw = evaluate(params, X_raw, y)
    loss, acc, preds, active = evaluate(params, X, y)
    assert loss_raw == pytest.approx(loss, rel=1e-6) and (preds_raw != preds).mean() < 1e-3
    assert_float32_close(predict_proba(params, X_raw), predict_proba(params, X))
    assert_float32_close(forward(params, X_raw).Z2, forward(params, X).Z2)
    np.testing.assert_array_equal(pixels(X_raw), X)


def test_numbers_do_not_depend_on_the_number_of_workers(workers):
    """Tolerance zero: chunks are summed in chunk order, so 1 and 2 workers agree bit for bit."""
    params, X_raw, _, y = mnist_like(m=5000, h=16)
    runs = {}
    for n in (1, 2):
        workers(n)
        p = params
        for _ in range(5):  # five plain gradient steps: any difference would compound
            result = gradients(p, X_raw, y, chunk=1024)
            p = p.map(lambda w, g: w - 0.5 * g, result.grads)
        runs[n] = (p, result.loss, evaluate(p, X_raw, y), predict_proba(p, X_raw))
    (p1, loss1, ev1, proba1), (p2, loss2, ev2, proba2) = runs[1], runs[2]
    for a, b in zip(p1.to_arrays().values(), p2.to_arrays().values()):
        np.testing.assert_array_equal(a, b)
    assert loss1 == loss2 and ev1[:2] == ev2[:2]
    np.testing.assert_array_equal(ev1[2], ev2[2])
    np.testing.assert_array_equal(proba1, proba2)


@pytest.mark.parametrize("m", [1, 2, 128])
def test_a_training_step_gradient_equals_the_math_at_mini_batch_sizes(m):
    """Raw pixels below 784 rows (1/255 on Z1, dZ1): the Trainer's gradients and loss equal the float64 math."""
    params, X_raw, X, y = mnist_like(m=m, seed=m)
    flat = pack(params.map(lambda a: a[None]))
    grads, loss, active = packed_gradients(flat, params.hidden, X_raw, y)
    expected, expected_loss, _ = reference(params, X, y)
    for got, want in zip(unpack(grads[0], params.hidden).to_arrays().values(), expected.to_arrays().values()):
        assert_float32_close(got, want)
    assert loss[0] == pytest.approx(expected_loss, rel=1e-6)
    np.testing.assert_array_equal(active[0], (forward(params, X).A1 > 0).any(axis=1))
    assert evaluate(params, X_raw, y)[0] == pytest.approx(evaluate(params, X, y)[0], rel=1e-6)
    assert_float32_close(predict_proba(params, X_raw), predict_proba(params, X))


def test_one_chunk_and_many_chunks_agree(workers):
    """A mini-batch done in one chunk (in the caller) matches the same batch split over the pool."""
    workers(2)
    params, _, X, y = mnist_like(m=700)
    whole, split_ = gradients(params, X, y, chunk=700), gradients(params, X, y, chunk=64)
    for a, b in zip(whole.grads.to_arrays().values(), split_.grads.to_arrays().values()):
        assert_float32_close(a, b)
    assert whole.hits == split_.hits and whole.loss == pytest.approx(split_.loss, rel=1e-6)


def test_stacked_runs_equal_separate_runs(workers):
    """A stack of 3 runs gets each run's own gradients, loss, hits, evaluation and probabilities."""
    workers(2)
    stack, _, X, y = mnist_like(m=1500, runs=3)
    result = gradients(stack, X, y, chunk=512)
    loss, acc, preds, active = evaluate(stack, X, y, chunk=512)
    proba = predict_proba(stack, X, chunk=512)
    assert result.grads.W1.shape == (3, 10, 784) and result.active.shape == (3, 10) and proba.shape == (3, 10, 1500)
    for r in range(3):
        one = stack.map(lambda a: a[r])
        single = gradients(one, X, y, chunk=512)
        for a, b in zip(result.grads.to_arrays().values(), single.grads.to_arrays().values()):
            assert_float32_close(a[r], b)
        assert result.loss[r] == pytest.approx(single.loss, rel=1e-6) and result.hits[r] == single.hits
        np.testing.assert_array_equal(result.active[r], single.active)
        ev = evaluate(one, X, y)
        assert loss[r] == pytest.approx(ev[0], rel=1e-6) and acc[r] == ev[1]
        np.testing.assert_array_equal(preds[r], ev[2])
        assert_float32_close(proba[r], predict_proba(one, X))


def test_hits_follow_argmax_on_ties_and_nan():
    """Tied top logits count as argmax counts them (first index wins); NaN logits too."""
    params, X, y = tiny(m=40)
    flat = Params(params.W1, params.b1, np.zeros_like(params.W2), np.zeros_like(params.b2))  # all logits 0
    assert gradients(flat, X, y).hits == int((y == 0).sum())
    assert evaluate(flat, X, y)[1] == pytest.approx((y == 0).mean())
    broken = Params(params.W1, params.b1, params.W2, np.full_like(params.b2, np.nan))
    with np.errstate(invalid="ignore"):
        assert gradients(broken, X, y).hits == int((forward(broken, X).Z2.argmax(0) == y).sum())


def test_labels_outside_0_to_9_are_refused():
    """A label of 10 or -1 is a ValueError, as one_hot says, not an index error or a silent wrap."""
    params, X, _ = tiny(m=3)
    for bad in ([0, 1, 10], [0, -1, 2]):
        with pytest.raises(ValueError, match="0..9"):
            gradients(params, X, np.array(bad))
        with pytest.raises(ValueError, match="0..9"):
            evaluate(params, X, np.array(bad))


def test_workers_take_the_callers_numpy_error_state(workers):
    """np.errstate is per thread: a caller's 'raise' reaches the chunks computed on the pool."""
    workers(2)
    params, _, X, y = mnist_like(m=2048)
    broken = params.map(lambda a: np.full_like(a, np.inf))
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError):
        gradients(broken, X, y, chunk=512)
    with np.errstate(all="ignore"):
        assert not np.isfinite(gradients(broken, X, y, chunk=512).grads.W1).all()


@pytest.mark.parametrize("activation", ["identity", "sigmoid", "tanh"])
def test_other_activations_on_the_pool_equal_the_math(activation, workers):
    """Non-ReLU hidden layers go through the same pooled kernel and match forward/backward."""
    workers(2)
    params, X_raw, X, y = mnist_like(m=1300)
    result = gradients(params, X_raw, y, chunk=512, activation=activation)
    p64, X64 = params.map(lambda a: a.astype(np.float64)), X.astype(np.float64)
    cache = forward(p64, X64, activation=activation)
    grads = backward(p64, X64, cache, one_hot(y, dtype=np.float64), activation=activation)
    for name in ("W1", "b1", "W2", "b2"):
        assert_float32_close(getattr(result.grads, name), getattr(grads, name))
    assert result.loss == pytest.approx(cross_entropy(cache.Z2, y), rel=1e-6) and result.active.all()
    loss, acc, preds, active = evaluate(params, X_raw, y, activation=activation)
    assert loss == pytest.approx(result.loss, rel=1e-6) and active.all()
    assert_float32_close(predict_proba(params, X_raw, activation=activation), cache.A2)


def test_an_empty_batch_is_refused():
    """gradients of zero examples is a ValueError in one sentence, not a StopIteration."""
    params, X, y = tiny(m=3)
    with pytest.raises(ValueError, match="the batch is empty"):
        gradients(params, X[:, :0], y[:0])
