"""Shared helpers for the receptive-field tests (one row of a table, its geometry)."""


def row(table, name):
    return table.set_index("layer").loc[name]


def geometry(table, name):
    r = row(table, name)
    return r["output_shape"], r["receptive_field"], r["jump"], r["start"]


def squares(*sides):
    """Square (h, w) pairs, as the table's pair columns hold them: squares(3, 5) -> [(3, 3), (5, 5)]."""
    return [(side, side) for side in sides]
