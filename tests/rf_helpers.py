"""Shared helpers for the receptive-field tests (one row of a table, its geometry, its field)."""

import numpy as np

from assignment_utils.effective_field import centre_unit


def row(table, name):
    return table.set_index("layer").loc[name]


def geometry(table, name):
    r = row(table, name)
    return r["output_shape"], r["receptive_field"], r["jump"], r["start"]


def squares(*sides):
    """Square (h, w) pairs, as the table's pair columns hold them: squares(3, 5) -> [(3, 3), (5, 5)]."""
    return [(side, side) for side in sides]


def theoretical_mask(table, layer):
    """Input pixels inside the theoretical field of the layer's centre unit, as an (H, W) mask of
    the table's input (its first row); a field reaching past the border is clipped to the image."""
    r = row(table, layer)
    start, jump, field = (np.asarray(r[c], dtype=float) for c in ("start", "jump", "receptive_field"))
    centre = start + np.asarray(centre_unit(r["output_shape"])) * jump
    rows, cols = np.indices(table["output_shape"].iloc[0][:2])
    half = (field - 1) / 2
    return (np.abs(rows - centre[0]) <= half[0]) & (np.abs(cols - centre[1]) <= half[1])
