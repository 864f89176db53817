"""Property tests: receptive-field tables of generated Keras models against Keras and brute force.

Hypothesis draws small networks (8-24 px, 1-3 channels): chains and branches of Conv2D,
SeparableConv2D, DepthwiseConv2D, max and average pooling, ZeroPadding2D, Cropping2D, Dense on
maps and geometry-keeping layers, with square and non-square kernels, strides, dilations,
``same``/``valid`` padding, merged by Add, Average and Concatenate. Only networks Keras can run are
drawn: kernels fit their map, no stride > 1 with dilation > 1 (Keras), equal strides on both axes
for depthwise kernels (TensorFlow), and every branch of a merge has the same total stride and is
cropped or padded to the first branch's size.

Properties:

- every row's ``output_shape`` is the shape the backend computes for that layer when the model
  runs (not Keras's symbolic shape, which the table already checks itself against);
- ``receptive_field``, ``jump`` and ``start`` are the brute-force extent of the input gradient of a
  centre unit, in a copy of the network with linear layers and positive constant kernels (the check
  of ``tests/test_effective_field.py``): every path adds a positive product of weights, so the
  gradient is non-zero exactly on the input pixels some path reaches, and its extent is the field.

Where the field is clipped: on the network's own input the centre unit's field may reach past the
border, and a tap on a zero (``same`` or ``ZeroPadding2D``) pixel of an inner map reaches no input
pixel, so there the gradient only has to lie inside the field. Without ``Cropping2D`` a field that
lies inside the image touches no padding (the first unit of every map sees pixel 0 and the last
one misses fewer than ``jump`` pixels at the end), so there the extents must be equal. For the
exact check everywhere, the same layers run on an input grown by ``P`` pixels on each side, ``P`` a
multiple of every stride product and a safe bound on how far any tap reaches: the table of the
grown network must equal the original's (growing by multiples of the strides changes no padding),
and its centre unit, which is the original one, must have the field as its gradient's extent, with
nothing clipped. Growing by another multiple ``M`` of the strides moves the centre unit by
``M / jump`` units and its gradient by ``M`` pixels, which checks the jump.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from profiles import examples
from rf_helpers import theoretical_mask

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from assignment_utils.effective_field import effective_receptive_field  # noqa: E402
from assignment_utils.rf_keras import receptive_field_table  # noqa: E402

keras = pytest.importorskip("keras")
L = keras.layers

MERGES = ("Add", "Average", "Concatenate")
KINDS = ("conv", "pool", "pad", "crop", "dense", "keep")
GEOMETRY = ["layer", "jump", "receptive_field", "start"]
Pair = tuple[int, int]


@dataclass
class Node:
    """One called layer: ``getattr(keras.layers, cls)(**kwargs)`` on the outputs of ``parents``."""

    name: str
    cls: str
    kwargs: dict
    parents: tuple[str, ...]
    shape: tuple[int, ...]
    stride: Pair  # product of the strides on the way from the input (the same on every path)
    reach: Pair  # an upper bound on how far, in input pixels, any tap of this unit can reach

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items() if "initializer" not in k)
        return f"{self.name} = {self.cls}({args})({', '.join(self.parents)})"


@dataclass
class Net:
    """A network description that builds the same Keras model at any input size."""

    input_shape: tuple[int, int, int]
    linear: bool = False  # no biases, average pooling, no ReLU (kernels are always ones)
    nodes: dict[str, Node] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.nodes["input"] = Node("input", "InputLayer", {}, (), self.input_shape, (1, 1), (0, 0))

    def __repr__(self) -> str:
        lines = [f"Net({self.input_shape}, linear={self.linear})"]
        return "\n  ".join(lines + [repr(n) for n in list(self.nodes.values())[1:]])

    def _repr_pretty_(self, printer, cycle) -> None:  # how Hypothesis prints a failing net
        printer.text(repr(self))

    @property
    def last(self) -> str:
        return next(reversed(self.nodes))

    def add(self, cls: str, parents: str | tuple[str, ...] | None = None, **kwargs) -> str:
        """Append a layer (on the last one by default); its shape comes from Keras."""
        parents = (self.last,) if parents is None else (parents,) if isinstance(parents, str) else parents
        kwargs |= {k: "ones" for k in _KERNELS.get(cls, ())}  # drawn weights would use `random`
        if cls in _KERNELS and self.linear:
            kwargs["use_bias"] = False
        ins = [self.nodes[p] for p in parents]
        layer = getattr(L, cls)(**kwargs)
        in_shapes = [(None, *n.shape) for n in ins]
        shape = tuple(layer.compute_output_shape(in_shapes if cls in MERGES else in_shapes[0])[1:])
        stride, reach = ins[0].stride, tuple(max(n.reach[i] for n in ins) for i in range(2))
        assert all(n.stride == stride for n in ins), "merged paths must share their strides"
        if len(ins[0].shape) == 3:  # spatial: count this layer's strides and how far it reaches
            steps, spans = _steps_and_spans(cls, kwargs)
            reach = tuple(r + span * s for r, span, s in zip(reach, spans, stride))
            stride = tuple(s * step for s, step in zip(stride, steps))
        name = f"l{len(self.nodes) - 1}"
        self.nodes[name] = Node(name, cls, kwargs, parents, shape, stride, reach)
        return name

    def build(self, grow: Pair = (0, 0)) -> keras.Model:
        """The Keras model, its input ``grow`` pixels taller and wider."""
        h, w, c = self.input_shape
        x = keras.Input((h + grow[0], w + grow[1], c), name="input")
        tensors = {"input": x}
        for node in list(self.nodes.values())[1:]:
            ins = [tensors[p] for p in node.parents]
            layer = getattr(L, node.cls)(name=node.name, **node.kwargs)
            tensors[node.name] = layer(ins if node.cls in MERGES else ins[0])
        return keras.Model(x, tensors[self.last])

    def all_strides(self) -> Pair:
        """The product of every layer's strides: a multiple of each path's stride product."""
        total = [1, 1]
        for node in self.nodes.values():
            for i, step in enumerate(_steps_and_spans(node.cls, node.kwargs)[0]):
                total[i] *= step
        return tuple(total)


_KERNELS = {  # the initializer arguments of each layer with a kernel
    "Conv2D": ("kernel_initializer",),
    "Dense": ("kernel_initializer",),
    "DepthwiseConv2D": ("depthwise_initializer",),
    "SeparableConv2D": ("depthwise_initializer", "pointwise_initializer"),
}


def _steps_and_spans(cls: str, kwargs: dict) -> tuple[Pair, Pair]:
    """Per axis, the layer's stride and a bound (in its input's units) on what it shifts or adds."""
    size = kwargs.get("kernel_size", kwargs.get("pool_size", (1, 1)))
    dilation = kwargs.get("dilation_rate", (1, 1))
    steps = kwargs.get("strides", (1, 1))
    amounts = kwargs.get("padding", kwargs.get("cropping"))
    amounts = amounts if isinstance(amounts, tuple) else ((0, 0), (0, 0))
    spans = tuple(d * (k - 1) + s - 1 + sum(a) for k, d, s, a in zip(size, dilation, steps, amounts))
    return steps, spans


def _pair(draw, low: int, high: int | Pair) -> Pair:
    """An (h, w) pair in ``low .. high`` (per axis); square half of the time."""
    high = (high, high) if isinstance(high, int) else high
    if draw(st.booleans()):
        return (draw(st.integers(low, min(high))),) * 2
    return draw(st.integers(low, high[0])), draw(st.integers(low, high[1]))


def _split(draw, total: int) -> Pair:
    before = draw(st.integers(0, total))
    return before, total - before


def _layer(draw, net: Net, kind: str, parent: str, stride: Pair | None, keep_channels: bool) -> str:
    """Add one layer of ``kind`` on ``parent``; ``stride`` None: free, else exactly that stride."""
    h, w, c = net.nodes[parent].shape
    if kind == "conv":
        cls = draw(st.sampled_from(["Conv2D", "SeparableConv2D", "DepthwiseConv2D"]))
        if stride is None:
            stride = _pair(draw, 1, 3) if cls == "Conv2D" else (draw(st.integers(1, 3)),) * 2
        elif stride[0] != stride[1]:
            cls = "Conv2D"  # TensorFlow's depthwise kernels take equal strides on both axes only
        dilation = (1, 1) if max(stride) > 1 else _pair(draw, 1, 3)  # Keras: not both > 1
        padding = draw(st.sampled_from(["valid", "same"]))
        largest = (5, 5) if padding == "same" else tuple(min(5, (n - 1) // d + 1)
                                                         for n, d in zip((h, w), dilation))
        kwargs = dict(kernel_size=_pair(draw, 1, largest), strides=stride, dilation_rate=dilation,
                      padding=padding)
        if cls == "DepthwiseConv2D":
            kwargs["depth_multiplier"] = 1 if keep_channels else draw(st.integers(1, 2))
        else:
            kwargs["filters"] = c if keep_channels else draw(st.integers(1, 3))
        return net.add(cls, parent, **kwargs)
    if kind == "pool":
        cls = "AveragePooling2D" if net.linear else draw(st.sampled_from(["MaxPooling2D",
                                                                          "AveragePooling2D"]))
        padding = draw(st.sampled_from(["valid", "same"]))
        size = _pair(draw, 1, 3 if padding == "same" else (min(3, h), min(3, w)))
        return net.add(cls, parent, pool_size=size, padding=padding,
                       strides=_pair(draw, 1, 3) if stride is None else stride)
    if kind == "pad":
        return net.add("ZeroPadding2D", parent, padding=(_pair(draw, 0, 2), _pair(draw, 0, 2)))
    if kind == "crop":  # leaves at least one pixel
        crop = tuple(_split(draw, draw(st.integers(0, min(3, n - 1)))) for n in (h, w))
        return net.add("Cropping2D", parent, cropping=crop)
    if kind == "dense":  # a 1x1 convolution
        return net.add("Dense", parent, units=c if keep_channels else draw(st.integers(1, 3)))
    keep = ["BatchNormalization", "Dropout", "Identity"] + ([] if net.linear else ["ReLU"])
    cls = draw(st.sampled_from(keep))
    return net.add(cls, parent, **({"rate": 0.5, "seed": 0} if cls == "Dropout" else {}))


def _block(draw, net: Net) -> None:
    """Two or three branches from the last layer, merged: each branch strides by the same total
    (in one of its layers), then is cropped or padded to the first branch's size."""
    source, stride = net.last, _pair(draw, 1, 2)
    merge = draw(st.sampled_from(MERGES))
    keep_channels = merge != "Concatenate"
    outs = []
    for _ in range(draw(st.integers(2, 3))):
        strided = stride != (1, 1)
        length = draw(st.integers(1 if strided else 0, 2))
        at = draw(st.integers(0, length - 1)) if strided else -1
        x = source
        for j in range(length):
            kind = draw(st.sampled_from(("conv", "pool") if j == at else KINDS))
            x = _layer(draw, net, kind, x, stride if j == at else (1, 1), keep_channels)
        if outs:
            excess = [a - b for a, b in zip(net.nodes[x].shape[:2], net.nodes[outs[0]].shape[:2])]
            if max(excess) > 0:
                x = net.add("Cropping2D", x, cropping=tuple(_split(draw, max(e, 0)) for e in excess))
            if min(excess) < 0:
                x = net.add("ZeroPadding2D", x, padding=tuple(_split(draw, max(-e, 0)) for e in excess))
        outs.append(x)
    net.add(merge, tuple(outs))


