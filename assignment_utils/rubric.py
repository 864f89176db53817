"""Check a Keras model (and its training history) against the assignment's rules::

    table = check_assignment(model, history)
    table[["requirement", "passed"]]          # one row per rule, passed True/False/None
    rubric_passed(table)                      # True only when every row passed

Accuracy is compared with a strict ``>`` at full precision: a run whose best is exactly
``base_accuracy`` does not beat it, while the base log's own best (0.8287) does beat the
rounded 82.8% (0.828). Keras is imported when a check runs, not with this module.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from assignment_utils.checks import check_integer, check_real
from assignment_utils.logs import as_history_frame
from assignment_utils.receptive_field import receptive_field_table
from assignment_utils.rules import BASE_ACCURACY, EPOCHS_REQUIRED, MAX_PARAMS
from assignment_utils.summaries import summarize_run

__all__ = ["check_assignment", "rubric_passed", "rubric_markdown", "ALLOWED_CONVOLUTIONS",
           "FORBIDDEN_LAYERS", "DROPOUT_LAYERS", "SEPARABLE_ONLY", "BASE_ACCURACY",
           "EPOCHS_REQUIRED", "MAX_PARAMS"]

ALLOWED_CONVOLUTIONS = ("SeparableConv2D", "DepthwiseConv2D")
# The one definition the first rule applies, quoted in its evidence.
SEPARABLE_ONLY = ("every spatial filter is depthwise (SeparableConv2D, DepthwiseConv2D) and channels "
                  "are mixed only by 1x1 pointwise convolutions (SeparableConv2D's own, or a 1x1 "
                  "Conv2D); no other convolution and no Dense, in every layer, nested ones included")
FORBIDDEN_LAYERS = ("Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                    "Conv3DTranspose", "SeparableConv1D", "DepthwiseConv1D", "Dense",
                    "EinsumDense")
DROPOUT_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                  "GaussianDropout", "AlphaDropout")
HIGH_DROPOUT = 0.5  # rates above this are reported as high (the rule still passes)
NOT_RUN = "not run"

Row = tuple[str, bool | None, str]


def check_assignment(
    model: Any,
    history: Any = None,
    epochs_required: int = EPOCHS_REQUIRED,
    base_accuracy: float = BASE_ACCURACY,
    max_params: int = MAX_PARAMS,
    assume_preserving: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per rule: ``requirement``, ``passed`` (True/False, None = not run), ``evidence``.

    Rules, in order: depthwise separable convolutions only (nested models included),
    BatchNormalization, fewer than ``max_params`` parameters (trainable + non-trainable),
    dropout with 0 < rate < 1, output size and receptive field of every layer (via
    ``receptive_field_table(model, assume_preserving)``), exactly ``epochs_required``
    epochs numbered 1..N, and best ``val_acc`` strictly above ``base_accuracy``.
    ``history`` is anything ``as_history_frame`` accepts; without it the last two rows
    are "not run" (``passed`` None).

    >>> check_assignment(model, "runs/mine/log.csv").passed.tolist()  # doctest: +SKIP
    [True, True, True, True, True, True, True, True]
    """
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, got {type(model).__name__}; build it "
                        "with keras.Sequential([...]) or keras.Model(inputs, outputs) and "
                        "pass the model itself, not its name, config or summary")
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built; start it with keras.Input(shape) "
                         "or call model.build((None, 32, 32, 3)) first")
    epochs_required = check_integer("epochs_required", epochs_required, 1)
    max_params = check_integer("max_params", max_params, 1)
    base_accuracy = check_real("base_accuracy", base_accuracy, "in (0, 1) (82.8% is 0.828)",
                               lambda v: 0 < v < 1)
    names = (tuple(assume_preserving) if isinstance(assume_preserving, Iterable)
             and not isinstance(assume_preserving, (str, bytes)) else None)
    if names is None or not all(isinstance(name, str) for name in names):
        raise ValueError(f"assume_preserving must be a list of layer class or layer names, e.g. "
                         f"['CifarAugment'], got {assume_preserving!r}")

    leaves = dict(_leaf_layers(model))
    layers = _all_layers(leaves)
    rows = [
        _check_convolutions(layers),
        _check_batch_norm(layers),
        _check_params(model, max_params),
        _check_dropout(layers),
        *_check_layer_table(model, leaves, names),
        *_check_history(history, epochs_required, base_accuracy),
    ]
    return pd.DataFrame(rows, columns=["requirement", "passed", "evidence"]).astype(
        {"passed": object})


