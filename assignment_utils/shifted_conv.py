"""A separable convolution computed as shifted products and a matrix product: ops XLA can fuse.

Keras's ``SeparableConv2D`` runs ``ops.separable_conv``: two convolutions, which XLA hands to
cuDNN on a GPU (custom calls it autotunes while compiling and cannot fuse with their
neighbours) and which XLA's CPU backend differentiates by rewriting the depthwise filter
gradient as a dense convolution, C times the work (jax-ml/jax#13800). ``ShiftedSeparableConv2D``
computes the same function from the same weights with elementwise operations and one matrix
product: the depthwise half as the sum, over the kernel's taps, of the padded input shifted by
the tap and scaled per channel; the pointwise half as a product with the ``[C, filters]``
matrix. It is a ``SeparableConv2D`` (a subclass, same weights and config), so the rubric and the
receptive-field table read it as one.

>>> import numpy as np
>>> image = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
>>> ones = np.ones((3, 3, 1, 1), "float32")
>>> np.asarray(shifted_depthwise_conv(image, ones, "same"))[0, :, :, 0]  # sums of 3x3 windows
array([[ 8., 15., 12.],
       [21., 36., 27.],
       [20., 33., 24.]], dtype=float32)
"""

from __future__ import annotations

import keras
from keras import layers, ops

__all__ = ["ShiftedSeparableConv2D", "shifted_depthwise_conv", "unsupported_settings"]


def shifted_depthwise_conv(inputs, kernel, padding: str = "valid"):
    """A depthwise convolution (strides 1, no dilation, depth multiplier 1, channels last) as
    ``sum over taps (i, j) of kernel[i, j, :, 0] * input shifted by (i, j)``.

    ``inputs``: ``(N, H, W, C)``; ``kernel``: ``(kh, kw, C, 1)``, as Keras's ``DepthwiseConv2D``
    keeps it; ``padding`` ``"same"`` (zeros, ``(k - 1) // 2`` before and the rest after, as
    XLA and TensorFlow pad) or ``"valid"``. Returns ``(N, H', W', C)``.
    """
    if padding not in ("same", "valid"):
        raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
    inputs, kernel = ops.convert_to_tensor(inputs), ops.convert_to_tensor(kernel)
    kh, kw, channels, multiplier = kernel.shape
    if multiplier != 1 or inputs.shape[-1] != channels:
        raise ValueError(f"need a (kh, kw, C, 1) kernel for (N, H, W, C) inputs, got kernel "
                         f"{tuple(kernel.shape)} for inputs {tuple(inputs.shape)}")
    if padding == "same":
        top, left = (kh - 1) // 2, (kw - 1) // 2
        inputs = ops.pad(inputs, [[0, 0], [top, kh - 1 - top], [left, kw - 1 - left], [0, 0]])
    if any(size is not None and size < k for size, k in zip(inputs.shape[1:3], (kh, kw))):
        raise ValueError(f"a {kh}x{kw} 'valid' convolution needs inputs of at least {kh}x{kw} "
                         f"px, got {tuple(inputs.shape[1:3])}")
    taps = ops.reshape(kernel, (kh * kw, channels))
    output = None
    for i in range(kh):
        for j in range(kw):
            # Rows i .. i + H' - 1 where H' = H - kh + 1: the end counted from the back, so
            # sizes unknown until the call (None) work too.
            rows, columns = slice(i, i - kh + 1 or None), slice(j, j - kw + 1 or None)
            term = inputs[:, rows, columns, :] * taps[i * kw + j]
            output = term if output is None else output + term
    return output


def unsupported_settings(layer: layers.SeparableConv2D) -> dict[str, object]:
    """The settings of a separable convolution that :class:`ShiftedSeparableConv2D` does not
    compute, by name (``{}`` when it computes them all)."""
    return {name: value for name, value, wanted in (
        ("strides", tuple(layer.strides), (1, 1)),
        ("dilation_rate", tuple(layer.dilation_rate), (1, 1)),
        ("depth_multiplier", layer.depth_multiplier, 1),
        ("data_format", layer.data_format, "channels_last")) if value != wanted}


@keras.saving.register_keras_serializable(package="assignment_utils")
class ShiftedSeparableConv2D(layers.SeparableConv2D):
    """``keras.layers.SeparableConv2D`` (same arguments, weights and outputs) computed by
    :func:`shifted_depthwise_conv` and a matrix product instead of two convolutions.

    Only strides 1, dilation 1, ``depth_multiplier=1`` and channels-last inputs, which is what
    ``separable_net`` uses; other settings are refused (use ``SeparableConv2D`` for them). The
    two halves run under the name scopes ``depthwise_conv`` and ``pointwise_conv``, so a profile
    of the step can tell them apart.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if unsupported := unsupported_settings(self):
            listed = ", ".join(f"{name}={value!r}" for name, value in unsupported.items())
            raise ValueError(f"ShiftedSeparableConv2D computes strides 1, dilation 1, "
                             f"depth_multiplier 1 and channels_last only, got {listed}: use "
                             "keras.layers.SeparableConv2D for it")

    def call(self, inputs):
        with keras.name_scope("depthwise_conv"):
            outputs = shifted_depthwise_conv(inputs, self.depthwise_kernel, self.padding)
        with keras.name_scope("pointwise_conv"):
            outputs = ops.matmul(outputs, self.pointwise_kernel[0, 0])
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)
