"""The exported notebook and script retrain the run: same figures as digit-lab's Trainer, no digit-lab import.

Tolerance of the figures: none at the printed precision. The script prints the final figures as
the CLI does (4 decimals) and each test asserts the printed strings equal the Trainer's
`final_metrics()` formatted the same way: the exported code does digit-lab's float operations
(same split, random streams, dtype, blocked sums, update formulas), so its numbers differ from
digit-lab's by float rounding at most, a thousand times below the last printed digit.

Tolerance of the weights (executed notebook cells vs the Trainer, 20-30 iterations): atol 2e-6 in
float32, 1e-12 in float64. With core/model.py's reference kernel they are equal bit for bit
(measured: difference 0); the perf branch's pooled kernel scales dZ2 before its products and sums
db1 by BLAS, which moved float32 weights by at most 3.6e-7 after 30 iterations (measured).
"""

import ast
import functools
import re
import subprocess
import sys

import nbformat
import numpy as np
import pytest

import data
from core import PRESETS, Quirks, TrainConfig, Trainer
from dashboard import codegen

FIGURES = r"train loss ([\d.na/]+)  train accuracy ([\d.na/]+)  dev loss ([\d.na/]+)  dev accuracy ([\d.na/]+)"
FINAL = re.compile(r"final: " + FIGURES + r"  \((\d+) iterations\)")
KEYS = ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy")
ATOL = {np.dtype(np.float32): 2e-6, np.dtype(np.float64): 1e-12}  # see the module docstring


@functools.lru_cache(maxsize=4)
def sample_split(dev_size: int, train_size: int | None, seed: int) -> data.Split:
    """The bundled sample split as digit-lab splits it."""
    return data.split(data.load_sample(), dev_size=dev_size, train_size=train_size, seed=seed)


def trained(config: TrainConfig, lr_changes: dict | None = None) -> Trainer:
    """A Trainer run to the end on the sample, with α set to lr_changes[i] before update i."""
    parts = sample_split(config.dev_size, config.train_size, config.seed)
    trainer = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev)
    for iteration, lr in sorted((lr_changes or {}).items()):
        trainer.step(iteration - trainer.iteration)
        trainer.set_lr(lr)
    trainer.step(config.iterations - trainer.iteration)
    assert trainer.iteration == config.iterations and trainer.failure is None
    return trainer


def expected_line(trainer: Trainer) -> tuple[str, ...]:
    """The Trainer's final figures as the script prints them."""
    final = trainer.final_metrics()
    return (*(f"{final[key]:.4f}" for key in KEYS), str(trainer.iteration))


def run_script(path) -> tuple[str, ...]:
    """Execute an exported script in a fresh interpreter; its final figures as printed."""
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    match = FINAL.search(out.stdout)
    assert match, out.stdout[-500:]
    return match.groups()


@pytest.mark.parametrize("config, lr_changes", [
    pytest.param(TrainConfig(iterations=40), None, id="default"),
    pytest.param(PRESETS["notebook"].with_(iterations=40), None, id="notebook-preset"),
    pytest.param(TrainConfig(iterations=40, lr=0.3, lr_decay=0.01), {12: 0.8, 25: 0.2}, id="alpha-changes"),
    pytest.param(TrainConfig(iterations=40, optimizer="adam", lr=0.01, lr_decay=0.001, batch_size=128,
                             train_size=2000), {20: 0.003}, id="minibatch-adam"),
], )
def test_script_prints_the_trainers_final_figures(tmp_path, config, lr_changes):
    """The exported .py, run on the bundled sample, prints the figures the Trainer reports for that run."""
    trainer = trained(config, lr_changes)
    path = tmp_path / "run.py"
    path.write_text(codegen.script(codegen.recipe_from_trainer(trainer, "sample", figures=True)))
    printed = run_script(path)
    assert printed == expected_line(trainer)
    shown = re.search("digit-lab showed: " + FIGURES, path.read_text())
    assert shown.groups() == printed[:4]


