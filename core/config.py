"""Training settings as one frozen dataclass, and the named presets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from core.activations import ACTIVATIONS
from core.model import NOTEBOOK_QUIRKS, Quirks
from core.optim import OPTIMIZERS

MODES = ("corrected", "notebook")
MAX_HIDDEN = 512
EVAL_EXAMPLES = 10_000  # a mini-batch run evaluates about once per this many training examples (eval_every_for)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. `batch_size=None` means full-batch."""

    hidden: int = 10
    activation: str = "relu"  # the hidden layer's g: relu (the notebook), identity, sigmoid, tanh
    lr: float = 0.1
    iterations: int | None = 500  # None: no stop (train until told to stop)
    batch_size: int | None = None
    optimizer: str = "plain"
    momentum: float = 0.9  # beta1 for momentum and Adam
    lr_decay: float = 0.0  # lr_t = lr / (1 + lr_decay * t)
    mode: str = "corrected"
    notebook_m: int = 42_000  # the notebook's global m: rows of the Kaggle train.csv
    quirks: Quirks | None = None  # None: derived from `mode`; set to switch quirks one by one
    seed: int = 0
    dev_size: int = 1000
    train_size: int | None = None
    eval_every: int = 10

    def __post_init__(self):
        checks = [
            (1 <= self.hidden <= MAX_HIDDEN, f"hidden size must be 1..{MAX_HIDDEN}, got {self.hidden}"),
            (self.activation in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}, "
                                             f"got {self.activation!r}"),
            (self.lr > 0 and self.lr == self.lr, f"learning rate must be > 0, got {self.lr}"),
            (self.iterations is None or self.iterations >= 0, f"iterations must be >= 0 or None, got {self.iterations}"),
            (self.batch_size is None or self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (self.lr_decay >= 0, f"lr decay must be >= 0, got {self.lr_decay}"),
            (self.mode in MODES, f"mode must be one of {', '.join(MODES)}, got {self.mode!r}"),
            (self.notebook_m >= 1, f"the notebook's m must be >= 1, got {self.notebook_m}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (self.dev_size >= 1, f"dev size must be >= 1, got {self.dev_size}"),
            (self.train_size is None or self.train_size >= 1, f"train size must be >= 1, got {self.train_size}"),
            (self.eval_every >= 1, f"eval every must be >= 1, got {self.eval_every}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def effective_quirks(self) -> Quirks:
        """The quirks in force: explicit ones, else the notebook's in notebook mode, else none."""
        if self.quirks is not None:
            return self.quirks
        return replace(NOTEBOOK_QUIRKS, global_m=self.notebook_m) if self.mode == "notebook" else Quirks()

    @property
    def dtype(self) -> str:
        """float64 in notebook mode (as NumPy defaults to), float32 otherwise."""
        return "float64" if self.mode == "notebook" else "float32"

    def with_(self, **changes) -> TrainConfig:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict:
        """Plain JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Inverse of `to_dict`, checking each value's type (JSON from a file may hold anything).

        Raises: ValueError naming an unknown key or the setting with a wrong type or bad value.
        """
        if not isinstance(values, dict):
            raise ValueError(f"settings must be a JSON object, found {type(values).__name__}")
        values = dict(values)
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        for field in fields(cls):
            if field.name in values and field.name != "quirks":
                _check_type(field.name, values[field.name], field.type)
        if values.get("quirks") is not None:
            values["quirks"] = _quirks_from(values["quirks"])
        return cls(**values)


def _check_type(name: str, value, annotation: str) -> None:
    """Raise ValueError unless `value` has the type `annotation` ("int", "float | None", ...) names.

    Whole numbers are ints (not bools, not 3.0); floats are finite numbers; the dataclass's own
    checks then judge the range.
    """
    kind, optional = annotation.split(" |")[0], annotation.endswith("| None")
    if value is None and optional:
        return
    ok = {"int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
          "str": lambda v: isinstance(v, str),
          "bool": lambda v: isinstance(v, bool)}[kind](value)
    if not ok:
        what = {"int": "a whole number", "float": "a finite number", "str": "text", "bool": "true or false"}[kind]
        raise ValueError(f"setting {name} must be {what}{' or null' if optional else ''}, found {value!r}")


def _quirks_from(values) -> Quirks:
    """A Quirks from its JSON object, each switch checked. Raises: ValueError naming a bad one."""
    if not isinstance(values, dict):
        raise ValueError(f"setting quirks must be a JSON object or null, found {values!r}")
    unknown = set(values) - {f.name for f in fields(Quirks)}
    if unknown:
        raise ValueError(f"unknown quirk(s): {', '.join(sorted(unknown))}")
    for field in fields(Quirks):
        if field.name in values:
            _check_type(f"quirks.{field.name}", values[field.name], field.type)
    if values.get("global_m") is not None and values["global_m"] < 1:
        raise ValueError(f"setting quirks.global_m must be >= 1, found {values['global_m']}")
    return Quirks(**values)


# Named settings. "notebook" is the original run. The fast ones were tuned with tests/bench.py
# on MNIST's 59,000 training rows and reach their targets on the 10k test images (seed 0; the
# README gives the spread over seeds: a 10-unit network is at the mercy of its initial weights).
PRESETS: dict[str, TrainConfig] = {
    "notebook": TrainConfig(mode="notebook", lr=1.0, iterations=1000, train_size=3000, eval_every=10),
    "fast-10": TrainConfig(hidden=10, optimizer="adam", lr=0.01, lr_decay=0.0005, batch_size=128,
                           iterations=4000, eval_every=250),
    "fast-128": TrainConfig(hidden=128, optimizer="adam", lr=0.001, lr_decay=0.0002, batch_size=64,
                            iterations=20000, eval_every=1000),
}


def eval_every_for(batch_size: int | None) -> int:
    """Iterations between a run's evaluations: 10 at full batch, as the notebook prints; with mini-batches
    once per about EVAL_EXAMPLES training examples, rounded up to 1, 2 or 5 x 10^k, and never under 10.

    An evaluation reads up to 11,000 rows (10,000 training rows and the dev set). Every 10 steps of 128
    rows that took 70% of a run's time; once per 100 steps it takes about a quarter.
    """
    if batch_size is None or batch_size < 1:  # full batch (below 1: TrainConfig says why it is wrong)
        return 10
    want = max(10, math.ceil(EVAL_EXAMPLES / batch_size))
    power = 10 ** (len(str(want)) - 1)  # want's leading power of ten: 79 -> 10
    return next(m * power for m in (1, 2, 5, 10) if m * power >= want)


def preset(name: str) -> TrainConfig:
    """A preset by name. Raises: ValueError listing the names."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]
