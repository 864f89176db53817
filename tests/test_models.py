"""The reference port and our separable network: parameter budget and layer rules."""

import keras
import numpy as np
import pytest

from assignment_utils.models import reference_model, separable_net

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


@pytest.mark.parametrize("kwargs", [{}, {"widths": (32, 64, 96, 128)}, {"kernel_size": 5}])
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
    assert model.count_params() == 85_653
    assert sum(isinstance(l, keras.layers.Add) for l in model.layers) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"widths": ()}, "widths"),
    ({"widths": (48, -1)}, "widths"),
    ({"kernel_size": 4}, "kernel_size"),
    ({"dropout": 1.0}, "dropout"),
    ({"widths": (8,) * 7}, "fewer widths"),
])
def test_separable_net_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        separable_net(**kwargs)