def notebook_code(nb: nbformat.NotebookNode) -> str:
    """The notebook's code cells, concatenated (nbclient is not installed)."""
    return "\n\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.parametrize("config, lr_changes", [
    pytest.param(TrainConfig(iterations=30, optimizer="momentum", lr=0.05, batch_size=700), {10: 0.1},
                 id="momentum-short-last-batch"),  # 9,000 rows: 12 batches of 700 and one of 600 per epoch
    pytest.param(TrainConfig(iterations=30, lr=0.2, train_size=1500, seed=3,
                             quirks=Quirks(double_dZ2=True, global_m=3000, unscaled_dev=True,
                                           train_accuracy_only=True, one_hot_from_max=True)),
                 None, id="quirks-one-by-one"),
    pytest.param(PRESETS["notebook"].with_(iterations=20, batch_size=500), {10: 2.0}, id="notebook-float64-batches"),
    pytest.param(TrainConfig(iterations=20, activation="identity", optimizer="momentum", lr=0.05), None, id="identity"),
    pytest.param(TrainConfig(iterations=20, activation="sigmoid", lr=0.5, batch_size=1000), None, id="sigmoid"),
    pytest.param(TrainConfig(iterations=20, activation="tanh", optimizer="adam", lr=0.01), {8: 0.002}, id="tanh-adam"),
])
def test_notebook_cells_retrain_the_same_weights(capsys, config, lr_changes):
    """Executing the notebook's code cells ends with the Trainer's weights (to float rounding) and figures."""
    trainer = trained(config, lr_changes)
    text = codegen.notebook_text(codegen.recipe_from_trainer(trainer, "sample"))
    nb = nbformat.reads(text, as_version=4)
    nbformat.validate(nb)
    namespace = {}
    exec(compile(notebook_code(nb), "exported.ipynb", "exec"), namespace)
    for name in ("W1", "b1", "W2", "b2"):
        ours, theirs = namespace["params"][name], getattr(trainer.params, name)
        assert ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL[ours.dtype])
    assert FINAL.search(capsys.readouterr().out).groups() == expected_line(trainer)


def test_a_sweeps_run_exports_to_its_own_weights(capsys):
    """Run i of a plain-GD sweep (stacked runs) exports as a single run that retrains its weights."""
    config = TrainConfig(iterations=20)
    parts = sample_split(config.dev_size, config.train_size, config.seed)
    sweep = Trainer(config, parts.X_train, parts.y_train, parts.X_dev, parts.y_dev, lrs=[0.1, 0.4, 0.05])
    sweep.step()
    namespace = {}
    exec(codegen.script(codegen.recipe_from_trainer(sweep, "sample", i=1)), namespace)
    state = sweep.state(1)
    for name in ("W1", "b1", "W2", "b2"):
        ours, theirs = namespace["params"][name], getattr(state.params, name)
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL[ours.dtype])
    assert "LR_CHANGES = [[0, 0.4]]" in codegen.script(codegen.recipe_from_trainer(sweep, "sample", i=1))


