"""Tests for assignment_utils.receptive_field, the package's face: its names and imports.

The work is tested beside each module: tests/test_rf_geometry.py (arithmetic on layer specs),
tests/test_rf_keras.py (Keras graphs) and tests/test_rf_render.py (markdown, Styler); the
command line is tested in tests/test_effective_field.py on a saved model.
"""

from __future__ import annotations

import subprocess
import sys

import assignment_utils.receptive_field as face
from assignment_utils import rf_geometry, rf_keras, rf_render


def test_module_imports_without_keras():
    code = ("import sys, assignment_utils.receptive_field; "
            "assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_names_are_the_split_modules_own():
    assert face.__all__ == ["KINDS", "COLUMNS", "PAIR_COLUMNS", "LayerSpec", "UnknownLayerError",
                            "receptive_field_from_specs", "receptive_field_table", "as_text",
                            "to_markdown", "style_table", "main"]
    homes = {name: module for module in (rf_geometry, rf_keras, rf_render) for name in module.__all__}
    assert sorted(homes) == sorted(n for n in face.__all__ if n != "main")
    for name, module in homes.items():
        assert getattr(face, name) is getattr(module, name), name
