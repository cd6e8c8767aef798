"""The digit-lab command line, end to end on the bundled sample."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import data
from core import Params
from dashboard.cli import main


def run_cli(*args):
    """Run the installed console script (or the module) and capture everything."""
    exe = shutil.which("digit-lab")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "dashboard.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_train_on_sample_reports_dev_accuracy(tmp_path):
    """`digit-lab train --data sample` trains, prints progress and final dev accuracy, exit 0."""
    out = run_cli("train", "--data", "sample", "--iterations", "30", "--lr", "0.5",
                  "--metrics-json", str(tmp_path / "m.json"), "--save", str(tmp_path / "w.npz"))
    assert out.returncode == 0, out.stderr
    assert "iteration     30" in out.stdout and "dev accuracy" in out.stdout
    assert "Traceback" not in out.stderr


def test_metrics_json_schema(tmp_path):
    """--metrics-json writes config, final (six keys), history rows and diverged = null."""
    path = tmp_path / "m.json"
    assert main(["train", "--data", "sample", "--iterations", "20", "--eval-every", "5",
                 "--metrics-json", str(path)]) == 0
    report = json.loads(path.read_text())
    assert set(report) == {"config", "final", "history", "last_healthy", "diverged", "failure", "lr_changes"}
    assert set(report["final"]) == {"train_loss", "train_accuracy", "dev_loss", "dev_accuracy",
                                    "iterations", "seconds"}
    assert report["final"]["iterations"] == 20 and report["diverged"] is None
    assert [r["iteration"] for r in report["history"]] == [0, 5, 10, 15, 20]
    assert report["config"]["hidden"] == 10 and report["config"]["batch_size"] is None


def test_saved_weights_evaluate(tmp_path, capsys):
    """Weights saved by train load with allow_pickle=False and evaluate prints a confusion matrix."""
    weights = tmp_path / "w.npz"
    assert main(["train", "--data", "sample", "--iterations", "40", "--lr", "0.5", "--save", str(weights)]) == 0
    arrays, meta = data.load_weights(weights)
    assert Params.from_arrays(arrays).hidden == 10 and meta["config"]["lr"] == 0.5
    with np.load(weights, allow_pickle=False) as z:
        assert z["W1"].shape == (10, 784)
    capsys.readouterr()
    assert main(["evaluate", "--weights", str(weights), "--data", "sample"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "confusion matrix" in out
    matrix = [line.split()[1:] for line in out.splitlines()[-10:]]
    assert sum(int(v) for row in matrix for v in row) == 10_000


@pytest.mark.parametrize("settings", [["--lr", "0.5"], ["--batch-size", "100", "--optimizer", "adam", "--lr", "0.01"]],
                         ids=["full-batch", "minibatch-adam"])
def test_resume_equals_training_straight_through(tmp_path, settings):
    """50 iterations, save, --resume to 100 gives the same weights and final figures as 100 straight."""
    first, resumed, straight = (tmp_path / f"{name}.npz" for name in ("first", "resumed", "straight"))
    assert main(["train", "--data", "sample", "--iterations", "50", "--save", str(first), *settings]) == 0
    assert main(["train", "--data", "sample", "--resume", str(first), "--iterations", "100", "--save", str(resumed),
                 "--metrics-json", str(tmp_path / "resumed.json")]) == 0
    assert main(["train", "--data", "sample", "--iterations", "100", "--save", str(straight),
                 "--metrics-json", str(tmp_path / "straight.json"), *settings]) == 0
    finals = [json.loads((tmp_path / f"{n}.json").read_text())["final"] for n in ("resumed", "straight")]
    for key in ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "iterations"):
        assert finals[0][key] == pytest.approx(finals[1][key], abs=1e-6)
    (a, meta), (b, _) = data.load_weights(resumed), data.load_weights(straight)
    np.testing.assert_array_equal(a["W1"], b["W1"])
    assert meta["iteration"] == 100 and meta["data"] == "sample"


def test_resume_refuses_other_data_damage_and_fixed_flags(tmp_path):
    """Resuming on other data, from a damaged file, or with a flag that decides the run: one line, exit 2."""
    run = tmp_path / "run.npz"
    assert main(["train", "--data", "sample", "--iterations", "10", "--save", str(run)]) == 0
    other = tmp_path / "other.npz"
    sample = data.load_sample()
    np.savez(other, X=sample.images[:3000], y=sample.labels[:3000])
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(run.read_bytes()[:2000])
    for args, message in [(["--data", str(other)], "rows"), (["--data", "sample", "--hidden", "32"], "--hidden"),
                          (["--data", "sample", "--preset", "fast-10"], "--preset")]:
        out = run_cli("train", "--resume", str(run), "--iterations", "20", *args)
        assert out.returncode == 2 and message in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    out = run_cli("train", "--resume", str(damaged), "--iterations", "20")
    assert out.returncode == 2 and "damaged.npz" in out.stderr and "Traceback" not in out.stderr


RUN_FLAGS = ["--data", "sample", "--batch-size", "100", "--optimizer", "adam", "--seed", "3", "--lr", "0.01"]


def test_resume_with_the_command_already_typed(tmp_path, capsys):
    """Repeating the training command's own flags with --resume is accepted and continues the run."""
    run = tmp_path / "run.npz"
    assert main(["train", *RUN_FLAGS, "--eval-every", "10", "--iterations", "20", "--save", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", *RUN_FLAGS, "--eval-every", "10", "--resume", str(run), "--iterations", "30",
                 "--save", str(run)]) == 0
    assert "resuming" in capsys.readouterr().out and data.load_weights(run)[1]["iteration"] == 30


