"""Receptive-field geometry of a 2-D convolutional network, independent of any framework.

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

Cell types: the columns of :data:`PAIR_COLUMNS` always hold an ``(h, w)`` pair, square or not
(``None`` for ``kernel``/``stride``/``dilation`` of layers without a kernel): ``receptive_field``
and ``jump`` pairs of ints, ``start`` pairs of floats. ``padding`` is ``"same"``, ``"valid"``,
``((top, bottom), (left, right))`` or ``None``. Showing a square pair (or equal padding) as one
number is the renderer's job, so no consumer has to tell an int from a pair.

Layer-classification conventions (normalisation, dropout, unknown and nested layers) are
those of the Keras walk in :mod:`assignment_utils.rf_keras`; rendering is in
:mod:`assignment_utils.rf_render`. This module never imports TensorFlow or Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable, Sequence

import pandas as pd

__all__ = [
    "KINDS",
    "COLUMNS",
    "PAIR_COLUMNS",
    "LayerSpec",
    "UnknownLayerError",
    "receptive_field_from_specs",
]

KINDS = ("input", "conv", "pool", "pad", "crop", "global", "flatten", "unflatten", "preserve",
         "merge", "concat")
COLUMNS = [
    "layer", "type", "inputs", "kernel", "stride", "dilation", "padding",
    "output_shape", "params", "jump", "receptive_field", "start",
]
PAIR_COLUMNS = ("kernel", "stride", "dilation", "jump", "receptive_field", "start")


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
                             f"jumps {jumps}; the receptive field is only "
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
        kernel = tuple(a.size for a in ins[0].axes)
    else:
        kernel = _pair(spec.kernel, spec.name) if geometric else None
    padding = None
    if geometric or spec.kind in ("pad", "crop"):
        pads = _pads(spec.padding, spec.name)
        padding = pads[0] if isinstance(pads[0], str) else pads
    return {
        "layer": spec.name,
        "type": spec.type,
        "inputs": parents,
        "kernel": kernel,
        "stride": _pair(spec.stride, spec.name) if geometric else None,
        "dilation": _pair(spec.dilation, spec.name) if geometric else None,
        "padding": padding,
        "output_shape": state.shape,
        "params": int(spec.params),
        "jump": tuple(a.jump for a in state.axes),
        "receptive_field": tuple(a.rf for a in state.axes),
        "start": tuple(float(a.start) for a in state.axes),  # halves at most: exact
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
        ([(9, 9, 1), (4, 4, 1)], [(1, 1), (3, 3)], [(1, 1), (2, 2)])
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
    table = pd.DataFrame(rows, columns=COLUMNS, dtype=object)  # keeps None and (h, w) pairs
    table["params"] = pd.to_numeric(table["params"])
    return table
