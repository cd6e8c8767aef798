"""The `digit-lab` command line: train, evaluate, download, export, app.

Bad arguments or bad input end with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import data
from core import PRESETS, Params, RunState, TrainConfig, Trainer, confusion_matrix
from core.config import eval_every_for
from core.model import evaluate
from core.run import json_ready, last_healthy, read as read_run
from dashboard.threads import configure_threads
from dashboard.words import failure_advice, failure_text

PLOTLY_JS = "plotly-js"  # `digit-lab download plotly-js`: the app's cartesian plotly.js bundle (its own cache)
SOURCES_HELP = ("sample (bundled), mnist, mnist-test, fashion-mnist, fashion-mnist-test, "
                "a Kaggle CSV (.csv/.csv.gz/.zip), a folder of IDX files, or an .npz with X and y")


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse that reports errors in one line instead of usage plus message."""

    def error(self, message):
        raise UsageError(message)


def batch_size(text: str) -> int | None:
    """`full` -> None (full-batch), else a positive integer."""
    if text == "full":
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected 'full' or a positive integer, got {text!r}")
    return int(text)


def workers(text: str) -> int:
    """A positive number of compute threads."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--workers must be a whole number >= 1, got {text!r}")
    return int(text)


def build_parser() -> Parser:
    """All sub-commands and their options."""
    parser = Parser(prog="digit-lab", description="Train and inspect a from-scratch NumPy digit network.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = commands.add_parser("train", help="train a network and report dev accuracy")
    train.add_argument("--data", default="sample", help=SOURCES_HELP)
    train.add_argument("--split", choices=["train", "test"], default="train", help="IDX folder: train-* or t10k-* files")
    train.add_argument("--data-dir", type=Path, help="download cache (default: $DIGIT_LAB_DATA or ~/.cache/digit-lab)")
    train.add_argument("--preset", choices=sorted(PRESETS), help="named settings; other flags override them")
    train.add_argument("--save", type=Path, help="write the run (weights and everything needed to resume) to this .npz")
    train.add_argument("--resume", type=Path, help="continue a run saved with --save (or by the app) up to "
                                                   "--iterations in all; --data must be the data it was trained on")
    train.add_argument("--metrics-json", type=Path, help="write config, final metrics and history as JSON")
    train.add_argument("--workers", type=workers, help="compute threads (default: $DIGIT_LAB_WORKERS, else every core)")
    train.argument_default = argparse.SUPPRESS  # settings not given stay as the preset has them
    train.add_argument("--hidden", type=int)
    train.add_argument("--lr", type=float, help="learning rate α")
    train.add_argument("--iterations", type=int)
    train.add_argument("--batch-size", type=batch_size, help="'full' (default) or a mini-batch size")
    train.add_argument("--optimizer", choices=["plain", "momentum", "adam"])
    train.add_argument("--momentum", type=float, help="momentum β; > 0 with the plain optimizer means momentum")
    train.add_argument("--lr-decay", type=float, help="lr / (1 + decay · iteration)")
    train.add_argument("--mode", choices=["corrected", "notebook"])
    train.add_argument("--notebook-m", type=int, help="notebook mode: the global m gradients are divided by (42000)")
    train.add_argument("--seed", type=int)
    train.add_argument("--dev-size", type=int)
    train.add_argument("--train-size", type=int)
    train.add_argument("--eval-every", type=int, help="updates between evaluations (default: 10 at full batch, "
                       "with mini-batches about once per 10,000 examples: every 100 at --batch-size 128)")

    evaluate_ = commands.add_parser("evaluate", help="loss, accuracy and confusion matrix of saved weights")
    evaluate_.add_argument("--weights", type=Path, required=True)
    evaluate_.add_argument("--data", default="mnist-test", help=SOURCES_HELP)
    evaluate_.add_argument("--split", choices=["train", "test"], default="test")
    evaluate_.add_argument("--data-dir", type=Path)
    evaluate_.add_argument("--workers", type=workers, help="compute threads (default: every core)")

    download = commands.add_parser("download", help="fetch a dataset (or the app's plotly.js) into the cache, "
                                    "checksum-verified")
    download.add_argument("dataset", choices=[*sorted(data.DATASETS), PLOTLY_JS])
    download.add_argument("--data-dir", type=Path)

    export = commands.add_parser("export", help="write a saved run as a notebook or script that retrains it")
    export.add_argument("run", type=Path, help="an .npz saved by `digit-lab train --save` or the app")
    export.add_argument("--format", choices=["py", "ipynb"], help="default: from the -o file's suffix")
    export.add_argument("-o", "--output", type=Path, required=True)

    app = commands.add_parser("app", help="start the dashboard (extra arguments go to streamlit run)")
    app.set_defaults(streamlit_args=[])  # filled from the arguments argparse does not know (main)
    return parser


CONFIG_FLAGS = ("hidden", "lr", "iterations", "batch_size", "optimizer", "momentum", "lr_decay", "mode",
                "notebook_m", "seed", "dev_size", "train_size", "eval_every")


def config_from(args, base: TrainConfig | None = None) -> TrainConfig:
    """`base` (default: the preset, or the defaults) with every flag the user gave on top.

    Raises: ValueError for a setting out of range.
    """
    changes = {name: getattr(args, name) for name in CONFIG_FLAGS if hasattr(args, name)}
    if base is None:
        base = PRESETS[args.preset] if args.preset else TrainConfig()
        if not args.preset and "eval_every" not in changes:  # as the app's: evaluating costs a quarter at most
            changes["eval_every"] = eval_every_for(changes.get("batch_size"))
    if "momentum" in changes and "optimizer" not in changes and base.optimizer != "adam":
        changes["optimizer"] = "momentum" if changes["momentum"] > 0 else "plain"
    return base.with_(**changes)


class Progress:
    """A one-line progress bar on a terminal; silent when stderr is not one."""

    def __init__(self, total: float, label: str):
        self.total, self.label, self.live = max(total, 1), label, sys.stderr.isatty()

    def show(self, done: float, note: str = "") -> None:
        if self.live:
            filled = int(30 * min(done / self.total, 1))
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {note}\x1b[K")
            sys.stderr.flush()

    def close(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[K")


def load(args, split: str) -> data.Dataset:
    """The dataset named by --data, downloading a known one with a progress bar if missing."""
    bar = Progress(1, "download")
    dataset = data.load_source(args.data, split=split, data_dir=args.data_dir,
                               progress=lambda done, total, name: (setattr(bar, "total", max(total, 1)),
                                                                   bar.show(done, name)))
    bar.close()
    return dataset


def fmt(value: float) -> str:
    return "   n/a" if math.isnan(value) else f"{value:.4f}"


# What a resumed run may change: the stop and α (recorded as an α change). The rest decides the run.
RESUME_FLAGS = ("iterations", "lr")


def resumed(args) -> RunState | Params:
    """The run (or, from an older file, the weights) that --resume names.

    Raises: ValueError naming the file and what is wrong; UsageError for a flag that would change the run.
    """
    arrays, meta = data.load_weights(args.resume)
    try:
        saved = read_run(arrays, meta)
    except ValueError as error:
        raise ValueError(f"{args.resume}: cannot resume: {error}") from None
    if isinstance(saved, RunState):
        changed = changed_settings(args, saved.config)
        if changed:
            raise UsageError(f"{', '.join(changed)} would change the resumed run (its settings decide it); "
                             f"repeat its own values or leave them out, only --iterations and --lr can change")
    elif hasattr(args, "hidden") and args.hidden != saved.hidden:
        raise UsageError(f"--hidden {args.hidden} does not fit {args.resume}, whose weights have {saved.hidden} "
                         f"hidden units")
    return saved


def changed_settings(args, run: TrainConfig) -> list[str]:
    """Each flag (or the preset) whose value differs from the run's own setting, with both values.

    A flag repeated with the run's value changes nothing and is not listed: people resume with the
    command they trained with. The preset counts for the settings no flag overrides.
    """
    base = PRESETS[args.preset] if args.preset else run
    asked = config_from(args, base)
    changed = []
    for name in CONFIG_FLAGS:
        if name in RESUME_FLAGS or getattr(asked, name) == getattr(run, name):
            continue
        given = name if hasattr(args, name) else "momentum" if name == "optimizer" and hasattr(args, "momentum") else None
        flag = f"--{given.replace('_', '-')} {shown(getattr(args, given))}" if given else f"--preset {args.preset}"
        changed.append(f"{flag} (the run's {name.replace('_', ' ')}: {shown(getattr(run, name))})")
    return changed


def shown(value) -> str:
    """A setting as it is typed on the command line (None batch size: full)."""
    return "full" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def start(args) -> tuple[Trainer, data.Split]:
    """A new trainer from the flags, or the resumed run on its data."""
    state = resumed(args) if args.resume else None
    if isinstance(state, RunState):
        config = state.config
    else:
        config = config_from(args)
    dataset = load(args, args.split)
    parts = data.split(dataset, dev_size=config.dev_size, train_size=config.train_size, seed=config.seed,
                       raw=True)  # uint8 pixels: a quarter of the memory, scaled per chunk by core
    del dataset  # the split is all training needs
    if isinstance(state, RunState):
        try:
            trainer = Trainer.from_state(state, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
        except ValueError as error:
            raise ValueError(f"{args.resume}: {error}") from None
        trainer.set_stop(getattr(args, "iterations", state.config.iterations))
        if hasattr(args, "lr"):
            trainer.set_lr(args.lr)
        print(f"resuming {args.resume} at iteration {trainer.iteration:,}")
    else:
        trainer = Trainer(config.with_(hidden=state.hidden) if state else config, parts.X_train, parts.y_train,
                          parts.X_dev, parts.y_dev, params=state)
        if state:
            print(f"{args.resume} holds weights only: training starts from them at iteration 0")
    return trainer, parts


def run_train(args) -> int:
    """Train with the chosen settings, print progress and final metrics; 1 if training failed."""
    trainer, parts = start(args)
    config = trainer.config
    if config.iterations is None:
        raise UsageError("the saved run has no stop: give --iterations")
    print(f"training {config.mode} 784-{config.hidden}-10 on {trainer.m:,} rows, dev {parts.y_dev.size:,}; "
          f"{config.optimizer}, α = {trainer.lr:g}, batch {config.batch_size or 'full'}, "
          f"{config.iterations} iterations")
    bar = Progress(config.iterations, "training")
    print_row(trainer.history.last)
    while not trainer.done:
        trainer.step(config.eval_every - trainer.iteration % config.eval_every)
        if trainer.history.last["iteration"] == trainer.iteration:
            bar.close()
            print_row(trainer.history.last)
        bar.show(trainer.iteration, f"{trainer.iteration}/{config.iterations}")
    bar.close()
    final = trainer.final_metrics()
    failure = trainer.failure
    if failure:
        print(f"stopped: {failure_text(failure)}. {failure_advice(failure)}".rstrip(), file=sys.stderr)
    print(f"final: train loss {fmt(final['train_loss'])}  train accuracy {fmt(final['train_accuracy'])}  "
          f"dev loss {fmt(final['dev_loss'])}  dev accuracy {fmt(final['dev_accuracy'])}  "
          f"({final['iterations']} iterations, {final['seconds']:.1f} s)")
    if args.save:
        arrays, meta = trainer.state().to_arrays()
        data.save_weights(args.save, arrays, {**meta, "data": args.data})
        print(f"run saved to {args.save} (resume it with --resume)")
    if args.metrics_json:
        # A failed run's history ends with its failing step (the state "final" measures); the row before is the
        # last healthy one.
        rows = trainer.history.rows
        report = {"config": trainer.state().config.to_dict(), "final": final, "history": rows,
                  "last_healthy": last_healthy(failure, rows, trainer.rewind_point),
                  "diverged": f"{failure_text(failure)}. {failure_advice(failure)}" if failure else None,
                  "failure": failure.to_dict() if failure else None, "lr_changes": trainer.lr_changes}
        args.metrics_json.write_text(json.dumps(json_ready(report), indent=1))
    return 1 if trainer.failure else 0


def print_row(row: dict) -> None:
    print(f"iteration {row['iteration']:>6}  loss {fmt(row['train_loss'])}  train acc {fmt(row['train_acc'])}"
          f"  dev acc {fmt(row['dev_acc'])}", flush=True)


def run_evaluate(args) -> int:
    """Loss, accuracy and confusion matrix of saved weights on a dataset."""
    arrays, meta = data.load_weights(args.weights)
    try:
        saved = read_run(arrays, meta)
    except ValueError as error:
        raise ValueError(f"{args.weights}: {error}") from None
    params = saved.params if isinstance(saved, RunState) else saved
    dataset = load(args, args.split)
    if dataset.labels is None:
        raise UsageError(f"{args.data} has no labels: evaluate needs a labelled dataset")
    X = data.to_columns(dataset.images)
    loss, acc, preds, _ = evaluate(params, X, dataset.labels)
    print(f"{dataset.name}: {len(dataset):,} images, 784-{params.hidden}-10 weights from {args.weights}")
    print(f"loss {loss:.4f}  accuracy {acc:.4f}")
    print("confusion matrix (rows: true digit, columns: predicted)")
    C = confusion_matrix(dataset.labels, preds)
    print("      " + "".join(f"{k:>6}" for k in range(10)))
    for k, row in enumerate(C):
        print(f"{k:>6}" + "".join(f"{v:>6}" for v in row))
    return 0


def run_download(args) -> int:
    """Download a dataset into the cache with a progress bar, or the app's cartesian plotly.js bundle."""
    if args.dataset == PLOTLY_JS:
        from dashboard.charts.livechart import plotlyjs

        print(f"plotly.js's cartesian bundle is in {plotlyjs.fetch()}; the app serves it from its next start")
        return 0
    bar = Progress(1, args.dataset)

    def progress(done, total, name):
        bar.total = max(total, 1)
        bar.show(done, f"{name} {done / 1e6:.1f}/{total / 1e6:.1f} MB")

    path = data.download(args.dataset, data_dir=args.data_dir, progress=progress)
    bar.close()
    print(f"{args.dataset} is in {path}")
    return 0


