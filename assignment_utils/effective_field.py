"""The effective receptive field (ERF): how strongly each input pixel moves one output unit.

:func:`effective_receptive_field` is the magnitude of the gradient of the centre unit of a
layer's output map (:func:`centre_unit`, its channels summed) with respect to the input
image, averaged over images and scaled to a maximum of 1 (Luo, Li, Urtasun & Zemel,
"Understanding the Effective Receptive Field in Deep Convolutional Neural Networks",
NeurIPS 2016). The gradient is exactly zero outside the theoretical field of
:func:`~assignment_utils.receptive_field.receptive_field_table`; inside, it usually
concentrates near the centre, so the effective field is smaller than the theoretical one.

Keras has no backend-independent gradient, so the gradient is taken with the backend's own
autodiff: ``tf.GradientTape`` (TensorFlow), ``jax.grad`` over ``stateless_call`` (JAX),
``torch.autograd.grad`` (PyTorch). Keras is imported when a function runs.

>>> from assignment_utils.models import reference_model
>>> erf = effective_receptive_field(reference_model(), "sepconv3")  # doctest: +SKIP
>>> erf.shape, erf.max()  # doctest: +SKIP
((32, 32), 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["centre_unit", "effective_receptive_field"]

_BATCH = 64  # images per gradient call


def centre_unit(shape: Sequence[int]) -> tuple[int, int]:
    """The unit an ERF is taken at: ``(h // 2, w // 2)`` of an ``(h, w, ...)`` output map.

    >>> centre_unit((16, 15, 64))
    (8, 7)
    """
    return shape[0] // 2, shape[1] // 2


def _target(outputs: Any, unit: tuple[int, int]) -> Any:
    """The scalar differentiated: the unit's channels, summed over the batch (images are
    independent at inference, so each image gets its own gradient)."""
    from keras import ops

    return ops.sum(outputs[:, unit[0], unit[1], :])


def _tensorflow_gradient(model: Any, images: np.ndarray, unit: tuple[int, int]) -> np.ndarray:
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        target = _target(model(x, training=False), unit)
    return tape.gradient(target, x).numpy()


def _jax_gradient(model: Any, images: np.ndarray, unit: tuple[int, int]) -> np.ndarray:
    import jax

    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]

    def target(x):
        outputs, _ = model.stateless_call(trainable, non_trainable, x, training=False)
        return _target(outputs, unit)

    return np.asarray(jax.grad(target)(images))


def _torch_gradient(model: Any, images: np.ndarray, unit: tuple[int, int]) -> np.ndarray:
    import keras
    import torch

    x = keras.ops.convert_to_tensor(images).requires_grad_(True)  # on Keras's device
    with torch.enable_grad():
        (gradient,) = torch.autograd.grad(_target(model(x, training=False), unit), x)
    return keras.ops.convert_to_numpy(gradient)


_GRADIENTS: dict[str, Callable[[Any, np.ndarray, tuple[int, int]], np.ndarray]] = {
    "tensorflow": _tensorflow_gradient,
    "jax": _jax_gradient,
    "torch": _torch_gradient,
}


def _layer_model(model: Any, layer_name: str) -> Any:
    """A model from ``model``'s input to the output of its layer ``layer_name``."""
    import keras

    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer_name!r}; its layers: "
                         f"{', '.join(names)}")
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ValueError(f"model {model.name!r} must take one image input (N, H, W, C), got "
                         f"{[tuple(x.shape) for x in model.inputs]}")
    output = model.get_layer(layer_name).output
    if len(output.shape) != 4:
        raise ValueError(f"layer {layer_name!r} outputs shape {tuple(output.shape)}, not a spatial "
                         "map (N, H, W, C); pick a convolution or pooling layer")
    return keras.Model(model.inputs, output)


def effective_receptive_field(
    model: Any, layer_name: str, images: np.ndarray | None = None, *, samples: int = 16,
    seed: int = 0,
) -> np.ndarray:
    """ERF of the centre unit of ``layer_name``'s output: an ``(H, W)`` map over the input.

    For each image, ``|d sum_c y[i, j, c] / d x|`` summed over the input channels, with
    ``(i, j) = centre_unit(output shape)`` and the model in inference mode; the maps are
    averaged over the images and divided by their maximum (so the result peaks at 1).

    Args:
        model: a built Keras 3 model with one image input (channels last).
        layer_name: a top-level layer of ``model`` with a spatial output ``(h, w, c)``.
        images: ``(N, H, W, C)`` or one ``(H, W, C)`` image, as the model takes them
            (raw pixels or standardized, whatever its input is). ``None``: ``samples``
            standard-normal images drawn with ``seed`` (the scale of standardized pixels).

    Raises:
        ValueError: unknown layer, non-spatial output, images of the wrong shape, an
            unsupported backend, or a gradient that is zero everywhere (dead units).
    """
    import keras

    backend = keras.backend.backend()
    if backend not in _GRADIENTS:
        raise ValueError(f"Keras backend {backend!r} has no gradient here; use one of "
                         f"{', '.join(_GRADIENTS)} (set KERAS_BACKEND before importing keras)")
    sub = _layer_model(model, layer_name)
    input_shape = tuple(model.inputs[0].shape[1:])
    if images is None:
        if None in input_shape:
            raise ValueError(f"model {model.name!r} has input shape {input_shape}: pass images "
                             "to fix the size")
        images = np.random.default_rng(seed).standard_normal((samples, *input_shape))
    images = np.asarray(images, dtype="float32")
    images = images[None] if images.ndim == 3 else images
    sizes = zip(input_shape, images.shape[1:])
    if images.ndim != 4 or any(want not in (None, got) for want, got in sizes):
        sizes = ", ".join(map(str, input_shape))
        raise ValueError(f"images must have shape (N, {sizes}) or ({sizes}), got {images.shape}")
    unit = centre_unit(sub.compute_output_shape(images.shape)[1:])
    total = np.zeros(images.shape[1:3])
    for start in range(0, len(images), _BATCH):
        gradient = _GRADIENTS[backend](sub, images[start:start + _BATCH], unit)
        total += np.abs(gradient).sum(axis=(0, 3))
    if not total.max() > 0:
        raise ValueError(f"the gradient of unit {unit} of layer {layer_name!r} is zero for every "
                         "image (dead ReLUs?); pass real images or check the weights")
    return total / total.max()
