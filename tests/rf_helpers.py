"""Shared helpers for the receptive-field tests (one row of a table, its geometry)."""


def row(table, name):
    return table.set_index("layer").loc[name]


def geometry(table, name):
    r = row(table, name)
    return r["output_shape"], r["receptive_field"], r["jump"], r["start"]
