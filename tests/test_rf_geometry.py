"""Tests for assignment_utils.rf_geometry: hand-computed cases on layer specs, without Keras."""

from __future__ import annotations

import subprocess
import sys

import pytest
from rf_helpers import geometry, row

from assignment_utils.rf_geometry import COLUMNS, LayerSpec, receptive_field_from_specs


def test_geometry_imports_without_keras():
    code = ("import sys, assignment_utils.rf_geometry; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_strided_conv_by_hand():
    t = receptive_field_from_specs([
        LayerSpec("c1", "Conv2D", kernel=3, stride=2, filters=4),
        LayerSpec("c2", "Conv2D", kernel=3, filters=8),
    ], input_shape=(9, 9, 1))
    assert list(t.columns) == COLUMNS
    assert geometry(t, "input") == ((9, 9, 1), (1, 1), (1, 1), (0, 0))
    assert geometry(t, "c1") == ((4, 4, 4), (3, 3), (2, 2), (1, 1))
    assert geometry(t, "c2") == ((2, 2, 8), (7, 7), (2, 2), (3, 3))  # 3 + 2*2; start 1 + 1*2


def test_dilated_conv_by_hand():
    t = receptive_field_from_specs([
        LayerSpec("d2", "Conv2D", kernel=3, dilation=2, padding="same"),  # k_eff 5, pads 2/2
        LayerSpec("d4", "Conv2D", kernel=3, dilation=4),  # k_eff 9, valid
    ], input_shape=(16, 16, 3))
    assert geometry(t, "d2") == ((16, 16, 3), (5, 5), (1, 1), (0, 0))
    assert geometry(t, "d4") == ((8, 8, 3), (13, 13), (1, 1), (4, 4))
    assert row(t, "d4")["dilation"] == (4, 4)


@pytest.mark.parametrize("n, k, padding, size, start", [
    (32, 3, "same", 16, 1),      # pad_total 1 -> (0, 1): TF puts the extra pixel after
    (32, 3, "valid", 15, 1),
    (33, 3, "same", 17, 0),      # pad_total 2 -> (1, 1)
    (32, 4, "same", 16, 0.5),    # pad_total 2 -> (1, 1), even kernel
    (32, 2, "same", 16, 0.5),    # pad_total 0
    (7, 3, ((1, 1), (1, 1)), 4, 0),  # explicit padding
])
def test_same_vs_valid_stride_2(n, k, padding, size, start):
    t = receptive_field_from_specs([LayerSpec("c", "Conv2D", kernel=k, stride=2, padding=padding)],
                                   input_shape=(n, n, 1))
    assert geometry(t, "c") == ((size, size, 1), (k, k), (2, 2), (start, start))


def test_pooling_by_hand():
    t = receptive_field_from_specs([
        LayerSpec("mp", "MaxPooling2D", kind="pool", kernel=3, stride=2, padding="same"),
        LayerSpec("ap", "AveragePooling2D", kind="pool", kernel=2, stride=2),
    ], input_shape=(7, 7, 5))
    assert geometry(t, "mp") == ((4, 4, 5), (3, 3), (2, 2), (0, 0))        # pads (1, 1)
    assert geometry(t, "ap") == ((2, 2, 5), (5, 5), (4, 4), (1, 1))        # 3 + 1*2; start 0 + 0.5*2


def test_padding_and_cropping_by_hand():
    t = receptive_field_from_specs([
        LayerSpec("pad", "ZeroPadding2D", kind="pad", padding=((1, 2), (0, 0))),
        LayerSpec("conv", "Conv2D", kernel=3),
        LayerSpec("crop", "Cropping2D", kind="crop", padding=((1, 0), (0, 0))),
    ], input_shape=(8, 8, 1))
    assert geometry(t, "pad") == ((11, 8, 1), (1, 1), (1, 1), (-1, 0))
    assert geometry(t, "conv") == ((9, 6, 1), (3, 3), (1, 1), (0, 1))
    assert geometry(t, "crop") == ((8, 6, 1), (3, 3), (1, 1), (1, 1))
    assert row(t, "pad")["padding"] == ((1, 2), (0, 0))


def test_global_pooling_and_flatten_by_hand():
    specs = [LayerSpec("c", "Conv2D", kernel=3, stride=2, padding="same", filters=6)]
    t = receptive_field_from_specs(specs + [
        LayerSpec("gap", "GlobalAveragePooling2D", kind="global"),
        LayerSpec("fc", "Dense", kind="preserve", filters=10),
    ], input_shape=(8, 8, 3))
    assert geometry(t, "c") == ((4, 4, 6), (3, 3), (2, 2), (1, 1))
    assert geometry(t, "gap") == ((6,), (9, 9), (2, 2), (4, 4))   # 3 + (4-1)*2; centre 1 + 1.5*2
    assert geometry(t, "fc") == ((10,), (9, 9), (2, 2), (4, 4))
    assert row(t, "gap")["kernel"] == (4, 4)
    flat = receptive_field_from_specs(specs + [LayerSpec("f", "Flatten", kind="flatten")], (8, 8, 3))
    assert geometry(flat, "f") == ((96,), (9, 9), (2, 2), (4, 4))
    with pytest.raises(ValueError, match="needs a spatial input"):
        receptive_field_from_specs(specs + [LayerSpec("g", "GAP", kind="global"),
                                            LayerSpec("c2", "Conv2D", kernel=3)], (8, 8, 3))


def test_non_square_input_kernel_and_stride():
    t = receptive_field_from_specs([
        LayerSpec("c", "Conv2D", kernel=(1, 5), stride=(1, 2), padding="same"),
    ], input_shape=(8, 10, 2))
    assert geometry(t, "c") == ((8, 5, 2), (1, 5), (1, 2), (0, 1))  # W: pad_total 3 -> (1, 2)
    assert row(t, "c")["kernel"] == (1, 5)


def test_spec_merge_union_and_errors():
    branch = [LayerSpec("a", "Conv2D", kernel=2, padding="same"),                     # [0, 1]
              LayerSpec("p", "ZeroPadding2D", kind="pad", padding=((1, 0), (1, 0)), inputs=["input"]),
              LayerSpec("b", "Conv2D", kernel=2, inputs=["p"])]                       # [-1, 0]
    t = receptive_field_from_specs(branch + [LayerSpec("add", "Add", kind="merge", inputs=["a", "b"]),
                                             LayerSpec("cat", "Concatenate", kind="concat",
                                                       inputs=["a", "b"])], (16, 16, 4))
    assert geometry(t, "a")[1:] == ((2, 2), (1, 1), (0.5, 0.5))
    assert geometry(t, "b")[1:] == ((2, 2), (1, 1), (-0.5, -0.5))
    assert geometry(t, "add") == ((16, 16, 4), (3, 3), (1, 1), (0, 0))   # union [-1, 1]: wider than each
    assert geometry(t, "cat") == ((16, 16, 8), (3, 3), (1, 1), (0, 0))
    assert row(t, "add")["inputs"] == ("a", "b")
    with pytest.raises(ValueError, match=r"different jumps \[\(2, 2\), \(1, 1\)\]"):
        receptive_field_from_specs([LayerSpec("s2", "Conv2D", stride=2),
                                    LayerSpec("k5", "Conv2D", kernel=5, inputs=["input"]),
                                    LayerSpec("m", "Add", kind="merge", inputs=["s2", "k5"])], (8, 8, 1))
    with pytest.raises(ValueError, match="unknown input"):
        receptive_field_from_specs([LayerSpec("m", "Add", kind="merge", inputs=["nope"])])
    with pytest.raises(ValueError, match="kind="):
        LayerSpec("x", "X", kind="bogus")
    with pytest.raises(ValueError, match="padding"):
        LayerSpec("x", "X", padding="full")


def test_pair_columns_hold_pairs_on_every_row():
    """One cell type per column: (h, w) pairs, square or not, never a bare int."""
    t = receptive_field_from_specs([
        LayerSpec("c", "Conv2D", kernel=3, stride=2, padding="same"),
        LayerSpec("r", "ReLU", kind="preserve"),
        LayerSpec("k", "Conv2D", kernel=(1, 5), padding=1),
        LayerSpec("gap", "GlobalAveragePooling2D", kind="global"),
    ], (8, 8, 3))
    for column, kind in [("receptive_field", int), ("jump", int), ("start", float)]:
        assert all(isinstance(v, tuple) and len(v) == 2 and all(type(x) is kind for x in v)
                   for v in t[column]), column
    for column in ("kernel", "stride", "dilation"):
        assert [v for v in t[column] if v is not None] and all(
            v is None or (isinstance(v, tuple) and len(v) == 2) for v in t[column]), column
    assert row(t, "r")["kernel"] is None and row(t, "k")["padding"] == ((1, 1), (1, 1))
    assert t["params"].dtype.kind == "i"
