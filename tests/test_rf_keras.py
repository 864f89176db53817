"""Tests for assignment_utils.rf_keras: Keras graphs (branches, nested models, unknown layers),
gradients of a real network and published receptive fields."""

from __future__ import annotations

import os

import numpy as np
import pytest
from rf_helpers import geometry, row, squares

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from assignment_utils.rf_geometry import (  # noqa: E402
    COLUMNS,
    LayerSpec,
    UnknownLayerError,
    receptive_field_from_specs,
)
from assignment_utils.rf_keras import receptive_field_table  # noqa: E402

keras = pytest.importorskip("keras")
L = keras.layers

from assignment_utils.models import reference_model  # noqa: E402  (the assignment's network)


def test_reference_model_table():
    """The assignment's hand-written RF comments were wrong (e.g. 50x50 at the end): the field
    grows 3, 5, 6 (pool), 10, 14, 16 (pool), 24, 28 (pool), 28 (1x1), 52 (4x4 valid)."""
    model = reference_model()
    assert model.count_params() == 94_911
    t = receptive_field_table(model)
    geo = t[t["type"].isin(["SeparableConv2D", "MaxPooling2D"])]
    assert geo["receptive_field"].tolist() == squares(3, 5, 6, 10, 14, 16, 24, 28, 28, 52)
    assert [s[0] for s in geo["output_shape"]] == [32, 32, 16, 16, 16, 8, 8, 4, 4, 1]
    assert geo["jump"].tolist() == squares(1, 1, 2, 2, 2, 4, 4, 8, 8, 8)
    assert t["output_shape"].iloc[-1] == (10,) and t["receptive_field"].iloc[-1] == (52, 52)
    assert t["type"].iloc[0] == "InputLayer" and len(t) == len(model.layers) + 1
    # params column is Keras's own count, layer by layer
    assert t["params"].tolist()[1:] == [layer.count_params() for layer in model.layers]
    assert t["params"].sum() == 94_911


def test_spec_api_matches_keras_table():
    model = reference_model()
    specs = [LayerSpec(layer.name, type(layer).__name__, params=layer.count_params(), **kw)
             for layer, kw in zip(model.layers, _reference_kinds())]
    by_specs = receptive_field_from_specs(specs, (32, 32, 3))
    by_keras = receptive_field_table(model)
    cols = [c for c in COLUMNS if c not in ("layer", "inputs")]  # input row names differ
    assert by_specs[cols].equals(by_keras[cols])


def _reference_kinds():
    conv = lambda f, k=3, p="same": dict(kind="conv", kernel=k, padding=p, filters=f)  # noqa: E731
    keep = dict(kind="preserve")
    pool = dict(kind="pool", kernel=2, stride=2)
    return [keep, conv(32), keep, keep, conv(64), keep, keep, pool, keep,
            conv(128), keep, keep, conv(156), keep, keep, pool, keep,
            conv(168), keep, keep, pool, keep,
            conv(168, 1, "valid"), conv(10, 4, "valid"), dict(kind="global"), keep]


def test_functional_residual_add_and_concatenate():
    x = keras.Input((16, 16, 4), name="img")
    a = L.Conv2D(4, 2, padding="same", name="a")(x)
    b = L.Conv2D(4, 2, name="b")(L.ZeroPadding2D(((1, 0), (1, 0)), name="p")(x))
    add = L.Add(name="add")([a, b])
    c3 = L.Conv2D(8, 3, padding="same", name="c3")(add)
    c5 = L.Conv2D(2, 5, padding="same", name="c5")(add)
    cat = L.Concatenate(name="cat")([c3, c5])
    out = L.GlobalMaxPooling2D(name="gmp")(cat)
    t = receptive_field_table(keras.Model(x, out))
    assert t["layer"].iloc[0] == "img"
    assert geometry(t, "add") == ((16, 16, 4), *squares(3, 1, 0))
    assert row(t, "add")["inputs"] == ("a", "b")
    assert geometry(t, "cat") == ((16, 16, 10), *squares(7, 1, 0))   # union of 5 and 7, both centred
    assert geometry(t, "gmp") == ((10,), *squares(22, 1, 7.5))
    order = t["layer"].tolist()
    assert order.index("p") < order.index("b") < order.index("add") < order.index("cat")