def imported_modules(source: str) -> set[str]:
    """Top-level names of every module the code imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("config", [TrainConfig(), PRESETS["notebook"], PRESETS["fast-10"],
                                    TrainConfig(optimizer="momentum", quirks=Quirks(unshifted_softmax=True))])
def test_the_code_uses_numpy_and_pandas_only(config):
    """No digit-lab module (core, data, dashboard) is imported: the script stands alone."""
    recipe = codegen.Recipe(config, 10, ((0, config.lr),))
    assert imported_modules(codegen.script(recipe)) == {"gzip", "pathlib", "numpy", "pandas"}


def test_notebook_follows_the_notebooks_structure():
    """Math in Markdown, then loading, init, forward, backward, update and training loop; valid nbformat 4."""
    recipe = codegen.Recipe(PRESETS["notebook"], 1000, ((0, 1.0),))
    nb = codegen.notebook(recipe)
    nbformat.validate(nb)
    headings = [cell.source.splitlines()[0] for cell in nb.cells if cell.cell_type == "markdown"]
    assert headings == ["# A digit-lab run, as code", "## The math", "## Loading the data", "## Initialisation",
                        "## Forward propagation", "## Backward propagation", "## Parameter updates",
                        "## Training loop"]
    assert nb.cells[-1].cell_type == "code" and "final:" in nb.cells[-1].source
    assert r"dZ_2 = 2\,(A_2 - Y)" in nb.cells[1].source and r"\frac{1}{42000}" in nb.cells[1].source


def test_only_the_runs_code_paths_are_written():
    """A corrected run shows no quirk; the notebook preset writes each of its quirks where it applies."""
    corrected = codegen.script(codegen.Recipe(TrainConfig(), 500, ((0, 0.1),)))
    notebook = codegen.script(codegen.Recipe(PRESETS["notebook"], 1000, ((0, 1.0),)))
    assert "quirk" not in corrected and "DTYPE = np.float32" in corrected
    assert "Z - Z.max(axis=0" in corrected and "dZ2 = A2 - Y" in corrected and "standard_normal" in corrected
    assert "DTYPE = np.float64" in notebook and "GLOBAL_M = 42000" in notebook and "m = GLOBAL_M" in notebook
    assert "dZ2 = 2 * (A2 - Y)" in notebook and "E = np.exp(Z)\n" in notebook
    assert "rng.random((HIDDEN, 784))" in notebook
    adam = codegen.script(codegen.Recipe(PRESETS["fast-10"], 4000, ((0, 0.01),)))
    assert "BETA2, EPS = 0.999, 1e-8" in adam and "BATCH_SIZE = 128" in adam and "BETA2" not in corrected


def test_script_is_the_notebook_in_percent_format():
    """The .py has one `# %%` cell per notebook cell, Markdown as comments, the code unchanged."""
    recipe = codegen.Recipe(TrainConfig(), 20, ((0, 0.1), (10, 0.05)))
    nb, text = codegen.notebook(recipe), codegen.script(recipe)
    assert text.count("# %% [markdown]\n") == sum(c.cell_type == "markdown" for c in nb.cells)
    assert text.count("# %%\n") == sum(c.cell_type == "code" for c in nb.cells)
    assert all(cell.source in text for cell in nb.cells if cell.cell_type == "code")
    assert "# ## The math" in text and 'LR_CHANGES = [[0, 0.1], [10, 0.05]]' in text
    assert "0.1, then 0.05 from iteration 10" in text


def test_data_sources_are_written_in():
    """The sample by its absolute path (with a Kaggle hint), a CSV as given, MNIST by the cache folder and split."""
    config = TrainConfig()
    sample = codegen.script(codegen.Recipe(config, 1, ((0, 0.1),)))
    assert f"DATA = Path({str(data.sample.SAMPLE_PATH)!r})" in sample
    assert "Kaggle's digit-recognizer train.csv" in sample
    csv = codegen.script(codegen.Recipe(config, 1, ((0, 0.1),), data="/tmp/kaggle/train.csv"))
    assert "DATA = Path('/tmp/kaggle/train.csv')" in csv
    mnist = codegen.script(codegen.Recipe(config, 1, ((0, 0.1),), data="mnist-test", split="test"))
    assert f"DATA = Path({str(data.dataset_dir('mnist'))!r})" in mnist and "SPLIT = 'test'" in mnist


def test_script_reads_a_kaggle_csv_and_an_idx_folder(tmp_path):
    """The script's own loader reads the formats it names, giving digit-lab's images and labels."""
    images = np.random.default_rng(0).integers(0, 256, (30, 784), dtype=np.uint8)
    labels = np.arange(30) % 10
    header = "label," + ",".join(f"pixel{i}" for i in range(784))
    rows = [",".join(map(str, [y, *x])) for x, y in zip(images, labels)]
    (tmp_path / "train.csv").write_text("\n".join([header, *rows]) + "\n")
    idx = tmp_path / "idx"
    idx.mkdir()
    (idx / "t10k-images-idx3-ubyte").write_bytes(
        (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (30, 28, 28)) + images.tobytes())
    (idx / "t10k-labels-idx1-ubyte").write_bytes(
        (2049).to_bytes(4, "big") + (30).to_bytes(4, "big") + labels.astype(np.uint8).tobytes())
    recipe = codegen.Recipe(TrainConfig(), 1, ((0, 0.1),))
    code = codegen.loading_code(recipe).split("\n\n\nimages, labels =")[0]  # the functions only
    for path, split in ((tmp_path / "train.csv", "train"), (idx, "test")):
        namespace = {"SPLIT": split}
        exec("import gzip\nfrom pathlib import Path\nimport numpy as np\nimport pandas as pd\n" + code, namespace)
        got_images, got_labels = namespace["load_digits"](path)
        ours = data.load_source(str(path), split=split)
        np.testing.assert_array_equal(got_images, ours.images)
        np.testing.assert_array_equal(got_labels, ours.labels)


# ----- reading a saved run's settings ----------------------------------------------------------------
CONFIG = TrainConfig(hidden=16, lr=0.2, iterations=300, optimizer="momentum", batch_size=64, seed=5)


def test_recipe_from_a_run_file():
    """The run file's layout: config, iteration, α changes and data are all taken as written."""
    meta = {"format": "digit-lab run", "version": 1, "config": CONFIG.to_dict(), "iteration": 120, "lr": 0.05,
            "lr_changes": [[0, 0.2], [100, 0.05]], "data": "mnist-test"}
    recipe = codegen.recipe_from_meta(meta)
    assert recipe.config == CONFIG and recipe.iterations == 120 and recipe.lr_changes == ((0, 0.2), (100, 0.05))
    assert recipe.data == "mnist-test" and recipe.split == "test" and recipe.notes == ()


