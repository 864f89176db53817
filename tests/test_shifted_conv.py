"""ShiftedSeparableConv2D: the same function and gradients as Keras's SeparableConv2D, from the
same weights, on any shape it accepts; refusals; separable_net and train with it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment_utils.data import SAMPLE_PATH, load_cifar10
from assignment_utils.models import SEPARABLE_IMPLEMENTATIONS, separable_net, with_separable_impl
from assignment_utils.receptive_field import receptive_field_table
from assignment_utils.rubric import check_assignment
from assignment_utils.shifted_conv import ShiftedSeparableConv2D, shifted_depthwise_conv
from assignment_utils.training import TrainConfig, train
from profiles import examples

ROOT = Path(__file__).resolve().parents[1]


def numpy(tensor) -> np.ndarray:
    return keras.ops.convert_to_numpy(tensor)


def pair(filters: int, kernel_size, padding: str, use_bias: bool, channels: int, seed: int):
    """Keras's SeparableConv2D and a ShiftedSeparableConv2D holding the same random weights."""
    keras_layer = keras.layers.SeparableConv2D(filters, kernel_size, padding=padding,
                                               use_bias=use_bias)
    shifted = ShiftedSeparableConv2D(filters, kernel_size, padding=padding, use_bias=use_bias)
    shape = (None, 9, 9, channels)
    keras_layer.build(shape)
    shifted.build(shape)
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=w.shape).astype("float32") for w in keras_layer.get_weights()]
    keras_layer.set_weights(weights)
    shifted.set_weights(weights)
    return keras_layer, shifted


def gradients(layer, x: np.ndarray, probe: np.ndarray) -> list[np.ndarray]:
    """d sum(probe * layer(x)) / d(x, then each trainable weight), on the running backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * probe)
        return [numpy(g) for g in tape.gradient(loss, [x, *layer.trainable_variables])]
    if backend == "jax":
        import jax

        def loss(weights, x):
            return (layer.stateless_call(weights, [], x)[0] * probe).sum()

        weights = [v.value for v in layer.trainable_variables]
        dw, dx = jax.grad(loss, argnums=(0, 1))(weights, x)
        return [np.asarray(dx), *map(np.asarray, dw)]
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        (layer(x) * torch.tensor(probe)).sum().backward()
        return [x.grad.numpy(), *(v.value.grad.numpy() for v in layer.trainable_variables)]
    pytest.skip(f"no gradient helper for the {backend} backend")


def test_depthwise_by_hand():
    """3x3 image 0..8, one channel: an all-ones kernel sums each 3x3 window of the zero-padded
    image ('same'), or the one full window ('valid': 0 + ... + 8 = 36); a 1x2 kernel (2, 10)
    gives 2 * x[h, w] + 10 * x[h, w + 1], with the column after the last one zero ('same' pads
    an even kernel after)."""
    image = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    ones = np.ones((3, 3, 1, 1), "float32")
    np.testing.assert_array_equal(numpy(shifted_depthwise_conv(image, ones, "same"))[0, ..., 0],
                                  [[8, 15, 12], [21, 36, 27], [20, 33, 24]])
    np.testing.assert_array_equal(numpy(shifted_depthwise_conv(image, ones, "valid")).ravel(),
                                  [36])
    pair_kernel = np.array([2, 10], "float32").reshape(1, 2, 1, 1)
    np.testing.assert_array_equal(
        numpy(shifted_depthwise_conv(image, pair_kernel, "same"))[0, ..., 0],
        [[10, 22, 4], [46, 58, 10], [82, 94, 16]])


def test_layer_by_hand():
    """One pixel with channels (1, 2): depthwise scales (3, 5) give (3, 10); pointwise columns
    (1, 1) and (2, -1) give 13 and -4; biases (0.5, 0) give 13.5 and -4."""
    layer = ShiftedSeparableConv2D(2, 1)
    layer.build((None, 1, 1, 2))
    layer.set_weights([np.array([3, 5], "float32").reshape(1, 1, 2, 1),
                       np.array([[1, 2], [1, -1]], "float32").reshape(1, 1, 2, 2),
                       np.array([0.5, 0], "float32")])
    np.testing.assert_array_equal(numpy(layer(np.array([[[[1, 2]]]], "float32"))).ravel(),
                                  [13.5, -4])


@settings(max_examples=examples(25))
@given(batch=st.integers(1, 3), height=st.integers(1, 8), width=st.integers(1, 8),
       channels=st.integers(1, 5), filters=st.integers(1, 4),
       kernel=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       padding=st.sampled_from(["same", "valid"]), use_bias=st.booleans(),
       seed=st.integers(0, 2**16))
def test_outputs_and_gradients_match_keras(batch, height, width, channels, filters, kernel,
                                           padding, use_bias, seed):
    """Any shape either padding accepts, odd and even kernels, with and without bias: outputs
    and the gradients of a random weighting of them (inputs and every weight) equal Keras's
    SeparableConv2D's, to float32 rounding."""
    if padding == "valid" and (height < kernel[0] or width < kernel[1]):
        height, width = max(height, kernel[0]), max(width, kernel[1])
    keras_layer, shifted = pair(filters, kernel, padding, use_bias, channels, seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(batch, height, width, channels)).astype("float32")
    expected = numpy(keras_layer(x))
    np.testing.assert_allclose(numpy(shifted(x)), expected, rtol=1e-4, atol=1e-4)
    probe = rng.normal(size=expected.shape).astype("float32")
    for got, want in zip(gradients(shifted, x, probe), gradients(keras_layer, x, probe),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kwargs, named", [
    ({"strides": 2}, "strides=(2, 2)"), ({"dilation_rate": 2}, "dilation_rate=(2, 2)"),
    ({"depth_multiplier": 2}, "depth_multiplier=2"),
    ({"data_format": "channels_first"}, "data_format='channels_first'"),
])
def test_settings_it_does_not_compute_are_refused(kwargs, named):
    with pytest.raises(ValueError, match=rf"got {re.escape(named)}: use keras.layers.SeparableConv2D"):
        ShiftedSeparableConv2D(4, 3, **kwargs)


