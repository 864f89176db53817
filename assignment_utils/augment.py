"""Jittable image augmentation for CIFAR-10: random flip, shift and cutout in one Keras layer.

Keras's ``RandomTranslation`` and ``RandomCrop`` set ``supports_jit=False``, which makes Keras train
the whole model without XLA on JAX. This layer uses only ``keras.ops`` so the model stays
compiled on every backend. It is the identity at inference.

>>> import numpy as np
>>> layer = CifarAugment(max_shift=4, cutout=8)
>>> tuple(layer(np.zeros((2, 32, 32, 3), "float32"), training=False).shape)
(2, 32, 32, 3)
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from assignment_utils.checks import check_integer, check_real

# The largest seed every Keras backend takes (PyTorch's seed generator holds an int32).
MAX_SEED = 2**31 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_geometry(max_shift: int, cutout: int, image_shape: Sequence[int | None]) -> None:
    """Refuse a ``max_shift`` or ``cutout`` that does not fit images of ``image_shape``
    ``(height, width, ...)`` (unknown sides, None, are not checked): a shift or a cut-out square
    as large as the image can leave nothing of it."""
    sides = [side for side in image_shape[:2] if side is not None]
    if not sides:
        return
    side = min(sides)
    for name, value in (("max_shift", max_shift), ("cutout", cutout)):
        if value >= side:
            raise ValueError(
                f"{name}={value} does not fit {image_shape[0]}x{image_shape[1]} px images: a "
                f"{'shift' if name == 'max_shift' else 'cut-out square'} as large as the image "
                f"can leave nothing of it; use {name} < {side} (0 turns it off)")


@keras.saving.register_keras_serializable(package="assignment_utils")
class CifarAugment(keras.layers.Layer):
    """Random horizontal flip, random shift of up to ``max_shift`` pixels (filled with ``fill``,
    like padding then cropping) and, on half of the images, one ``cutout`` x ``cutout`` square of
    ``fill``, per image, in training only. Training output is float32.

    Args:
        flip: flip half of the images left-right.
        max_shift: largest shift in pixels along each axis (0 disables shifting).
        cutout: side of the filled square in pixels (0 disables cutout).
        fill: the pixel value for shifted-in borders and cutout, one per channel (e.g. the
            dataset's mean pixel, which standardization maps to zero) or None for zeros.
        seed: seed of the layer's random generator.
    """

    # The receptive-field table treats this layer as geometry-preserving (identity at inference).
    preserves_spatial_geometry = True

    def __init__(self, flip: bool = True, max_shift: int = 4, cutout: int = 0,
                 fill: tuple[float, ...] | None = None, seed: int | None = None, **kwargs):
        if not isinstance(flip, (bool, np.bool_)):
            raise ValueError(f"flip must be True or False, got {flip!r}")
        max_shift, cutout = (check_integer(name, value, 0) for name, value in
                             (("max_shift", max_shift), ("cutout", cutout)))
        if fill is not None:
            if not isinstance(fill, (tuple, list)) or not fill:
                raise ValueError(f"fill must be None or one number per channel, e.g. (125.3, "
                                 f"123.0, 113.9), got {fill!r}")
            fill = tuple(check_real(f"fill[{i}]", v, "(a pixel value)",
                                    lambda v: abs(v) <= FLOAT32_MAX) for i, v in enumerate(fill))
        if seed is not None:
            seed = check_integer("seed", seed, 0, MAX_SEED)
        super().__init__(**kwargs)
        self.flip, self.max_shift, self.cutout, self.seed = bool(flip), max_shift, cutout, seed
        self.fill = fill
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        """Check the shift, the cut-out and the fill against the images (``check_geometry``)."""
        check_geometry(self.max_shift, self.cutout, input_shape[1:3])
        if self.fill is not None and input_shape[-1] not in (None, len(self.fill)):
            raise ValueError(f"fill gives {len(self.fill)} values, but the images have "
                             f"{input_shape[-1]} channels: give one value per channel")
        super().build(input_shape)

    def call(self, images, training=None):
        if not training:
            return images
        images = ops.cast(images, "float32")
        if self.fill is not None:  # shift and cut out around the fill value, which becomes 0
            images = images - ops.convert_to_tensor(self.fill, "float32")
        if self.flip:
            images = self._flip(images)
        if self.max_shift:
            images = self._shift(images)
        if self.cutout:
            images = self._cutout(images)
        if self.fill is not None:
            images = images + ops.convert_to_tensor(self.fill, "float32")
        return images

    def _uniform_ints(self, batch, high):
        """``batch`` random ints in ``[0, high)``, shape ``(batch, 1)``."""
        draws = keras.random.uniform((batch, 1), 0.0, float(high), seed=self.seed_generator)
        return ops.cast(ops.floor(draws), "int32")

    def _flip(self, images):
        batch = ops.shape(images)[0]
        coin = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator) < 0.5
        return ops.where(coin, ops.flip(images, axis=2), images)

    def _shift(self, images):
        batch, height, width = ops.shape(images)[0], ops.shape(images)[1], ops.shape(images)[2]
        s = self.max_shift
        padded = ops.pad(images, [[0, 0], [s, s], [s, s], [0, 0]])
        rows = self._uniform_ints(batch, 2 * s + 1) + ops.arange(height, dtype="int32")[None, :]
        cols = self._uniform_ints(batch, 2 * s + 1) + ops.arange(width, dtype="int32")[None, :]
        channels = ops.shape(images)[3]
        padded_width = width + 2 * s
        row_index = ops.broadcast_to(rows[:, :, None, None], (batch, height, padded_width, channels))
        images = ops.take_along_axis(padded, row_index, axis=1)
        col_index = ops.broadcast_to(cols[:, None, :, None], (batch, height, width, channels))
        return ops.take_along_axis(images, col_index, axis=2)

    def _cutout(self, images):
        batch, height, width = ops.shape(images)[0], ops.shape(images)[1], ops.shape(images)[2]
        centre_y = self._uniform_ints(batch, height)[:, :, None]
        centre_x = self._uniform_ints(batch, width)[:, :, None]
        ys = ops.arange(height, dtype="int32")[None, :, None]
        xs = ops.arange(width, dtype="int32")[None, None, :]
        half = self.cutout // 2
        chosen = keras.random.uniform((batch, 1, 1), seed=self.seed_generator) < 0.5
        inside = (chosen & (ys >= centre_y - half) & (ys < centre_y - half + self.cutout)
                  & (xs >= centre_x - half) & (xs < centre_x - half + self.cutout))
        return ops.where(inside[..., None], ops.zeros_like(images), images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "flip": self.flip, "max_shift": self.max_shift,
                "cutout": self.cutout, "fill": self.fill, "seed": self.seed}
