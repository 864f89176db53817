"""Rendering of receptive-field tables: text cells, a GitHub markdown table, a notebook ``Styler``.

In cells, ``None`` and ``()`` are blank, shapes are written ``h×w×c``, whole floats as ints, an
``(h, w)`` pair of :data:`~assignment_utils.rf_geometry.PAIR_COLUMNS` as one number when square
(else ``h×w``), and padding as one number when every side is equal.
"""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from assignment_utils.rf_geometry import PAIR_COLUMNS, _pair

__all__ = ["as_text", "to_markdown", "style_table"]

NUMERIC_COLUMNS = {"params", *PAIR_COLUMNS}


def _leaves(value: tuple) -> list:
    return [leaf for v in value for leaf in (_leaves(v) if isinstance(v, tuple) else [v])]


def _cell(value: Any, column: str = "") -> str:
    if value is None or value == ():
        return ""
    if isinstance(value, tuple):
        if column in (*PAIR_COLUMNS, "padding") and len(set(_leaves(value))) == 1:
            return _cell(_leaves(value)[0])             # square pair, equal padding: one number
        if all(isinstance(v, tuple) for v in value):    # ((top, bottom), (left, right))
            return str(value)
        if all(isinstance(v, (int, float)) for v in value):
            return "×".join(_cell(v) for v in value)
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("|", "\\|")


def as_text(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell of a receptive-field table as the text a reader sees (what ``to_markdown`` and
    the command line's ``--csv`` write).

    Example:
        >>> from assignment_utils.rf_geometry import LayerSpec, receptive_field_from_specs
        >>> t = receptive_field_from_specs([LayerSpec("c", "Conv2D", kernel=(3, 1))], (8, 8, 3))
        >>> as_text(t)[["kernel", "receptive_field", "start"]].values.tolist()
        [['', '1', '0'], ['3×1', '3×1', '1×0']]
    """
    return pd.DataFrame({column: [_cell(value, column) for value in table[column]]
                         for column in table.columns}, index=table.index)


def to_markdown(table: pd.DataFrame) -> str:
    """Render a receptive-field table as a GitHub markdown table (no extra dependency).

    Example:
        >>> from assignment_utils.rf_geometry import receptive_field_from_specs
        >>> to_markdown(receptive_field_from_specs([], (8, 8, 3))).splitlines()[2]
        '| input | InputLayer |  |  |  |  |  | 8×8×3 | 0 | 1 | 1 | 0 |'
    """
    header = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if c in NUMERIC_COLUMNS else "---" for c in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in as_text(table).itertuples(index=False)]
    return "\n".join(lines)


def style_table(table: pd.DataFrame, image_size: int | Sequence[int] | None = None):
    """A pandas ``Styler`` for notebooks; the first row whose field covers the image is highlighted.

    ``image_size`` defaults to the input row's ``(H, W)``.

    Example:
        >>> style_table(receptive_field_table(model), image_size=32)  # doctest: +SKIP
    """
    size = image_size if image_size is not None else table["output_shape"].iloc[0][:2]
    size = _pair(tuple(size) if not isinstance(size, int) else size, "image_size")
    covers = table["receptive_field"].map(lambda rf: rf[0] >= size[0] and rf[1] >= size[1])
    first = covers.idxmax() if covers.any() else None

    def highlight(row: pd.Series) -> list[str]:
        if row.name == first:
            return ["background-color: #ffe08a; font-weight: bold"] * len(row)
        return ["color: #888" if covers[row.name] else ""] * len(row)

    styler = table.style.apply(highlight, axis=1)
    for column in table.columns:
        formatter = "{:,}" if column == "params" else (lambda v, c=column: _cell(v, c))
        styler = styler.format(formatter, subset=[column])
    return styler.set_caption(f"Receptive field per layer (image {size[0]}×{size[1]}; highlighted: "
                              "first layer whose field covers it)")