@st.composite
def networks(draw, linear: bool = False, head: bool = False) -> Net:
    """Small networks: 1-4 stages, each one layer or a merged block; ``head``: maybe global
    pooling or Flatten at the end, maybe a Dense after it."""
    side = st.integers(8, 24)
    net = Net((draw(side), draw(side), draw(st.integers(1, 3))), linear=linear)
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            _block(draw, net)
        else:
            _layer(draw, net, draw(st.sampled_from(KINDS)), net.last, None, False)
    end = draw(st.sampled_from([None, "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten"]))
    if head and end:
        net.add(end, **({} if end == "Flatten" else {"keepdims": draw(st.booleans())}))
        if draw(st.booleans()):
            net.add("Dense", units=draw(st.integers(1, 3)))
    return net


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Rows and columns spanned by the True pixels: (top, bottom, left, right)."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return rows.min(), rows.max(), cols.min(), cols.max()


def _support(model: keras.Model, layer: str) -> np.ndarray:
    """Input pixels the centre unit of ``layer`` depends on (one image: the network is linear);
    none when that unit is a zero of padding (``ZeroPadding2D`` or ``same``), whose gradient is
    zero everywhere."""
    try:
        return effective_receptive_field(model, layer, np.ones((1, *model.input_shape[1:]))) > 0
    except ValueError as error:
        if "is zero for every image" not in str(error):
            raise
        return np.zeros(model.input_shape[1:3], bool)


