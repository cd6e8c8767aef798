"""Take a run home as code: its settings written into a self-contained Jupyter notebook or .py script.

The code follows the notebook digit-lab grew from (its math in Markdown, then loading, init,
forward, backward, update and the training loop), uses plain NumPy and pandas and never imports
digit-lab. It trains exactly as digit-lab does, so it prints the same final train and dev figures:
the same shuffle and dev/train split (`data.split`), the same two random streams for the initial
weights and the batch order (`core.train`), the same float type, quirks, optimizer and α schedule
(`core.model`, `core.optim`), and its sums in blocks of 1024 columns as digit-lab adds them.
With core/model.py's reference kernel the weights come out bit for bit equal; a faster kernel
that rounds float32 differently moves them by ~1e-7, far below the 4 decimals printed.
Only the code paths this run uses are written out: a corrected Adam run shows no quirk.

Both outputs come from one list of cells: the notebook is built with nbformat and validated; the
script is the same cells in the "percent" format (`# %%`) that Jupyter, VS Code and jupytext read.
"""

from __future__ import annotations

import json
import math
import textwrap
from dataclasses import dataclass, replace

from core.activations import FORMULAS
from core.config import TrainConfig
from core.model import CHUNK, Quirks
from core.run import RunState
from core.train import Trainer
from data.download import DATASETS, dataset_dir
from data.sample import SAMPLE_PATH

ACTIVATION_NAMES = {"relu": "ReLU", "identity": "no activation", "sigmoid": "sigmoid", "tanh": "tanh"}
TRAIN_EVAL_ROWS = 10_000  # core.train.TRAIN_EVAL_ROWS: progress rows evaluate this many training rows
NAMED_SPLITS = {"mnist": "train", "mnist-test": "test", "fashion-mnist": "train", "fashion-mnist-test": "test"}


@dataclass(frozen=True)
class Recipe:
    """What decides a run: its settings, how far it went, its α changes and where its data comes from."""

    config: TrainConfig
    iterations: int  # updates to make: the run's iteration when it was saved
    lr_changes: tuple[tuple[int, float], ...]  # (iteration, α): α from that update on
    data: str = "sample"  # "sample", "mnist", "mnist-test", "fashion-mnist", a CSV/.npz file or an IDX folder
    split: str = "train"  # IDX folders: train-* or t10k-* files
    notes: tuple[str, ...] = ()  # what the file did not say and was assumed
    shown: tuple[float, float, float, float] | None = None  # train loss, accuracy, dev loss, accuracy in digit-lab

    def __post_init__(self):
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if not self.lr_changes or self.lr_changes[0][0] != 0:
            raise ValueError("the α changes must start at iteration 0")
        steps = [i for i, _ in self.lr_changes]
        if steps != sorted(set(steps)) or not all(math.isfinite(lr) and lr > 0 for _, lr in self.lr_changes):
            raise ValueError(f"the α changes must be (iteration, α > 0) in increasing iterations, "
                             f"got {self.lr_changes}")

    @property
    def quirks(self) -> Quirks:
        """The quirks in force."""
        return self.config.effective_quirks


def recipe_from_state(state: RunState, data: str, split: str = "train") -> Recipe:
    """The recipe of a run held as data: its settings, where it is (or where it failed) and its α changes."""
    changes = tuple((int(i), float(lr)) for i, lr in state.lr_changes)
    return Recipe(state.config, int(state.iteration), changes, data, split)


