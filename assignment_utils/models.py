"""The assignment's reference model and our residual depthwise-separable network.

Both use only ``SeparableConv2D`` convolutions (no ``Conv2D``, no ``Dense``), BatchNormalization
and dropout, and stay under the assignment's 100,000-parameter budget.

>>> from assignment_utils.models import reference_model, separable_net
>>> reference_model().count_params()
94911
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

INPUT_SHAPE = (32, 32, 3)
NUM_CLASSES = 10


def reference_model(input_shape: tuple[int, int, int] = INPUT_SHAPE) -> keras.Sequential:
    """The reference submission's architecture, ported from Keras 2 to Keras 3.

    Exactly 94,911 parameters (93,815 trainable), as in the submitted model summary. Keras 2's
    ``SeparableConv2D(32, 3, 3, border_mode='same')`` is ``SeparableConv2D(32, 3, padding='same')``.
    Layers get fixed names (``sepconv1``..``sepconv7``, ``bn1``, ``pool1``...) so tables of this
    model read the same however many models were built before it.
    """
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
            *block(32, 1), *block(64, 2), *pool_and_drop(1, 0.15),
            *block(128, 3), *block(156, 4), *pool_and_drop(2, 0.2),
            *block(168, 5), *pool_and_drop(3, 0.25),
            separable(168, 1, 6, activation="relu"),
            layers.SeparableConv2D(10, 4, use_bias=False, name="sepconv7"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Activation("softmax", name="softmax"),
        ],
        name="reference_model",
    )


def _separable_bn_relu(x, filters: int, kernel_size: int, name: str):
    x = layers.SeparableConv2D(filters, kernel_size, padding="same", use_bias=False,
                               name=f"{name}_sepconv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def separable_net(
    widths: Sequence[int] = (48, 96, 128),
    stem_width: int = 32,
    kernel_size: int = 3,
    dropout: float = 0.1,
    num_classes: int = NUM_CLASSES,
    input_shape: tuple[int, int, int] = INPUT_SHAPE,
    name: str = "separable_net",
) -> keras.Model:
    """A residual network built from depthwise separable convolutions only.

    A separable stem, then one stage per entry of ``widths``: a separable projection to the stage
    width (followed by 2x2 max pooling from the second stage on), then a residual block of two
    separable convolutions added back to its input. Global average pooling, dropout and a 1x1
    separable convolution classify. The defaults (widths 48/96/128 at 32/16/8 px) have 85,653
    parameters.

    >>> separable_net().count_params()
    85653
    """
    if not widths or any(int(w) != w or w < 1 for w in widths):
        raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths!r}")
    if stem_width < 1 or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(
            f"stem_width must be >= 1 and kernel_size a positive odd int, got "
            f"stem_width={stem_width}, kernel_size={kernel_size}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    spatial = input_shape[0] // 2 ** (len(widths) - 1)
    if spatial < 1:
        raise ValueError(f"{len(widths)} stages pool a {input_shape[0]} px input to nothing; "
                         "use fewer widths")

    inputs = keras.Input(input_shape, name="image")
    x = _separable_bn_relu(inputs, stem_width, kernel_size, "stem")
    for stage, width in enumerate(widths, start=1):
        x = _separable_bn_relu(x, width, kernel_size, f"stage{stage}_proj")
        if stage > 1:
            x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
        shortcut = x
        x = _separable_bn_relu(x, width, kernel_size, f"stage{stage}_res_a")
        x = _separable_bn_relu(x, width, kernel_size, f"stage{stage}_res_b")
        x = layers.Add(name=f"stage{stage}_add")([shortcut, x])
    x = layers.GlobalAveragePooling2D(keepdims=True, name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.SeparableConv2D(num_classes, 1, name="classifier")(x)
    x = layers.Flatten(name="logits")(x)
    outputs = layers.Activation("softmax", dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