# A Keras model takes about 0.05 s to build and 0.03 s to run on a 2-core CPU, so the properties run
# a share of the loaded profile's examples (tests/profiles.py): the first half of them, the second,
# which builds three models an example, a quarter (ci: 100 and 50 of 200, about 35 s for this file;
# thorough: 2,500 and 1,250 of 5,000).


@settings(max_examples=examples(100))
@given(networks(head=True))
def test_output_sizes_are_the_real_shapes(net):
    model = net.build()
    table = receptive_field_table(model)
    assert sorted(table["layer"]) == sorted(net.nodes)
    probe = keras.Model(model.input, [model.get_layer(n).output for n in table["layer"].iloc[1:]])
    real = probe(np.zeros((1, *net.input_shape), "float32"))
    real = real if isinstance(real, list) else [real]
    assert table["output_shape"].tolist() == [net.input_shape] + [
        tuple(int(d) for d in r.shape[1:]) for r in real]
    assert table["params"].sum() == model.count_params()


def _centre_on_padding() -> Net:
    """A stride-3 convolution maps 8 px to 2, padded by 2 above and left: the centre unit (1, 1)
    of the 4x4 map is a zero of the padding, whose gradient is zero everywhere (found by
    Hypothesis)."""
    net = Net((8, 8, 1), linear=True)
    net.add("Conv2D", filters=1, kernel_size=(3, 3), strides=(3, 3), padding="valid")
    net.add("ZeroPadding2D", padding=((2, 0), (2, 0)))
    return net


