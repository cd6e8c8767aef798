"""Where one live tick's time goes, in this process: training, figure building, Plotly JSON (json vs orjson).

Run: `python -m tests.dashboard.bench_tick [--hidden 10] [--repeats 30]`. Prints medians in ms; asserts nothing.
The websocket send and the browser's drawing are measured by tests/dashboard/bench_views.py.
"""

from __future__ import annotations

import argparse
import statistics
import time

import plotly.io as pio

import data
from core import TrainConfig, Trainer
from dashboard.charts import figures as charts
from dashboard.runs import history as runs, session, state
from dashboard.runs.state import Lab
from dashboard.runs.store import new_id


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--iterations", type=int, default=2000, help="history length (evaluations every 10)")
    args = parser.parse_args()
    parts = data.split(data.load_sample(), dev_size=1000, seed=0)
    trainer = Trainer(TrainConfig(hidden=args.hidden, iterations=None, batch_size=128), parts.X_train,
                      parts.y_train, parts.X_dev, parts.y_dev)
    trainer.step(args.iterations)
    h = trainer.history
    x = h.column("iteration")

    def figures():
        loss = charts.curves_figure(x, h.column("train_loss"), h.column("dev_loss"), trainer.lr_changes, "loss")
        acc = charts.curves_figure(x, h.column("train_acc"), h.column("dev_acc"), trainer.lr_changes, "accuracy")
        weights = charts.weights_figure(trainer.params.W1, trainer.dead_units())
        return loss, acc, weights

    built = figures()
    step = median_ms(lambda: trainer.step(1), args.repeats)
    print(f"h = {args.hidden}, {len(h):,} evaluations on the curves, sample, batch 128 ({trainer.m:,} rows)")
    print(f"one training step:        {step:7.2f} ms")
    print(f"build 3 live figures:     {median_ms(figures, args.repeats):7.2f} ms")
    for engine in ("json", "orjson"):
        ms = median_ms(lambda: [pio.to_json(f, validate=False, engine=engine) for f in built], args.repeats)
        size = sum(len(pio.to_json(f, validate=False, engine=engine)) for f in built)
        print(f"Plotly JSON ({engine:6}):     {ms:7.2f} ms for {size / 1000:.0f} kB")
    ms = median_ms(lambda: pio.to_json(built[2], validate=False, engine="json"), args.repeats)
    print(f"  of which weight maps:   {ms:7.2f} ms (json)")
    lab = Lab(state.train_worker(trainer, None), TrainConfig(iterations=None), "sample", parts_dataset(), parts)
    history = runs.RunHistory()
    for _ in range(5):
        history.add(runs.from_trainer(trainer, "sample"))
    payload = session.session_bytes(session.Kept(new_id(), None, lab, history, {}))
    print(f"session bytes (run + 5 runs of history): {median_ms(lambda: session.session_bytes(session.Kept(new_id(), None, lab, history, {})), 10):7.2f} ms,"
          f" {len(payload) / 1e6:.2f} MB")


def parts_dataset():
    return data.load_sample()


if __name__ == "__main__":
    main()
