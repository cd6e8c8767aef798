"""The dashboard driven through Streamlit's AppTest: every control, upload and setting.

AppTest runs the whole script per `run()` (the live fragment runs once per run, it cannot fire
timers). Runs train on the server's workers whatever the page does, so "running" is checked as:
Start sets the run going and its iteration moves on without any run of the page (`wait_until`).
Settings are kept small through the URL (train_size, dev_size) so each run takes well under a second.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import data
from core import Params, Trainer, confusion_matrix
from dashboard import export
from dashboard.runs import live
from dashboard.views import train as train_view
from tests.dashboard.conftest import chart_keys, charts, feed_of, figure, status_payload, status_row, wait_until


def lab(at):
    """The session's Lab (run, data, flags)."""
    return at.session_state["lab"]


def lr_input(at, kind: str = "exact"):
    """The α widget of the current version: kind "exact" (number input) or "slider" (select slider)."""
    key = f"lr_{kind}_{at.session_state['lr_version']}"
    return at.number_input(key=key) if kind == "exact" else at.select_slider(key=key)


def digit_filter(at, which: int):
    """The gallery's digit filter of the current version: 0 = true digit, 1 = predicted digit."""
    return at.selectbox(key=f"filter_{which}_{at.session_state['filter_version']}")


def kaggle_csv(images: np.ndarray, labels: np.ndarray) -> bytes:
    """A Kaggle digit-recognizer train.csv for these images."""
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = [f"{label}," + ",".join(map(str, image)) for image, label in zip(images, labels)]
    return ("\n".join([header, *rows]) + "\n").encode()


@pytest.fixture(scope="module")
def sample():
    """The bundled sample dataset."""
    return data.load_sample()


def upload_data(at, name: str, content: bytes):
    """Choose "Upload CSV" and upload a file as the data source."""
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload").upload(name, content, "text/csv")
    return at.run()


# ----- smoke ------------------------------------------------------------------------------------
def test_train_view_renders_status_curves_weights_and_gallery(make_app):
    """A fresh session shows the Train tab with its status, four charts and a gallery, paused at iteration 0."""
    at = make_app()
    assert not at.get("tabs")  # the Train view is the default page: no tabs, only its own code ran
    assert "notebook_pair" not in at.session_state and "sweep" not in at.session_state
    assert chart_keys(at)[:6] == ["loss_chart", "accuracy_chart", "weights_chart", "output_chart", "confusion",
                                  "gallery_chart"]  # the gradient-health chart only once its expander is open
    assert list(status_row(at))[:2] == ["Iteration", "Epoch"] and status_row(at)["Iteration"] == "0"
    assert lab(at).running is False and lab(at).data_key == "sample"
    assert lab(at).now.m == 2000 and lab(at).split.y_dev.size == 500
    assert len(at.image) == 1  # the strip of example images in the sidebar
    loss = figure(at, "loss_chart")
    assert [t["name"] for t in loss["data"]] == ["train", "dev"]
    assert loss["data"][0]["y"][0] == pytest.approx(lab(at).now.history.rows[0]["train_loss"])


# ----- controls ---------------------------------------------------------------------------------
def test_start_trains_and_pause_stops(make_app):
    """Start sets the run going on the server (it trains with no page run); Pause stops it and no more steps are made."""
    at = make_app()
    at.button(key="start").click().run()
    assert lab(at).running is True
    assert at.button(key="start").disabled and not at.button(key="pause").disabled
    wait_until(lambda: lab(at).now.iteration > 20, message="the worker to train")  # no at.run() meanwhile
    at.button(key="pause").click().run()
    stopped = lab(at).now.iteration
    assert lab(at).running is False and lab(at).worker.engine.iteration == stopped
    at.run()
    assert lab(at).now.iteration == stopped


def test_without_a_feed_route_running_charts_are_drawn_by_their_fragment(make_app):
    """A server that serves no feeds (no `st.App`, as here): running charts come without a feed URL
    (their fragment ticks instead) and still show the run."""
    at = make_app()
    at.button(key="start").click().run()
    wait_until(lambda: lab(at).now.iteration > 20, message="the worker to train")
    at.run()
    assert not any("feed" in json.loads(element.proto.json) for _, element in charts(at))
    assert figure(at, "loss_chart")["data"][0]["x"][-1] > 0
    at.button(key="pause").click().run()