def test_merge_with_different_jumps_raises():
    x = keras.Input((8, 8, 1))
    a = L.Conv2D(1, 1, strides=2, name="strided")(x)
    b = L.Conv2D(1, 5, name="wide")(x)
    model = keras.Model(x, L.Add(name="bad_add")([a, b]))
    with pytest.raises(ValueError, match=r"'bad_add'.*different jumps \[\(2, 2\), \(1, 1\)\]"):
        receptive_field_table(model)


class _Shift(L.Layer):
    def call(self, x):
        return x


class _OptIn(_Shift):
    preserves_spatial_geometry = True


def test_unknown_layer_error_and_opt_in():
    x = keras.Input((8, 8, 3))
    model = keras.Model(x, L.Conv2D(2, 3)(_Shift(name="shift")(x)))
    with pytest.raises(UnknownLayerError, match=r"'shift' \(_Shift\).*assume_preserving=\('_Shift',\)"):
        receptive_field_table(model)
    for opt_in in (["_Shift"], ("shift",)):
        assert receptive_field_table(model, assume_preserving=opt_in)["receptive_field"].tolist() == squares(1, 1, 3)
    model = keras.Model(x, L.Conv2D(2, 3)(_OptIn()(x)))
    assert receptive_field_table(model)["receptive_field"].iloc[-1] == (3, 3)
    up = keras.Sequential([keras.Input((8, 8, 3)), L.UpSampling2D(), L.Conv2D(2, 3)])
    with pytest.raises(UnknownLayerError, match="UpSampling2D"):
        receptive_field_table(up)
    with pytest.raises(ValueError, match="Keras reports"):  # opting in cannot hide a size change
        receptive_field_table(up, assume_preserving=["UpSampling2D"])


def test_keras_layer_zoo_non_square_and_dense():
    model = keras.Sequential([
        keras.Input((20, 18, 3)),
        L.RandomFlip(), L.RandomTranslation(0.1, 0.1), L.Rescaling(1 / 255), L.GaussianNoise(0.1),
        L.Conv2D(4, (3, 1), strides=(2, 1), padding="same"), L.LeakyReLU(), L.SpatialDropout2D(0.1),
        L.DepthwiseConv2D(3, dilation_rate=2, padding="same"), L.LayerNormalization(),
        L.Dense(6), L.PReLU(), L.ZeroPadding2D(1), L.AveragePooling2D((2, 3)),
        L.Cropping2D(((1, 0), (0, 1))), L.Flatten(), L.Dense(3), L.Softmax(),
    ])
    t = receptive_field_table(model)
    conv, dw = t.iloc[5], t.iloc[8]
    assert conv["output_shape"] == (10, 18, 4) and conv["receptive_field"] == (3, 1)
    assert conv["start"] == (1, 0) and conv["stride"] == (2, 1)
    assert dw["receptive_field"] == (11, 5) and dw["jump"] == (2, 1)
    dense = t.iloc[10]
    assert dense["type"] == "Dense" and dense["output_shape"] == (10, 18, 6)
    assert t["output_shape"].iloc[-1] == (3,)
    assert t["params"].sum() == model.count_params()


def test_unknown_input_size_requires_input_shape():
    x = keras.Input((None, None, 3))
    model = keras.Model(x, L.Conv2D(4, 3, strides=2, padding="same")(x))
    with pytest.raises(ValueError, match="input_shape="):
        receptive_field_table(model)
    t = receptive_field_table(model, input_shape=(64, 48, 3))
    assert t["output_shape"].iloc[-1] == (32, 24, 4)


def test_nested_sequential_is_flattened():
    aug = keras.Sequential([L.RandomFlip(name="flip"), L.Conv2D(3, 3, padding="same", name="inner")],
                           name="aug")
    x = keras.Input((16, 16, 3))
    model = keras.Model(x, L.Conv2D(8, 3, name="outer")(aug(x)))
    t = receptive_field_table(model)
    assert t["layer"].tolist()[1:] == ["aug/flip", "aug/inner", "outer"]
    assert t["receptive_field"].tolist() == squares(1, 1, 3, 5)
    assert t["params"].sum() == model.count_params()


