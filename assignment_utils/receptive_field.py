"""Output size and receptive field of every layer of a 2-D convolutional network.

The package's face: every public name is importable from here, and this module keeps the
command line. The work is split one job per module:

- :mod:`assignment_utils.rf_geometry`: :class:`LayerSpec`, :data:`KINDS`, :data:`COLUMNS`,
  :data:`PAIR_COLUMNS` (the columns that always hold ``(h, w)`` pairs),
  :class:`UnknownLayerError` and the arithmetic (Araujo, Norris & Sim, Distill 2019) in
  :func:`receptive_field_from_specs`; no Keras.
- :mod:`assignment_utils.rf_keras`: :func:`receptive_field_table`, the walk of a built
  Keras 3 model (nested models flattened, unknown layers refused).
- :mod:`assignment_utils.rf_render`: :func:`as_text`, :func:`to_markdown` and :func:`style_table`.

This module imports neither TensorFlow nor Keras at import time.

Command line (any saved Keras 3 model)::

    python -m assignment_utils.receptive_field model.keras [--csv table.csv]
"""

from __future__ import annotations

import argparse
import sys

from assignment_utils import rf_geometry, rf_keras, rf_render
from assignment_utils.rf_geometry import (
    COLUMNS,
    KINDS,
    PAIR_COLUMNS,
    LayerSpec,
    UnknownLayerError,
    receptive_field_from_specs,
)
from assignment_utils.rf_keras import receptive_field_table
from assignment_utils.rf_render import as_text, style_table, to_markdown

# KINDS, COLUMNS, PAIR_COLUMNS, LayerSpec, UnknownLayerError, receptive_field_from_specs,
# receptive_field_table, as_text, to_markdown, style_table and main
__all__ = [*rf_geometry.__all__, *rf_keras.__all__, *rf_render.__all__, "main"]


def main(argv: list[str] | None = None) -> int:
    """Command line: print a saved Keras 3 model's per-layer table as markdown; 0 ok, 2 on errors.

    The project's own layers (``CifarAugment``) are registered before loading; a model with
    other custom layers needs its defining module imported, so load and call
    :func:`receptive_field_table` from Python instead.

    >>> main(["runs/notebook/model.keras", "--csv", "rf.csv"])  # doctest: +SKIP
    | layer | type | inputs | kernel | ...
    """
    parser = argparse.ArgumentParser(
        prog="python -m assignment_utils.receptive_field",
        description="Output size, jump, receptive field and start of every layer of a saved "
                    "Keras 3 model (.keras), as a markdown table.")
    parser.add_argument("model", metavar="MODEL", help="a model saved with model.save('x.keras')")
    parser.add_argument("--csv", metavar="FILE",
                        help="also write the table as CSV, cells as printed")
    parser.add_argument("--assume-preserving", nargs="+", default=(), metavar="NAME",
                        help="layer classes or names to treat as keeping the spatial geometry")
    try:
        args = parser.parse_args(argv)
        if args.csv is not None and not args.csv.strip():
            parser.error("argument --csv: the file name is empty")
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    import os  # here, not at the top: this module's top belongs to the table's face

    if not os.path.exists(args.model):
        print(f"error: cannot analyse {args.model}: no such file", file=sys.stderr)
        return 2
    try:
        import keras

        import assignment_utils.augment  # noqa: F401  (registers CifarAugment for loading)

        model = keras.saving.load_model(args.model, compile=False)
    except Exception as exc:  # Keras, zipfile, json and h5py raise many types for a bad file
        print(f"error: cannot analyse {args.model}: not a Keras model file "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    try:
        table = receptive_field_table(model, assume_preserving=args.assume_preserving)
    except UnknownLayerError as exc:
        print(f"error: {exc} (command line: --assume-preserving NAME)", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as exc:
        print(f"error: cannot analyse {args.model}: {exc}", file=sys.stderr)
        return 2
    if args.csv:
        try:
            as_text(table).to_csv(args.csv, index=False)
        except OSError as exc:
            print(f"error: argument --csv: cannot write {args.csv}: {exc}", file=sys.stderr)
            return 2
    print(to_markdown(table))
    if args.csv:
        print(f"table saved to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
