"""Receptive-field tables of built Keras 3 models: the layer graph walked into layer specs.

Each called layer becomes a :class:`~assignment_utils.rf_geometry.LayerSpec`;
:mod:`assignment_utils.rf_geometry` does the arithmetic, and the output shapes Keras
reports are cross-checked against the computed ones. Keras is imported only when a layer is
classified, never at import time; the walk reads private Keras graph attributes
(``_functional``, ``_nodes_by_depth``).

Conventions (documented choices):

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
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import pandas as pd

from assignment_utils.rf_geometry import LayerSpec, UnknownLayerError, receptive_field_from_specs

__all__ = ["receptive_field_table"]

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
        [(1, 1), (3, 3)]
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

