"""Tests for the effective receptive field, its figures, and the receptive-field command line.

Exact check: in a network with linear activations, constant positive kernels and no bias, every
input pixel of a unit's theoretical field reaches it through at least one path and every path
adds a positive weight product, so the gradient is non-zero exactly on the theoretical field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rf_helpers import theoretical_mask

from assignment_utils.effective_field import centre_unit, effective_receptive_field
from assignment_utils.receptive_field import main, receptive_field_table

keras = pytest.importorskip("keras")
L = keras.layers

from assignment_utils.data import SAMPLE_PATH, load_cifar10  # noqa: E402
from assignment_utils.image_plots import (  # noqa: E402
    plot_effective_receptive_fields,
    plot_receptive_field_on_image,
)
from assignment_utils.models import reference_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ONES = dict(kernel_initializer="ones", use_bias=False)

# name: (layers after the input, the theoretical field of the last one, worked out by hand)
CASES = {
    "three 3x3": (lambda: [L.Conv2D(2, 3, padding="same", **ONES, name="c1"),
                           L.Conv2D(2, 3, padding="same", **ONES, name="c2"),
                           L.Conv2D(2, 3, padding="same", **ONES, name="c3")], 7),   # 3 + 2 + 2
    "stride": (lambda: [L.Conv2D(2, 3, strides=2, **ONES, name="c1"),
                        L.AveragePooling2D(2, name="pool"),
                        L.Conv2D(2, 3, padding="same", **ONES, name="c3")], 13),      # 3, 3+1*2, 5+2*4
    "dilation": (lambda: [L.Conv2D(2, 3, padding="same", **ONES, name="c1"),
                          L.Conv2D(2, 3, dilation_rate=2, padding="same", **ONES, name="c3")],
                 7),                                                                  # 3 + 2*2
}


def linear_net(case: str) -> keras.Model:
    return keras.Sequential([keras.Input((32, 32, 3)), *CASES[case][0]()], name=case.replace(" ", "_"))


@pytest.fixture(params=list(CASES))
def case(request):
    return request.param


def test_support_equals_the_theoretical_field(case):
    model = linear_net(case)
    side = CASES[case][1]
    assert receptive_field_table(model)["receptive_field"].iloc[-1] == (side, side)
    erf = effective_receptive_field(model, "c3")
    assert erf.shape == (32, 32) and erf.max() == 1.0
    mask = theoretical_mask(receptive_field_table(model), "c3")
    assert mask.sum() == side ** 2  # the field lies inside the image
    np.testing.assert_array_equal(erf > 0, mask)


def test_gradient_weights_count_the_paths():
    """Three stacked 3x3 convolutions of ones: the weight of an offset is the number of paths,
    the outer product of (1, 3, 6, 7, 6, 3, 1) with itself, times channels, over its maximum."""
    erf = effective_receptive_field(linear_net("three 3x3"), "c3", np.ones((2, 32, 32, 3)))
    paths = np.array([1, 3, 6, 7, 6, 3, 1])
    np.testing.assert_allclose(erf[13:20, 13:20], np.outer(paths, paths) / 49, rtol=1e-6)


def test_real_images_and_a_single_image():
    model = reference_model()
    images = load_cifar10(SAMPLE_PATH).x_train[:4]
    erf = effective_receptive_field(model, "sepconv4", images)
    assert erf.max() == 1.0
    outside = ~theoretical_mask(receptive_field_table(model), "sepconv4")
    assert not (erf > 0)[outside].any()  # zero outside the field
    one = effective_receptive_field(model, "sepconv4", images[0])
    assert one.shape == (32, 32) and np.count_nonzero(one) > 0


def test_errors_name_the_problem():
    model = linear_net("three 3x3")
    with pytest.raises(ValueError, match="has no layer 'c9'; its layers: c1, c2, c3"):
        effective_receptive_field(model, "c9")
    with pytest.raises(ValueError, match=r"'gap' outputs shape \(None, 10\), not a spatial map"):
        effective_receptive_field(reference_model(), "gap")
    with pytest.raises(ValueError, match=r"images must have shape"):
        effective_receptive_field(model, "c3", np.zeros((2, 16, 16, 3)))
    dead = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(1, 3, kernel_initializer="zeros",
                                                                 name="dead")])
    with pytest.raises(ValueError, match="zero for every image"):
        effective_receptive_field(dead, "dead")


def test_module_imports_without_keras():
    code = ("import sys, assignment_utils.effective_field; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


BACKEND_SCRIPT = """
import json, numpy as np, keras
from assignment_utils.effective_field import effective_receptive_field
import tests.test_effective_field as t
fields = {case: effective_receptive_field(t.linear_net(case), "c3").tolist() for case in t.CASES}
print(json.dumps(fields))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_same_field_on_other_backends(backend):
    env = {**os.environ, "KERAS_BACKEND": backend,  # the tests import their helpers as top-level
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    result = subprocess.run([sys.executable, "-c", BACKEND_SCRIPT], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    fields = json.loads(result.stdout.strip().splitlines()[-1])
    for case, erf in fields.items():
        np.testing.assert_allclose(erf, effective_receptive_field(linear_net(case), "c3"),
                                   rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- figures


def patch(ax, gid):
    (found,) = [p for p in ax.patches if p.get_gid() == gid]
    return found.get_x(), found.get_y(), found.get_width(), found.get_height()


def test_erf_figure_square_matches_the_table_and_the_support():
    model = linear_net("stride")
    fig = plot_effective_receptive_fields(model, ["c1", "c3"], title="linear net")
    assert fig.get_suptitle().startswith("linear net\ntheoretical field: dashed")
    erf_axes, mass_ax = fig.axes[1:], fig.axes[0]
    row = receptive_field_table(model).set_index("layer").loc["c3"]
    (start, _), (jump, _), (rf, _) = row["start"], row["jump"], row["receptive_field"]  # square
    centre = start + centre_unit(row["output_shape"])[0] * jump
    assert patch(erf_axes[1], "c3:field") == (centre - rf / 2, centre - rf / 2, rf, rf)
    rows, cols = np.nonzero(effective_receptive_field(model, "c3"))
    x, y, w, h = patch(erf_axes[1], "c3:field")
    support = (cols.min() - 0.5, cols.max() + 0.5, rows.min() - 0.5, rows.max() + 0.5)
    assert support == (x, x + w, y, y + h)
    curves = {line.get_gid(): line for line in mass_ax.get_lines()}
    sides, mass = curves["c3:mass"].get_data()
    assert mass[list(sides).index(rf)] == pytest.approx(1.0) and mass[list(sides).index(rf - 2)] < 1
    assert list(curves["c3:theory"].get_xdata()) == [rf, rf]
    assert "field 13 px" in erf_axes[1].get_title()


def test_field_on_image_clips_at_the_border_and_shows_padding(tmp_path):
    table = receptive_field_table(reference_model())
    image = load_cifar10(SAMPLE_PATH).x_train[0]
    fig = plot_receptive_field_on_image(table, image, ["sepconv2", "sepconv7"], pixel=(0, 0),
                                        path=tmp_path / "fields.png")
    small, large = fig.axes
    assert patch(small, "sepconv2:field") == (-2.5, -2.5, 5, 5)        # unit (0, 0), field 5
    assert patch(small, "sepconv2:inside") == (-0.5, -0.5, 3, 3)
    assert patch(large, "sepconv7:field") == (15.5 - 26, 15.5 - 26, 52, 52)  # start 15.5, field 52
    assert patch(large, "sepconv7:inside") == (-0.5, -0.5, 32, 32)
    assert large.get_xlim() == (-11, 42) and large.get_ylim() == (42, -11)  # padding in view
    assert (tmp_path / "fields.png").stat().st_size > 5_000
    centre = plot_receptive_field_on_image(table, image, ["sepconv4"]).axes[0]
    assert patch(centre, "sepconv4:field") == (16.5 - 7, 16.5 - 7, 14, 14)  # unit (8, 8): 0.5 + 8*2
    with pytest.raises(ValueError, match=r"\(H, W\) = \(32, 32\)"):
        plot_receptive_field_on_image(table, image[:16], ["sepconv2"])
    with pytest.raises(ValueError, match="no layer 'nope' in the table"):
        plot_receptive_field_on_image(table, image, ["nope"])


# --------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def saved_reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "reference.keras"
    reference_model().save(path)
    return path


def test_cli_prints_the_table_of_a_saved_model(saved_reference, tmp_path, capsys):
    csv = tmp_path / "rf.csv"
    assert main([str(saved_reference), "--csv", str(csv)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| layer | type | inputs |")
    assert lines[-2].startswith("| softmax | Activation | gap |") and "| 8 | 52 | 15.5 |" in lines[-2]
    assert lines[-1] == f"table saved to {csv}"
    assert pd.read_csv(csv)["receptive_field"].iloc[-1] == 52


def test_cli_errors(tmp_path, capsys):
    assert main([str(tmp_path / "missing.keras")]) == 2
    assert "error: cannot analyse" in capsys.readouterr().err
    assert main([]) == 2


@pytest.mark.slow
def test_cli_as_a_module(saved_reference):
    result = subprocess.run([sys.executable, "-m", "assignment_utils.receptive_field",
                             str(saved_reference)], capture_output=True, text=True, cwd=REPO,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| sepconv7 | SeparableConv2D | sepconv6 | 4 | 1 | 1 | valid | 1×1×10 | 4368 | 8 | 52 |" \
        in result.stdout
