"""Output size and receptive field of every layer of a 2-D convolutional network.

The arithmetic follows Araujo, Norris & Sim, "Computing Receptive Fields of
Convolutional Neural Networks", Distill 2019 (https://distill.pub/2019/computing-receptive-fields/).
Per spatial axis, with input pixel centres at ``0 .. N-1`` (so the input has
``receptive_field=1, jump=1, start=0``) and ``k_eff = dilation*(kernel-1)+1``::

    receptive_field_out = receptive_field_in + (k_eff - 1) * jump_in
    jump_out            = jump_in * stride
    start_out           = start_in + ((k_eff - 1)/2 - pad_before) * jump_in

``start`` is the centre, in input-pixel coordinates, of the field of the first
(top-left) output unit; it is exact (``fractions.Fraction`` internally, at most a
half-integer, reported as a float). ``padding="same"`` follows TensorFlow:
``out = ceil(n/s)``, ``pad_total = max((out-1)*s + k_eff - n, 0)``, ``pad_before =
pad_total // 2`` (the odd pixel goes after); ``"valid"``: ``out = (n - k_eff)//s + 1``.

Conventions (documented choices):

- Global pooling and ``Flatten``: the output units (jointly) see the whole map, so the
  field grows by ``(n-1)*jump`` and the output becomes non-spatial. ``jump`` is then
  carried over unchanged and is informative only. Every later layer keeps the field.
- Merges (``Add``, ``Concatenate``, ...): all spatial inputs must share the same jump;
  the field is the union (span) of the incoming fields, ``start`` is its centre.
- Normalisation statistics (``GroupNormalization``, ``LayerNormalization`` over spatial
  axes) are not counted as spatial dependencies, as is customary.
- Dropout, noise and Keras ``Random*`` augmentation layers are the identity at inference.
- A layer class with a truthy ``preserves_spatial_geometry`` attribute (the project's
  custom augmentation layers) is treated as geometry-preserving; any other unknown layer
  on a spatial tensor raises :class:`UnknownLayerError` unless named in
  ``assume_preserving``.
- Nested models (e.g. a ``Sequential`` augmentation block inside a functional model)
  are flattened: their layers appear as ``outer/inner`` rows.

This module imports neither TensorFlow nor Keras at import time.

Command line (any saved Keras 3 model)::

    python -m assignment_utils.receptive_field model.keras [--csv table.csv]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Sequence

import pandas as pd

__all__ = [
    "KINDS",
    "COLUMNS",
    "LayerSpec",
    "UnknownLayerError",
    "receptive_field_from_specs",
    "receptive_field_table",
    "to_markdown",
    "style_table",
    "main",
]

KINDS = ("input", "conv", "pool", "pad", "crop", "global", "flatten", "unflatten", "preserve",
         "merge", "concat")
COLUMNS = [
    "layer", "type", "inputs", "kernel", "stride", "dilation", "padding",
    "output_shape", "params", "jump", "receptive_field", "start",
]

# Keras layers that keep the spatial geometry (identity geometry at inference).
_PRESERVING = (
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization",
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Rescaling", "Normalization", "Identity",
    "RandomFlip", "RandomTranslation", "RandomRotation", "RandomZoom", "RandomContrast",
    "RandomBrightness", "RandomErasing", "RandomGaussianBlur", "RandomGrayscale", "RandomHue",
    "RandomSaturation", "RandomSharpness", "RandomColorJitter", "RandomColorDegeneration",
    "RandomPosterization", "RandomInvert", "RandomShear", "RandomPerspective",
    "RandomElasticTransform", "Solarization", "AugMix", "RandAugment", "CutMix", "MixUp",
)
_ELEMENTWISE_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


class UnknownLayerError(ValueError):
    """A layer on a spatial tensor whose effect on the receptive field is unknown."""


Pair = tuple[int, int]


@dataclass(frozen=True)
class LayerSpec:
    """Geometry of one layer, independent of any framework.

    Args:
        name: unique row name.
        type: display type, e.g. ``"SeparableConv2D"``.
        kernel, stride, dilation: int or ``(h, w)``; used by ``conv`` and ``pool``.
        padding: ``"same"``, ``"valid"``, an int (all sides), ``(before, after)`` (both
            axes) or ``((top, bottom), (left, right))``. For ``pad``/``crop`` it gives the
            amounts added/removed.
        filters: output channels; ``None`` keeps the input's (``concat`` sums them).
        params: trainable + non-trainable parameter count, shown as is.
        inputs: names of the input rows; ``None`` means the previous spec.
        kind: one of :data:`KINDS`.
        keepdims: for ``global``, keep a 1x1 spatial output (Keras ``keepdims=True``).

    Example:
        >>> LayerSpec("conv1", "Conv2D", kernel=3, stride=2, padding="same", filters=32).kind
        'conv'
    """

    name: str
    type: str
    kernel: int | Pair = 1
    stride: int | Pair = 1
    dilation: int | Pair = 1
    padding: str | int | Pair | tuple[Pair, Pair] = "valid"
    filters: int | None = None
    params: int = 0
    inputs: tuple[str, ...] | None = None
    kind: str = "conv"
    keepdims: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"LayerSpec {self.name!r}: kind={self.kind!r} is not one of {KINDS}.")
        if self.inputs is not None:
            object.__setattr__(self, "inputs", tuple(self.inputs))
        for field in ("kernel", "stride", "dilation"):
            for v in _pair(getattr(self, field), f"{self.name}.{field}"):
                if v < 1:
                    raise ValueError(f"LayerSpec {self.name!r}: {field} must be >= 1, got {v}.")
        if isinstance(_pads(self.padding, self.name)[0], str) and self.kind in ("pad", "crop"):
            raise ValueError(f"LayerSpec {self.name!r}: a {self.kind} layer needs numeric padding "
                             f"amounts, got {self.padding!r}.")


@dataclass(frozen=True)
class _Axis:
    size: int
    jump: int
    rf: int
    start: Fraction

    def union(self, others: Sequence["_Axis"]) -> "_Axis":
        axes = (self, *others)
        left = min(a.start - Fraction(a.rf - 1, 2) for a in axes)
        right = max(a.start + Fraction(a.rf - 1, 2) for a in axes)
        rf = right - left + 1
        assert rf.denominator == 1, "field edges are always whole pixels"
        return _Axis(self.size, max(a.jump for a in axes), int(rf), (left + right) / 2)


@dataclass(frozen=True)
class _State:
    axes: tuple[_Axis, _Axis]
    channels: int | None
    spatial: bool

    @property
    def shape(self) -> tuple:
        if self.spatial:
            return (self.axes[0].size, self.axes[1].size, self.channels)
        return (self.channels,)


def _pair(value: Any, what: str) -> Pair:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (value[0], value[1])
    raise ValueError(f"{what}: expected an int or an (h, w) pair of ints, got {value!r}.")


def _pads(padding: Any, name: str) -> tuple[str, str] | tuple[Pair, Pair]:
    """Per-axis padding: ``("same", "same")``, ``("valid", "valid")`` or ``((t, b), (l, r))``."""
    if isinstance(padding, str) and padding.lower() in ("same", "valid"):
        return (padding.lower(), padding.lower())
    if isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        return ((padding, padding), (padding, padding))
    try:
        if all(isinstance(p, int) and p >= 0 for p in padding) and len(padding) == 2:
            return (tuple(padding), tuple(padding))
        axes = tuple(tuple(_pair(p, name)) for p in padding)
        if len(axes) == 2 and all(v >= 0 for a in axes for v in a):
            return axes
    except (TypeError, ValueError):
        pass
    raise ValueError(
        f"LayerSpec {name!r}: padding={padding!r} must be 'same', 'valid', an int, "
        "(before, after) or ((top, bottom), (left, right)) of non-negative ints."
    )


def _scalar(values: Sequence) -> Any:
    """One value when both axes agree, else the ``(h, w)`` tuple."""
    return values[0] if values[0] == values[1] else tuple(values)


def _num(x: Fraction) -> int | float:
    return int(x) if x.denominator == 1 else float(x)  # denominators are 1 or 2: exact


def _apply(spec: LayerSpec, ins: list[_State]) -> _State:
    """The state after ``spec`` given the states of its inputs."""
    kind, first = spec.kind, ins[0]
    if kind in ("merge", "concat"):
        return _merge(spec, ins)
    if len(ins) != 1:
        raise ValueError(f"Layer {spec.name!r} ({kind}) takes one input, got {len(ins)}.")
    channels = spec.filters if spec.filters is not None else first.channels
    if kind == "unflatten":  # features of a whole map back into a 1x1 map: the same field
        if first.spatial:
            raise ValueError(f"Layer {spec.name!r} ({spec.type}): 'unflatten' follows global "
                             "pooling or Flatten, not a spatial layer.")
        return _State(tuple(_Axis(1, a.jump, a.rf, a.start) for a in first.axes), channels, True)
    if not first.spatial:
        if kind in ("conv", "pool", "pad", "crop"):
            raise ValueError(f"Layer {spec.name!r} ({spec.type}) needs a spatial input but follows "
                             "a non-spatial layer (global pooling / flatten).")
        return _State(first.axes, channels, False)
    if kind == "preserve":
        return _State(first.axes, channels, True)
    if kind in ("global", "flatten"):
        axes = tuple(_Axis(1, a.jump, a.rf + (a.size - 1) * a.jump,
                           a.start + Fraction(a.size - 1, 2) * a.jump) for a in first.axes)
        if kind == "flatten":
            if spec.filters is None and first.channels is not None:
                channels = first.axes[0].size * first.axes[1].size * first.channels
        return _State(axes, channels, kind == "global" and spec.keepdims)
    pads = _pads(spec.padding, spec.name)
    axes = []
    for i, a in enumerate(first.axes):
        k, s, d = (_pair(getattr(spec, f), spec.name)[i] for f in ("kernel", "stride", "dilation"))
        k_eff = d * (k - 1) + 1 if kind in ("conv", "pool") else 1
        if kind in ("pad", "crop"):
            before, after = pads[i]
            sign = 1 if kind == "pad" else -1
            size, shift, s = a.size + sign * (before + after), -sign * before, 1
        elif pads[i] == "same":
            size = -(-a.size // s)
            before = max((size - 1) * s + k_eff - a.size, 0) // 2
            shift = Fraction(k_eff - 1, 2) - before
        else:
            before, after = (0, 0) if pads[i] == "valid" else pads[i]
            size = (a.size + before + after - k_eff) // s + 1
            shift = Fraction(k_eff - 1, 2) - before
        if size < 1:
            raise ValueError(f"Layer {spec.name!r} ({spec.type}): its output would be empty on axis "
                             f"{'HW'[i]} (input size {a.size}, effective kernel {k_eff}).")
        axes.append(_Axis(size, a.jump * s, a.rf + (k_eff - 1) * a.jump, a.start + shift * a.jump))
    return _State(tuple(axes), channels, True)


def _merge(spec: LayerSpec, ins: list[_State]) -> _State:
    spatial = {s.spatial for s in ins}
    if len(spatial) > 1:
        raise ValueError(f"Merge layer {spec.name!r} ({spec.type}) mixes spatial and non-spatial "
                         "inputs; its receptive field is not defined here.")
    if True in spatial:
        jumps = [tuple(a.jump for a in s.axes) for s in ins]
        if len(set(jumps)) > 1:
            raise ValueError(f"Merge layer {spec.name!r} ({spec.type}): incoming paths have different "
                             f"jumps {[_scalar(j) for j in jumps]}; the receptive field is only "
                             "defined when all paths share the same jump (stride product).")
        sizes = [tuple(a.size for a in s.axes) for s in ins]
        if len(set(sizes)) > 1:
            raise ValueError(f"Merge layer {spec.name!r} ({spec.type}): inputs have different "
                             f"spatial sizes {sizes}.")
    axes = tuple(ins[0].axes[i].union([s.axes[i] for s in ins[1:]]) for i in range(2))
    if spec.filters is not None:
        channels = spec.filters
    elif any(s.channels is None for s in ins):
        channels = None
    elif spec.kind == "concat":
        channels = sum(s.channels for s in ins)
    else:
        channels = max(s.channels for s in ins)
    return _State(axes, channels, ins[0].spatial)


def _row(spec: LayerSpec, state: _State, ins: list[_State], parents: tuple[str, ...]) -> dict:
    geometric = spec.kind in ("conv", "pool")
    if spec.kind == "global" and ins[0].spatial:
        kernel = _scalar([a.size for a in ins[0].axes])
    else:
        kernel = _scalar(_pair(spec.kernel, spec.name)) if geometric else None
    padding = None
    if geometric or spec.kind in ("pad", "crop"):
        pads = _pads(spec.padding, spec.name)
        flat = {v for axis in pads for v in axis} if not isinstance(pads[0], str) else ()
        padding = pads[0] if isinstance(pads[0], str) else flat.pop() if len(flat) == 1 else pads
    return {
        "layer": spec.name,
        "type": spec.type,
        "inputs": parents,
        "kernel": kernel,
        "stride": _scalar(_pair(spec.stride, spec.name)) if geometric else None,
        "dilation": _scalar(_pair(spec.dilation, spec.name)) if geometric else None,
        "padding": padding,
        "output_shape": state.shape,
        "params": int(spec.params),
        "jump": _scalar([a.jump for a in state.axes]),
        "receptive_field": _scalar([a.rf for a in state.axes]),
        "start": _scalar([_num(a.start) for a in state.axes]),
    }


def receptive_field_from_specs(
    specs: Iterable[LayerSpec], input_shape: Sequence[int | None] = (32, 32, 3)
) -> pd.DataFrame:
    """Per-layer output shape, jump, receptive field and start for a list of layer specs.

    Specs are processed in order (a spec may only use earlier rows as ``inputs``). Without
    an explicit ``kind="input"`` spec first, an ``input`` row of ``input_shape`` is added.

    Example:
        >>> t = receptive_field_from_specs([LayerSpec("c", "Conv2D", kernel=3, stride=2)], (9, 9, 1))
        >>> t["output_shape"].tolist(), t["receptive_field"].tolist(), t["jump"].tolist()
        ([(9, 9, 1), (4, 4, 1)], [1, 3], [1, 2])
    """
    if len(input_shape) != 3 or not all(isinstance(v, int) and v > 0 for v in input_shape[:2]):
        raise ValueError(f"input_shape must be (height, width, channels) with known sizes, "
                         f"got {tuple(input_shape)!r}.")
    specs = list(specs)
    if not specs or specs[0].kind != "input":
        specs.insert(0, LayerSpec("input", "InputLayer", kind="input"))
    origin = _State(tuple(_Axis(n, 1, 1, Fraction(0)) for n in input_shape[:2]), input_shape[2], True)
    states: dict[str, _State] = {}
    rows, previous = [], None
    for spec in specs:
        if spec.name in states:
            raise ValueError(f"Duplicate layer name {spec.name!r}; names must be unique.")
        if spec.kind == "input":
            parents, ins, state = (), [origin], origin
        else:
            parents = spec.inputs if spec.inputs is not None else (previous,)
            missing = [p for p in parents if p not in states]
            if missing or not parents:
                raise ValueError(f"Layer {spec.name!r}: unknown input(s) {missing or parents}; inputs "
                                 "must name earlier rows.")
            ins = [states[p] for p in parents]
            state = _apply(spec, ins)
        states[spec.name] = state
        rows.append(_row(spec, state, ins, parents))
        previous = spec.name
    table = pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # keeps None and (h, w) tuples
    for column in ("params", "jump", "receptive_field", "start"):
        if not any(isinstance(v, tuple) for v in table[column]):
            table[column] = pd.to_numeric(table[column])
    return table


# --------------------------------------------------------------------------- Keras


def _layer_spec(layer: Any, name: str, parents: tuple[str, ...], in_ranks: list[int],
                out_shape: tuple, params: int, assume_preserving: set[str]) -> LayerSpec:
    """The :class:`LayerSpec` of one called Keras layer (``out_shape`` from Keras)."""
    from keras import layers as L

    cls = type(layer).__name__
    spatial = in_ranks and all(r == 4 for r in in_ranks)
    common = dict(name=name, type=cls, params=params, inputs=parents,
                  filters=out_shape[-1] if len(out_shape) in (1, 3) else None)
    if getattr(layer, "data_format", "channels_last") == "channels_first" and spatial:
        raise ValueError(f"Layer {layer.name!r} ({cls}) uses data_format='channels_first'; only "
                         "channels_last models are supported.")
    if isinstance(layer, L.InputLayer):
        return LayerSpec(name, cls, kind="input")
    if isinstance(layer, L.Concatenate):
        if layer.axis not in (-1, 3) and spatial:
            raise UnknownLayerError(f"Layer {layer.name!r} (Concatenate) concatenates along axis "
                                    f"{layer.axis}, which changes the spatial geometry.")
        return LayerSpec(kind="concat", **common)
    if isinstance(layer, tuple(getattr(L, n) for n in _ELEMENTWISE_MERGES)):
        return LayerSpec(kind="merge", **common)
    if not spatial and len(out_shape) == 3 and tuple(out_shape[:2]) == (1, 1):
        return LayerSpec(kind="unflatten", **common)  # e.g. Reshape((1, 1, C)) after global pooling
    if not spatial:  # after global pooling / flatten everything keeps the field
        return LayerSpec(kind="merge" if len(parents) > 1 else "preserve", **common)
    if isinstance(layer, (L.Conv2D, L.SeparableConv2D, L.DepthwiseConv2D)):
        return LayerSpec(kind="conv", kernel=tuple(layer.kernel_size), stride=tuple(layer.strides),
                         dilation=tuple(layer.dilation_rate), padding=layer.padding, **common)
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        return LayerSpec(kind="pool", kernel=tuple(layer.pool_size), stride=tuple(layer.strides),
                         padding=layer.padding, **common)
    if isinstance(layer, L.ZeroPadding2D):
        return LayerSpec(kind="pad", padding=tuple(map(tuple, layer.padding)), **common)
    if isinstance(layer, L.Cropping2D):
        return LayerSpec(kind="crop", padding=tuple(map(tuple, layer.cropping)), **common)
    if isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)):
        return LayerSpec(kind="global", keepdims=bool(layer.keepdims), **common)
    if isinstance(layer, L.Flatten):
        return LayerSpec(kind="flatten", **common)
    if isinstance(layer, L.Dense):  # on a 4-D tensor: a 1x1 convolution
        return LayerSpec(kind="conv", **common)
    preserving = tuple(c for c in (getattr(L, n, None) for n in _PRESERVING) if c is not None)
    if (isinstance(layer, preserving) or getattr(type(layer), "preserves_spatial_geometry", False)
            or cls in assume_preserving or layer.name in assume_preserving):
        return LayerSpec(kind="merge" if len(parents) > 1 else "preserve", **common)
    raise UnknownLayerError(
        f"Layer {layer.name!r} ({cls}) acts on a spatial tensor and its effect on the receptive "
        f"field is unknown. If it keeps the spatial geometry (same size, each output pixel depends "
        f"only on the same input pixel), opt in with assume_preserving=({cls!r},) or "
        f"assume_preserving=({layer.name!r},); otherwise it is not supported."
    )


def _known(shape: Sequence) -> tuple:
    return tuple(None if d is None else int(d) for d in shape)


def _graph_specs(model: Any, outer_inputs: list[str] | None, prefix: str,
                 assume: set[str], specs: list[LayerSpec], shapes: dict[str, tuple]) -> list[str]:
    """Append the specs of ``model`` (topological order); return its output row names."""
    graph = model if getattr(model, "_functional", None) is None else model._functional
    if not hasattr(graph, "_nodes_by_depth"):
        raise ValueError(f"Model {model.name!r} is not built on a known input: create it with "
                         "keras.Input(shape=...) (or call model.build) first.")
    order = {id(op): i for i, op in enumerate(graph.operations)}
    by_depth = graph._nodes_by_depth
    nodes = [n for d in sorted(by_depth, reverse=True)
             for n in sorted(by_depth[d], key=lambda n: order.get(id(n.operation), -1))]
    names: dict[int, str] = {}  # id(KerasTensor) -> row name
    for i, x in enumerate(graph.inputs):
        if outer_inputs is not None:
            names[id(x)] = outer_inputs[i]
    used = {s.name for s in specs}
    for node in nodes:
        op = node.operation
        if node.is_input:
            if outer_inputs is None:
                name = prefix + op.name
                specs.append(LayerSpec(name, type(op).__name__, kind="input"))
                shapes[name] = _known(node.outputs[0].shape[1:])
                names[id(node.outputs[0])] = name
            continue
        parents = tuple(names[id(x)] for x in node.input_tensors)
        name, k = prefix + op.name, 1
        while name in used:
            name, k = f"{prefix}{op.name}#{k}", k + 1
        if hasattr(op, "_nodes_by_depth") or getattr(op, "_functional", None) is not None:
            outs = _graph_specs(op, list(parents), name + "/", assume, specs, shapes)
        else:
            out_shape = _known(node.outputs[0].shape[1:])
            count = getattr(op, "count_params", lambda: 0)
            params = count() if name == prefix + op.name else 0  # shared layer: count once
            specs.append(_layer_spec(op, name, parents, [len(x.shape) for x in node.input_tensors],
                                     out_shape, params, assume))
            shapes[name] = out_shape
            outs = [name] * len(node.outputs)
        used.update(s.name for s in specs)
        for x, out in zip(node.outputs, outs):
            names[id(x)] = out
    return [names[id(x)] for x in graph.outputs]


def receptive_field_table(
    model: Any, assume_preserving: Iterable[str] = (), input_shape: Sequence[int] | None = None
) -> pd.DataFrame:
    """Output shape, jump, receptive field and start of every layer of a built Keras 3 model.

    Works on Sequential and functional models (branches, merges, nested models). Rows are in
    topological order, the input layer first; columns are :data:`COLUMNS`.

    Args:
        model: a built ``keras.Model``.
        assume_preserving: class or layer names of extra layers to treat as keeping the
            spatial geometry (raise :class:`UnknownLayerError` otherwise).
        input_shape: ``(H, W, C)`` to analyse at, required when the model's input size is
            unknown (``None``), e.g. fully convolutional models.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 3)])
        >>> receptive_field_table(model)["receptive_field"].tolist()
        [1, 3]
    """
    specs: list[LayerSpec] = []
    shapes: dict[str, tuple] = {}
    _graph_specs(model, None, "", set(assume_preserving), specs, shapes)
    input_shapes = {shapes[s.name] for s in specs if s.kind == "input"}
    if len(input_shapes) != 1 or len(next(iter(input_shapes))) != 3:
        raise ValueError(f"Model {model.name!r}: expected image input(s) of one shape (H, W, C), "
                         f"got {sorted(input_shapes, key=str)}.")
    keras_shape = next(iter(input_shapes))
    if input_shape is None:
        if None in keras_shape[:2]:
            raise ValueError(f"Model {model.name!r} has an unknown input size {keras_shape}; pass "
                             "input_shape=(H, W, C) to analyse it at a given resolution.")
        input_shape = keras_shape
    table = receptive_field_from_specs(specs, tuple(input_shape))
    if tuple(input_shape) == keras_shape:  # never a silent wrong number: cross-check Keras
        for name, shape in zip(table["layer"], table["output_shape"]):
            if shapes[name] != tuple(shape):
                raise ValueError(f"Layer {name!r}: computed output shape {tuple(shape)} but Keras "
                                 f"reports {shapes[name]}: the layer changes the geometry, so it "
                                 "cannot be treated as preserving (check assume_preserving).")
    return table


# ------------------------------------------------------------------------ rendering


def _cell(value: Any) -> str:
    if value is None or value == ():
        return ""
    if isinstance(value, tuple):
        if all(isinstance(v, tuple) for v in value):  # ((top, bottom), (left, right))
            return str(value)
        if all(isinstance(v, (int, float)) for v in value):
            return "×".join(_cell(v) for v in value)
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("|", "\\|")


def to_markdown(table: pd.DataFrame) -> str:
    """Render a receptive-field table as a GitHub markdown table (no extra dependency).

    Example:
        >>> to_markdown(receptive_field_from_specs([], (8, 8, 3))).splitlines()[2]
        '| input | InputLayer |  |  |  |  |  | 8×8×3 | 0 | 1 | 1 | 0 |'
    """
    header = [str(c) for c in table.columns]
    body = [[_cell(v) for v in row] for row in table.itertuples(index=False)]
    numeric = {"params", "jump", "receptive_field", "start", "kernel", "stride", "dilation"}
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if c in numeric else "---" for c in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def style_table(table: pd.DataFrame, image_size: int | Sequence[int] | None = None):
    """A pandas ``Styler`` for notebooks; the first row whose field covers the image is highlighted.

    ``image_size`` defaults to the input row's ``(H, W)``.

    Example:
        >>> style_table(receptive_field_table(model), image_size=32)  # doctest: +SKIP
    """
    size = image_size if image_size is not None else table["output_shape"].iloc[0][:2]
    size = _pair(tuple(size) if not isinstance(size, int) else size, "image_size")
    rfs = table["receptive_field"].map(lambda r: _pair(r, "receptive_field"))
    covers = rfs.map(lambda r: r[0] >= size[0] and r[1] >= size[1])
    first = covers.idxmax() if covers.any() else None

    def highlight(row: pd.Series) -> list[str]:
        if row.name == first:
            return ["background-color: #ffe08a; font-weight: bold"] * len(row)
        return ["color: #888" if covers[row.name] else ""] * len(row)

    return (table.style.apply(highlight, axis=1)
            .format(_cell, subset=[c for c in table.columns if c != "params"])
            .format("{:,}", subset=["params"] if "params" in table.columns else [])
            .set_caption(f"Receptive field per layer (image {size[0]}×{size[1]}; highlighted: "
                         "first layer whose field covers it)"))


# ------------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    """Command line: print a saved Keras 3 model's per-layer table as markdown; 0 ok, 2 on errors.

    The project's own layers (``CifarAugment``) are registered before loading; a model with
    other custom layers needs its defining module imported, so load and call
    :func:`receptive_field_table` from Python instead.

    >>> main(["runs/notebook/model.keras", "--csv", "rf.csv"])  # doctest: +SKIP
    | layer | type | inputs | kernel | ...
    """
    parser = argparse.ArgumentParser(
        prog="python -m assignment_utils.receptive_field",
        description="Output size, jump, receptive field and start of every layer of a saved "
                    "Keras 3 model (.keras), as a markdown table.")
    parser.add_argument("model", metavar="MODEL", help="a model saved with model.save('x.keras')")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.add_argument("--assume-preserving", nargs="+", default=(), metavar="NAME",
                        help="layer classes or names to treat as keeping the spatial geometry")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    try:
        import keras

        import assignment_utils.augment  # noqa: F401  (registers CifarAugment for loading)

        model = keras.saving.load_model(args.model, compile=False)
        table = receptive_field_table(model, assume_preserving=args.assume_preserving)
        if args.csv:
            table.to_csv(args.csv, index=False)
    except UnknownLayerError as exc:
        print(f"error: {exc} (command line: --assume-preserving NAME)", file=sys.stderr)
        return 2
    except (OSError, ValueError, TypeError) as exc:
        print(f"error: cannot analyse {args.model}: {exc}", file=sys.stderr)
        return 2
    print(to_markdown(table))
    if args.csv:
        print(f"table saved to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
