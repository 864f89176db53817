"""The assignment's reference model and our residual depthwise-separable network.

Both use only ``SeparableConv2D`` convolutions (no ``Conv2D``, no ``Dense``), BatchNormalization
and dropout, and stay under the assignment's 100,000-parameter budget. Both take raw pixels
(0-255, uint8 or float): their first layer standardizes each channel with the CIFAR-10 training
statistics, so a saved model predicts on plain images anywhere.

>>> from assignment_utils.models import reference_model, separable_net
>>> reference_model().count_params()
94911
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from assignment_utils.checks import check_integer, check_real, is_integer, is_real
from assignment_utils.rules import IMAGE_SHAPE as INPUT_SHAPE
from assignment_utils.rules import NUM_CLASSES
from assignment_utils.shifted_conv import ShiftedSeparableConv2D, unsupported_settings

# Per-channel mean and standard deviation of the 50,000 CIFAR-10 training images, in 0-255 units.
CIFAR10_MEAN = (125.307, 122.950, 113.865)
CIFAR10_STD = (62.993, 62.089, 66.705)
# Dtype policies of with_dtype_policy: float32 everywhere; Keras's mixed_bfloat16 (bfloat16
# activations, float32 weights) in every layer; or everywhere but the separable convolutions.
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_bfloat16_outside_convs")
# How separable_net's separable convolutions are computed: Keras's SeparableConv2D (two
# convolutions) or ShiftedSeparableConv2D (the same function as shifted products and a matrix
# product, which XLA can fuse); the layer class of each.
SEPARABLE_IMPLEMENTATIONS = {"keras": layers.SeparableConv2D, "shifted": ShiftedSeparableConv2D}


def standardization(name: str = "standardize") -> layers.Normalization:
    """Per-channel ``(pixel - mean) / std`` with the CIFAR-10 training statistics (no weights)."""
    return layers.Normalization(mean=CIFAR10_MEAN, variance=[s * s for s in CIFAR10_STD],
                                name=name)


def check_images(name: str, images) -> np.ndarray:
    """``images`` as an array of raw pixels (N, H, W, C), uint8 or float in 0-255, unchanged.

    The models standardize inside (``models.standardization``), so images scaled to [0, 1] or
    already standardized would be scored as near-black pictures: both are refused.
    """
    try:
        images = np.asarray(images)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{name}: expected an array of images (N, H, W, C), got {error}") from None
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"{name}: expected images (N, H, W, C) with N >= 1, got shape {images.shape}")
    if images.dtype == np.uint8:
        return images
    if not np.issubdtype(images.dtype, np.number) or np.issubdtype(images.dtype, np.complexfloating):
        raise ValueError(f"{name}: expected uint8 or float pixels, got dtype {images.dtype}")
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise ValueError(f"{name}: pixels must be raw values in 0..255 (the model standardizes "
                         f"them itself), got values in [{low:g}, {high:g}]")
    if high <= 1.0:
        raise ValueError(f"{name}: pixels look scaled to [0, 1] (max {high:g}); pass raw 0..255 "
                         "pixels, e.g. images * 255 or the uint8 arrays of load_cifar10")
    return images


def _sequence(value) -> bool:
    """A list, tuple or 1-D NumPy array (not a str)."""
    return isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1)


def _check_input_shape(input_shape, min_side: int, why: str) -> tuple[int, int, int]:
    """``input_shape`` as ``(height, width, 3)`` Python ints, both sides at least ``min_side``
    (``why`` says what needs them): the standardization layer has three channels."""
    if not (_sequence(input_shape) and len(input_shape) == 3
            and all(is_integer(v) and v >= 1 for v in input_shape) and input_shape[2] == 3):
        raise ValueError(f"input_shape must be (height, width, 3) in pixels, e.g. {INPUT_SHAPE}, "
                         f"got {input_shape!r}")
    if min(input_shape[:2]) < min_side:
        raise ValueError(f"input_shape {tuple(input_shape)!r} is too small: {why} need images of "
                         f"at least {min_side}x{min_side} px")
    return tuple(int(v) for v in input_shape)


def reference_model(input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Sequential:
    """The reference submission's architecture, ported from Keras 2 to Keras 3.

    Exactly 94,911 parameters (93,815 trainable), as in the submitted model summary (the
    standardization layer in front, which the submission did outside the model, has none). Keras 2's
    ``SeparableConv2D(32, 3, 3, border_mode='same')`` is ``SeparableConv2D(32, 3, padding='same')``.
    Layers get fixed names (``sepconv1``..``sepconv7``, ``bn1``, ``pool1``...) so tables of this
    model read the same however many models were built before it. ``input_shape`` is
    ``(height, width, 3)``, at least 32 px a side.
    """
    input_shape = _check_input_shape(
        input_shape, 32, "three 2x2 poolings and then a 4x4 'valid' convolution")
    def separable(filters: int, kernel: int, index: int, **kwargs) -> layers.SeparableConv2D:
        return layers.SeparableConv2D(
            filters, kernel, use_bias=False, depthwise_initializer="he_uniform",
            pointwise_initializer="he_uniform", name=f"sepconv{index}", **kwargs)

    def block(filters: int, index: int) -> list[layers.Layer]:
        return [separable(filters, 3, index, padding="same"),
                layers.BatchNormalization(name=f"bn{index}"),
                layers.Activation("relu", name=f"relu{index}")]

    def pool_and_drop(index: int, rate: float) -> list[layers.Layer]:
        return [layers.MaxPooling2D(2, name=f"pool{index}"),
                layers.Dropout(rate, name=f"dropout{index}")]

    return keras.Sequential(
        [
            keras.Input(input_shape, name="image"),
            standardization(),
            *block(32, 1), *block(64, 2), *pool_and_drop(1, 0.15),
            *block(128, 3), *block(156, 4), *pool_and_drop(2, 0.2),
            *block(168, 5), *pool_and_drop(3, 0.25),
            separable(168, 1, 6, activation="relu"),
            layers.SeparableConv2D(NUM_CLASSES, 4, use_bias=False, name="sepconv7"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="reference_model",
    )


def _separable_bn_relu(x, filters: int, kernel_size: int, name: str, bn_momentum: float,
                       separable: type[layers.SeparableConv2D]):
    x = separable(filters, kernel_size, padding="same", use_bias=False, name=f"{name}_sepconv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def separable_net(
    widths: Sequence[int] = (48, 96, 128),
    stem_width: int = 32,
    kernel_size: int = 3,
    dropout: Sequence[float] = (0.0, 0.05, 0.1),
    bn_momentum: float = 0.9,
    blocks: int | Sequence[int] = (2, 1, 1),
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str = "separable_net",
    dtype_policy: str = "float32",
    separable_impl: str = "keras",
) -> keras.Model:
    """A residual network built from depthwise separable convolutions only.

    Standardization, a separable stem, then one stage per entry of ``widths``, each at half the
    resolution of the one before: a separable convolution to the stage width, residual blocks
    (two separable convolutions added back to their input; ``blocks`` of them in every stage, or
    ``blocks[i]`` in stage i), dropout (``dropout[i]`` for stage i, none where 0) and 2x2 max
    pooling. Global average pooling and a 1x1 separable convolution (with bias) classify. Every
    other convolution has no bias and is followed by BatchNormalization (``bn_momentum``: 0.9
    rather than Keras's 0.99, so the moving statistics keep up with a schedule of a few thousand
    steps) and ReLU. The defaults (widths 48/96/128 at 32/16/8 px, two blocks at 32 px and one at
    16 and 8 px, pooled to 4x4; chosen on held-out images, ``results/selection.csv``) have 91,509
    parameters. ``dtype_policy`` is one of ``DTYPE_POLICIES`` (:func:`with_dtype_policy`) and
    ``separable_impl`` one of ``SEPARABLE_IMPLEMENTATIONS`` (:func:`with_separable_impl`); the
    initial weights are the same under each.

    >>> separable_net().count_params()
    91509
    """
    if not (_sequence(widths) and len(widths) and all(is_integer(w) and w >= 1 for w in widths)):
        raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths!r}")
    widths = tuple(int(w) for w in widths)
    stem_width = check_integer("stem_width", stem_width, 1)
    num_classes = check_integer("num_classes", num_classes, 2)
    input_shape = _check_input_shape(input_shape, 2 ** len(widths),
                                     f"{len(widths)} stages (each halves the map; use fewer widths)")
    if not (is_integer(kernel_size) and 1 <= kernel_size <= min(input_shape[:2])
            and kernel_size % 2 == 1):
        raise ValueError(f"kernel_size must be a positive odd int no larger than the "
                         f"{input_shape[0]}x{input_shape[1]} px input, got {kernel_size!r}")
    kernel_size = int(kernel_size)
    if not _sequence(dropout):
        raise ValueError(f"dropout must give one rate per stage (e.g. (0.0, 0.05, 0.1)), got {dropout!r}")
    if len(dropout) != len(widths) or not all(
            is_real(rate) and 0.0 <= rate < 1.0 for rate in dropout):
        raise ValueError(f"dropout must give one rate in [0, 1) per stage ({len(widths)}), "
                         f"got {tuple(dropout)!r}")
    dropout = tuple(float(rate) for rate in dropout)
    counts = ([blocks] * len(widths) if is_integer(blocks)
              else list(blocks) if _sequence(blocks) else [])
    if len(counts) != len(widths) or not all(is_integer(c) and c >= 0 for c in counts):
        raise ValueError(f"blocks must be a count of residual blocks (an int >= 0) for every stage "
                         f"or one per stage ({len(widths)} stages here, e.g. blocks=1 or "
                         f"blocks={(2,) + (1,) * (len(widths) - 1)}); got {blocks!r}")
    counts = [int(c) for c in counts]
    bn_momentum = check_real("bn_momentum", bn_momentum, "in [0, 1)", lambda v: 0 <= v < 1)
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"name must be a non-empty str without '/', got {name!r}")
    if dtype_policy not in DTYPE_POLICIES:
        raise ValueError(f"dtype_policy must be one of {DTYPE_POLICIES}, got {dtype_policy!r}")
    if separable_impl not in SEPARABLE_IMPLEMENTATIONS:
        raise ValueError(f"separable_impl must be one of {tuple(SEPARABLE_IMPLEMENTATIONS)}, got "
                         f"{separable_impl!r}")
    separable = SEPARABLE_IMPLEMENTATIONS[separable_impl]

    inputs = keras.Input(input_shape, name="image")
    x = standardization()(inputs)
    x = _separable_bn_relu(x, stem_width, kernel_size, "stem", bn_momentum, separable)
    for stage, (width, rate, count) in enumerate(zip(widths, dropout, counts), start=1):
        x = _separable_bn_relu(x, width, kernel_size, f"stage{stage}_proj", bn_momentum,
                               separable)
        for block in range(1, count + 1):
            # The first block's names are those of the one-block model (saved models, tables).
            res, add = (("res", "add") if block == 1 else (f"res{block}", f"add{block}"))
            shortcut = x
            for half in ("a", "b"):
                x = _separable_bn_relu(x, width, kernel_size, f"stage{stage}_{res}_{half}",
                                       bn_momentum, separable)
            x = layers.Add(name=f"stage{stage}_{add}")([shortcut, x])
        if rate:
            x = layers.Dropout(rate, name=f"stage{stage}_dropout")(x)
        x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    x = separable(num_classes, 1, name="classifier")(x)
    x = layers.Flatten(name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return with_dtype_policy(keras.Model(inputs, outputs, name=name), dtype_policy)


def with_dtype_policy(model: keras.Model, policy: str) -> keras.Model:
    """``model`` with its weights under ``policy`` (``DTYPE_POLICIES``): ``"float32"`` returns it
    unchanged; the mixed ones clone it with every layer ``mixed_bfloat16`` (bfloat16 activations,
    float32 weights) but the float32 output layer ``probabilities`` and, for
    ``"mixed_bfloat16_outside_convs"``, the ``SeparableConv2D`` layers."""
    if policy not in DTYPE_POLICIES:
        raise ValueError(f"policy must be one of {DTYPE_POLICIES}, got {policy!r}")
    if policy == "float32":
        return model

    def clone(layer: layers.Layer) -> layers.Layer:
        keep = (layer.name == "probabilities" or policy == "mixed_bfloat16_outside_convs"
                and isinstance(layer, layers.SeparableConv2D))
        return layer.__class__.from_config(
            {**layer.get_config(), "dtype": "float32" if keep else "mixed_bfloat16"})

    cloned = keras.models.clone_model(model, clone_function=clone)
    cloned.set_weights(model.get_weights())
    return cloned


def with_separable_impl(model: keras.Model, impl: str) -> keras.Model:
    """``model`` with its top-level separable convolutions computed by ``impl`` (a key of
    ``SEPARABLE_IMPLEMENTATIONS``), weights and everything else kept: ``model`` itself where
    none is to be swapped, else a clone. ``"keras"`` gives a model that loads without this
    package (``train`` saves that one). Only layers of exactly the two classes are swapped; for
    ``"shifted"``, only those it computes (``shifted_conv.unsupported_settings``: strides,
    dilation and the rest stay Keras's). Sequential and functional models only: a subclassed
    model that holds a layer to swap is refused."""
    if impl not in SEPARABLE_IMPLEMENTATIONS:
        raise ValueError(f"impl must be one of {tuple(SEPARABLE_IMPLEMENTATIONS)}, got {impl!r}")
    wanted = SEPARABLE_IMPLEMENTATIONS[impl]
    swapped = set(SEPARABLE_IMPLEMENTATIONS.values()) - {wanted}

    def swaps(layer: layers.Layer) -> bool:
        return type(layer) in swapped and (impl != "shifted" or not unsupported_settings(layer))

    if not any(swaps(layer) for layer in model.layers):
        return model

    def clone(layer: layers.Layer) -> layers.Layer:
        return (wanted if swaps(layer) else layer.__class__).from_config(layer.get_config())

    try:
        cloned = keras.models.clone_model(model, clone_function=clone)
    except ValueError:  # Keras clones layer by layer only Sequential and functional models
        raise ValueError(f"{model.name} is a subclassed model, whose layers Keras cannot swap: "
                         f"build it with {wanted.__name__} layers instead") from None
    cloned.set_weights(model.get_weights())
    return cloned