@pytest.mark.usefixtures("feeds_served")
def test_running_charts_follow_a_feed_and_paused_ones_do_not(make_app):
    """While the run trains, the curves and weight maps come whole with the URL of one live feed that
    builds all four of them, the status row and the confusion matrix with the gallery with feeds of their
    own; once paused they carry none, and the feeds are gone."""
    at = make_app()
    at.button(key="start").click().run()
    registered = feed_of(at, ["loss_chart", "accuracy_chart", "weights_chart", "output_chart"])
    status = feed_of(at, [], status=True)  # the status row's own feed, drawn outside any fragment
    assert status.worker is lab(at).worker and status.charts["status"].every == live.STATUS_EVERY
    assert registered.worker is lab(at).worker
    assert {registered.charts[name].every for name in ("loss_chart", "accuracy_chart")} == {0}
    gallery = feed_of(at, ["confusion", "gallery_chart"])
    assert gallery.worker is lab(at).worker and gallery.token != registered.token
    assert {chart.every for chart in gallery.charts.values()} == {train_view.GALLERY_EVERY}
    at.button(key="pause").click().run()
    assert not any("feed" in json.loads(element.proto.json) for _, element in charts(at))
    assert not registered.worker.snapshot.active  # its stream ends at its next look


def test_the_status_row_warns_when_the_steps_are_far_from_a_healthy_size(make_app):
    """The status row carries the gradient-health warning under its figures: none for the default α, the
    "all but stopped" note when α is far too small for any layer to move."""
    at = make_app()
    at.button(key="step10").click().run()
    assert status_payload(at)["note"] is None
    at = make_app(lr="0.00001")
    at.button(key="step10").click().run()
    assert "training has all but stopped" in status_payload(at)["note"]


@pytest.mark.parametrize("n", [1, 10, 100])
def test_step_buttons_advance_exactly_n(make_app, n):
    """Step 1 / 10 / 100 make exactly that many updates and leave the run paused; the curves end at the step's
    end (evaluations every 10 iterations, and one where a Step stops between them)."""
    at = make_app()
    at.button(key=f"step{n}").click().run()
    assert lab(at).now.iteration == n and lab(at).running is False
    assert status_row(at)["Iteration"] == status_row(at)["Epoch"] == f"{n:,}"  # full batch: an epoch a step
    curve = figure(at, "loss_chart")["data"][0]["x"]
    assert list(curve) == sorted({0, n, *range(0, n + 1, 10)})


def test_a_mini_batch_run_counts_epochs_in_hundredths(make_app):
    """At batch 100 of the 2,000 training rows an epoch is 20 steps: Step 10 shows epoch 0.50."""
    at = make_app(full_batch="false", batch_size="100")
    at.button(key="step10").click().run()
    assert status_row(at)["Epoch"] == "0.50"


def test_reset_starts_a_fresh_run_with_the_same_settings(make_app):
    """Reset gives iteration 0 and the initial weights of the same seed, keeping the settings."""
    at = make_app()
    first_W1 = lab(at).now.params.W1
    at.button(key="step10").click().run()
    at.button(key="reset").click().run()
    assert lab(at).now.iteration == 0 and lab(at).now.config.hidden == 10
    np.testing.assert_array_equal(lab(at).now.params.W1, first_W1)


def test_lr_change_mid_run_is_recorded_and_marked(make_app):
    """Typing a new α while running applies it live, is recorded in lr_changes and drawn as a marker."""
    at = make_app()
    at.button(key="start").click().run()
    worker = lab(at).worker
    wait_until(lambda: lab(at).now.iteration > 0, message="the worker to train")
    lr_input(at).set_value(0.2).run()
    trainer = lab(at).now
    changed_at = trainer.lr_changes[-1][0]
    assert lab(at).worker is worker and lab(at).running  # same run, still going
    assert trainer.lr == 0.2 and trainer.lr_changes[-1] == (changed_at, 0.2) and changed_at > 0
    assert lr_input(at, "slider").value == 0.2  # the slider follows the typed value
    shapes = figure(at, "loss_chart")["layout"]["shapes"]
    assert [s["x0"] for s in shapes] == [changed_at]