def recipe_from_trainer(trainer: Trainer, data: str, split: str = "train", i: int = 0,
                        figures: bool = False) -> Recipe:
    """The recipe of run i of a live trainer (the app's download button); `figures`: write in its final figures.

    A run of a sweep (N > 1 stacked runs) retrains bit for bit with plain GD and momentum; with
    Adam it matches to about 1e-6 only, because the stacked update computes Adam's step size in
    float32 (a single run's in float64), which the exported single run cannot know.
    """
    recipe = recipe_from_state(trainer.state(i), data, split)
    if not figures:
        return recipe
    final = trainer.run_metrics()[i]  # one pass over the training and dev sets
    shown = tuple(float(final[k]) for k in ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy"))
    return replace(recipe, shown=shown)


def recipe_from_meta(meta: dict) -> Recipe:
    """Read a run's recipe from a weights or run file's meta, in any layout digit-lab has written.

    Layouts: {"config": {...}, "iteration", "lr_changes", "data"} (run files), {"config", "iteration",
    "dataset"} (`digit-lab train --save`), and the dashboard's older files, whose settings sit at
    the top level with the current α as "lr". Raises: ValueError with one sentence.
    """
    if not isinstance(meta, dict):
        raise ValueError("its metadata is not a JSON object")
    notes = []
    if isinstance(meta.get("config"), dict):
        values = meta["config"]
    elif "hidden" in meta:
        values = {k: v for k, v in meta.items() if k in TrainConfig.__dataclass_fields__}
    else:
        raise ValueError("it holds no training settings (no 'config' in its metadata), so there is no run to export")
    try:
        config = TrainConfig.from_dict(values)
    except (ValueError, TypeError) as error:
        raise ValueError(f"its training settings are not usable ({error})") from None
    iteration = meta.get("iteration")
    if not (isinstance(iteration, int) and iteration >= 0):
        if config.iterations is None:
            raise ValueError("it does not say at which iteration the run was saved")
        iteration = config.iterations
        notes.append(f"the file does not say at which iteration it was saved: {iteration}, the configured "
                     f"number, is assumed")
    changes = meta.get("lr_changes")
    if changes is None:
        changes = [[0, config.lr]]
        if "config" not in meta:  # the dashboard's old files: "lr" is the α in force when saved
            notes.append("the file does not record α changes: α is taken as constant")
    try:
        changes = tuple((int(i), float(lr)) for i, lr in changes)
        source = meta.get("data", meta.get("dataset"))
        if source is None:
            source = "sample"
            notes.append("the file does not name its data: the bundled sample is assumed")
        return Recipe(config, iteration, changes, str(source), NAMED_SPLITS.get(str(source), "train"), tuple(notes))
    except (ValueError, TypeError) as error:
        raise ValueError(f"its α changes are not usable ({error})") from None


# ----- the two outputs ---------------------------------------------------------------------------------
def notebook(recipe: Recipe, sample_path: str | None = None):
    """The run as a validated Jupyter notebook (an nbformat 4 NotebookNode); `sample_path`: default the sample."""
    import nbformat  # here, not at the top: importing it takes about 0.3 s, which the app's start need not pay

    new = {"markdown": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb = nbformat.v4.new_notebook(cells=[new[kind](text) for kind, text in cells(recipe, sample_path)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def notebook_text(recipe: Recipe, sample_path: str | None = None) -> str:
    """The notebook as .ipynb text."""
    import nbformat

    return nbformat.writes(notebook(recipe, sample_path))


def script(recipe: Recipe, sample_path: str | None = None) -> str:
    """The run as a .py script: the notebook's cells, Markdown as comments, `# %%` between cells."""
    parts = []
    for kind, text in cells(recipe, sample_path):
        if kind == "markdown":
            lines = [wrapped for line in text.splitlines() for wrapped in comment_lines(line)]
            parts.append("# %% [markdown]\n" + "\n".join(lines))
        else:
            parts.append("# %%\n" + text)
    return "\n\n".join(parts) + "\n"


def comment_lines(line: str, width: int = 100) -> list[str]:
    """A Markdown line as comment lines: paragraphs wrapped, tables, formulas and lists kept whole."""
    if not line.strip():
        return ["#"]
    if line.startswith(("|", "$", "#", "-")) or len(line) <= width - 2:
        return [f"# {line}"]
    return [f"# {part}" for part in textwrap.wrap(line, width - 2, break_on_hyphens=False)]


# ----- the cells ---------------------------------------------------------------------------------------
def cells(recipe: Recipe, sample_path: str | None = None) -> list[tuple[str, str]]:
    """(kind, source) pairs, kind "markdown" or "code", in the notebook's order."""
    sample_path = str(SAMPLE_PATH if sample_path is None else sample_path)
    return [
        ("markdown", intro(recipe)),
        ("markdown", math_text(recipe)),
        ("code", settings_code(recipe, sample_path)),
        ("markdown", LOADING_MD),
        ("code", loading_code(recipe)),
        ("markdown", INIT_MD),
        ("code", init_code(recipe)),
        ("markdown", FORWARD_MD),
        ("code", forward_code(recipe)),
        ("markdown", BACKWARD_MD),
        ("code", backward_code(recipe)),
        ("markdown", UPDATE_MD),
        ("code", update_code(recipe)),
        ("markdown", LOOP_MD),
        ("code", loop_code(recipe)),
        ("code", final_code(recipe)),
    ]


def describe_lr(recipe: Recipe) -> str:
    """α and its changes in words, e.g. "0.1, then 0.05 from iteration 20"."""
    first, *rest = recipe.lr_changes
    text = f"{first[1]:g}" + "".join(f", then {lr:g} from iteration {i}" for i, lr in rest)
    return text + (f", decayed as α / (1 + {recipe.config.lr_decay:g}·t)" if recipe.config.lr_decay else "")


def describe_optimizer(config: TrainConfig) -> str:
    """The update rule in words."""
    return {"plain": "plain gradient descent", "momentum": f"momentum (β = {config.momentum:g})",
            "adam": f"Adam (β1 = {config.momentum:g}, β2 = 0.999, ε = 1e-8)"}[config.optimizer]


def quirk_lines(quirks: Quirks) -> list[str]:
    """One sentence per notebook quirk in force."""
    lines = {
        "double_dZ2": "dZ2 = 2(A2 − Y): the squared error's derivative pasted onto softmax, so every gradient is "
                      "2× too large",
        "global_m": f"gradients divided by a global m = {quirks.global_m or 0:,} (the notebook's: the rows of Kaggle's "
                    "train.csv), not by the batch's own size",
        "uniform_init": "initial weights U[0, 1)·0.01 and biases U[0, 1) instead of He-scaled normal weights and "
                        "zero biases",
        "unshifted_softmax": "softmax as e^Z2 / Σ e^Z2 without subtracting the column's largest logit (overflows "
                             "past ~709)",
        "unscaled_dev": "the dev pixels left at 0..255 while training saw 0..1",
        "train_accuracy_only": "the progress lines report training figures only",
        "one_hot_from_max": "one_hot sized by y.max() + 1: it breaks on a batch without a 9",
    }
    return [text for name, text in lines.items() if getattr(quirks, name)]


def intro(recipe: Recipe) -> str:
    """Title, what this is, and the run's settings as a table."""
    c, quirks = recipe.config, recipe.quirks
    mode = ("notebook (the original notebook's code, quirks and all, in float64)" if c.mode == "notebook"
            else "corrected (textbook gradient descent on mean cross-entropy, float32)")
    rows = [
        ("data", f"`{recipe.data}`" + (f" ({recipe.split} split)" if recipe.split != "train" else "")),
        ("mode", mode),
        ("network", f"784 → {c.hidden} ({ACTIVATION_NAMES[c.activation]}) → 10 (softmax)"),
        ("optimizer", describe_optimizer(c)),
        ("α (learning rate)", describe_lr(recipe)),
        ("batch", "full (every training row in each update)" if c.batch_size is None
         else f"{c.batch_size} rows, reshuffled each epoch"),
        ("iterations", f"{recipe.iterations:,}"),
        ("seed", str(c.seed)),
        ("dev rows / training rows",
         f"{c.dev_size:,} / {'all the rest' if c.train_size is None else f'{c.train_size:,}'}"),
    ]
    table = "\n".join(["| setting | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)])
    text = ("# A digit-lab run, as code\n\n"
            "A network that reads handwritten digits, written from scratch in NumPy and trained on one "
            "of digit-lab's runs. Run every cell (or `python` this file): it retrains the run from its "
            "seed and prints the same final train and dev figures as digit-lab showed for it.\n\n" + table)
    if quirks.any:
        lines = "\n".join(f"- {line}" for line in quirk_lines(quirks))
        text += "\n\nNotebook quirks reproduced on purpose:\n\n" + lines
    if recipe.shown:
        text += ("\n\ndigit-lab showed for this run: " +
                 ", ".join(f"{name} {value:.4f}" for name, value in zip(FIGURES, recipe.shown)) + ".")
    if recipe.notes:
        text += "\n\nNote: " + "; ".join(recipe.notes) + "."
    return text


def math_text(recipe: Recipe) -> str:
    """The notebook's math, with this run's 1/m, dZ2 and update rule."""
    quirks, opt = recipe.quirks, recipe.config.optimizer
    k = rf"\frac{{1}}{{{quirks.global_m}}}" if quirks.global_m else r"\frac{1}{m}"
    dZ2 = r"dZ_2 = 2\,(A_2 - Y)" if quirks.double_dZ2 else r"dZ_2 = A_2 - Y"
    update = {
        "plain": r"$$W_1 := W_1 - \alpha\, dW_1, \quad b_1 := b_1 - \alpha\, db_1, \quad "
                 r"W_2 := W_2 - \alpha\, dW_2, \quad b_2 := b_2 - \alpha\, db_2$$",
        "momentum": r"$$v := \beta v + dW, \quad W := W - \alpha v$$" "\n\nfor each of W1, b1, W2, b2 "
                    "(v starts at 0).",
        "adam": r"$$m := \beta_1 m + (1 - \beta_1)\, dW, \quad s := \beta_2 s + (1 - \beta_2)\, dW^2, \quad "
                r"W := W - \alpha \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t} \frac{m}{\sqrt{s} + \varepsilon}$$"
                "\n\nfor each of W1, b1, W2, b2 at step t = 1, 2, ... (m and s start at 0).",
    }[opt]
    if quirks.global_m:
        over_m = f"Gradients are divided by {quirks.global_m:,} (the notebook's m), whatever the batch's size."
    else:
        over_m = "m is the number of examples in the batch."
    g, g_prime = FORMULAS[recipe.config.activation]
    return f"""## The math

Input layer: 784 pixels of a 28 × 28 image, scaled to 0..1. Hidden layer: h = {recipe.config.hidden} units with \
{ACTIVATION_NAMES[recipe.config.activation]}, ${g}$. Output layer: 10 units with softmax, one per digit. Columns \
are examples: X is 784 × m.

**Forward propagation**

$$Z_1 = W_1 X + b_1$$
$$A_1 = g(Z_1)$$
$$Z_2 = W_2 A_1 + b_2$$
$$A_2 = \\mathrm{{softmax}}(Z_2), \\quad A_2[k] = \\frac{{e^{{Z_2[k]}}}}{{\\sum_{{j=0}}^{{9}} e^{{Z_2[j]}}}}$$

**Loss**: mean cross-entropy, $L = -\\frac{{1}}{{m}} \\sum_i \\log A_2[y_i, i]$.

**Backward propagation** (Y is the one-hot matrix of the labels, 10 × m; ⊙ multiplies element by element)

$${dZ2}$$
$$dW_2 = {k}\\, dZ_2\\, A_1^\\top, \\quad db_2 = {k} \\sum_i dZ_2[:, i]$$
$$dZ_1 = W_2^\\top dZ_2 \\odot g'(Z_1), \\quad {g_prime}$$
$$dW_1 = {k}\\, dZ_1\\, X^\\top, \\quad db_1 = {k} \\sum_i dZ_1[:, i]$$

{over_m}

**Parameter updates** ({describe_optimizer(recipe.config)}, α the learning rate)

{update}

**Shapes**

| name | shape |
| --- | --- |
| X | 784 × m |
| Y, Z2, A2, dZ2 | 10 × m |
| W1, dW1 | h × 784 |
| b1, db1 | h × 1 |
| Z1, A1, dZ1 | h × m |
| W2, dW2 | 10 × h |
| b2, db2 | 10 × 1 |"""


def settings_code(recipe: Recipe, sample_path: str) -> str:
    """Imports and this run's settings as constants."""
    c, quirks = recipe.config, recipe.quirks
    lines = ["import gzip", "from pathlib import Path", "", "import numpy as np", "import pandas as pd", "",
             "# ----- this run's settings, written in by digit-lab -----"]
    lines += data_lines(recipe, sample_path)
    lines += [
        f"SEED = {c.seed}",
        f"DEV_SIZE = {c.dev_size}  # the first DEV_SIZE shuffled rows are the dev set",
        f"TRAIN_SIZE = {c.train_size}  # training rows after them (None: all the rest)",
        f"HIDDEN = {c.hidden}  # h, hidden units",
        f"DTYPE = np.{c.dtype}  # "
        + ("the notebook's NumPy default" if c.dtype == "float64" else "digit-lab's corrected mode"),
        f"BATCH_SIZE = {c.batch_size}  # examples per update (None: full batch)",
        f"ITERATIONS = {recipe.iterations}  # updates to make",
        f"LR_CHANGES = {json.dumps([list(change) for change in recipe.lr_changes])}"
        "  # [iteration, α]: α from that update on",
        f"LR_DECAY = {c.lr_decay!r}  # α_t = α / (1 + LR_DECAY · t)",
    ]
    if c.optimizer != "plain":
        lines.append(f"BETA1 = {c.momentum!r}  # " + ("momentum β" if c.optimizer == "momentum" else "Adam's β1"))
    if quirks.global_m:
        lines.append(f"GLOBAL_M = {quirks.global_m}  # the notebook divides every gradient by this m")
    lines += [f"EVAL_EVERY = {c.eval_every}  # print a progress line every EVAL_EVERY updates",
              f"CHUNK = {CHUNK}  # columns per block when summing over examples (see `gradients`)"]
    return "\n".join(lines)


def data_lines(recipe: Recipe, sample_path: str) -> list[str]:
    """DATA and SPLIT, with a comment on what the loader expects."""
    other = ["# Point DATA at Kaggle's digit-recognizer train.csv (label, pixel0..pixel783; .csv, .csv.gz or",
             "# .zip), an .npz with arrays X (n, 784) and y (n,), or a folder of MNIST IDX files",
             "# (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], and t10k-* for SPLIT = 'test')."]
    if recipe.data == "sample":
        head = ["# digit-lab's bundled sample: 10,000 MNIST training images (an .npz with X (n, 784) uint8 and y)."]
        path = sample_path
    elif recipe.data.removesuffix("-test") in ("mnist", "fashion-mnist"):
        name = recipe.data.removesuffix("-test")
        head = [f"# {DATASETS[name]['title']} as digit-lab downloads it (`digit-lab download {name}`): IDX files."]
        path = str(dataset_dir(name))  # this machine's cache folder
    else:
        head = ["# The data this run was trained on, as digit-lab was given it (a relative path is read from the",
                "# folder this runs in)."]
        path = recipe.data
    return [*head, *other, f"DATA = Path({path!r})",
            f"SPLIT = {recipe.split!r}  # IDX folders: 'train' or 'test' files"]


LOADING_MD = """## Loading the data

Images become columns: `X` is 784 × m with pixels / 255 in float32, `y` holds the labels. The rows are \
shuffled with the seed, the first `DEV_SIZE` form the dev set and the next ones the training set, as \
digit-lab splits them."""


def loading_code(recipe: Recipe) -> str:
    """Readers for the three formats, the split, and (quirk) the unscaled dev set."""
    code = '''def read_idx(path):
    """The array in an MNIST IDX file (raw or .gz): a big-endian header, then unsigned bytes."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = np.frombuffer(raw, ">u4", count=ndim, offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(folder, kind, ndim):
    """train-images-idx3-ubyte or t10k-labels-idx1-ubyte (or its .gz) in an MNIST folder."""
    prefix = "train" if SPLIT == "train" else "t10k"
    for name in (f"{prefix}-{kind}-idx{ndim}-ubyte", f"{prefix}-{kind}.idx{ndim}-ubyte"):
        for path in (folder / name, folder / f"{name}.gz"):
            if path.is_file():
                return path
    raise FileNotFoundError(f"{folder}: no {prefix}-{kind}-idx{ndim}-ubyte[.gz] file")


def load_digits(path):
    """Images (n, 784) uint8 and labels (n,) int64 from an IDX folder, an .npz (X, y) or a Kaggle CSV."""
    path = Path(path).expanduser()
    if path.is_dir():
        images, labels = read_idx(find_idx(path, "images", 3)), read_idx(find_idx(path, "labels", 1))
    elif not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; set DATA to a Kaggle train.csv, an .npz or an IDX folder")
    elif path.suffix == ".npz":
        with np.load(path) as arrays:
            images, labels = arrays["X"], arrays["y"]
        if images.dtype.kind == "f":  # floats are pixels / 255
            images = np.rint(images * 255)
    else:  # Kaggle's train.csv: label, pixel0, ..., pixel783 (pandas also reads .csv.gz and .zip)
        frame = pd.read_csv(path)
        images, labels = frame.drop(columns="label").to_numpy(), frame["label"].to_numpy()
    return images.reshape(len(images), 784).astype(np.uint8), labels.astype(np.int64)


def to_columns(images, rows):
    """The chosen rows as float32 pixels / 255, one column per image: (784, m)."""
    return (images[rows] / np.float32(255)).T


images, labels = load_digits(DATA)
order = np.random.default_rng(SEED).permutation(len(labels))
dev = order[:DEV_SIZE]
train = order[DEV_SIZE:DEV_SIZE + (TRAIN_SIZE or len(labels) - DEV_SIZE)]
X_dev, y_dev = to_columns(images, dev), labels[dev]  # (784, DEV_SIZE), (DEV_SIZE,)
X_train, y_train = to_columns(images, train), labels[train]  # (784, m), (m,)'''
    if recipe.quirks.unscaled_dev:
        code += "\nX_dev = X_dev * 255  # notebook quirk: the dev set is left at 0..255 while training sees 0..1"
    code += ('\nprint(f"{len(labels):,} images from {DATA.name}: {y_train.size:,} training rows, '
             '{y_dev.size:,} dev rows")')
    return code


INIT_MD = """## Initialisation

The training loop splits the seed into two independent random streams, as digit-lab does: one draws \
the initial weights, the other shuffles the mini-batches."""


def init_code(recipe: Recipe) -> str:
    """He-scaled normal weights and zero biases, or the notebook's uniform draws."""
    if recipe.quirks.uniform_init:
        body = '''    """The notebook's draws (a quirk): W ~ U[0, 1)·0.01, b ~ U[0, 1), biases above weights."""
    W1 = rng.random((HIDDEN, 784)) * 0.01  # (h, 784)
    b1 = rng.random((HIDDEN, 1))  # (h, 1)
    W2 = rng.random((10, HIDDEN)) * 0.01  # (10, h)
    b2 = rng.random((10, 1))  # (10, 1)'''
    else:
        body = '''    """He-scaled normal weights (variance 2 / inputs, right for ReLU) and zero biases."""
    W1 = rng.standard_normal((HIDDEN, 784)) * np.sqrt(2 / 784)  # (h, 784)
    b1 = np.zeros((HIDDEN, 1))  # (h, 1)
    W2 = rng.standard_normal((10, HIDDEN)) * np.sqrt(2 / HIDDEN)  # (10, h)
    b2 = np.zeros((10, 1))  # (10, 1)'''
    return f'''def init_params(rng):
{body}
    return {{"W1": W1.astype(DTYPE), "b1": b1.astype(DTYPE), "W2": W2.astype(DTYPE), "b2": b2.astype(DTYPE)}}'''


FORWARD_MD = """## Forward propagation

Z1 = W1·X + b1, A1 = g(Z1), Z2 = W2·A1 + b2, A2 = softmax(Z2). The loss and the accuracy are \
computed from the logits Z2."""


ACTIVATION_CODE = {  # g as core/activations.py computes it
    "relu": '''def relu(Z):
    return np.maximum(Z, 0)''',
    "identity": '''def identity(Z):
    """No activation: A1 = Z1, and the whole network is one affine map of x."""
    return Z''',
    "sigmoid": '''def sigmoid(Z):
    """1 / (1 + e^-Z), written so that it never overflows."""
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E)).astype(Z.dtype, copy=False)''',
    "tanh": '''def tanh(Z):
    return np.tanh(Z)''',
}
DZ1_CODE = {  # dZ1 = W2ᵀ·dZ2 ∗ g'(Z1)
    "relu": 'dZ1 = (params["W2"].T @ dZ2) * (Z1 > 0)  # ReLU\'(Z1) is 1 where Z1 > 0, else 0',
    "identity": 'dZ1 = params["W2"].T @ dZ2  # no activation: g\'(Z1) = 1',
    "sigmoid": 'dZ1 = (params["W2"].T @ dZ2) * (A1 * (1 - A1))  # sigmoid\'(Z1) = A1 (1 - A1)',
    "tanh": 'dZ1 = (params["W2"].T @ dZ2) * (1 - A1 * A1)  # tanh\'(Z1) = 1 - A1²',
}


def forward_code(recipe: Recipe) -> str:
    """ReLU, softmax (shifted or the notebook's), forward, cross-entropy and evaluation."""
    if recipe.quirks.unshifted_softmax:
        softmax = '''def softmax(Z):
    """Column-wise softmax as the notebook writes it (a quirk): exp(Z) overflows to inf/inf = NaN past ~709."""
    E = np.exp(Z)
    return E / E.sum(axis=0, keepdims=True)'''
    else:
        softmax = '''def softmax(Z):
    """Column-wise softmax, shifted by each column's largest logit: the same value, but it cannot overflow."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)'''
    activation = recipe.config.activation
    return f'''{ACTIVATION_CODE[activation]}


{softmax}


def forward(params, X):
    """Z1, A1 (h, m) and Z2, A2 (10, m) for the columns of X (784, m)."""
    # (Xᵀ·W1ᵀ)ᵀ is W1·X, written as digit-lab computes it: the same float sums in the same order
    Z1 = (X.T @ params["W1"].T).T + params["b1"]
    A1 = {activation}(Z1)
    Z2 = params["W2"] @ A1 + params["b2"]
    return Z1, A1, Z2, softmax(Z2)


def cross_entropy(Z2, y):
    """Mean over examples of -log softmax(Z2)[y], computed stably (in float64) from the logits."""
    Z = Z2.astype(np.float64)
    top = Z.max(axis=0)
    log_sum = top + np.log(np.exp(Z - top).sum(axis=0))
    return float(np.mean(log_sum - Z[y, np.arange(y.size)]))


def evaluate(params, X, y):
    """Loss and accuracy on (X, y), a block of CHUNK columns at a time to bound memory."""
    loss_sum, hits = 0.0, 0
    for s in range(0, y.size, CHUNK):
        Z2 = forward(params, X[:, s:s + CHUNK].astype(DTYPE, copy=False))[2]
        loss_sum += cross_entropy(Z2, y[s:s + CHUNK]) * Z2.shape[1]
        hits += int((Z2.argmax(axis=0) == y[s:s + CHUNK]).sum())
    return loss_sum / y.size, hits / y.size'''


BACKWARD_MD = """## Backward propagation

The gradients of the mean loss over a batch, from dZ2 back to dW1. They are summed over blocks of \
`CHUNK` columns (each block's sum divided by the whole batch's m): that is the same gradient, and \
digit-lab computes it this way because a block of X stays in the CPU cache. Adding the blocks in \
the same order here keeps the float32 rounding close to digit-lab's, so the figures agree."""


def backward_code(recipe: Recipe) -> str:
    """one_hot, backward (with this run's dZ2 and 1/m), and the blocked gradients."""
    quirks = recipe.quirks
    if quirks.one_hot_from_max:
        one_hot = '''def one_hot(y):
    """Labels as columns of an identity, sized by y.max() + 1 as the notebook does (a quirk: a batch
    without a 9 gives fewer than 10 rows and the shapes no longer fit)."""
    Y = np.zeros((y.max() + 1, y.size), dtype=DTYPE)'''
    else:
        one_hot = '''def one_hot(y):
    """Labels as columns of a 10 x 10 identity: (10, m)."""
    Y = np.zeros((10, y.size), dtype=DTYPE)'''
    dZ2 = ("dZ2 = 2 * (A2 - Y)  # notebook quirk: the squared error's derivative; softmax + cross-entropy gives A2 - Y"
           if quirks.double_dZ2 else "dZ2 = A2 - Y  # softmax followed by cross-entropy")
    m = ("GLOBAL_M  # notebook quirk: the whole table's row count, not the batch's m" if quirks.global_m
         else "X.shape[1]")
    return f'''{one_hot}
    Y[y, np.arange(y.size)] = 1
    return Y


def backward(params, X, Z1, A1, A2, Y, m):
    """dW1 (h, 784), db1 (h, 1), dW2 (10, h), db2 (10, 1): the summed loss's gradients divided by m."""
    {dZ2}
    {DZ1_CODE[recipe.config.activation]}
    return {{"W1": dZ1 @ X.T / m, "b1": dZ1.sum(axis=1, keepdims=True) / m,
            "W2": dZ2 @ A1.T / m, "b2": dZ2.sum(axis=1, keepdims=True) / m}}


def gradients(params, X, y):
    """The batch's gradients and its mean loss (before the update), summed over blocks of columns."""
    m = {m}
    total, loss_sum = None, 0.0
    for s in range(0, y.size, CHUNK):
        Xs, ys = X[:, s:s + CHUNK].astype(DTYPE, copy=False), y[s:s + CHUNK]
        Z1, A1, Z2, A2 = forward(params, Xs)
        g = backward(params, Xs, Z1, A1, A2, one_hot(ys), m)
        total = g if total is None else {{name: total[name] + g[name] for name in g}}
        loss_sum += cross_entropy(Z2, ys) * ys.size
    return total, loss_sum / y.size'''


UPDATE_MD = """## Parameter updates

α for update t is the latest α set at or before t (the run's α changes), decayed as α / (1 + decay·t)."""


def update_code(recipe: Recipe) -> str:
    """The α schedule and this run's update rule with its state."""
    schedule = '''def lr_at(t):
    """α for update t (0, 1, 2, ...)."""
    lr = [lr for start, lr in LR_CHANGES if start <= t][-1]
    return lr / (1 + LR_DECAY * t)


'''
    rule = {
        "plain": '''def init_state(params):
    """Plain gradient descent keeps no state."""
    return None


def update(params, grads, state, lr):
    """W := W - α·dW for each of W1, b1, W2, b2 (new arrays; nothing changes in place)."""
    return {name: params[name] - lr * grads[name] for name in params}, state''',
        "momentum": '''def init_state(params):
    """Momentum's velocity v, one per parameter, starting at 0."""
    return {name: np.zeros_like(p) for name, p in params.items()}


def update(params, grads, v, lr):
    """Heavy-ball momentum: v := β·v + dW, W := W - α·v."""
    v = {name: BETA1 * v[name] + grads[name] for name in params}
    return {name: params[name] - lr * v[name] for name in params}, v''',
        "adam": '''BETA2, EPS = 0.999, 1e-8


def init_state(params):
    """Adam's step count and first (m) and second (s) moments, starting at 0."""
    zeros = {name: np.zeros_like(p) for name, p in params.items()}
    return {"t": 0, "m": zeros, "s": zeros}


def update(params, grads, state, lr):
    """Adam, with the bias corrections folded into the step size."""
    t = state["t"] + 1
    m = {name: BETA1 * state["m"][name] + (1 - BETA1) * grads[name] for name in params}
    s = {name: BETA2 * state["s"][name] + (1 - BETA2) * grads[name] * grads[name] for name in params}
    step = lr * (1 - BETA2**t) ** 0.5 / (1 - BETA1**t)
    new = {name: params[name] - step * m[name] / (np.sqrt(s[name]) + EPS) for name in params}
    return new, {"t": t, "m": m, "s": s}''',
    }[recipe.config.optimizer]
    return schedule + rule


LOOP_MD = """## Training loop

Each update takes the next batch (all training rows, or the next slice of a shuffled order that is \
drawn anew each epoch), computes the gradients and steps. Every `EVAL_EVERY` updates a progress \
line reports the loss and accuracy on (up to) the first 10,000 training rows and on the dev set."""


def loop_code(recipe: Recipe) -> str:
    """Batches, progress lines and the loop."""
    dev = ("" if recipe.quirks.train_accuracy_only else
           '''
    dev_loss, dev_acc = evaluate(params, X_dev, y_dev)
    row.update(dev_loss=dev_loss, dev_acc=dev_acc)''')
    dev_text = "" if recipe.quirks.train_accuracy_only else "  dev acc {row['dev_acc']:.4f}"
    return f'''def batches(X, y, rng):
    """The training batches, one per update: all rows, or shuffled slices of BATCH_SIZE rows."""
    m = y.size
    size = min(BATCH_SIZE or m, m)
    while True:
        if size == m:
            yield X, y
            continue
        perm = rng.permutation(m)  # a new order each epoch
        for s in range(0, m, size):
            rows = perm[s:s + size]
            yield X.T[rows].T, y[rows]


def record(params, t):
    """Evaluate, keep and print one progress row."""
    rows = min(y_train.size, {TRAIN_EVAL_ROWS})
    train_loss, train_acc = evaluate(params, X_train[:, :rows], y_train[:rows])
    row = dict(iteration=t, lr=lr_at(t), train_loss=train_loss, train_acc=train_acc){dev}
    progress.append(row)
    print(f"iteration {{t:>6}}  loss {{row['train_loss']:.4f}}  train acc {{row['train_acc']:.4f}}{dev_text}")


init_rng, batch_rng = np.random.default_rng(SEED).spawn(2)  # one stream for the weights, one for the batches
params = init_params(init_rng)
state = init_state(params)
next_batch = batches(X_train, y_train, batch_rng)
progress = []
record(params, 0)
t = 0
while t < ITERATIONS:
    X, y = next(next_batch)
    grads, loss = gradients(params, X, y)
    if not (np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())):
        print(f"stopped: the loss became NaN or infinite at iteration {{t}} (α = {{lr_at(t):g}} is too large)")
        break
    params, state = update(params, grads, state, lr_at(t))
    t += 1
    if t % EVAL_EVERY == 0:
        record(params, t)
history = pd.DataFrame(progress)  # one row per progress line; e.g. history.plot(x="iteration", y="train_acc")'''


def final_code(recipe: Recipe) -> str:
    """The final figures on the whole training and dev sets, and what digit-lab showed when known."""
    code = '''train_loss, train_acc = evaluate(params, X_train, y_train)
dev_loss, dev_acc = evaluate(params, X_dev, y_dev)
print(f"final: train loss {train_loss:.4f}  train accuracy {train_acc:.4f}  "
      f"dev loss {dev_loss:.4f}  dev accuracy {dev_acc:.4f}  ({t} iterations)")'''
    if recipe.shown:
        figures = "  ".join(f"{name} {value:.4f}" for name, value in zip(FIGURES, recipe.shown))
        code += f'\nprint("digit-lab showed: {figures}")'
    return code


FIGURES = ("train loss", "train accuracy", "dev loss", "dev accuracy")
