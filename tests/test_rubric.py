"""Tests for assignment_utils.rubric.check_assignment on tiny Keras models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")
L = keras.layers

from assignment_utils.baselines import load_baseline  # noqa: E402
from assignment_utils.rubric import SEPARABLE_ONLY, check_assignment, rubric_passed  # noqa: E402
from assignment_utils.summaries import summarize_run  # noqa: E402

REQUIREMENTS = [
    "Depthwise separable convolutions only",
    "BatchNormalization",
    "Fewer than 100,000 parameters",
    "Dropout",
    "Output size of each layer",
    "Receptive field of each layer",
    "50 epochs",
    "Beats the base validation accuracy",
]


def sequential(*layers) -> keras.Model:
    return keras.Sequential([keras.Input((32, 32, 3)), *layers], name="net")


def compliant_layers(dropout=0.1, conv=None, head=()) -> list:
    """sep1 -> BN -> ReLU -> Dropout -> sep2 (stride 2) -> BN -> ReLU -> GAP -> softmax."""
    return [
        conv or L.SeparableConv2D(8, 3, padding="same", name="sep1"),
        L.BatchNormalization(name="bn1"),
        L.ReLU(name="relu1"),
        *([L.Dropout(dropout, name="drop1")] if dropout is not None else []),
        L.SeparableConv2D(10, 3, strides=2, name="sep2"),
        L.BatchNormalization(name="bn2"),
        L.ReLU(name="relu2"),
        L.GlobalAveragePooling2D(name="gap"),
        *head,
        L.Activation("softmax", name="softmax"),
    ]


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return sequential(*compliant_layers())


def history(val_acc: list[float] | np.ndarray, epochs=None) -> pd.DataFrame:
    n = len(val_acc)
    return pd.DataFrame({
        "epoch": np.arange(1, n + 1) if epochs is None else epochs,
        "loss": np.linspace(2.0, 0.4, n), "acc": np.linspace(0.3, 0.95, n),
        "val_loss": np.linspace(2.0, 0.6, n), "val_acc": val_acc,
    })


def fifty(best: float, best_epoch: int = 47, last: float = 0.879) -> pd.DataFrame:
    val_acc = np.linspace(0.4, 0.8, 50)
    val_acc[best_epoch - 1], val_acc[-1] = best, last
    return history(val_acc)


def row(table: pd.DataFrame, requirement: str) -> tuple:
    (match,) = table.index[table["requirement"] == requirement]
    return table.at[match, "passed"], table.at[match, "evidence"]


def test_compliant_model_without_history(model):
    table = check_assignment(model)
    assert list(table.columns) == ["requirement", "passed", "evidence"]
    assert table["requirement"].tolist() == REQUIREMENTS
    assert table["passed"].tolist() == [True] * 6 + [None, None]
    assert table["evidence"].tolist() == [
        f"SeparableConv2D x2, DepthwiseConv2D x0; {SEPARABLE_ONLY}",
        "2 BatchNormalization layer(s)",
        # sep1 27+24+8, bn1 4x8, sep2 72+80+10, bn2 4x10; moving mean/variance not trainable
        "293 total (257 trainable, 36 non-trainable)",
        "1 layer(s): 0.1",
        "9 layers documented; final output 10",
        "last spatial layer relu2: receptive field 5 px on a 32 px image",
        "not run",
        "not run",
    ]
    assert rubric_passed(table) is False


def test_compliant_model_with_a_winning_history(model):
    table = check_assignment(model, fifty(best=0.881))
    assert table["passed"].tolist() == [True] * 8
    assert row(table, "50 epochs") == (True, "50 epochs (1-50)")
    assert row(table, "Beats the base validation accuracy") == (
        True, "best 88.1% (epoch 47), epoch 50: 87.9% vs base 82.8%")
    assert rubric_passed(table) is True


def test_history_as_dict_of_lists(model):
    table = check_assignment(model, {"val_acc": [0.5, 0.9], "val_loss": [1.0, 0.5],
                                     "acc": [0.5, 0.9], "loss": [1.0, 0.5]}, epochs_required=2)
    assert table["requirement"].tolist()[6] == "2 epochs"
    assert table["passed"].tolist()[6:] == [True, True]


@pytest.mark.parametrize("best, base, passed, evidence", [
    (0.82, 0.828, False, "best 82% (epoch 47), epoch 50: 81.5% vs base 82.8%"),
    (0.828, 0.828, False, "best 82.8% (epoch 47), epoch 50: 81.5% vs base 82.8%"),  # strict >
    (0.8287, 0.828, True, "best 82.87% (epoch 47), epoch 50: 81.5% vs base 82.8%"),
    (0.9, 0.95, False, "best 90% (epoch 47), epoch 50: 81.5% vs base 95%"),
])
def test_accuracy_must_strictly_beat_the_base(model, best, base, passed, evidence):
    table = check_assignment(model, fifty(best, last=0.815), base_accuracy=base)
    assert row(table, "Beats the base validation accuracy") == (passed, evidence)


@pytest.mark.parametrize("epochs, required, passed, evidence", [
    (list(range(1, 50)), 50, False, "49 epochs (1-49); 50 required"),
    (list(range(1, 50)), 49, True, "49 epochs (1-49)"),
    (list(range(1, 52)), 50, False, "51 epochs (1-51); 50 required"),
    ([e for e in range(1, 52) if e != 7], 50, False, "50 epochs (1-51); missing 7; 50 required"),
    ([1, 2, 2, 3], 4, False, "3 epochs (1-3); 4 required"),  # a resumed run: last row wins
])
@pytest.mark.filterwarnings("ignore::assignment_utils.logs.LogWarning")
def test_epoch_count(model, epochs, required, passed, evidence):
    frame = history(np.linspace(0.5, 0.9, len(epochs)), epochs=epochs)
    table = check_assignment(model, frame, epochs_required=required)
    assert row(table, f"{required} epochs") == (passed, evidence)


def test_seed_baselines(model):
    """Reference beats 82.8%; strict > at full precision, so the base log's 82.87% also
    beats the rounded 82.8%, but no log beats its own best."""
    reference, base = load_baseline("reference"), load_baseline("base")
    table = check_assignment(model, reference)
    assert table["passed"].tolist()[6:] == [True, True]
    assert table["evidence"].tolist()[6:] == [
        "50 epochs (1-50)", "best 83.6% (epoch 43), epoch 50: 82.63% vs base 82.8%"]
    assert row(check_assignment(model, base), "Beats the base validation accuracy") == (
        True, "best 82.87% (epoch 47), epoch 50: 82.02% vs base 82.8%")
    own_best = summarize_run(base).best_val_acc
    assert row(check_assignment(model, base, base_accuracy=own_best),
               "Beats the base validation accuracy") == (
        False, "best 82.87% (epoch 47), epoch 50: 82.02% vs base 82.87%")


@pytest.mark.parametrize("layers, evidence", [
    (compliant_layers(conv=L.Conv2D(8, 3, padding="same", name="stem")),
     f"SeparableConv2D x1, DepthwiseConv2D x0; not allowed: stem (Conv2D). Rule: {SEPARABLE_ONLY}"),
    (compliant_layers(head=[L.Dense(10, name="head")]),
     f"SeparableConv2D x2, DepthwiseConv2D x0; not allowed: head (Dense). Rule: {SEPARABLE_ONLY}"),
    (compliant_layers(conv=L.Conv2DTranspose(8, 3, padding="same", name="up")),
     f"SeparableConv2D x1, DepthwiseConv2D x0; not allowed: up (Conv2DTranspose). Rule: {SEPARABLE_ONLY}"),
    ([L.GlobalAveragePooling2D(name="gap"), L.BatchNormalization(), L.Dropout(0.2)],
     "SeparableConv2D x0, DepthwiseConv2D x0; the model has no depthwise convolution at all"),
], ids=["conv2d", "dense_head", "transpose", "no_convolution"])
def test_only_depthwise_separable_convolutions(layers, evidence):
    assert check_assignment(sequential(*layers)).iloc[0].tolist() == [
        REQUIREMENTS[0], False, evidence]


def test_depthwise_conv_is_allowed():
    layers = compliant_layers(conv=L.DepthwiseConv2D(3, padding="same", name="dw"))
    assert check_assignment(sequential(*layers)).iloc[0].tolist() == [
        REQUIREMENTS[0], True, f"SeparableConv2D x1, DepthwiseConv2D x1; {SEPARABLE_ONLY}"]


def test_the_textbook_factorisation_passes_like_separable_conv2d():
    """Depthwise 3x3 + pointwise 1x1 Conv2D used to fail while DepthwiseConv2D alone passed:
    one definition now decides both, and a 3x3 Conv2D still fails."""
    textbook = compliant_layers(conv=L.DepthwiseConv2D(3, padding="same", name="dw"))
    textbook.insert(1, L.Conv2D(8, 1, name="pw"))
    passed, evidence = row(check_assignment(sequential(*textbook)), REQUIREMENTS[0])
    assert passed is True and evidence.startswith("SeparableConv2D x1, DepthwiseConv2D x1, 1x1 Conv2D x1")
    textbook[1] = L.Conv2D(8, 3, padding="same", name="full")
    assert row(check_assignment(sequential(*textbook)), REQUIREMENTS[0])[0] is False


class HiddenConv(L.Layer):
    """A custom layer that holds a full convolution and a BatchNormalization."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv, self.bn = L.Conv2D(8, 3, padding="same", name="conv"), L.BatchNormalization(name="bn")
        self.preserves_spatial_geometry = False

    def call(self, x):
        return self.bn(self.conv(x))