def test_recipe_from_train_save():
    """`digit-lab train --save` writes config, iteration and dataset: α was constant."""
    recipe = codegen.recipe_from_meta({"config": CONFIG.to_dict(), "iteration": 300, "dataset": "sample"})
    assert recipe.config == CONFIG and recipe.iterations == 300 and recipe.lr_changes == ((0, 0.2),)
    assert recipe.data == "sample" and recipe.notes == ()


def test_recipe_from_the_dashboards_old_weights_file():
    """Settings at the top level, the current α as "lr": used, with a note that α changes were not kept."""
    meta = {**CONFIG.to_dict(), "lr": 0.1, "iteration": 42, "data": "sample", "saved_by": "digit-lab dashboard"}
    recipe = codegen.recipe_from_meta(meta)
    assert recipe.config == CONFIG.with_(lr=0.1) and recipe.iterations == 42
    assert any("α changes" in note for note in recipe.notes) and "α is taken as constant" in codegen.script(recipe)


@pytest.mark.parametrize("meta, message", [
    ({}, "no training settings"),
    ({"dataset": "sample", "iteration": 3}, "no training settings"),
    ({"config": {"hidden": 0}}, "settings are not usable"),
    ({"config": {"colour": "red"}}, "settings are not usable"),
    ({"config": CONFIG.to_dict(), "iteration": 5, "lr_changes": [[3, 0.1]]}, "α changes"),
    ({"config": CONFIG.to_dict(), "iteration": 5, "lr_changes": "fast"}, "α changes"),
])
def test_unusable_meta_is_one_sentence(meta, message):
    """A file without usable settings is refused with a ValueError saying what is missing."""
    with pytest.raises(ValueError, match=message):
        codegen.recipe_from_meta(meta)


def test_importing_codegen_leaves_nbformat_for_the_notebook():
    """The app and the CLI import codegen without paying nbformat's ~0.3 s import; only notebook() loads it."""
    code = "import sys, dashboard.codegen; print('nbformat' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