@pytest.mark.parametrize("flag, value, words", [
    ("--batch-size", "64", "--batch-size 64 (the run's batch size: 100)"),
    ("--seed", "4", "--seed 4 (the run's seed: 3)"),
    ("--optimizer", "plain", "--optimizer plain (the run's optimizer: adam)"),
    ("--eval-every", "5", "--eval-every 5 (the run's eval every: 100)"),  # batch 100: every 100
])
def test_resume_names_the_one_flag_that_would_change_the_run(tmp_path, capsys, flag, value, words):
    """With the flags repeated and one changed, --resume refuses naming that flag, its value and the run's, exit 2."""
    run = tmp_path / "run.npz"
    assert main(["train", *RUN_FLAGS, "--iterations", "10", "--save", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", *RUN_FLAGS, flag, value, "--resume", str(run), "--iterations", "20"]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("(the run's") == 1 and len(err.strip().splitlines()) == 1


def _drop_mark(arrays, meta):
    del meta["format"], meta["version"]


def _set(path, value):
    """A damage that sets meta[path[0]][path[1]]... to value."""
    def damage(arrays, meta):
        *parents, last = path
        for key in parents:
            meta = meta[key]
        meta[last] = value
    return damage


# One kind of damaged run metadata each; every one of them must be refused, none trained from.
DAMAGED_META = {
    "format mark lost": (_drop_mark, "without the run format mark"),
    "setting of the wrong type": (_set(("config", "batch_size"), "100"), "batch_size must be a whole number"),
    "setting not whole": (_set(("config", "seed"), 3.5), "seed must be a whole number"),
    "negative seed": (_set(("config", "seed"), -3), "seed must be >= 0"),
    "infinite decay": (_set(("config", "lr_decay"), float("inf")), "lr_decay must be a finite number"),
    "negative seconds": (_set(("seconds",), -5.0), "training time in seconds"),
    "seconds as text": (_set(("seconds",), "12"), "training time in seconds"),
    "negative loss": (_set(("start_loss",), -1.0), "start loss"),
    "absurd iteration": (_set(("iteration",), 10**12), "past its history"),
    "cursor past the data": (_set(("order", "cursor"), 10**9), "past its"),
    "α changes not pairs": (_set(("lr_changes",), [[0, 0.01, 3]]), "pairs"),
    "active mask not bools": (_set(("active",), ["yes"] * 10), "active-unit mask"),
    "failure without its loss": (_set(("failure",), {"kind": "exploded", "iteration": 3, "lr": 0.01}), "failure's loss"),
    "settings not an object": (_set(("config",), [10, 0.01]), "settings must be a JSON object"),
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """(arrays, meta) of a short mini-batch Adam run saved by `train --save`."""
    run = tmp_path_factory.mktemp("run") / "run.npz"
    assert main(["train", *RUN_FLAGS, "--iterations", "20", "--save", str(run)]) == 0
    return data.load_weights(run)


def damaged_file(saved_run, folder, kind):
    arrays, meta = {k: v.copy() for k, v in saved_run[0].items()}, json.loads(json.dumps(saved_run[1]))
    DAMAGED_META[kind][0](arrays, meta)
    path = folder / "damaged.npz"
    data.save_weights(path, arrays, meta)
    return path


@pytest.mark.parametrize("kind", DAMAGED_META)
def test_damaged_run_metadata_is_refused_by_evaluate_and_resume(saved_run, tmp_path, capsys, kind):
    """evaluate and train --resume refuse a run whose metadata is damaged: one line naming it, exit 2, no training."""
    path = damaged_file(saved_run, tmp_path, kind)
    for args in (["evaluate", "--weights", str(path), "--data", "sample"],
                 ["train", "--data", "sample", "--resume", str(path), "--iterations", "30"]):
        capsys.readouterr()
        assert main(args) == 2
        out, err = capsys.readouterr()
        assert DAMAGED_META[kind][1] in err and "damaged.npz" in err, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "training" not in out


@pytest.mark.parametrize("kind", DAMAGED_META)
def test_damaged_run_metadata_is_refused_by_the_apps_upload(saved_run, tmp_path, kind):
    """The app's upload reader (dashboard.export.read_weights) refuses the same files with the same sentence."""
    from dashboard import export

    path = damaged_file(saved_run, tmp_path, kind)
    with pytest.raises(ValueError) as error:
        export.read_weights(path.read_bytes(), "upload.npz")
    assert DAMAGED_META[kind][1] in str(error.value) and "upload.npz" in str(error.value)
    assert "\n" not in str(error.value)


def test_meta_that_is_not_json_is_refused(saved_run, tmp_path, capsys):
    """A run file whose metadata is not JSON is refused by evaluate, resume and the app's upload."""
    from dashboard import export

    path = tmp_path / "bad.npz"
    np.savez(path, **saved_run[0], meta=np.frombuffer(b"{not json", np.uint8))
    for args in (["evaluate", "--weights", str(path), "--data", "sample"],
                 ["train", "--data", "sample", "--resume", str(path), "--iterations", "30"]):
        assert main(args) == 2
        assert "not valid JSON" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not valid JSON"):
        export.read_weights(path.read_bytes(), "upload.npz")


def test_resume_from_an_old_weights_file_starts_from_its_weights(tmp_path, capsys):
    """A weights-only file (older digit-lab) still loads: training starts from those weights at iteration 0."""
    run, old = tmp_path / "run.npz", tmp_path / "old.npz"
    assert main(["train", "--data", "sample", "--iterations", "30", "--lr", "0.5", "--save", str(run)]) == 0
    arrays, _ = data.load_weights(run)
    data.save_weights(old, {k: arrays[k] for k in ("W1", "b1", "W2", "b2")}, {"config": {}, "iteration": 30})
    capsys.readouterr()
    assert main(["train", "--data", "sample", "--resume", str(old), "--iterations", "5"]) == 0
    out = capsys.readouterr().out
    assert "weights only" in out and "(5 iterations" in out
    assert float(out.split("train accuracy ")[1].split()[0]) > 0.5  # from 30 trained iterations, not from scratch


def test_preset_and_flags_override(tmp_path):
    """A preset sets the defaults and explicit flags win over it."""
    path = tmp_path / "m.json"
    assert main(["train", "--data", "sample", "--preset", "fast-10", "--iterations", "10",
                 "--batch-size", "full", "--metrics-json", str(path)]) == 0
    config = json.loads(path.read_text())["config"]
    assert config["optimizer"] == "adam" and config["batch_size"] is None and config["iterations"] == 10


def test_momentum_flag_switches_optimizer(tmp_path):
    """--momentum 0.9 with no --optimizer trains with momentum."""
    path = tmp_path / "m.json"
    assert main(["train", "--data", "sample", "--iterations", "5", "--momentum", "0.9",
                 "--metrics-json", str(path)]) == 0
    assert json.loads(path.read_text())["config"]["optimizer"] == "momentum"


def test_divergence_exits_1_with_reason(tmp_path, capsys):
    """A run that blows up stops with a plain reason on stderr, exit 1, diverged in the JSON, its failing step last."""
    path = tmp_path / "m.json"
    assert main(["train", "--data", "sample", "--iterations", "100", "--lr", "1000",
                 "--train-size", "500", "--metrics-json", str(path)]) == 1
    report = json.loads(path.read_text())
    assert report["diverged"] and "Try α ≤ 500" in report["diverged"]
    assert report["failure"]["kind"] in ("exploded", "diverged", "dead") and report["failure"]["lr"] == 1000
    assert report["history"][-1]["iteration"] == report["failure"]["iteration"] == report["final"]["iterations"]
    assert report["last_healthy"] == report["history"][-2]
    assert "stopped:" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["train", "--hidden", "0"], "hidden size must be 1..512"),
    (["train", "--lr", "-1"], "learning rate must be > 0"),
    (["train", "--batch-size", "abc"], "expected 'full' or a positive integer"),
    (["train", "--data", "no/such/file.csv"], "no/such/file.csv"),
    (["train", "--mode", "fancy"], "invalid choice"),
    (["train", "--dev-size", "20000"], "dev size"),
    (["evaluate", "--weights", "missing.npz", "--data", "sample"], "missing.npz"),
    (["frobnicate"], "invalid choice"),
    (["train", "--workers", "0"], "--workers must be a whole number >= 1, got '0'"),
    (["evaluate", "--weights", "w.npz", "--workers", "many"], "--workers must be a whole number >= 1"),
])
def test_bad_input_one_line_exit_2(args, message):
    """Bad arguments or input: one line on stderr naming the problem, exit code 2, no traceback."""
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_bad_csv_names_row_and_column(tmp_path):
    """A malformed Kaggle CSV gets its row, column and value on one stderr line, exit 2."""
    bad = tmp_path / "train.csv"
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    bad.write_text(header + "\n" + "3," + ",".join(["0"] * 783 + ["300"]) + "\n")
    out = run_cli("train", "--data", str(bad))
    assert out.returncode == 2 and "pixel783" in out.stderr and "300" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_weights_with_wrong_shape_are_refused(tmp_path):
    """evaluate on a weights file with a bad shape says which array is wrong, exit 2."""
    path = tmp_path / "w.npz"
    data.save_weights(path, {"W1": np.zeros((3, 784)), "b1": np.zeros((3, 1)), "W2": np.zeros((10, 4)),
                             "b2": np.zeros((10, 1))}, {"config": {}})
    out = run_cli("evaluate", "--weights", str(path), "--data", "sample")
    assert out.returncode == 2 and "W2 has shape" in out.stderr


def test_notebook_run_reproduces_95_percent():
    """The notebook's setting (3,000 rows, α = 1, 1,000 iterations) reaches ~95% training accuracy."""
    from core import PRESETS, Trainer

    config = PRESETS["notebook"]
    parts = data.split(data.load_sample(), dev_size=1000, train_size=3000, seed=config.seed)
    t = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    t.step(1000)
    assert t.failure is None
    assert t.final_metrics()["train_accuracy"] >= 0.93
    assert t.final_metrics()["dev_accuracy"] >= 0.85


def test_full_mnist_preset_reaches_90_percent(shared_mnist, tmp_path):
    """On full MNIST the corrected 784-10-10 (fast-10) reaches ≥ 90% dev, and ≥ 90% on the test files."""
    weights, metrics = tmp_path / "w.npz", tmp_path / "m.json"
    assert main(["train", "--data", str(shared_mnist), "--preset", "fast-10", "--iterations", "1500",
                 "--save", str(weights), "--metrics-json", str(metrics)]) == 0
    final = json.loads(metrics.read_text())["final"]
    assert final["dev_accuracy"] >= 0.90
    out = run_cli("evaluate", "--weights", str(weights), "--data", str(shared_mnist))
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("accuracy ")[1].split()[0])
    assert accuracy >= 0.90


