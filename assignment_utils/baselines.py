"""The assignment's two training logs, packaged verbatim and parsed on demand.

- ``base``: the "Base validation log" the submission has to beat (50 epochs; its
  ``Epoch 1/50`` header is missing in the assignment text, the parser infers it).
- ``reference``: the "Logs for the above model" of the reference submission (50 epochs).

Provenance: ``package_data/base_log.txt`` and ``package_data/reference_log.txt`` are exact
byte copies of two line ranges of the assignment text (``000_5ada3d6232e4e3f5.txt`` in the
course seed), cut programmatically: the base log is lines 31-129 (from its first
``390/390`` line to the line after ``Epoch 50/50``), the reference log lines 227-326
(``Epoch 1/50`` to the line after ``Epoch 50/50``; the notebook's own "Model took ...
seconds to train" line after it is left out). Every figure (best and final validation
accuracy, their epochs) is computed from these files by :mod:`assignment_utils.logs`.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

import pandas as pd

from assignment_utils.logs import parse_keras_log

__all__ = ["BASELINE_NAMES", "load_baseline"]

BASELINE_NAMES: tuple[str, ...] = ("base", "reference")


def load_baseline(name: Literal["base", "reference"]) -> pd.DataFrame:
    """History frame of a packaged baseline log (see :mod:`assignment_utils.logs`).

    >>> load_baseline("reference").val_acc.max()
    np.float64(0.836)
    """
    if name not in BASELINE_NAMES:
        raise ValueError(f"unknown baseline {name!r}; valid names: {', '.join(BASELINE_NAMES)}")
    resource = resources.files("assignment_utils") / "package_data" / f"{name}_log.txt"
    return parse_keras_log(resource.read_text(encoding="utf-8"), source=f"baseline {name!r}")