def test_lr_slider_applies_live(make_app):
    """Moving the log-scale slider sets α on the running trainer and the exact entry follows."""
    at = make_app()
    at.button(key="step10").click().run()
    lr_input(at, "slider").set_value(0.02).run()
    assert lab(at).now.lr == 0.02 and lab(at).now.lr_changes[-1] == (10, 0.02)
    assert lr_input(at).value == 0.02
    assert lab(at).now.iteration == 10  # not reset


def test_stop_at_pauses_at_that_iteration(make_app):
    """With "stop at 5", Start trains to iteration 5 and pauses; Start is then disabled."""
    at = make_app(stop_at=5)
    at.button(key="start").click().run()
    assert lab(at).now.iteration == 5 and lab(at).running is False
    assert at.button(key="start").disabled
    assert any("stop-at" in info.value for info in at.info)


def test_failure_pauses_and_is_explained_then_reset_recovers(make_app):
    """α = 10 blows the loss up: the run pauses, the reason is shown in words, and Reset recovers."""
    at = make_app()
    lr_input(at).set_value(10.0).run()
    at.button(key="start").click().run()
    assert lab(at).now.failure and lab(at).running is False
    assert any("Training stopped" in e.value and "exploded" in e.value for e in at.error)
    assert at.button(key="start").disabled
    lr_input(at).set_value(0.1).run()
    at.button(key="reset").click().run()
    assert lab(at).now.failure is None and lab(at).now.iteration == 0
    assert not at.error


# ----- settings -> new run ----------------------------------------------------------------------
def test_changing_hidden_size_starts_a_new_run_and_says_so(make_app):
    """A new hidden size builds a new network (iteration 0) and a toast says what changed."""
    at = make_app()
    at.button(key="step10").click().run()
    at.number_input(key="hidden").set_value(16).run()
    assert lab(at).now.iteration == 0 and lab(at).now.params.W1.shape == (16, 784)
    assert any("hidden 10 → 16" in toast.value for toast in at.toast)
    assert figure(at, "weights_chart")["data"][0]["z"].shape[1] == 4 * 30 - 2  # a 4 x 4 grid


def test_mode_switch_to_notebook_shows_m_and_effective_lr(make_app):
    """Notebook mode starts a new run with the notebook's quirks, shows its m and the effective α."""
    at = make_app()
    at.segmented_control(key="mode").set_value("notebook").run()
    trainer = lab(at).now
    assert trainer.config.mode == "notebook" and trainer.quirks.global_m == 42_000
    assert at.number_input(key="notebook_m").value == 42_000
    # full batch of 2,000 rows: α · 2 · 2000 / 42000
    assert any("0.009524" in c.value for c in at.caption), [c.value for c in at.caption]
    at.number_input(key="notebook_m").set_value(2000).run()
    assert lab(at).now.quirks.global_m == 2000


def test_batch_and_optimizer_settings_reach_the_trainer(make_app):
    """Mini-batch size and optimizer from the sidebar end up in the run's TrainConfig."""
    at = make_app()
    at.checkbox(key="full_batch").uncheck().run()
    at.number_input(key="batch_size").set_value(64).run()
    at.selectbox(key="optimizer").set_value("adam").run()
    config = lab(at).now.config
    assert (config.batch_size, config.optimizer) == (64, "adam")
    at.button(key="step10").click().run()
    assert lab(at).now.epoch == pytest.approx(10 * 64 / 2000)


def test_settings_that_do_not_fit_the_data_keep_the_run(make_app):
    """A dev size larger than the dataset shows why and keeps training the current run."""
    at = make_app()
    at.button(key="step10").click().run()
    worker = lab(at).worker
    at.number_input(key="dev_size").set_value(20_000).run()
    assert lab(at).worker is worker
    assert any("cannot be used" in e.value and "dev size" in e.value for e in at.error)


