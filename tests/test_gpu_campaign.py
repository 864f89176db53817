"""The GPU campaign script, run here on the CPU in its smoke mode, so a GPU window is never lost
to a typo: every phase, the files it returns, and its deadlines."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from assignment_utils.benchmark import COLUMNS as BENCHMARK_COLUMNS
from assignment_utils.data import SAMPLE_PATH
from assignment_utils.run_record import RUN_COLUMNS
from assignment_utils.training import TrainConfig
from assignment_utils.verify import main as verify_main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_campaign.py"

pytestmark = pytest.mark.slow


def _campaign(out: Path, work: Path, *args: str) -> subprocess.CompletedProcess:
    """The script run from the checkout with ``CIFAR10_PATH`` relative to it, as a user types it
    (a relative path once missed the data in the notebook, which runs inside ``--work``)."""
    env = {**os.environ, "CIFAR10_PATH": os.path.relpath(SAMPLE_PATH, ROOT),
           "TF_CPP_MIN_LOG_LEVEL": "3",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--work", str(work),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def gpu_campaign():
    """``scripts/gpu_campaign.py`` as a module (``scripts/`` is not a package)."""
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))
    import gpu_campaign

    return gpu_campaign


@pytest.fixture
def work():
    folder = ROOT / "output" / f"test-campaign-{os.getpid()}"
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def test_smoke_campaign_writes_every_artifact(tmp_path, work):
    result = _campaign(tmp_path, work, "--smoke", "--budget", "600")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["benchmark.csv", "campaign.log", "cifar10_separable.ipynb",
                     "environment.json", "logs.tar.gz", "model.keras", "model.summary.json",
                     "runs.csv"]  # at most 8 come back
    assert json.loads((tmp_path / "environment.json").read_text())["device"] == "CPU"

    runs = pd.read_csv(tmp_path / "runs.csv")
    assert list(runs.columns[:len(RUN_COLUMNS)]) == RUN_COLUMNS
    assert sorted(runs.seed) == [0, 1, 2] and (runs.epochs == 1).all()
    assert runs.final_val_acc.between(0, 1).all() and (runs.trainings_sharing_the_card == 3).all()
    assert runs.loc[runs.seed == 0, "source"].item() == "notebook"

    bench = pd.read_csv(tmp_path / "benchmark.csv")
    assert list(bench.columns) == BENCHMARK_COLUMNS
    assert {"naive", "pipeline", "pipeline_no_xla"} <= set(bench.pipeline)

    nb = nbformat.read(tmp_path / "cifar10_separable.ipynb", as_version=4)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type == "error"]
    with tarfile.open(tmp_path / "logs.tar.gz") as archive:
        members = archive.getnames()
    assert "logs/notebook.log" in members and "runs/notebook/summary.json" in members
    assert not [m for m in members if "checkpoint" in m]
    assert not [m for m in members if m.endswith(".keras")]  # the model comes back on its own
    log = (tmp_path / "campaign.log").read_text()
    assert "render check: an injected-parameters cell" in log  # smoke passes -p; the real run not

    # The render's model and record, byte for byte, and they check out against the data the
    # render ran on (the smoke run's CIFAR10_PATH, the package sample).
    run = work / "runs" / "notebook"
    assert (tmp_path / "model.keras").read_bytes() == (run / "model.keras").read_bytes()
    assert (tmp_path / "model.summary.json").read_bytes() == (run / "summary.json").read_bytes()
    assert json.loads((tmp_path / "model.summary.json").read_text())["seed"] == 0
    assert verify_main([str(tmp_path / "model.keras"), "--data", str(SAMPLE_PATH)]) == 0


def test_phases_stop_at_their_deadline_and_report_nothing_as_done(tmp_path, work):
    """With no time for them, the trainings are stopped and said to be unfinished: no row, no
    notebook."""
    result = _campaign(tmp_path, work, "--smoke", "--budget", "5")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "notebook NOT FINISHED" in result.stdout and "seed1 NOT FINISHED" in result.stdout
    assert not (tmp_path / "cifar10_separable.ipynb").exists()
    assert not (tmp_path / "model.keras").exists()
    assert not (tmp_path / "model.summary.json").exists()
    assert pd.read_csv(tmp_path / "runs.csv").empty
    bench = pd.read_csv(tmp_path / "benchmark.csv") if (tmp_path / "benchmark.csv").exists() else None
    assert bench is None or bench.note.fillna("").str.contains("not run").all()


def test_refuses_to_run_without_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CIFAR10_PATH"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "set CIFAR10_PATH" in result.stderr
    env["CIFAR10_PATH"] = str(tmp_path / "missing.npz")
    result = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "missing.npz does not exist" in result.stderr


def test_phases_returning_more_than_8_files_are_refused_before_anything_starts(
        tmp_path, gpu_campaign, capsys):
    """The GPU machine returns at most 8 files: the render (with its model and record) and the
    benchmark return 8, the selection one more."""
    assert gpu_campaign.returned_files(["graded", "benchmark"]) == [
        "environment.json", "logs.tar.gz", "campaign.log", "cifar10_separable.ipynb",
        "model.keras", "model.summary.json", "runs.csv", "benchmark.csv"]
    assert len(gpu_campaign.returned_files(["graded", "selection"])) == 8
    candidates = tmp_path / "candidates.txt"
    candidates.write_text("default | --set batch_size=250\n")
    with pytest.raises(SystemExit) as exit_:
        gpu_campaign.main(["--out", str(tmp_path / "out"), "--work", str(tmp_path / "work"),
                           "--phases", "graded", "benchmark", "selection",
                           "--candidates", str(candidates)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "would return 9 files" in err and "more than the 8" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "work").exists()


def test_selection_phase_trains_each_candidate_in_its_own_folder(tmp_path, work):
    """Six processes once shared one output folder on the GPU and five were (rightly) refused:
    each candidate now gets its own. Progress is reported every 0.5 s here: a report once looked
    for a log named after the candidate instead of the process and crashed the campaign."""
    candidates = tmp_path / "candidates.txt"
    small = "--widths 8 16 --stem-width 8 --dropout 0 0.1 --blocks 1"
    candidates.write_text(f"# a comment\nsmall | {small}\n"
                          f"smaller batch | {small} --set batch_size=50\n")
    out = tmp_path / "out"
    result = _campaign(out, work, "--smoke", "--phases", "selection", "--candidates",
                       str(candidates), "--budget", "400", "--report-seconds", "0.5")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    table = pd.read_csv(out / "selection.csv")
    assert table.candidate.tolist() == ["small", "smaller batch"]
    assert (table.validation == "holdout-50").all()
    assert (table.trainings_sharing_the_card == 2).all() and (table.epochs == 1).all()
    default = TrainConfig().batch_size
    assert "batch_size=50," in table.config[1] and f"batch_size={default}," in table.config[0]
    assert not (out / "runs.csv").exists() and not (out / "benchmark.csv").exists()
    log = (out / "campaign.log").read_text()
    assert "candidate2 is 'smaller batch'" in log and "  candidate2: " in log


@pytest.mark.parametrize("line, message", [
    ("no separator here", r"expected 'name \| arguments'"),
    ("good | --set batch_size=500", r"the candidate name 'good' is already taken"),
    ("typo | --set weight_decy=4e-3", r"candidate 'typo': bad override 'weight_decy=4e-3'"),
    ("negative | --set weight_decay=-1", r"candidate 'negative': weight_decay must be"),
    ("flag | --depth 3", r"candidate 'flag': unrecognized arguments: --depth 3"),
    ("stages | --blocks 2 1", r"candidate 'stages': blocks must be"),
    ("too big | --widths 64 128 160", r"candidate 'too big' breaks the assignment: Fewer than "
                                      r"100,000 parameters \(1\d\d,\d\d\d total"),
])
def test_candidates_file_errors_name_the_line(tmp_path, gpu_campaign, line, message):
    """A bad candidate would cost its slot in a GPU window: the file is checked line by line
    first, against the experiments command line, ``TrainConfig`` and the assignment's rules."""
    bad = tmp_path / "c.txt"
    bad.write_text(f"good | --set batch_size=250\n# a comment\n{line}\n")
    with pytest.raises(ValueError, match=r"c.txt:3: " + message):
        gpu_campaign.read_candidates(bad)


def test_a_bad_candidates_file_stops_the_campaign_before_it_starts(tmp_path, work):
    bad = tmp_path / "c.txt"
    bad.write_text("typo | --set weight_decy=4e-3\n")
    result = _campaign(tmp_path / "out", work, "--smoke", "--phases", "selection",
                       "--candidates", str(bad))
    assert result.returncode == 2 and "c.txt:1: candidate 'typo': bad override" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "results").glob("candidates*.txt")))
def test_committed_candidates_are_valid(gpu_campaign, name):
    """Every candidate of every committed ``results/candidates*.txt`` passes the checks above."""
    assert len(gpu_campaign.read_candidates(ROOT / "results" / name)) >= 1
