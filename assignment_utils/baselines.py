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

The *base network* is the model that trained the base log: the course's Keras 1 template,
which the seed does not quote but students' notebooks do (``Convolution2D`` 3×3 layers of
48, 48, 96, 96, 192 and 192 filters with ReLU, 2×2 max pooling and dropout after each pair,
``Flatten``, ``Dense`` 512, 256 and 10). :data:`BASE_NETWORK_PARAMS` and
:data:`BASE_NETWORK_LAYERS` are how :mod:`assignment_utils.grade` recognises it.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

import pandas as pd

from assignment_utils.logs import parse_keras_log

__all__ = ["BASELINE_NAMES", "BASE_NETWORK_LAYERS", "BASE_NETWORK_PARAMS", "REFERENCE_RF_CLAIMS",
           "load_baseline", "with_rf_claims"]

BASELINE_NAMES: tuple[str, ...] = ("base", "reference")

# ``Total params`` of the base network's ``model.summary()``, and its layer classes (Keras 1
# ``Convolution2D`` is ``Conv2D``).
BASE_NETWORK_PARAMS = 1_172_410
BASE_NETWORK_LAYERS: frozenset[str] = frozenset(
    {"Activation", "Conv2D", "Dense", "Dropout", "Flatten", "MaxPooling2D"})

# The receptive fields (px) that the reference submission wrote in its code comments
# ("# o/p channel size - 32x32x32; Receptive field - 1x1", assignment text lines 137-163), by the
# layer names of ``models.reference_model()``. Its layers without a comment are left out.
REFERENCE_RF_CLAIMS: dict[str, int] = {
    "sepconv1": 1, "sepconv2": 3, "pool1": 4, "sepconv3": 8, "sepconv4": 12, "pool2": 14,
    "sepconv5": 22, "pool3": 26, "sepconv6": 26, "sepconv7": 50,
}


def load_baseline(name: Literal["base", "reference"]) -> pd.DataFrame:
    """History frame of a packaged baseline log (see :mod:`assignment_utils.logs`).

    >>> load_baseline("reference").val_acc.max()
    np.float64(0.836)
    """
    if name not in BASELINE_NAMES:
        raise ValueError(f"unknown baseline {name!r}; valid names: {', '.join(BASELINE_NAMES)}")
    resource = resources.files("assignment_utils") / "package_data" / f"{name}_log.txt"
    return parse_keras_log(resource.read_text(encoding="utf-8"), source=f"baseline {name!r}")


def with_rf_claims(table: pd.DataFrame, claims: dict[str, int] = REFERENCE_RF_CLAIMS) -> pd.DataFrame:
    """``receptive_field_table(reference_model())`` plus ``claimed`` (the submission's comment,
    None where it wrote none) and ``claimed − computed`` in pixels. A claim is one side of a
    square field; a claim on a layer whose computed field is not square is an error.

    >>> rows = pd.DataFrame({"layer": ["sepconv1", "bn1"], "receptive_field": [(3, 3), (3, 3)]})
    >>> with_rf_claims(rows)[["claimed", "claimed − computed"]].values.tolist()
    [[1, -2], [None, None]]
    """
    claimed = [claims.get(layer) for layer in table["layer"]]
    differences = []
    for layer, claim, (height, width) in zip(table["layer"], claimed, table["receptive_field"]):
        if claim is not None and height != width:
            raise ValueError(f"layer {layer!r}: the claim {claim} is one side of a square field, "
                             f"but the computed field is {height}×{width}")
        differences.append(None if claim is None else claim - height)
    return table.assign(**{
        "claimed": pd.Series(claimed, index=table.index, dtype=object),
        "claimed − computed": pd.Series(differences, index=table.index, dtype=object)})
