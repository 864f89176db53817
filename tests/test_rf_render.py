"""Tests for assignment_utils.rf_render: the markdown table and the notebook Styler."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from assignment_utils.rf_keras import receptive_field_table  # noqa: E402
from assignment_utils.rf_render import style_table, to_markdown  # noqa: E402

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
    first = t.index[t["receptive_field"] >= 32][0]
    assert t.loc[first, "type"] == "SeparableConv2D" and t.loc[first, "receptive_field"] == 52
