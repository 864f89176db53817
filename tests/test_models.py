"""The reference port and our separable network: parameter budget and layer rules."""

import keras
import numpy as np
import pytest

from assignment_utils.models import (CIFAR10_MEAN, DTYPE_POLICIES, reference_model,
                                     separable_net, with_dtype_policy)

FORBIDDEN = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, keras.layers.Dense)


def _layers(model):
    return list(model._flatten_layers(include_self=False))


def test_reference_model_matches_submitted_summary():
    model = reference_model()
    assert model.count_params() == 94_911
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 93_815
    assert model.output_shape == (None, 10)
    assert [l.output.shape[1] for l in model.layers if isinstance(l, keras.layers.SeparableConv2D)] \
        == [32, 32, 16, 16, 8, 4, 1]


@pytest.mark.parametrize("kwargs", [{}, {"widths": (32, 64, 96, 128), "dropout": (0, 0, 0.05, 0.1),
                                          "blocks": 1},
                                    {"kernel_size": 5, "blocks": 1}, {"blocks": 1}, {"blocks": (3, 1, 1)}])
def test_separable_net_obeys_the_assignment_rules(kwargs):
    model = separable_net(**kwargs)
    layers = _layers(model)
    assert model.count_params() < 100_000
    # SeparableConv2D subclasses nothing forbidden; no plain convolution or Dense anywhere.
    assert not [l.name for l in layers if type(l) in FORBIDDEN]
    assert any(isinstance(l, keras.layers.BatchNormalization) for l in layers)
    assert any(isinstance(l, keras.layers.Dropout) for l in layers)
    assert model.output_shape == (None, 10)


def test_separable_net_default_size_and_residual_adds():
    model = separable_net()
    assert model.count_params() == 91_509
    adds = [l.name for l in model.layers if isinstance(l, keras.layers.Add)]
    assert adds == ["stage1_add", "stage1_add2", "stage2_add", "stage3_add"]
    # Each stage works at its own resolution and pools after its residual block: 32, 16, 8 -> 4.
    pools = [l.output.shape[1] for l in model.layers if isinstance(l, keras.layers.MaxPooling2D)]
    assert pools == [16, 8, 4]
    assert [l.rate for l in model.layers if isinstance(l, keras.layers.Dropout)] == [0.05, 0.1]
    assert {l.momentum for l in model.layers if isinstance(l, keras.layers.BatchNormalization)} == {0.9}


def test_separable_net_blocks_per_stage():
    """More residual blocks add convolutions and adds where asked; the first block keeps the
    one-block model's layer names, so its tables and saved models read the same."""
    one, deeper = separable_net(blocks=1), separable_net(blocks=(2, 1, 0))
    adds = [l.name for l in deeper.layers if isinstance(l, keras.layers.Add)]
    assert adds == ["stage1_add", "stage1_add2", "stage2_add"]
    assert {l.name for l in one.layers} - {l.name for l in deeper.layers} \
        == {"stage3_add", "stage3_res_a_sepconv", "stage3_res_a_bn", "stage3_res_a_relu",
            "stage3_res_b_sepconv", "stage3_res_b_bn", "stage3_res_b_relu"}
    extra_block = 2 * (9 * 48 + 48 * 48 + 4 * 48)  # two 48-wide separable convs and their BN
    stage3_block = 2 * (9 * 128 + 128 * 128 + 4 * 128)
    assert deeper.count_params() == one.count_params() + extra_block - stage3_block
    assert separable_net(blocks=2).count_params() == separable_net(blocks=(2, 2, 2)).count_params()


@pytest.mark.parametrize("build", [separable_net, reference_model])
def test_models_standardize_raw_pixels_themselves(build):
    """The first layer maps the CIFAR-10 mean pixel to zero: uint8 and float pixels agree."""
    model = build()
    first = next(l for l in model.layers if not isinstance(l, keras.layers.InputLayer))
    assert isinstance(first, keras.layers.Normalization)
    mean = np.array(CIFAR10_MEAN, "float32").reshape(1, 1, 1, 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(first(np.ones((1, 2, 2, 3)) * mean)), 0,
                               atol=1e-5)
    pixels = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    np.testing.assert_allclose(model.predict(pixels, verbose=0),
                               model.predict(pixels.astype("float32"), verbose=0), atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": ()}, "widths"),
    ({"widths": (48, -1)}, "widths"),
    ({"kernel_size": 4}, "kernel_size"),
    ({"dropout": 0.1}, "one rate per stage"),
    ({"dropout": (0.0, 0.1)}, "one rate in"),
    ({"dropout": (0.0, 0.1, 1.0)}, "one rate in"),
    ({"bn_momentum": 1.0}, "bn_momentum"),
    ({"blocks": (1, 1)}, "blocks"),
    ({"widths": (32, 64, 96, 128), "dropout": (0, 0, 0.05, 0.1)}, r"4 stages here.*blocks=1"),
    ({"blocks": (1, -1, 1)}, "blocks"),
    ({"blocks": 1.5}, "blocks"),
    ({"blocks": (True, 1, 1)}, "blocks"),
    ({"widths": (8,) * 7}, "fewer widths"),
    ({"dtype_policy": "bfloat16"}, "dtype_policy must be one of"),
    ({"dtype_policy": None}, "dtype_policy must be one of"),
])
def test_separable_net_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        separable_net(**kwargs)


@pytest.mark.parametrize("policy", DTYPE_POLICIES)
def test_separable_net_dtype_policies(policy):
    """Each policy: the same initial weights (float32 variables), the layers' compute dtypes as
    the policy says (SeparableConv2D float32 outside the convolutions, the softmax always float32),
    and float32 probabilities that sum to one."""
    keras.utils.set_random_seed(3)
    reference = separable_net(widths=(8, 16, 16), stem_width=8)
    keras.utils.set_random_seed(3)
    model = separable_net(widths=(8, 16, 16), stem_width=8, dtype_policy=policy)
    assert model.count_params() == reference.count_params()
    for a, b in zip(model.get_weights(), reference.get_weights()):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    computes = {layer.name: layer.compute_dtype for layer in _layers(model)}
    assert computes["probabilities"] == "float32"
    separable = [layer for layer in _layers(model)
                 if isinstance(layer, keras.layers.SeparableConv2D)]
    batch_norms = [layer for layer in _layers(model)
                   if isinstance(layer, keras.layers.BatchNormalization)]
    expected_conv = "bfloat16" if policy == "mixed_bfloat16" else "float32"
    expected_rest = "float32" if policy == "float32" else "bfloat16"
    assert {layer.compute_dtype for layer in separable} == {expected_conv}
    assert {layer.compute_dtype for layer in batch_norms} == {expected_rest}
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    probabilities = keras.ops.convert_to_numpy(model(images, training=False))
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(1), 1, rtol=1e-5)


def test_with_dtype_policy_rejects_an_unknown_policy():
    with pytest.raises(ValueError, match="policy must be one of"):
        with_dtype_policy(separable_net(), "float16")
