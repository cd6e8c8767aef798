"""The shared sidebar (drawn by app.py on every full rerun): data, settings, weights in and out.

`choose_data` and `apply` decide the session's run on every full rerun: a new dataset or a
setting that changes the network starts a new run; anything that cannot be loaded or applied is
shown as an error while the current data and run stay as they are. Not a page: every view shares it.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import data
from core.run import RunState
from dashboard import datasets, export, settings
from dashboard.runs import session, state
from dashboard.runs.state import Lab

STRIP = 12  # example images shown for the loaded data


def render() -> Lab:
    """Draw the sidebar and return the session's run, made to match it."""
    lab = state.get()
    with st.sidebar:
        st.markdown("### digit-lab")
        st.caption("A 784 → h → 10 network written in NumPy, trained live. Change anything, watch it learn.")
        st.subheader("Data", divider="gray")
        request = choose_data(lab)
        data_slot = st.container()
        st.subheader("Model and training", divider="gray")
        settings.render(lab.now.m if lab else None)
    lab = apply(lab, request)
    with data_slot:
        show_data(lab)
    with st.sidebar:
        if lab.settings_error:
            st.error(lab.settings_error)
        st.subheader("Weights and metrics", divider="gray")
        export_panel(lab)
    return lab


# ----- data --------------------------------------------------------------------------------------
def choose_data(lab: Lab | None) -> tuple[str, data.Dataset] | None:
    """Draw the data source picker; return the (key, dataset) asked for, or None to keep the current one."""
    labels = settings.SOURCE_LABELS
    choice = st.radio("Source", list(labels), format_func=labels.get, key="data_source", horizontal=True,
                      bind="query-params", label_visibility="collapsed")
    if choice == "sample":
        return "sample", datasets.load_named("sample")
    if choice in datasets.DOWNLOADABLE:
        return _downloaded(choice, lab)
    return _uploaded(lab)


def _downloaded(name: str, lab: Lab | None) -> tuple[str, data.Dataset] | None:
    """A downloadable dataset: read it from the cache, or offer a Download button with progress."""
    title = data.DATASETS[name]["title"]
    if not data.is_downloaded(name):
        size = sum(spec["bytes"] for spec in data.DATASETS[name]["files"].values())
        st.info(f"{title} is not downloaded yet ({size / 1e6:.0f} MB, checksum-verified, kept in "
                f"`{data.cache_dir()}`). Until then the current data stays loaded.")
        if not st.button(f"Download {title}", key=f"download_{name}", width="stretch"):
            error = st.session_state.get("download_error", {}).get(name)
            if error:
                st.error(error)
            return None
        if not _download(name, title):
            return None
    try:
        return name, datasets.load_named(name)
    except (ValueError, FileNotFoundError) as error:
        st.error(f"Cannot read {title}: {error}")
        return None


def _download(name: str, title: str) -> bool:
    """Download with a progress bar; on failure keep the message for later reruns and return False."""
    files = data.DATASETS[name]["files"]
    total = sum(spec["bytes"] for spec in files.values())
    done: dict[str, int] = {}
    bar = st.progress(0.0, text=f"Downloading {title}…")

    def progress(file_done: int, file_total: int, filename: str) -> None:
        before = sum(done.values())
        done[filename] = file_done
        if int(100 * sum(done.values()) / total) != int(100 * before / total):  # redraw once per percent
            bar.progress(min(sum(done.values()) / total, 1.0), text=f"{filename}: {file_done / 1e6:.1f} MB")

    errors = st.session_state.setdefault("download_error", {})
    try:
        data.download(name, progress=progress)
    except (data.DownloadError, ValueError, OSError) as error:
        bar.empty()
        errors[name] = f"Could not download {title}: {error}"
        st.error(errors[name])
        return False
    bar.empty()
    errors.pop(name, None)
    return True


