"""Metrics on predictions: accuracy, confusion matrix, dead hidden units."""

from __future__ import annotations

import numpy as np

from core.model import N_CLASSES


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of predictions equal to the labels (0.0 for no examples)."""
    return float(np.mean(y_true == y_pred)) if y_true.size else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int = N_CLASSES) -> np.ndarray:
    """Counts C[true, predicted].

    Shapes: y_true, y_pred (m,) -> C (k, k) int64.
    """
    return np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k)


def dead_fraction(active: np.ndarray) -> float:
    """Share of hidden units that were never positive on the examples seen (`active` is (h,) bool)."""
    return float(1 - np.mean(active)) if active.size else 0.0
