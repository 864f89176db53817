"""Tests for assignment_utils.rf_render: the markdown table and the notebook Styler."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from assignment_utils.rf_geometry import LayerSpec, receptive_field_from_specs  # noqa: E402
from assignment_utils.rf_keras import receptive_field_table  # noqa: E402
from assignment_utils.rf_render import as_text, style_table, to_markdown  # noqa: E402

pytest.importorskip("keras")

from assignment_utils.models import reference_model  # noqa: E402  (the assignment's network)


def test_rendering():
    t = receptive_field_table(reference_model())
    md = to_markdown(t)
    lines = md.splitlines()
    assert len(lines) == len(t) + 2 and lines[0].startswith("| layer | type |")
    assert "| 32×32×32 |" in md and all(line.count("|") == lines[0].count("|") for line in lines)
    html = style_table(t).to_html()
    assert "background-color: #ffe08a" in html
    first = t.index[[rf >= (32, 32) for rf in t["receptive_field"]]][0]
    assert t.loc[first, "type"] == "SeparableConv2D" and t.loc[first, "receptive_field"] == (52, 52)
    highlighted = [line for line in html.splitlines() if "#ffe08a" in line]
    assert highlighted and f"#T_{html.split('#T_')[1].split('_')[0]}_row{t.index.get_loc(first)}_" in html


def test_square_pairs_show_as_one_number_and_others_as_h_by_w():
    t = receptive_field_from_specs([
        LayerSpec("pad", "ZeroPadding2D", kind="pad", padding=1),
        LayerSpec("c", "Conv2D", kernel=(3, 1), stride=2, padding=((1, 0), (0, 0))),
        LayerSpec("gap", "GlobalAveragePooling2D", kind="global"),
    ], (8, 8, 3))
    text = as_text(t).set_index("layer")
    assert text.loc["pad", ["padding", "receptive_field", "start", "kernel"]].tolist() == ["1", "1", "-1", ""]
    assert text.loc["c", ["kernel", "stride", "receptive_field", "jump", "start"]].tolist() == [
        "3×1", "2", "3×1", "2", "-1"]
    assert text.loc["c", "padding"] == "((1, 0), (0, 0))" and text.loc["c", "output_shape"] == "5×5×3"
    assert text.loc["gap", ["kernel", "receptive_field", "output_shape"]].tolist() == ["5", "11×9", "3"]
    assert to_markdown(t).splitlines()[3] == "| pad | ZeroPadding2D | input |  |  |  | 1 | 10×10×3 | 0 | 1 | 1 | -1 |"