def _uploaded(lab: Lab | None) -> tuple[str, data.Dataset] | None:
    """A Kaggle-style CSV upload; a bad file shows what is wrong and keeps the current data."""
    uploaded = st.file_uploader("Kaggle-style train.csv (label, pixel0..pixel783)", type=["csv", "gz", "zip"],
                                key="data_upload", help="Plain, gzip (.csv.gz) or zip with one .csv inside.")
    if uploaded is None:
        st.caption("Choose a file; until then the current data stays loaded.")
        return None
    key = f"upload:{uploaded.file_id}"
    if lab is not None and lab.data_key == key:
        return key, lab.dataset
    bad = lab.bad_uploads if lab is not None else {}
    if key not in bad:
        try:
            with st.spinner(f"Reading {uploaded.name} ({uploaded.size / 1e6:.1f} MB)…"):
                dataset = datasets.load_upload(uploaded.file_id, uploaded.name, uploaded.getvalue())
            if dataset.labels is None:
                raise ValueError(f"{uploaded.name} has no label column (like Kaggle's test.csv); "
                                 "training needs train.csv with labels")
            return key, dataset
        except ValueError as error:
            bad[key] = str(error)
        except MemoryError:
            bad[key] = f"{uploaded.name} is too large to load in this server's memory"
    st.error(f"Could not use {uploaded.name}: {bad[key]}. The current data and run are kept.")
    return None


def show_data(lab: Lab) -> None:
    """What is loaded: name, rows, train/dev sizes and a strip of example images with labels."""
    split = lab.split
    st.caption(f"**{lab.dataset.name}** · {len(lab.dataset):,} rows → "
               f"{split.y_train.size:,} train / {split.y_dev.size:,} dev")
    picks = np.random.default_rng(0).choice(len(lab.dataset), size=min(STRIP, len(lab.dataset)), replace=False)
    labels = lab.dataset.labels
    st.image([lab.dataset.images[i].reshape(28, 28) for i in picks],
             caption=[str(labels[i]) for i in picks], width=34)


# ----- settings -> run ---------------------------------------------------------------------------
def apply(lab: Lab | None, request: tuple[str, data.Dataset] | None) -> Lab:
    """Make the session's run match the data and settings: keep it, update live settings, or start anew."""
    if request is None:
        request = (lab.data_key, lab.dataset) if lab is not None else ("sample", datasets.load_named("sample"))
    data_key, dataset = request
    try:
        config = settings.config_from_settings(settings.current_values())
        if lab is not None and state.run_key(data_key, config) == lab.run_key:
            lab.set_stop(config)  # only live settings (stop-at) changed: same run
            lab.settings_error = None
            return lab
        split = datasets.load_split(data_key, config.dev_size, config.train_size, config.seed, _dataset=dataset)
        new = state.install(config, data_key, dataset, split)  # a tick in flight finishes on the old run
    except ValueError as error:
        if lab is None:  # first run with settings that do not fit: start on the defaults
            lab = _default_lab()
        lab.settings_error = f"These settings cannot be used: {error}. Still running: {describe(lab)}."
        return lab
    new.settings_error = None
    if lab is not None:
        new.notice = f"New run: {changes(lab, new)}."
    return new


def _default_lab() -> Lab:
    """A run on the sample with default settings (the fallback when the asked-for setup fails)."""
    config = settings.config_from_settings({})
    dataset = datasets.load_named("sample")
    split = datasets.load_split("sample", config.dev_size, config.train_size, config.seed, _dataset=dataset)
    return state.install(config, "sample", dataset, split)


def describe(lab: Lab) -> str:
    """A short summary of a run's data and settings."""
    c = lab.config
    batch = "full batch" if c.batch_size is None else f"batch {c.batch_size}"
    return f"{lab.dataset.name}, h = {c.hidden}, {c.mode}, {batch}, {c.optimizer}, seed {c.seed}, dev {c.dev_size:,}"


def changes(old: Lab, new: Lab) -> str:
    """What differs between two runs' data and settings, e.g. "hidden 10 → 32"."""
    parts = [] if old.data_key == new.data_key else [f"data → {new.dataset.name}"]
    a, b = old.config.to_dict(), new.config.to_dict()
    parts += [f"{k} {a[k]} → {b[k]}" for k in a if k not in ("lr", "iterations") and a[k] != b[k]]
    return ", ".join(parts) or "same settings"


