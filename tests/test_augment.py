"""CifarAugment: identity at inference, real flips/shifts/cutout in training, and jittable."""

import keras
import numpy as np
import pytest
from keras.src.trainers.trainer import model_supports_jit

from assignment_utils.augment import CifarAugment


def _images(n=16, size=8):
    rng = np.random.default_rng(0)
    return rng.uniform(1.0, 2.0, size=(n, size, size, 3)).astype("float32")


def test_identity_at_inference():
    x = _images()
    out = keras.ops.convert_to_numpy(CifarAugment(max_shift=2, cutout=3)(x, training=False))
    np.testing.assert_array_equal(out, x)


def test_flip_only_flips_or_keeps_each_image():
    x = _images(64)
    out = keras.ops.convert_to_numpy(CifarAugment(max_shift=0, seed=1)(x, training=True))
    flipped = [np.array_equal(o, i[:, ::-1]) for o, i in zip(out, x)]
    kept = [np.array_equal(o, i) for o, i in zip(out, x)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def _shifted(image, dy, dx):
    h, w, _ = image.shape
    out = np.zeros_like(image)
    src = image[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)]
    out[max(-dy, 0):max(-dy, 0) + src.shape[0], max(-dx, 0):max(-dx, 0) + src.shape[1]] = src
    return out


def test_shift_is_a_zero_filled_translation_within_max_shift():
    x = _images(32)
    out = keras.ops.convert_to_numpy(CifarAugment(flip=False, max_shift=2, seed=3)(x, training=True))
    shifts = []
    for o, i in zip(out, x):
        match = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(o, _shifted(i, dy, dx))]
        assert match, "output is not a translation of its input by at most 2 px"
        shifts.append(match[0])
    assert len(set(shifts)) > 5


def test_cutout_zeroes_one_square_of_at_most_the_given_side_on_about_half_the_images():
    x = _images(64, size=16)
    out = keras.ops.convert_to_numpy(CifarAugment(flip=False, max_shift=0, cutout=4, seed=2)(x, training=True))
    cut = 0
    for o, i in zip(out, x):
        zero = np.all(o == 0, axis=-1)
        if not zero.any():
            np.testing.assert_array_equal(o, i)
            continue
        cut += 1
        rows, cols = np.nonzero(zero)
        assert zero.sum() <= 16
        assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # one rectangle
        assert rows.max() - rows.min() < 4 and cols.max() - cols.min() < 4
    assert 16 <= cut <= 48


def test_fill_value_replaces_zeros_and_output_is_float():
    x = (_images(16) * 0 + 200).astype("uint8")
    fill = (10.0, 20.0, 30.0)
    out = keras.ops.convert_to_numpy(CifarAugment(max_shift=2, cutout=4, fill=fill, seed=5)(x, training=True))
    assert out.dtype == np.float32
    filled = np.all(out != 200, axis=-1)
    assert filled.any() and np.all(out[filled] == np.array(fill, "float32"))


def test_model_with_augmentation_stays_jittable():
    model = keras.Sequential([keras.Input((8, 8, 3)), CifarAugment(cutout=2),
                              keras.layers.GlobalAveragePooling2D()])
    assert model_supports_jit(model)
    # The Keras layer the device notes warn about does switch XLA off: the check can fail.
    slow = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.RandomTranslation(0.1, 0.1)])
    assert not model_supports_jit(slow)


def test_config_round_trip_and_bad_arguments():
    layer = CifarAugment(flip=False, max_shift=3, cutout=5, fill=(1, 2, 3), seed=7)
    clone = CifarAugment.from_config(layer.get_config())
    assert (clone.flip, clone.max_shift, clone.cutout, clone.fill, clone.seed) == (False, 3, 5, (1.0, 2.0, 3.0), 7)
    with pytest.raises(ValueError, match="max_shift"):
        CifarAugment(max_shift=-1)