def test_fields_match_gradients_of_a_real_network():
    """Empirical check with positive weights and inputs (no cancellation): the input gradient
    of an output unit spans exactly its computed field when that field lies inside the image,
    and stays inside the (clipped) field at the borders, where taps that land on zero padding
    of intermediate maps see no pixels."""
    tf = pytest.importorskip("tensorflow")
    init = dict(kernel_initializer="ones", use_bias=False)
    h, w = 41, 36
    x = keras.Input((h, w, 1))
    a = L.Conv2D(1, (3, 2), strides=2, padding="same", **init)(x)
    b = L.Conv2D(1, 3, strides=2, **init)(L.ZeroPadding2D(((1, 1), (0, 1)))(x))
    m = L.Add()([a, b])
    m = L.AveragePooling2D(2, strides=1, padding="same")(m)
    m = L.Cropping2D(((1, 0), (0, 1)))(m)
    y = L.Conv2D(1, 2, dilation_rate=2, padding="same", **init)(m)
    model = keras.Model(x, y)
    last = receptive_field_table(model).iloc[-1]
    (rh, rw), (jh, jw), (sh, sw) = (np.broadcast_to(last[c], 2) for c in ("receptive_field", "jump", "start"))
    assert (rh, rw, jh, jw, sh, sw) == (9, 9, 2, 2, 3, 2)  # by hand: W union of [0,1] and [0,2]
    inp = tf.ones((1, h, w, 1))
    interior = 0
    for p in range(y.shape[1]):
        for q in range(0, y.shape[2], 3):
            with tf.GradientTape() as tape:
                tape.watch(inp)
                out = model(inp)[0, p, q, 0]
            rows_, cols_ = np.nonzero(tape.gradient(out, inp).numpy()[0, :, :, 0])
            spans = [(idx.min(), idx.max(), c - (r - 1) / 2, c + (r - 1) / 2, n)
                     for idx, c, r, n in ((rows_, sh + p * jh, rh, h), (cols_, sw + q * jw, rw, w))]
            for lo, hi, field_lo, field_hi, n in spans:
                assert max(field_lo, 0) <= lo and hi <= min(field_hi, n - 1)
            if all(field_lo >= 0 and field_hi <= n - 1 for *_, field_lo, field_hi, n in spans):
                interior += 1
                assert all((lo, hi) == (field_lo, field_hi) for lo, hi, field_lo, field_hi, _ in spans)
    assert interior >= 20


def test_published_receptive_fields_vgg16_and_mobilenet():
    """Published values: google-research/receptive_field README and RECEPTIVE_FIELD_TABLE.md
    (https://github.com/google-research/receptive_field), the library of Araujo, Norris & Sim,
    "Computing Receptive Fields of Convolutional Neural Networks", Distill 2019
    (https://distill.pub/2019/computing-receptive-fields/): vgg_16 pool5 RF 212, effective
    stride 32, effective padding 90 (conv5_2: 164, so conv5_3: 196); mobilenet_v1
    Conv2d_13_pointwise RF 315, stride 32, padding 126 at 224x224. Effective padding P
    relates to our centre as start = (RF - 1)/2 - P."""
    vgg = receptive_field_table(keras.applications.VGG16(weights=None, include_top=False,
                                                         input_shape=(224, 224, 3)))
    published = {"block1_conv1": 3, "block1_pool": 6, "block2_conv1": 10, "block2_pool": 16,
                 "block3_conv1": 24, "block3_conv2": 32, "block3_pool": 44, "block4_conv1": 60,
                 "block4_conv2": 76, "block4_pool": 100, "block5_conv1": 132, "block5_conv2": 164,
                 "block5_conv3": 196, "block5_pool": 212}
    assert {k: row(vgg, k)["receptive_field"] for k in published} == {
        k: (v, v) for k, v in published.items()}
    assert geometry(vgg, "block5_pool") == ((7, 7, 512), *squares(212, 32, (212 - 1) / 2 - 90))
    mobilenet = receptive_field_table(keras.applications.MobileNet(
        weights=None, include_top=False, input_shape=(224, 224, 3)))
    assert geometry(mobilenet, "conv_pw_13") == ((7, 7, 1024), *squares(315, 32, (315 - 1) / 2 - 126))


def test_resnet50_published_field():
    """resnet_v1_50: RF 483, effective stride 32 (same source as above). Keras ResNet50 strides in
    the first 1x1 conv of a stage where slim strides in the last 3x3, which moves the field's
    start but not its size; Keras pads the stem (3, 3) where slim's 'SAME' pads (2, 3)."""
    model = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(224, 224, 3))
    t = receptive_field_table(model)
    assert geometry(t, "conv5_block3_out")[:3] == ((7, 7, 2048), *squares(483, 32))
    assert t["params"].sum() == model.count_params()