def run_export(args) -> int:
    """Write the run saved in args.run as a Jupyter notebook or a .py script (plain NumPy and pandas)."""
    from dashboard import codegen  # nbformat is only needed here

    kind = args.format or args.output.suffix.removeprefix(".")
    if kind not in ("py", "ipynb"):
        raise UsageError(f"cannot tell the format from {args.output.name}: give --format py or --format ipynb")
    meta = data.load_weights(args.run)[1]  # its errors name the file already
    try:
        recipe = codegen.recipe_from_meta(meta)
    except ValueError as error:
        raise ValueError(f"{args.run}: {error}") from None
    args.output.write_text(codegen.script(recipe) if kind == "py" else codegen.notebook_text(recipe), encoding="utf-8")
    print(f"{args.output}: the run's {recipe.iterations} iterations on {recipe.data} as a "
          f"{'script' if kind == 'py' else 'notebook'}")
    return 0


def run_app(args) -> int:
    """Start the dashboard with streamlit run."""
    app = Path(__file__).with_name("app.py")
    extra = [a for a in args.streamlit_args if a != "--"]  # e.g. --server.port 8502
    env = {"OPENBLAS_NUM_THREADS": "1", **os.environ}  # tiny matmuls: spin-waiting threads only cost
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), *extra], env=env)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `digit-lab` console script."""
    commands = {"train": run_train, "evaluate": run_evaluate, "download": run_download, "export": run_export,
                "app": run_app}
    try:
        args, unknown = build_parser().parse_known_args(argv)
        if unknown and args.command != "app":
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)}")
        args.streamlit_args = unknown
        configure_threads(getattr(args, "workers", None))
        return commands[args.command](args)
    except (UsageError, argparse.ArgumentTypeError) as error:
        print(f"digit-lab: {error}", file=sys.stderr)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError, data.DownloadError) as error:
        print(f"digit-lab: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("digit-lab: interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    sys.exit(main())