def test_stop_at_change_keeps_the_run(make_app):
    """Changing "stop at" is a live setting: the run and its iteration stay."""
    at = make_app()
    at.button(key="step10").click().run()
    at.number_input(key="stop_at").set_value(50).run()
    assert lab(at).now.iteration == 10 and lab(at).stop_at() == 50 and lab(at).snapshot.stop_at == 50


# ----- data -------------------------------------------------------------------------------------
def test_upload_good_csv_switches_data(make_app, sample):
    """A valid Kaggle train.csv becomes the data: new run, its rows and split shown."""
    at = make_app(dev_size=100, train_size=0)
    at = upload_data(at, "train.csv", kaggle_csv(sample.images[:400], sample.labels[:400]))
    assert not at.error, [e.value for e in at.error]
    assert lab(at).data_key.startswith("upload:") and len(lab(at).dataset) == 400
    assert lab(at).now.m == 300 and lab(at).split.y_dev.size == 100
    assert any("400 rows" in c.value and "300 train / 100 dev" in c.value for c in at.caption)


def test_upload_bad_csv_shows_the_fault_and_keeps_data_and_run(make_app, sample):
    """A CSV with a pixel of 300 is refused naming row, column and value; the data and the run are kept."""
    at = make_app()
    at.button(key="step10").click().run()
    worker = lab(at).worker
    lines = kaggle_csv(sample.images[:20], sample.labels[:20]).decode().split("\n")
    cells = lines[6].split(",")
    cells[18] = "300"
    lines[6] = ",".join(cells)
    at = upload_data(at, "bad.csv", "\n".join(lines).encode())
    message = " ".join(e.value for e in at.error)
    assert "bad.csv" in message and "row 6" in message and "pixel17" in message and "300" in message
    assert lab(at).worker is worker and lab(at).data_key == "sample" and lab(at).now.iteration == 10
    at.run()  # the bad file is not parsed again, and the message stays
    assert lab(at).worker is worker and any("pixel17" in e.value for e in at.error)


def test_upload_test_csv_without_labels_is_refused(make_app, sample):
    """A Kaggle test.csv (no label column) cannot be trained on: say so and keep the data."""
    at = make_app()
    header = ",".join(f"pixel{i}" for i in range(784))
    content = "\n".join([header] + [",".join(map(str, im)) for im in sample.images[:5]]).encode()
    at = upload_data(at, "test.csv", content)
    assert any("no label" in e.value for e in at.error) and lab(at).data_key == "sample"


def test_download_failure_is_shown_and_the_app_keeps_its_data(make_app, monkeypatch, tmp_path):
    """Offline: choosing MNIST offers a download; a failed download shows its message and keeps the sample."""
    monkeypatch.setenv("DIGIT_LAB_DATA", str(tmp_path))

    def offline(name, data_dir=None, mirrors=None, progress=None, timeout=30):
        raise data.DownloadError(f"could not download train-images-idx3-ubyte.gz of MNIST; cannot connect ({name})")

    monkeypatch.setattr(data, "download", offline)
    at = make_app()
    at.radio(key="data_source").set_value("mnist").run()
    assert any("not downloaded yet" in i.value for i in at.info) and lab(at).data_key == "sample"
    at.button(key="download_mnist").click().run()
    assert any("Could not download MNIST" in e.value and "cannot connect" in e.value for e in at.error)
    assert lab(at).data_key == "sample" and not at.exception


def test_switch_to_downloaded_dataset(make_app, monkeypatch, sample):
    """With MNIST in the cache, choosing it loads it (read-only) and starts a run on it."""
    fake = data.Dataset(sample.images[:3000].copy(), sample.labels[:3000].copy(), "MNIST train (3,000)", "fake")
    monkeypatch.setattr(data, "is_downloaded", lambda name, data_dir=None: True)
    monkeypatch.setattr(data, "load_source", lambda source, **kwargs: fake)
    at = make_app(train_size=0)
    at.radio(key="data_source").set_value("mnist").run()
    assert lab(at).data_key == "mnist" and lab(at).dataset is fake
    assert lab(at).now.m == 2500 and not fake.images.flags.writeable
    assert any("data → MNIST train (3,000)" in t.value for t in at.toast)