def test_app_passes_streamlit_options_through(monkeypatch):
    """`digit-lab app --server.port N` runs `streamlit run dashboard/app.py --server.port N`."""
    import dashboard.cli as cli

    calls = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 0)
    assert main(["app", "--server.port", "8502"]) == 0
    (cmd, env), = calls
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4].endswith("dashboard/app.py")
    assert cmd[5:] == ["--server.port", "8502"] and env["OPENBLAS_NUM_THREADS"]


def test_unknown_option_of_train_is_refused():
    """An option train does not know is one line on stderr, exit 2 (only app passes options on)."""
    out = run_cli("train", "--server.port", "1")
    assert out.returncode == 2 and "unrecognized arguments: --server.port" in out.stderr


def test_export_script_prints_what_train_printed(tmp_path, capsys):
    """`digit-lab export RUN.npz -o run.py`: the script, run on its own, prints train's final figures."""
    weights, script = tmp_path / "w.npz", tmp_path / "run.py"
    assert main(["train", "--data", "sample", "--iterations", "30", "--optimizer", "momentum", "--lr", "0.05",
                 "--batch-size", "256", "--lr-decay", "0.01", "--seed", "4", "--save", str(weights)]) == 0
    trained = capsys.readouterr().out
    assert main(["export", str(weights), "-o", str(script)]) == 0
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr

    assert final_figures(out.stdout) == final_figures(trained)