@settings(max_examples=examples(50))
@given(networks(linear=True))
@example(_centre_on_padding())
def test_fields_and_jumps_are_the_gradient_support(net):
    out, model = net.last, net.build()
    table = receptive_field_table(model)
    rf_h, rf_w = table["receptive_field"].iloc[-1]
    support, mask = _support(model, out), theoretical_mask(table, out)
    assert not (support & ~mask).any()  # inside the (clipped) field, perhaps empty (padding)
    inside = mask.sum() == rf_h * rf_w
    if inside and "Cropping2D" not in {n.cls for n in net.nodes.values()}:
        assert support.any() and _box(support) == _box(mask)
    steps, reach = net.all_strides(), net.nodes[out].reach
    pad = [m * -(-(3 * r + 1) // m) for m, r in zip(steps, reach)]  # a multiple of m, > 3 * reach
    for extra in (0, 1):  # the second input is 2 * steps larger still: the centre moves steps / jump
        grown = net.build(tuple(2 * (p + extra * m) for p, m in zip(pad, steps)))
        grown_table = receptive_field_table(grown)
        assert grown_table[GEOMETRY].values.tolist() == table[GEOMETRY].values.tolist()
        grown_mask = theoretical_mask(grown_table, out)
        assert grown_mask.sum() == rf_h * rf_w  # nothing clipped
        assert _box(_support(grown, out)) == _box(grown_mask)