def test_sessions_share_data_but_not_runs(make_app):
    """Two sessions with the same settings share one read-only split but train separate networks."""
    first, second = make_app(), make_app()
    assert lab(first).split is lab(second).split
    assert not lab(first).split.X_train.flags.writeable
    first.button(key="step10").click().run()
    second.run()
    assert lab(first).now.iteration == 10 and lab(second).now.iteration == 0


# ----- weights and gallery ----------------------------------------------------------------------
def test_exported_weights_load_back_into_params(make_app):
    """The weights download is an .npz that data.load_weights and Params.from_arrays accept, with meta."""
    at = make_app()
    at.button(key="step10").click().run()
    trainer = lab(at).now
    arrays, meta = data.load_weights(export.weights_npz(trainer, "sample"))
    params = Params.from_arrays({k: arrays[k] for k in ("W1", "b1", "W2", "b2")})
    np.testing.assert_array_equal(params.W1, trainer.params.W1)
    assert meta["iteration"] == 10 and meta["config"]["mode"] == "corrected" and meta["config"]["hidden"] == 10
    assert meta["format"] == "digit-lab run" and meta["data"] == "sample"


def test_metrics_csv_has_one_row_per_evaluation(make_app):
    """The metrics CSV has the history's header and one line per recorded evaluation."""
    at = make_app()
    at.button(key="step100").click().run()
    lines = export.metrics_csv(lab(at).now).decode().splitlines()
    assert lines[0].startswith("iteration,epoch,lr,train_loss") and len(lines) == 1 + 11


def test_upload_run_file_resumes_at_its_iteration_with_its_history(make_app):
    """An uploaded run file continues at its saved iteration with its curves, exactly as the run would have."""
    source = make_app(full_batch="false", batch_size="64", optimizer="adam")
    source.button(key="step100").click().run()
    content = export.weights_npz(lab(source).now, "sample")
    at = make_app()
    at.file_uploader(key="weights_upload").upload("run.npz", content).run()
    trainer = lab(at).now
    assert trainer.iteration == 100 and len(trainer.history) == len(lab(source).now.history) and not at.error
    assert (trainer.config.batch_size, trainer.config.optimizer) == (64, "adam")
    assert at.number_input(key="batch_size").value == 64 and at.selectbox(key="optimizer").value == "adam"
    assert any("iteration 100" in t.value for t in at.toast)
    worker = lab(at).worker
    at.button(key="step10").click().run()
    source.button(key="step10").click().run()
    assert lab(at).worker is worker and lab(at).now.iteration == 110  # the settings now match: same run goes on
    np.testing.assert_array_equal(lab(at).now.params.W1, lab(source).now.params.W1)  # bit for bit


def test_run_file_for_other_data_is_refused_in_one_sentence(make_app, sample):
    """A run trained on other rows (same sizes, other labels) is refused with one sentence; the current run stays."""
    at = make_app()
    at.button(key="step10").click().run()
    worker, split = lab(at).worker, lab(at).split
    other = Trainer(lab(at).now.config, split.X_train[:, ::-1], split.y_train[::-1], split.X_dev, split.y_dev)
    other.step(5)
    at.file_uploader(key="weights_upload").upload("other.npz", export.weights_npz(other, "sample")).run()
    assert lab(at).worker is worker and lab(at).now.iteration == 10
    assert any("Could not load weights" in e.value and "other data" in e.value and "current run is kept" in e.value
               for e in at.error), [e.value for e in at.error]


def test_upload_weights_only_starts_from_them(make_app):
    """An old weights-only file (W1..b2) replaces the network (same numbers), at iteration 0, ready to continue."""
    source = make_app()
    source.button(key="step100").click().run()
    weights = lab(source).now.params.to_arrays()
    content = data.weights_bytes(weights, {"hidden": 10})
    at = make_app()
    at.file_uploader(key="weights_upload").upload("w.npz", content).run()
    np.testing.assert_array_equal(lab(at).now.params.W1, lab(source).now.params.W1)
    assert lab(at).now.iteration == 0 and not at.error
    at.button(key="step10").click().run()
    assert lab(at).now.history.last["train_acc"] > 0.5  # it goes on from trained weights