def test_layers_inside_custom_layers_are_checked():
    """A keras.layers.Layer subclass holding a Conv2D used to pass the first rule, and the
    BatchNormalization inside it was not counted."""
    net = sequential(HiddenConv(name="hidden"), L.Dropout(0.1), L.GlobalAveragePooling2D())
    table = check_assignment(net)
    assert row(table, REQUIREMENTS[0])[0] is False
    assert "not allowed: hidden/conv (Conv2D)" in row(table, REQUIREMENTS[0])[1]
    assert row(table, "BatchNormalization") == (True, "1 BatchNormalization layer(s)")


def test_a_head_that_reshapes_after_global_pooling_is_documented():
    """GlobalAveragePooling2D -> Reshape((1, 1, C)) -> 1x1 convolution used to fail rows 5-6."""
    net = sequential(L.SeparableConv2D(8, 3, name="sep"), L.BatchNormalization(), L.Dropout(0.1),
                     L.GlobalAveragePooling2D(name="gap"), L.Reshape((1, 1, 8), name="reshape"),
                     L.SeparableConv2D(10, 1, name="classifier"), L.Flatten(name="flat"))
    table = check_assignment(net)
    assert table["passed"].tolist()[:6] == [True] * 6
    assert row(table, "Receptive field of each layer")[1].startswith(
        "last spatial layer classifier: receptive field 32 px")


