"""Test-set evaluation: predictions (optionally flip-averaged), confusion matrix, per-class accuracy.

>>> result = evaluate(model, x_test, y_test)               # doctest: +SKIP
>>> result.accuracy, result.flip_accuracy                   # doctest: +SKIP
(0.886, 0.896)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import pandas as pd

from assignment_utils.models import check_images
from assignment_utils.rules import CLASS_NAMES

PREDICT_BATCH_SIZE = 1000


def predict_probabilities(model: keras.Model, images: np.ndarray, tta: bool = False,
                          batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """Class probabilities for raw-pixel images (uint8, or floats in 0..255); with ``tta=True``
    the average over each image and its left-right mirror (test-time augmentation)."""
    images = check_images("images", images)
    views = [images, images[:, :, ::-1]] if tta else [images]
    return np.mean([_predict(model, view, batch_size) for view in views], axis=0)


def _predict(model: keras.Model, images: np.ndarray, batch_size: int) -> np.ndarray:
    return np.asarray(model.predict(images, batch_size=batch_size, verbose=0))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray,
                     class_names: Sequence[str] = CLASS_NAMES) -> pd.DataFrame:
    """Counts with true classes as rows and predicted classes as columns, every class present.

    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), ["a", "b"]).values.tolist()
    [[1, 0], [1, 1]]
    """
    labels, predicted = np.asarray(labels).reshape(-1), np.asarray(predicted).reshape(-1)
    if labels.shape != predicted.shape:
        raise ValueError(f"labels and predictions differ in length: {labels.shape} vs {predicted.shape}")
    n = len(class_names)
    counts = np.zeros((n, n), dtype=int)
    np.add.at(counts, (labels, predicted), 1)
    index = pd.Index(class_names, name="true")
    return pd.DataFrame(counts, index=index, columns=pd.Index(class_names, name="predicted"))


def per_class_accuracy(confusion: pd.DataFrame) -> pd.Series:
    """Fraction of each true class predicted correctly (its recall); NaN for an absent class."""
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.diag(confusion.values) / confusion.sum(axis=1).values
    return pd.Series(rates, index=confusion.index, name="accuracy")


@dataclass(frozen=True)
class Evaluation:
    """A model's test-set results. ``accuracy`` is single-view; ``flip_accuracy`` averages each
    image with its mirror. ``misclassified`` lists wrong predictions, most confident first."""

    probabilities: np.ndarray
    labels: np.ndarray
    accuracy: float
    flip_accuracy: float
    confusion: pd.DataFrame
    per_class: pd.Series
    misclassified: np.ndarray


def evaluate(model: keras.Model, images: np.ndarray, labels: np.ndarray,
             class_names: Sequence[str] = CLASS_NAMES) -> Evaluation:
    """Single-view and flip-averaged accuracy, confusion matrix and misclassified images."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    images = check_images("images", images)
    probs = _predict(model, images, PREDICT_BATCH_SIZE)
    flip_probs = (probs + _predict(model, images[:, :, ::-1], PREDICT_BATCH_SIZE)) / 2
    predicted = probs.argmax(axis=1)
    confusion = confusion_matrix(labels, predicted, class_names)
    wrong = np.flatnonzero(predicted != labels)
    return Evaluation(
        probabilities=probs, labels=labels,
        accuracy=float((predicted == labels).mean()),
        flip_accuracy=float((flip_probs.argmax(axis=1) == labels).mean()),
        confusion=confusion, per_class=per_class_accuracy(confusion),
        misclassified=wrong[np.argsort(-probs[wrong].max(axis=1), kind="stable")])