# ----- weights and metrics -----------------------------------------------------------------------
def export_panel(lab: Lab) -> None:
    """Download buttons (bytes made at click time) and a weights upload."""
    left, right = st.columns(2)
    left.download_button("Run .npz", data=lambda: run_npz(lab), file_name="digit-lab-run.npz", mime="application/octet-stream", on_click="ignore",
                         key="download_weights", width="stretch")
    right.download_button("Metrics .csv", data=lambda: export.metrics_csv(lab.now),  # the run at click time
                          file_name="digit-lab-metrics.csv", mime="text/csv", on_click="ignore",
                          key="download_metrics", width="stretch")
    take_home(lab)
    st.file_uploader("Load a run (.npz) to continue it, or older weights to start from", type=["npz"], key="weights_upload",
                     on_change=_load_weights)
    if lab.weights_error:
        st.error(lab.weights_error)


def run_npz(lab: Lab) -> bytes:
    """The whole run (weights, optimizer, position, history) as a .npz, from its latest snapshot."""
    return export.weights_npz(lab.now, lab.dataset.name)


def take_home(lab: Lab) -> None:
    """Download the run as a notebook or script (plain NumPy and pandas) that retrains it (dashboard/codegen.py)."""
    st.caption("Take the run home as code: the notebook's math and steps with this run's settings; it retrains "
               "the run and prints the same final figures.")
    left, right = st.columns(2)
    left.download_button("Notebook", data=lambda: run_as_code(lab, "ipynb"), file_name="digit-lab-run.ipynb",
                         mime="application/x-ipynb+json", on_click="ignore", key="download_notebook", width="stretch",
                         help="The run as a Jupyter notebook (.ipynb).")  # "Notebook .ipynb" was cut in the sidebar
    right.download_button("Script", data=lambda: run_as_code(lab, "py"), file_name="digit-lab-run.py",
                          mime="text/x-python", on_click="ignore", key="download_script", width="stretch",
                          help="The run as a Python script (.py).")


def run_as_code(lab: Lab, kind: str) -> bytes:
    """The run as .ipynb or .py text, made at click time from one moment of the run."""
    from dashboard import codegen  # at click time: a rerun of the sidebar does not need it

    recipe = codegen.recipe_from_trainer(lab.now, lab.dataset.source, figures=True)  # one snapshot: one moment
    return (codegen.notebook_text(recipe) if kind == "ipynb" else codegen.script(recipe)).encode("utf-8")


def _load_weights() -> None:
    """Callback: a run file resumes where it was saved; weights only start a run from them (hidden size follows)."""
    lab = state.get()
    uploaded = st.session_state.get("weights_upload")
    if lab is None or uploaded is None:
        return
    try:
        loaded, meta = export.read_weights(uploaded.getvalue(), uploaded.name)
        if isinstance(loaded, RunState):
            try:
                new = session.resume(loaded, lab.data_key, lab.dataset, settings.current_values())
            except ValueError as error:
                raise ValueError(f"{uploaded.name}: {error}") from None
            new.weights_error = None
            new.notice = (f"Loaded the run in {uploaded.name}: iteration {loaded.iteration:,}, with its curves. "
                          f"Press Start to go on.")
            return
        params = loaded
        values = {**settings.current_values(), "hidden": params.hidden}
        try:
            config = settings.config_from_settings(values)
        except ValueError as error:
            raise ValueError(f"{uploaded.name} has {params.hidden} hidden units, which the dashboard cannot use "
                             f"({error})") from None
        new = state.install(config, lab.data_key, lab.dataset, lab.split, params=params)
    except ValueError as error:
        lab.weights_error = f"Could not load weights: {error}. The current run is kept."
        return
    switched = params.hidden != lab.config.hidden
    st.session_state["hidden"] = params.hidden  # the widget follows the file, so the next run keeps it
    new.weights_error = None
    saved = f" (saved at iteration {meta['iteration']:,})" if isinstance(meta.get("iteration"), int) else ""
    new.notice = (f"Loaded {uploaded.name}{saved}" + (f"; hidden size set to {params.hidden}" if switched else "")
                  + ". Press Start to continue training from these weights.")