def test_nested_model_is_searched():
    block = keras.Sequential([L.Conv2D(4, 3, name="full"), L.BatchNormalization(name="bn")],
                             name="block")
    inputs = keras.Input((32, 32, 3))
    x = L.SeparableConv2D(8, 3, name="sep")(inputs)
    x = L.Dropout(0.2, name="drop")(block(x))
    nested = keras.Model(inputs, L.GlobalAveragePooling2D(name="gap")(x))
    table = check_assignment(nested)
    assert table["passed"].tolist()[:6] == [False, True, True, True, True, True]
    assert table.at[0, "evidence"].startswith(
        "SeparableConv2D x1, DepthwiseConv2D x0; not allowed: block/full (Conv2D)")
    assert table.at[1, "evidence"] == "1 BatchNormalization layer(s)"
    assert table.at[4, "evidence"] == "5 layers documented; final output 4"


def test_batch_normalization_required():
    layers = [layer for layer in compliant_layers()
              if not isinstance(layer, L.BatchNormalization)]
    assert row(check_assignment(sequential(*layers)), "BatchNormalization") == (
        False, "0 BatchNormalization layer(s)")


@pytest.mark.parametrize("layers, passed, evidence", [
    (compliant_layers(dropout=None), False, "no dropout layer"),
    (compliant_layers(dropout=0.0), False, "1 layer(s): 0; rate outside (0, 1), no effect: drop1"),
    (compliant_layers(dropout=0.6), True, "1 layer(s): 0.6; high rate(s) 0.6 > 0.5 may underfit"),
    (compliant_layers(head=[L.Dropout(0.25, name="drop2")]), True, "2 layer(s): 0.1, 0.25"),
    ([L.SeparableConv2D(4, 3), L.SpatialDropout2D(0.15), L.GaussianDropout(0.2)], True,
     "2 layer(s): 0.15, 0.2"),
], ids=["none", "zero", "high", "two", "spatial_gaussian"])
def test_dropout(layers, passed, evidence):
    assert row(check_assignment(sequential(*layers)), "Dropout") == (passed, evidence)


