"""The README's promises: its two commands, CI running the test one, and the computed table."""

import re
from pathlib import Path

from assignment_utils.models import reference_model
from assignment_utils.receptive_field import receptive_field_table, to_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
README_COLUMNS = ["layer", "type", "kernel", "stride", "padding", "output_shape", "params", "jump",
                  "receptive_field", "start"]


def test_readme_opens_with_the_main_job_and_the_test_command():
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["bash scripts/run_notebook.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()


def test_readme_reference_table_is_what_the_code_computes():
    block = re.search(r"<!-- reference-rf-table:start -->\n(.*?)\n<!-- reference-rf-table:end -->",
                      README, re.S).group(1)
    table = receptive_field_table(reference_model())[README_COLUMNS]
    assert block == to_markdown(table)


def test_readme_results_tables_are_what_the_results_files_hold():
    """No measured number in the README is typed by hand: scripts/results_tables.py writes them."""
    import importlib.util

    import pandas as pd

    spec = importlib.util.spec_from_file_location("results_tables", ROOT / "scripts" / "results_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    results = ROOT / "results"
    expected = tables.render(README, pd.read_csv(results / "runs.csv"),
                             pd.read_csv(results / "benchmark.csv"), pd.read_csv(results / "selection.csv"))
    assert README == expected, "run: python scripts/results_tables.py"
    runs = pd.read_csv(results / "runs.csv")
    assert sorted(runs.seed) == [0, 1, 2] and (runs.epochs == 50).all() and (runs.params < 100_000).all()