def test_upload_weights_with_other_hidden_size_switches_it(make_app):
    """A weights file with 24 hidden units switches the hidden-size setting to 24."""
    donor = make_app(hidden=24)
    content = export.weights_npz(lab(donor).now, "sample")
    at = make_app()
    at.file_uploader(key="weights_upload").upload("w24.npz", content).run()
    assert lab(at).now.params.hidden == 24 and at.number_input(key="hidden").value == 24
    at.run()  # the next full run keeps the uploaded weights (settings now match)
    np.testing.assert_array_equal(lab(at).now.params.W1, lab(donor).now.params.W1)


@pytest.mark.parametrize("content, expected", [
    (b"not an npz at all", "Could not load weights"),
    (data.weights_bytes({"W1": np.ones((600, 784)), "b1": np.ones((600, 1)), "W2": np.ones((10, 600)),
                         "b2": np.ones((10, 1))}, {}), "600 hidden units"),
    (data.weights_bytes({"W1": np.ones((5, 784))}, {}), "missing array"),
])
def test_bad_weights_upload_keeps_the_run(make_app, content, expected):
    """A file that is not usable weights shows why and keeps the current run."""
    at = make_app()
    at.button(key="step10").click().run()
    worker = lab(at).worker
    at.file_uploader(key="weights_upload").upload("bad.npz", content).run()
    assert any(expected in e.value for e in at.error), [e.value for e in at.error]
    assert lab(at).worker is worker and at.number_input(key="hidden").value == 10


def test_weight_maps_are_paged_above_64_neurons(make_app):
    """With h = 100 the weight maps show 64 tiles per page and a page selector picks the rest."""
    at = make_app(hidden=100)
    assert len(tile_labels(figure(at, "weights_chart"))) == 64
    at.segmented_control(key="weights_page").set_value(64).run()
    labels = tile_labels(figure(at, "weights_chart"))
    assert len(labels) == 36 and labels[0] == "64"


def tile_labels(figure: dict) -> list[str]:
    """The labels over a weight map's tiles (its text trace)."""
    [labels] = [trace for trace in figure["data"] if trace.get("mode") == "text"]
    return list(labels["text"])


@pytest.mark.usefixtures("feeds_served")
def test_the_gallery_feed_builds_the_filtered_mistakes_of_each_snapshot(make_app):
    """The gallery's feed, built from the worker's newest snapshot, shows the mistakes of those weights that
    match the filter, with how many there are in its title; a filter change registers a new feed."""
    at = make_app()
    at.button(key="start").click().run()
    first = feed_of(at, ["confusion", "gallery_chart"])
    digit_filter(at, 0).set_value(3).run()
    registered = feed_of(at, ["confusion", "gallery_chart"])
    assert registered.token != first.token
    wait_until(lambda: lab(at).now.iteration > 30, message="the worker to train on")
    snapshot = lab(at).snapshot
    preds, _ = snapshot.view.dev_predictions()
    y = lab(at).split.y_dev
    gallery = registered.charts["gallery_chart"].build(snapshot).to_plotly_json()["layout"]
    wrong, threes = preds != y, (preds != y) & (y == 3)
    assert gallery["title"]["text"].startswith(f"{wrong.sum():,} of {y.size:,} misclassified")
    assert gallery["title"]["text"].endswith(f"; {threes.sum():,} match the filter")
    unfiltered = first.charts["gallery_chart"].build(snapshot).to_plotly_json()["layout"]["title"]["text"]
    assert unfiltered == f"{wrong.sum():,} of {y.size:,} dev images misclassified ({wrong.mean():.1%})"
    assert [a["text"].split("→")[0] for a in gallery["annotations"]] == ["3"] * min(threes.sum(), 16)
    confusion = registered.charts["confusion"].build(snapshot)
    assert np.array_equal(confusion.data[0].z, confusion_matrix(y, preds))
    assert confusion.layout.shapes[0].y0 == 2.5  # the filtered row outlined
    at.button(key="pause").click().run()


