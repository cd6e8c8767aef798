"""Datasets and splits shared by every session of the server process (`st.cache_resource`).

The arrays are read-only, so sessions can share them: a second session with the same data and
settings costs only its own small network. Uploads are keyed on Streamlit's file id and the
bytes go in an `_`-named argument, which Streamlit does not hash.
"""

from __future__ import annotations

import streamlit as st

import data

SOURCES = {  # data_source widget value -> label
    "sample": "Bundled sample (10,000 MNIST digits)",
    "mnist": "MNIST (download, 60,000)",
    "fashion-mnist": "Fashion-MNIST (download, 60,000)",
    "upload": "Upload a Kaggle train.csv",
}
DOWNLOADABLE = ("mnist", "fashion-mnist")


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def load_named(source: str) -> data.Dataset:
    """The bundled sample, or a downloaded dataset read from the cache folder (never downloads).

    Raises: FileNotFoundError if not downloaded; ValueError for damaged files.
    """
    return _read_only(data.load_source(source, download_missing=False))


@st.cache_resource(max_entries=2, show_spinner=False)
def load_upload(file_id: str, name: str, _content: bytes) -> data.Dataset:
    """A Kaggle-style CSV upload (.csv, .csv.gz or .zip), cached per uploaded file.

    Raises: ValueError naming the row, column and value at fault.
    """
    return _read_only(data.load_csv(_content, name=name))


@st.cache_resource(max_entries=3, show_spinner="Preparing train and dev sets…")
def load_split(data_key: str, dev_size: int, train_size: int | None, seed: int, _dataset: data.Dataset) -> data.Split:
    """The dataset shuffled into read-only train and dev columns, shared by sessions with the same settings.

    The training columns stay raw uint8 pixels, as the CLI holds them (a quarter of the memory;
    core scales them as it reads each chunk): read them as pixels through `core.model.pixels`.
    Raises: ValueError if the sizes do not fit the dataset or it has no labels.
    """
    return data.split(_dataset, dev_size=dev_size, train_size=train_size, seed=seed, raw=True)


def _read_only(dataset: data.Dataset) -> data.Dataset:
    """Freeze the arrays so no session can change what the others see."""
    dataset.images.setflags(write=False)
    if dataset.labels is not None:
        dataset.labels.setflags(write=False)
    return dataset
