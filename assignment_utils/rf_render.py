"""Rendering of receptive-field tables: a GitHub markdown table and a notebook ``Styler``.

In cells, ``None`` and ``()`` are blank, all-number tuples such as shapes are written
``h×w×c`` and whole floats as ints.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from assignment_utils.rf_geometry import _pair

__all__ = ["to_markdown", "style_table"]

def _cell(value: Any) -> str:
    if value is None or value == ():
        return ""
    if isinstance(value, tuple):
        if all(isinstance(v, tuple) for v in value):  # ((top, bottom), (left, right))
            return str(value)
        if all(isinstance(v, (int, float)) for v in value):
            return "×".join(_cell(v) for v in value)
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("|", "\\|")


def to_markdown(table: pd.DataFrame) -> str:
    """Render a receptive-field table as a GitHub markdown table (no extra dependency).

    Example:
        >>> from assignment_utils.rf_geometry import receptive_field_from_specs
        >>> to_markdown(receptive_field_from_specs([], (8, 8, 3))).splitlines()[2]
        '| input | InputLayer |  |  |  |  |  | 8×8×3 | 0 | 1 | 1 | 0 |'
    """
    header = [str(c) for c in table.columns]
    body = [[_cell(v) for v in row] for row in table.itertuples(index=False)]
    numeric = {"params", "jump", "receptive_field", "start", "kernel", "stride", "dilation"}
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if c in numeric else "---" for c in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def style_table(table: pd.DataFrame, image_size: int | Sequence[int] | None = None):
    """A pandas ``Styler`` for notebooks; the first row whose field covers the image is highlighted.

    ``image_size`` defaults to the input row's ``(H, W)``.

    Example:
        >>> style_table(receptive_field_table(model), image_size=32)  # doctest: +SKIP
    """
    size = image_size if image_size is not None else table["output_shape"].iloc[0][:2]
    size = _pair(tuple(size) if not isinstance(size, int) else size, "image_size")
    rfs = table["receptive_field"].map(lambda r: _pair(r, "receptive_field"))
    covers = rfs.map(lambda r: r[0] >= size[0] and r[1] >= size[1])
    first = covers.idxmax() if covers.any() else None

    def highlight(row: pd.Series) -> list[str]:
        if row.name == first:
            return ["background-color: #ffe08a; font-weight: bold"] * len(row)
        return ["color: #888" if covers[row.name] else ""] * len(row)

    return (table.style.apply(highlight, axis=1)
            .format(_cell, subset=[c for c in table.columns if c != "params"])
            .format("{:,}", subset=["params"] if "params" in table.columns else [])
            .set_caption(f"Receptive field per layer (image {size[0]}×{size[1]}; highlighted: "
                         "first layer whose field covers it)"))