def final_figures(output: str) -> str:
    """The figures of the last "final:" line (train's also gives seconds, the script's does not)."""
    return [line for line in output.splitlines() if line.startswith("final:")][-1].split("  (")[0]


def test_export_of_a_resumed_run_replays_its_alpha_change(tmp_path, capsys):
    """A run resumed with a new α (an α change in the run file) exports to a script with the same final figures."""
    first, second, script = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "run.py"
    assert main(["train", "--data", "sample", "--iterations", "20", "--lr", "0.5", "--save", str(first)]) == 0
    assert main(["train", "--data", "sample", "--resume", str(first), "--iterations", "40", "--lr", "0.1",
                 "--save", str(second)]) == 0
    resumed = capsys.readouterr().out
    assert main(["export", str(second), "-o", str(script)]) == 0
    assert "LR_CHANGES = [[0, 0.5], [20, 0.1]]" in script.read_text()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert final_figures(out.stdout) == final_figures(resumed)


def test_export_notebook(tmp_path):
    """--format ipynb writes a valid nbformat 4 notebook with the run's settings written in."""
    import nbformat

    weights, notebook = tmp_path / "w.npz", tmp_path / "run.json"
    assert main(["train", "--data", "sample", "--preset", "notebook", "--iterations", "5", "--save", str(weights)]) == 0
    assert main(["export", str(weights), "--format", "ipynb", "-o", str(notebook)]) == 0
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert "ITERATIONS = 5 " in code and "TRAIN_SIZE = 3000 " in code and "DTYPE = np.float64" in code