def test_bad_depthwise_arguments_are_refused():
    image = np.zeros((1, 2, 2, 3), "float32")
    with pytest.raises(ValueError, match="padding must be 'same' or 'valid'"):
        shifted_depthwise_conv(image, np.zeros((3, 3, 3, 1), "float32"), "full")
    with pytest.raises(ValueError, match=r"need a \(kh, kw, C, 1\) kernel"):
        shifted_depthwise_conv(image, np.zeros((3, 3, 2, 1), "float32"), "same")
    with pytest.raises(ValueError, match="needs inputs of at least 3x3 px, got \\(2, 2\\)"):
        shifted_depthwise_conv(image, np.zeros((3, 3, 3, 1), "float32"), "valid")


def _tiny(impl: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    return separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.1), blocks=1,
                         separable_impl=impl)


def test_separable_net_shifted_is_the_same_model():
    """Same parameters, initial weights, predictions, rubric verdict and receptive fields; every
    separable convolution (the classifier too) is a ShiftedSeparableConv2D."""
    keras.utils.set_random_seed(5)
    reference = separable_net()
    keras.utils.set_random_seed(5)
    shifted = separable_net(separable_impl="shifted")
    assert shifted.count_params() == reference.count_params() == 91_509
    for a, b in zip(shifted.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    classes = {type(layer) for layer in shifted.layers
               if isinstance(layer, keras.layers.SeparableConv2D)}
    assert classes == {ShiftedSeparableConv2D}
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    np.testing.assert_allclose(numpy(shifted(images, training=False)),
                               numpy(reference(images, training=False)), atol=1e-5)
    verdict = check_assignment(shifted)
    assert verdict.passed.iloc[0] and "SeparableConv2D x13" in verdict.evidence.iloc[0]
    columns = ["layer", "output_shape", "receptive_field", "jump", "start", "params"]
    assert receptive_field_table(shifted)[columns].equals(receptive_field_table(reference)[columns])


def test_with_separable_impl_swaps_both_ways_and_keeps_the_weights():
    model = _tiny("keras")
    assert with_separable_impl(model, "keras") is model  # nothing to swap
    shifted = with_separable_impl(model, "shifted")
    assert {type(l) for l in shifted.layers if isinstance(l, keras.layers.SeparableConv2D)} == \
        {ShiftedSeparableConv2D}
    back = with_separable_impl(shifted, "keras")
    assert {type(l) for l in back.layers if isinstance(l, keras.layers.SeparableConv2D)} == \
        {keras.layers.SeparableConv2D}
    for a, b in zip(back.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"impl must be one of \('keras', 'shifted'\)"):
        with_separable_impl(model, "cudnn")
    with pytest.raises(ValueError, match="separable_impl must be one of"):
        separable_net(separable_impl="Shifted")
    assert set(SEPARABLE_IMPLEMENTATIONS) == {"keras", "shifted"}


def test_layers_it_does_not_compute_stay_keras_layers():
    """A strided and a dilated SeparableConv2D keep Keras's class; the stride-1 one is swapped."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.SeparableConv2D(4, 3, strides=2, name="strided")(inputs)
    x = keras.layers.SeparableConv2D(4, 3, dilation_rate=2, padding="same", name="dilated")(x)
    x = keras.layers.SeparableConv2D(4, 3, padding="same", name="plain")(x)
    model = keras.Model(inputs, x)
    swapped = with_separable_impl(model, "shifted")
    assert [type(swapped.get_layer(name)).__name__ for name in ("strided", "dilated", "plain")] \
        == ["SeparableConv2D", "SeparableConv2D", "ShiftedSeparableConv2D"]
    image = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(numpy(swapped(image)), numpy(model(image)), atol=1e-5)


def test_a_subclassed_model_with_shifted_layers_is_refused_by_name():
    class Holder(keras.Model):
        def __init__(self):
            super().__init__(name="holder")
            self.conv = ShiftedSeparableConv2D(4, 3, padding="same")

        def call(self, x):
            return self.conv(x)

    model = Holder()
    model(np.zeros((1, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match="holder is a subclassed model.*SeparableConv2D layers"):
        with_separable_impl(model, "keras")


def test_a_model_with_shifted_layers_saves_and_loads(tmp_path):
    model = _tiny("shifted")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.get_layer("stem_sepconv"), ShiftedSeparableConv2D)
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_train_with_shifted_layers_matches_keras_and_saves_keras_layers(tmp_path):
    """One epoch on 100 sample images from the same seed: the same history to float rounding;
    model.keras holds Keras's own SeparableConv2D and predicts as the trained model does."""
    sample = load_cifar10(SAMPLE_PATH)
    data = (sample.x_train[:100], sample.y_train[:100]), (sample.x_test, sample.y_test)
    config = TrainConfig(epochs=1, batch_size=50, learning_rate=0.05, verbose=0)
    histories = {}
    for impl in ("keras", "shifted"):
        model = _tiny(impl)
        histories[impl] = train(model, *data, config, tmp_path / impl)
        saved = keras.saving.load_model(tmp_path / impl / "model.keras")
        assert {type(l) for l in saved.layers if isinstance(l, keras.layers.SeparableConv2D)} \
            == {keras.layers.SeparableConv2D}
        np.testing.assert_allclose(numpy(saved(sample.x_test[:8], training=False)),
                                   numpy(model(sample.x_test[:8], training=False)), atol=1e-5)
    for column in ("loss", "acc", "val_loss", "val_acc"):
        np.testing.assert_allclose(histories["shifted"][column], histories["keras"][column],
                                   rtol=1e-3, atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_same_on_other_backends(backend):
    """The layer's tests above, run by pytest under JAX and PyTorch."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow",
         str(Path(__file__)), "-k", "by_hand or match_keras or refused or same_model"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
