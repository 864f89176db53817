"""Evaluation numbers and the figures built from them, on real CIFAR-10 sample images."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

from assignment_utils.data import CLASS_NAMES, SAMPLE_PATH, load_cifar10
from assignment_utils.evaluation import (confusion_matrix, evaluate, per_class_accuracy,
                                         predict_probabilities)
from assignment_utils.image_plots import plot_confusion_matrix, plot_examples, plot_misclassified
from assignment_utils.run_record import environment_record, write_summary


class LeftHalfModel(keras.Model):
    """Predicts class 0 when the left half is brighter than the right half, else class 1:
    a model whose flip-averaged prediction is known exactly."""

    def call(self, x):
        left = keras.ops.mean(x[:, :, :16], axis=(1, 2, 3))
        right = keras.ops.mean(x[:, :, 16:], axis=(1, 2, 3))
        p0 = keras.ops.sigmoid(100.0 * (left - right))
        zeros = keras.ops.zeros_like(p0)
        return keras.ops.stack([p0, 1 - p0] + [zeros] * 8, axis=1)


def _half_images():
    x = np.zeros((4, 32, 32, 3), dtype="float32")
    x[0, :, :16] = 255.0  # bright left  -> class 0
    x[1, :, 16:] = 255.0  # bright right -> class 1
    x[2, :, :16] = 255.0
    x[3, :, 16:] = 255.0
    return x, np.array([0, 1, 1, 0])


def test_confusion_matrix_and_per_class_accuracy():
    confusion = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 2]),
                                 ["a", "b", "c"])
    assert confusion.loc["a"].tolist() == [1, 1, 0]
    assert confusion.loc["c"].tolist() == [1, 0, 2]
    assert confusion.to_numpy().sum() == 6
    np.testing.assert_allclose(per_class_accuracy(confusion), [0.5, 1.0, 2 / 3])
    with pytest.raises(ValueError, match="differ in length"):
        confusion_matrix(np.array([0, 1]), np.array([0]), ["a", "b"])


def test_evaluate_single_view_flip_average_and_misclassified_order():
    x, y = _half_images()
    result = evaluate(LeftHalfModel(), x, y)
    assert result.accuracy == 0.5                      # images 2 and 3 are wrong
    assert result.flip_accuracy == 0.5                 # mirror averaging gives a tie -> class 0
    assert sorted(result.misclassified.tolist()) == [2, 3]
    assert result.confusion.shape == (10, 10) and list(result.confusion.index) == list(CLASS_NAMES)
    flipped = predict_probabilities(LeftHalfModel(), x, tta=True)
    np.testing.assert_allclose(flipped[:, 0], 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="4 images but 3 labels"):
        evaluate(LeftHalfModel(), x, y[:3])


@pytest.mark.parametrize("scale, message", [(1 / 255, r"scaled to \[0, 1\]"),
                                            (-1 / 128, "raw values in 0..255")])
def test_images_that_are_not_raw_pixels_are_refused(scale, message):
    """evaluate(model, x_test.astype("float32") / 255) used to score near-black images silently."""
    x, y = _half_images()
    with pytest.raises(ValueError, match=message):
        evaluate(LeftHalfModel(), x * scale, y)


def test_image_figures(tmp_path):
    data = load_cifar10(SAMPLE_PATH)
    fig = plot_examples(data.x_train, data.y_train, per_class=4, path=tmp_path / "ex.png")
    assert len([ax for ax in fig.axes if ax.images]) == 40
    assert [t.get_text() for ax in fig.axes for t in ax.texts] == list(CLASS_NAMES)
    assert (tmp_path / "ex.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="fewer than per_class"):
        plot_examples(data.x_train, data.y_train, per_class=21)

    confusion = confusion_matrix(data.y_test, np.roll(data.y_test, 1))
    fig = plot_confusion_matrix(confusion)
    assert fig.axes[0].images[0].get_array().shape == (10, 10)
    assert len(fig.axes[0].texts) == 100
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(CLASS_NAMES)

    probs = np.eye(10)[np.roll(data.y_test, 1)]
    fig = plot_misclassified(data.x_test, data.y_test, probs, [0, 5, 7], columns=2)
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles[0] == f"{CLASS_NAMES[data.y_test[0]]}\n→ {CLASS_NAMES[data.y_test[-1]]} (100%)"
    assert len(titles) == 3
    with pytest.raises(ValueError, match="indices is empty"):
        plot_misclassified(data.x_test, data.y_test, probs, [])


def test_run_record_and_summary(tmp_path):
    record = environment_record()
    assert record["backend"] == keras.backend.backend()
    assert record["device"] and record["versions"]["keras"] == keras.__version__
    history = pd.DataFrame({"epoch": [1, 2, 3], "loss": [2.0, 1.0, 0.9], "acc": [0.3, 0.6, 0.7],
                            "val_loss": [1.5, 1.0, 1.1], "val_acc": [0.4, 0.7, 0.65],
                            "seconds": [10.0, 2.0, 2.2]})
    summary = write_summary(tmp_path / "out" / "summary.json", history, params=85_653, seed=3)
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    assert (saved["epochs"], saved["final_val_acc"], saved["best_val_acc"], saved["best_epoch"]) \
        == (3, 0.65, 0.7, 2)
    assert saved["total_seconds"] == pytest.approx(14.2)
    assert saved["seconds_per_epoch"] == pytest.approx(2.1)
    assert saved["compile_seconds"] == pytest.approx(7.9)
    assert saved["train_seconds"] == pytest.approx(6.3)
    assert saved["params"] == 85_653 and saved["seed"] == 3 and saved["backend"]
    assert write_summary(tmp_path / "y.json", history.assign(seconds=[1.0, 2.0, 2.0]),
                         params=1)["compile_seconds"] == 0.0  # noise can make epoch 1 faster
    with pytest.raises(ValueError, match="no 'seconds' column"):
        write_summary(tmp_path / "x.json", history.drop(columns="seconds"), params=1)