@pytest.mark.parametrize("meta, output, message", [
    ({"saved_by": "someone"}, "run.py", "no training settings"),
    ({"config": {"hidden": -1}}, "run.py", "settings are not usable"),
    ({"config": {}, "iteration": 3}, "run.txt", "--format py or --format ipynb"),
])
def test_export_refuses_in_one_line(tmp_path, meta, output, message):
    """A file without usable settings, or an output of unknown kind: one stderr line, exit 2, nothing written."""
    path = tmp_path / "w.npz"
    data.save_weights(path, {"W1": np.zeros((3, 784))}, meta)
    out = run_cli("export", str(path), "-o", str(tmp_path / output))
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert not (tmp_path / output).exists()


def test_workers_flag_sizes_the_compute_pool(tmp_path):
    """`train --workers 1` runs on a pool of one worker; without the flag the pool has every core."""
    from core import pool

    try:
        assert main(["train", "--data", "sample", "--iterations", "3", "--workers", "1"]) == 0
        assert pool.workers() == 1
        assert main(["train", "--data", "sample", "--iterations", "3"]) == 0
        assert pool.workers() == pool.default_workers()
    finally:
        pool.set_workers(None)


def test_bad_workers_setting_in_the_environment_is_one_line(monkeypatch):
    """DIGIT_LAB_WORKERS=abc: one line on stderr naming the variable, exit 2, no traceback."""
    monkeypatch.setenv("DIGIT_LAB_WORKERS", "abc")
    out = run_cli("train", "--data", "sample", "--iterations", "1")
    assert out.returncode == 2 and "DIGIT_LAB_WORKERS must be a whole number" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("flags, every", [([], 10), (["--batch-size", "128"], 100), (["--batch-size", "full"], 10),
                                          (["--batch-size", "128", "--eval-every", "7"], 7),
                                          (["--preset", "fast-10"], 250)])
def test_train_evaluates_as_the_app_does_unless_told(tmp_path, flags, every):
    """Without --eval-every a run evaluates as the app's does (every 10 at full batch, every 100 at batch 128);
    the flag and a preset's own setting win."""
    metrics = tmp_path / "m.json"
    assert main(["train", "--data", "sample", "--train-size", "1000", "--iterations", "0", *flags,
                 "--metrics-json", str(metrics)]) == 0
    assert json.loads(metrics.read_text())["config"]["eval_every"] == every


def test_train_keeps_raw_pixels_and_matches_the_float_split(tmp_path):
    """The CLI trains on the uint8 split; its history equals a Trainer's on the float split (float32 tolerance)."""
    from core import TrainConfig, Trainer

    metrics = tmp_path / "m.json"
    assert main(["train", "--data", "sample", "--iterations", "20", "--eval-every", "10", "--batch-size", "64",
                 "--metrics-json", str(metrics)]) == 0
    rows = json.loads(metrics.read_text())["history"]
    config = TrainConfig().with_(iterations=20, eval_every=10, batch_size=64)
    parts = data.split(data.load_sample(), dev_size=config.dev_size, train_size=config.train_size, seed=config.seed)
    t = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    t.step(20)
    for got, want in zip(rows, t.history.rows, strict=True):
        assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
        assert got["dev_acc"] == pytest.approx(want["dev_acc"], abs=2e-3)