def rubric_passed(table: pd.DataFrame) -> bool:
    """True when every row of :func:`check_assignment`'s table passed (None counts as not).

    >>> rubric_passed(check_assignment(model))  # doctest: +SKIP
    False
    """
    return all(passed is True for passed in table["passed"])


def rubric_markdown(table: pd.DataFrame) -> str:
    """:func:`check_assignment`'s table as a markdown table numbered 1..N in rule order, with a
    pass/fail mark and the evidence in full (pandas' HTML view cuts long text).

    >>> print(rubric_markdown(pd.DataFrame([("Dropout", True, "1 layer(s): 0.1")],
    ...                                    columns=["requirement", "passed", "evidence"])))
    | # | rule | result | evidence |
    |---:|---|---|---|
    | 1 | Dropout | ✅ pass | 1 layer(s): 0.1 |
    """
    marks = {True: "✅ pass", False: "❌ fail", None: "– not run"}
    lines = ["| # | rule | result | evidence |", "|---:|---|---|---|"]
    for number, row in enumerate(table.itertuples(index=False), start=1):
        evidence = str(row.evidence).replace("|", "\\|")
        lines.append(f"| {number} | {row.requirement} | {marks[row.passed]} | {evidence} |")
    return "\n".join(lines)


def _leaf_layers(model: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(path, layer)`` for every layer, descending into nested models (not yielded
    themselves); ``path`` is ``"outer/inner"``, as in receptive_field_table's rows."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer, f"{prefix}{layer.name}/")
        else:
            yield f"{prefix}{layer.name}", layer


def _all_layers(leaves: dict[str, Any]) -> dict[str, Any]:
    """Every layer of the whole layer tree below :func:`_leaf_layers`' ``leaves``: the sublayers
    that custom layers hold, recursively (a custom layer is listed too, under its own path)."""
    found = {}

    def walk(layer: Any, path: str) -> None:
        found[path] = layer
        # Keras 3 tracks a layer's sublayers; _flatten_layers is how Keras itself lists them.
        for child in layer._flatten_layers(include_self=False, recursive=False):
            walk(child, f"{path}/{child.name}")

    for path, layer in leaves.items():
        walk(layer, path)
    return found


def _kind(layer: Any, names: Iterable[str]) -> str | None:
    """The first class name in the layer's MRO that is in ``names`` (subclasses count)."""
    return next((cls.__name__ for cls in type(layer).__mro__ if cls.__name__ in names), None)


def _of_kind(layers: dict[str, Any], names: Iterable[str]) -> dict[str, tuple[str, Any]]:
    """``{path: (kind, layer)}`` for the layers that are one of ``names``."""
    names = set(names)
    return {path: (kind, layer) for path, layer in layers.items()
            if (kind := _kind(layer, names))}


def _check_convolutions(layers: dict[str, Any]) -> Row:
    requirement = "Depthwise separable convolutions only"
    allowed = Counter(kind for kind, _ in _of_kind(layers, ALLOWED_CONVOLUTIONS).values())
    pointwise = {path for path, (_, layer) in _of_kind(layers, ["Conv2D"]).items()
                 if tuple(layer.kernel_size) == (1, 1)}
    found = ", ".join(f"{name} x{allowed[name]}" for name in ALLOWED_CONVOLUTIONS)
    found += f", 1x1 Conv2D x{len(pointwise)}" if pointwise else ""
    offenders = {path: kind for path, (kind, _) in _of_kind(layers, FORBIDDEN_LAYERS).items()
                 if path not in pointwise}
    if offenders:
        listed = ", ".join(f"{path} ({kind})" for path, kind in offenders.items())
        return requirement, False, f"{found}; not allowed: {listed}. Rule: {SEPARABLE_ONLY}"
    if not allowed:
        return requirement, False, f"{found}; the model has no depthwise convolution at all"
    return requirement, True, f"{found}; {SEPARABLE_ONLY}"


def _check_batch_norm(layers: dict[str, Any]) -> Row:
    count = len(_of_kind(layers, ["BatchNormalization"]))
    return "BatchNormalization", count > 0, f"{count} BatchNormalization layer(s)"


def _check_params(model: Any, max_params: int) -> Row:
    total = model.count_params()
    trainable = sum(math.prod(weight.shape) for weight in model.trainable_weights)
    return (f"Fewer than {max_params:,} parameters", total < max_params,
            f"{total:,} total ({trainable:,} trainable, {total - trainable:,} non-trainable)")


def _check_dropout(layers: dict[str, Any]) -> Row:
    rates = {path: float(layer.rate) for path, (_, layer) in
             _of_kind(layers, DROPOUT_LAYERS).items()}
    if not rates:
        return "Dropout", False, "no dropout layer"
    evidence = f"{len(rates)} layer(s): " + ", ".join(f"{rate:g}" for rate in rates.values())
    useless = [path for path, rate in rates.items() if not 0 < rate < 1]
    high = [f"{rate:g}" for rate in rates.values() if HIGH_DROPOUT < rate < 1]
    if useless:
        evidence += f"; rate outside (0, 1), no effect: {', '.join(useless)}"
    if high:
        evidence += f"; high rate(s) {', '.join(high)} > {HIGH_DROPOUT:g} may underfit"
    return "Dropout", len(useless) < len(rates), evidence


def _check_layer_table(model: Any, layers: dict[str, Any],
                       assume_preserving: tuple[str, ...]) -> tuple[Row, Row]:
    """Rows "Output size of each layer" and "Receptive field of each layer"."""
    output, field = "Output size of each layer", "Receptive field of each layer"
    try:
        table = receptive_field_table(model, assume_preserving=assume_preserving)
    except ValueError as error:
        return (output, False, str(error)), (field, False, str(error))

    rows = set(table["layer"])
    missing = [path for path, layer in layers.items()
               if type(layer).__name__ != "InputLayer" and path not in rows]
    if missing:
        message = f"no row for layer(s) {', '.join(missing)}"
        return (output, False, message), (field, False, message)

    documented = int((table["type"] != "InputLayer").sum())
    image = _sides(table["output_shape"].iloc[0][:2])
    spatial = table[[len(shape) == 3 for shape in table["output_shape"]]].iloc[-1]
    return (
        (output, True, f"{documented} layers documented; "
                       f"final output {_sides(table['output_shape'].iloc[-1])}"),
        (field, True, f"last spatial layer {spatial['layer']}: receptive field "
                      f"{_sides(spatial['receptive_field'])} px on a {image} px image"),
    )


def _sides(value: tuple[int, ...]) -> str:
    """(1, 1, 10) -> "1x1x10"; (32, 32) -> "32"; (5, 7) -> "5x7"."""
    if len(value) == 2 and value[0] == value[1]:
        return str(value[0])
    return "x".join(map(str, value))


def _check_history(history: Any, epochs_required: int, base_accuracy: float) -> tuple[Row, Row]:
    """Rows "<N> epochs" and "Beats the base validation accuracy"; a history that cannot be read
    fails both rows with the reason, and one without validation accuracy fails the second."""
    epochs_row, accuracy_row = f"{epochs_required} epochs", "Beats the base validation accuracy"
    if history is None:
        return (epochs_row, None, NOT_RUN), (accuracy_row, None, NOT_RUN)
    try:
        frame = as_history_frame(history)  # sorted, one row per epoch, percent recognised
    except (TypeError, ValueError, OSError) as error:
        reason = f"the history could not be read: {error}"
        return (epochs_row, False, reason), (accuracy_row, False, reason)

    epochs = [int(epoch) for epoch in frame["epoch"]]
    expected = list(range(1, epochs_required + 1))
    evidence = f"{len(epochs)} epochs ({epochs[0]}-{epochs[-1]})"
    gaps = sorted(set(range(1, epochs[-1] + 1)) - set(epochs))
    if gaps:
        evidence += f"; missing {', '.join(map(str, gaps))}"
    if epochs != expected:
        evidence += f"; {epochs_required} required"
    epochs_result = (epochs_row, epochs == expected, evidence)

    try:
        summary = summarize_run(frame)
    except ValueError as error:
        return epochs_result, (accuracy_row, False, str(error))
    accuracies = frame["val_acc"].dropna()
    if not accuracies.between(0, 1).all():
        return epochs_result, (accuracy_row, False, f"validation accuracies outside [0, 1] "
                                                    f"({accuracies.min():g}..{accuracies.max():g})")
    return epochs_result, (
        accuracy_row, bool(summary.best_val_acc > base_accuracy),
        f"best {_pct(summary.best_val_acc)} (epoch {summary.best_epoch}), "
        f"epoch {summary.final_epoch}: {_pct(summary.final_val_acc)} vs base {_pct(base_accuracy)}")


def _pct(fraction: float) -> str:
    """0.828 -> "82.8%", 0.8287 -> "82.87%" (up to two decimals, enough to tell them apart)."""
    return f"{100 * fraction:.2f}".rstrip("0").rstrip(".") + "%"