@pytest.mark.parametrize("max_params, passed", [(294, True), (293, False), (200, False)])
def test_parameter_limit_is_strict(model, max_params, passed):
    assert check_assignment(model, max_params=max_params).iloc[2].tolist() == [
        f"Fewer than {max_params:,} parameters", passed,
        "293 total (257 trainable, 36 non-trainable)"]


def test_big_model_fails_the_default_limit():
    # the 1x1 separable layer alone has 400 + 400*250 + 250 parameters
    big = sequential(L.SeparableConv2D(400, 1), L.BatchNormalization(), L.Dropout(0.1),
                     L.SeparableConv2D(250, 1), L.GlobalAveragePooling2D())
    assert row(check_assignment(big), "Fewer than 100,000 parameters") == (
        False, "103,853 total (103,053 trainable, 800 non-trainable)")


class Shuffle(L.Layer):
    """A layer receptive_field_table does not know (geometry-preserving in fact)."""

    def call(self, x):
        return x


def test_unknown_layer_fails_the_layer_table_unless_assumed_preserving():
    net = sequential(L.SeparableConv2D(8, 3, name="sep"), Shuffle(name="shuffle"),
                     L.BatchNormalization(), L.Dropout(0.1), L.GlobalAveragePooling2D())
    table = check_assignment(net)
    for index in (4, 5):
        assert table.at[index, "passed"] is False
        assert "'shuffle' (Shuffle)" in table.at[index, "evidence"]
    assert table["passed"].tolist()[:4] == [True] * 4
    table = check_assignment(net, assume_preserving=("Shuffle",))
    assert table["passed"].tolist()[4:6] == [True, True]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model="my_model"), TypeError, r"keras\.Model, got str; build it"),
    (dict(model=None), TypeError, "keras.Sequential"),
    (dict(epochs_required=0), ValueError, "epochs_required"),
    (dict(epochs_required=50.0), ValueError, "epochs_required"),
    (dict(base_accuracy=82.8), ValueError, r"82\.8% is 0\.828"),
    (dict(base_accuracy=0.0), ValueError, "base_accuracy"),
    (dict(max_params=0), ValueError, "max_params"),
])
def test_bad_arguments(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_assignment(**{"model": model, **kwargs})


def test_history_without_validation_accuracy_fails_its_row_not_the_call(model):
    """It used to make the whole call raise; now only the accuracy row fails, with the reason."""
    table = check_assignment(model, {"loss": [1.0, 0.5], "acc": [0.5, 0.6]})
    assert table["passed"].tolist()[:6] == [True] * 6
    assert row(table, "50 epochs")[0] is False
    passed, evidence = row(table, "Beats the base validation accuracy")
    assert passed is False and "no validation accuracy" in evidence


def test_unreadable_history_fails_both_history_rows(model):
    table = check_assignment(model, 42)
    for requirement in REQUIREMENTS[6:]:
        passed, evidence = row(table, requirement)
        assert passed is False and evidence.startswith("the history could not be read")


def test_accuracies_in_percent_are_recognised_not_compared_as_they_are(model):
    """A history in percent used to pass with "best 5000 %"."""
    percent = fifty(best=0.90, last=0.88)
    percent["val_acc"] = percent["val_acc"] * 100
    with pytest.warns(Warning, match="percent"):
        passed, evidence = row(check_assignment(model, percent), "Beats the base validation accuracy")
    assert passed is True and evidence.startswith("best 90% (epoch 47), epoch 50: 88%")


def test_unbuilt_model_is_rejected():
    with pytest.raises(ValueError, match="not built"):
        check_assignment(keras.Sequential([L.SeparableConv2D(4, 3)]))


def test_rubric_passed_needs_every_row_true():
    table = pd.DataFrame({"requirement": ["a", "b"], "passed": [True, True], "evidence": ""})
    assert rubric_passed(table) is True
    table["passed"] = pd.Series([True, None], dtype=object)
    assert rubric_passed(table) is False
    table["passed"] = [True, False]
    assert rubric_passed(table) is False
