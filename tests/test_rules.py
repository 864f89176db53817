"""The assignment's numbers live in assignment_utils.rules; the modules that check them read them
from there, and rules.py stays free of Keras and of the package's other modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from assignment_utils import rules

RULES_PY = Path(rules.__file__)


def test_rules_values():
    assert rules.BASE_ACCURACY == 0.828 and rules.BASE_FINAL_ACCURACY == 0.8202
    assert rules.EPOCHS_REQUIRED == 50 and rules.MAX_PARAMS == 100_000
    assert rules.NUM_CLASSES == len(rules.CLASS_NAMES) == 10
    assert rules.IMAGE_SHAPE == (32, 32, 3)
    assert rules.CLASS_NAMES[0] == "airplane" and rules.CLASS_NAMES[-1] == "truck"


def test_rules_imports_nothing_but_future():
    tree = ast.parse(RULES_PY.read_text())
    imported = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imported)


def test_modules_read_the_numbers_from_rules():
    code = """
import assignment_utils.rules as r
from assignment_utils import data, grade, plots, rubric
assert data.CLASS_NAMES is r.CLASS_NAMES and data.IMAGE_SHAPE is r.IMAGE_SHAPE
assert rubric.BASE_ACCURACY is r.BASE_ACCURACY and rubric.MAX_PARAMS is r.MAX_PARAMS
assert rubric.EPOCHS_REQUIRED is r.EPOCHS_REQUIRED
assert plots.plot_runs.__defaults__[0] is r.BASE_ACCURACY
from assignment_utils import models
assert models.INPUT_SHAPE is r.IMAGE_SHAPE and models.NUM_CLASSES is r.NUM_CLASSES
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