def test_gallery_filters_by_true_and_predicted_digit(make_app):
    """The gallery shows only mistakes matching the digit filters, labelled true→predicted."""
    at = make_app()
    at.button(key="step10").click().run()
    digit_filter(at, 0).set_value(5).run()
    labels = [a["text"] for a in figure(at, "gallery_chart")["layout"]["annotations"]]
    assert labels and all(text.startswith("5→") for text in labels)
    predicted = labels[0].split("→")[1].split(" ")[0]
    digit_filter(at, 1).set_value(int(predicted)).run()
    labels = [a["text"] for a in figure(at, "gallery_chart")["layout"]["annotations"]]
    assert all(text.startswith(f"5→{predicted} ") for text in labels)
    confusion = figure(at, "confusion")
    assert confusion["layout"]["shapes"][0]["y0"] == 4.5  # the chosen cell is outlined


# ----- URL settings -----------------------------------------------------------------------------
@pytest.mark.parametrize("query", [
    {"hidden": "9999", "dev_size": "-5", "seed": "abc"},
    {"mode": "quantum", "optimizer": "sgd", "data_source": "nope", "full_batch": "maybe"},
    {"lr": "1e9", "batch_size": "0", "stop_at": "-1", "train_size": "1.5"},
    {"lr": "nan", "weights_page": "3", "filter_true": "42"},
    {"dev_size": "20000"},  # in the widget's range but larger than the sample
])
def test_bad_query_params_fall_back_without_an_exception(make_app, query):
    """Out-of-range or nonsense URL settings never produce a traceback: defaults (or a message) instead."""
    at = make_app(**query)
    assert not at.exception
    assert lab(at).now.config.hidden == 10 and lab(at).now.lr == 0.1


def test_valid_query_params_set_up_the_run(make_app):
    """A shared link such as ?mode=notebook&hidden=32&lr=0.5 sets up that run."""
    at = make_app(mode="notebook", hidden="32", lr="0.5", optimizer="momentum")
    config = lab(at).now.config
    assert (config.mode, config.hidden, config.optimizer, lab(at).now.lr) == ("notebook", 32, "momentum", 0.5)


def test_gradient_health_is_drawn_only_while_its_expander_is_open(make_app):
    """A closed "Gradient health" expander draws no chart (the browser would redraw it on every refresh);
    opened, it shows one curve per layer and measure, with the steps taken so far."""
    at = make_app()
    at.button(key="step10").click().run()
    assert "health_chart" not in chart_keys(at)
    at.session_state["health_open"] = True
    at.run()
    health = figure(at, "health_chart")
    assert len(health["data"]) == 4 and not at.exception
    assert max(max(trace["x"]) for trace in health["data"]) == lab(at).now.iteration == 10
    at.session_state["health_open"] = False
    at.run()
    assert "health_chart" not in chart_keys(at)


@pytest.mark.usefixtures("feeds_served")
def test_open_gradient_health_follows_the_run_through_a_feed(make_app):
    """While the run trains, the open gradient-health chart comes whole with a feed of its own (the page's
    one stream carries it) that rebuilds it every HEALTH_EVERY seconds from the worker's snapshot."""
    at = make_app()
    at.session_state["health_open"] = True
    at.button(key="start").click().run()
    registered = feed_of(at, ["health_chart"])
    assert registered.worker is lab(at).worker and registered.charts["health_chart"].every == train_view.HEALTH_EVERY
    wait_until(lambda: lab(at).worker.snapshot.iteration >= 30, message="the run to train")
    built = registered.charts["health_chart"].build(lab(at).worker.snapshot)
    assert max(max(trace["x"]) for trace in built["data"]) >= 30  # the snapshot's steps, not the page's
    at.button(key="pause").click().run()
    assert "feed" not in json.loads(dict(charts(at))["health_chart"].proto.json)
