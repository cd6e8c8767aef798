"""The run history: recording runs, its limits, legends naming what differs, CSV and JSON export."""

import csv
import io
import json
import math

import numpy as np
import pytest

import data
from core import TrainConfig, Trainer
from core.run import Failure
from core.sweep import Sweep
from core.train import HISTORY_FIELDS
from dashboard.runs import history as runs


@pytest.fixture(scope="module")
def parts():
    """A small split of the bundled sample."""
    return data.split(data.load_sample(), dev_size=100, train_size=300, seed=0)


def trained(parts, steps: int = 20, **settings) -> Trainer:
    """A Trainer on the small split after `steps` updates."""
    trainer = Trainer(TrainConfig(**settings), parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(steps)
    return trainer


def record(lr=0.1, hidden=10, rows=3, **changes) -> runs.RunRecord:
    """A hand-made record with `rows` evaluations."""
    config = TrainConfig(lr=lr, hidden=hidden, **changes).to_dict()
    history = [dict(iteration=10 * i, epoch=float(i), lr=lr, train_loss=2.0 / (i + 1), train_acc=0.1 * i,
                    dev_loss=2.1 / (i + 1), dev_acc=0.09 * i, dead_fraction=0.0, grad_W1=0.5, grad_W2=0.4,
                    update_W1=0.01, update_W2=0.02, seconds=0.1 * i) for i in range(rows)]
    final = {k: history[-1][k] for k in runs.FINAL_FIELDS}
    return runs.RunRecord("Train", "MNIST sample (10,000)", config, history, final, 10 * (rows - 1), 0.5, [(0, lr)],
                          weights={"W1": np.zeros((hidden, 784), np.float32)})


def test_record_of_a_trainer_keeps_settings_history_final_metrics_and_weights(parts):
    """A finished Train run is recorded with its config, evaluations, whole-set metrics and its weights."""
    trainer = trained(parts, 20, lr=0.3)
    trainer.set_lr(0.5)
    trainer.step(5)
    rec = runs.from_trainer(trainer, "sample")
    assert rec.config["lr"] == 0.3 and rec.lr_changes == [(0, 0.3), (20, 0.5)] and rec.iterations == 25
    assert [r["iteration"] for r in rec.rows] == [0, 10, 20]
    assert rec.final["dev_acc"] == pytest.approx(trainer.final_metrics()["dev_accuracy"])
    np.testing.assert_array_equal(rec.weights["W1"], trainer.params.W1)
    assert rec.settings()["lr"] == "0.3→0.5"


def test_live_record_uses_the_last_evaluation_and_keeps_no_weights(parts):
    """The current run's row is cheap: metrics of its last evaluation, no weights."""
    trainer = trained(parts, 20)
    live = runs.from_trainer(trainer, "sample", live=True)
    assert live.id == runs.LIVE_ID and live.weights is None
    assert live.final["train_loss"] == trainer.history.last["train_loss"]


def test_sweep_records_one_run_per_rate_with_its_failure(parts):
    """Each sweep run becomes a record with its own α, history, failure and a copy of its weights."""
    sweep = Sweep(TrainConfig(), [0.1, 5000.0], parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    sweep.step(20)
    first, second = runs.from_sweep(sweep, "sample", "sweep 1")
    assert (first.config["lr"], second.config["lr"]) == (0.1, 5000.0)
    assert first.failure is None and first.iterations == 20 and runs.status(first) == "ok"
    assert second.failure and second.iterations < 20 and runs.status(second) == "exploded"
    np.testing.assert_array_equal(first.weights["W1"], sweep.state(0).params.W1)
    assert first.weights["W1"].base is None  # a copy: the stacked arrays are not kept alive


def test_history_ids_grow_and_the_oldest_runs_go_beyond_the_cap():
    """At most max_runs are kept, oldest dropped first; ids keep counting after a clear."""
    history = runs.RunHistory(max_runs=3)
    for lr in (0.1, 0.2, 0.3, 0.4, 0.5):
        history.add(record(lr))
    assert [r.id for r in history.runs] == [3, 4, 5] and len(history) == 3
    assert [r.config["lr"] for r in history.get([5, 3, 99])] == [0.5, 0.3]
    history.clear()
    assert len(history) == 0 and history.add(record()).id == 6


def test_weights_are_dropped_oldest_first_beyond_the_memory_budget():
    """Over the weight budget the oldest runs lose their weights; the newest keep theirs."""
    one = record().weight_bytes
    history = runs.RunHistory(max_weight_bytes=2 * one)
    for _ in range(4):
        history.add(record())
    assert [r.weights is not None for r in history.runs] == [False, False, True, True]


def test_rows_are_thinned_evenly_keeping_first_and_last():
    """A long run keeps at most MAX_ROWS evaluations, from its first to its last."""
    rows = [{"iteration": i} for i in range(10_001)]
    kept = runs.thin(rows, 100)
    assert len(kept) == 100 and kept[0]["iteration"] == 0 and kept[-1]["iteration"] == 10_000


def test_legend_names_only_the_settings_that_differ():
    """Runs differing in α and h are labelled "α=…, h=…"; shared settings are left out."""
    labels = runs.legend_labels([record(0.3, 32), record(0.1, 10), record(0.3, 10)])
    assert labels == ["α=0.3, h=32", "α=0.1, h=10", "α=0.3, h=10"]
    assert runs.differing([record(0.3, 32), record(0.3, 32, batch_size=64)]) == ["batch_size"]
    assert runs.legend_labels([record(0.3), record(0.3, optimizer="adam")]) == ["opt=plain", "opt=adam"]


def test_legend_tells_identical_runs_apart_by_number():
    """Runs with the same settings (or a run alone) are named by their run number."""
    history = runs.RunHistory()
    a, b = history.add(record()), history.add(record())
    assert runs.legend_labels([a, b]) == ["#1", "#2"]
    c = history.add(record(0.5))
    assert runs.legend_labels([a, b, c]) == ["α=0.1 (#1)", "α=0.1 (#2)", "α=0.5"]
    live = record()
    assert runs.legend_labels([live]) == ["current"]


def test_alpha_text_shows_changes_during_a_run():
    """α that changed mid-run reads "0.1→0.5"; more than three changes are shortened."""
    assert runs.alpha_text([(0, 0.1)]) == "0.1"
    assert runs.alpha_text([(0, 0.1), (50, 0.5)]) == "0.1→0.5"
    assert runs.alpha_text([(0, 0.1), (5, 0.2), (9, 0.3), (12, 0.05)]) == "0.1→…→0.05"


def test_csv_export_has_one_line_per_evaluation_with_run_and_settings():
    """The CSV is long form: header, then each run's evaluations tagged with its run, label and settings."""
    history = runs.RunHistory()
    a, b = history.add(record(0.3, rows=2)), history.add(record(0.1, rows=3))
    lines = list(csv.DictReader(io.StringIO(runs.metrics_csv([a, b]).decode())))
    assert len(lines) == 5
    assert list(lines[0])[:4] == ["run", "label", "source", "data"] and list(lines[0])[-len(HISTORY_FIELDS):] == list(
        HISTORY_FIELDS)
    assert [(r["run"], r["label"], r["alpha"]) for r in lines[:3]] == [("#1", "α=0.3", "0.3"), ("#1", "α=0.3", "0.3"),
                                                                  ("#2", "α=0.1", "0.1")]
    assert float(lines[4]["dev_acc"]) == pytest.approx(0.18)


def test_json_export_is_strict_json_with_nan_as_null():
    """The JSON holds each run's config, α changes, final metrics and history; NaN becomes null."""
    rec = record(0.3)
    rec.rows[0]["dev_loss"] = math.nan
    rec.final["dev_acc"] = float("inf")
    rec.id = 7
    text = runs.metrics_json([rec]).decode()
    assert "NaN" not in text and "Infinity" not in text
    (run,) = json.loads(text)
    assert run["run"] == "#7" and run["config"]["lr"] == 0.3 and run["lr_changes"] == [[0, 0.3]]
    assert run["final"]["dev_acc"] is None and run["history"][0]["dev_loss"] is None
    assert len(run["history"]) == 3 and set(run["history"][1]) == set(HISTORY_FIELDS)


def test_table_rows_show_metrics_and_status():
    """Each table row carries the run's name, settings, final metrics and status."""
    rec = record(0.3)
    rec.failure = Failure("collapsed", iteration=100, lr=3.0, dead=8, hidden=10)
    (row,) = runs.table_rows([rec])
    assert (row["run"], row["α"], row["h"], row["batch"], row["status"]) == ("current", "0.3", 10, "full", "collapsed")
    assert row["dev acc"] == pytest.approx(100 * rec.final["dev_acc"])  # percent: the table prints "87.8%"
    assert row["train acc"] == pytest.approx(100 * rec.final["train_acc"])


def test_activation_is_recorded_and_named_when_it_differs():
    """Runs record their activation; the legend and table name it (g) when runs differ in it."""
    a, b = record(activation="identity"), record(activation="relu")
    assert runs.legend_labels([a, b]) == ["g=identity", "g=relu"]
    assert runs.table_rows([a])[0]["g"] == "identity"
