"""The READMEs' promises: the two commands first in a short README, CI running the test one, the
papermill table of the parameters cell, and generated tables that are what the results files and
the code give (README.md and the full record, results/README.md)."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
README_PATH = ROOT / "README.md"
RECORD_PATH = ROOT / "results" / "README.md"
README = README_PATH.read_text(encoding="utf-8")
NOTEBOOK = ROOT / "notebooks" / "cifar10_separable.ipynb"


@pytest.fixture(scope="module")
def tables():
    """``scripts/results_tables.py`` as a module."""
    path = ROOT / "scripts" / "results_tables.py"
    spec = importlib.util.spec_from_file_location("results_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_opens_with_the_main_job_and_the_test_command():
    block = re.search(r"```bash\n(.*?)```", README, re.S)
    assert README[:block.end()].count("\n") < 15, "the two commands belong in the first 15 lines"
    commands = [line.split("#")[0].strip() for line in block.group(1).strip().splitlines()]
    assert commands == ["bash scripts/run_notebook.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_readme_is_at_most_150_lines_and_10000_characters():
    assert len(README.splitlines()) <= 150 and len(README) <= 10_000, (
        f"README.md has {len(README.splitlines())} lines and {len(README)} characters; at most 150 "
        "and 10,000: move the detail to results/README.md")


def test_readme_papermill_table_is_the_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    defaults = dict(re.findall(r"^(\w+) = (.+?)(?:\s+#.*)?$", cell, re.M))
    documented = dict(re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", README, re.M))
    assert documented == defaults and len(defaults) == 6


def test_generated_tables_are_what_the_results_files_and_code_give(tables):
    """No measured number in the tables is typed by hand: scripts/results_tables.py writes them."""
    for path, text in tables.rendered().items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(ROOT)} is stale: run python scripts/results_tables.py"


def test_result_table_holds_the_recorded_runs(tables):
    """Read by hand from results/runs.csv (0.9145, 0.9138, 0.9121: mean 0.91346), benchmark.csv
    (1.0675 s an epoch) and gpu_campaign/environment.json."""
    results = tables.read_results(ROOT / "results")
    assert sorted(results["runs"].seed) == [0, 1, 2] and (results["runs"].epochs == 50).all()
    block = re.search(r"<!-- result-table:start -->\n(.*?)<!-- result-table:end -->", README,
                      re.S).group(1)
    for expected in ("**91.35 %**", "91.45 % (seed 0, the notebook), 91.38 % (seed 1), 91.21 %",
                     "| parameters | 91,509 |", "| epochs | 50 |", "no Conv2D, no Dense",
                     "NVIDIA H100 80GB HBM3, Keras 3.15.1 on jax", "146.4, 150.1, 148.8 with 3",
                     "53 for 50 epochs alone", "commit `9d079b8`"):
        assert expected in block, expected


def test_a_stale_table_fails_the_check(tables):
    """The check can fail: a result that changed after the tables were written."""
    results = tables.read_results(ROOT / "results")
    results["runs"].loc[0, "final_val_acc"] -= 0.01
    stale = tables.rendered(ROOT, results)
    assert stale[README_PATH] != README
    assert stale[RECORD_PATH] != RECORD_PATH.read_text(encoding="utf-8")


def test_result_table_refuses_runs_of_another_model(tables):
    results = tables.read_results(ROOT / "results")
    results["runs"]["params"] = 85_653
    with pytest.raises(ValueError, match="85,653 parameters but separable_net\\(\\) has 91,509"):
        tables.rendered(ROOT, results)


def test_a_missing_marker_names_the_file(tables):
    with pytest.raises(ValueError, match="results/README.md has no <!-- runs-table:start -->"):
        tables.render("no tables", {"runs-table": "| x |"}, ("runs-table",), "results/README.md")


def test_layer_types_counts_classes_and_names_the_forbidden_ones_absent(tables):
    class Model:
        layers = [type(name, (), {})() for name in
                  ("InputLayer", "SeparableConv2D", "ReLU", "SeparableConv2D", "Dense")]

    assert tables.layer_types(Model()) == "2 SeparableConv2D, 1 ReLU, 1 Dense; no Conv2D"
