#!/usr/bin/env python3
"""The graded GPU run: render the notebook, train more seeds, measure the speed, pack the results.

One call does all the work of a GPU window and writes everything it produces into ``--out``
(at most 8 files, for a machine that returns no more: ``returned_files`` names them for the
phases asked for, and phases that would return more are refused before anything starts):

1. ``environment.json``: card, driver, backend and versions.
2. At the same time on one card: papermill renders ``notebooks/cifar10_separable.ipynb`` with its
   own defaults (50 epochs on all of CIFAR-10, seed 0; data from ``$CIFAR10_PATH``) and
   ``assignment_utils.experiments`` trains the same model and recipe with seeds 1 and 2.
   ``runs.csv`` holds one row per finished run (the notebook's is seed 0).
3. Then, alone on the card: ``assignment_utils.benchmark`` (``benchmark.csv``).
4. ``cifar10_separable.ipynb`` (the render), with its run's model and record, ``model.keras``
   and ``model.summary.json`` (byte for byte the notebook's ``runs/notebook/model.keras`` and
   ``summary.json``; committed as ``results/model.keras`` and ``results/model.summary.json``
   together with the render, they are what ``python -m assignment_utils.verify`` checks),
   ``logs.tar.gz`` (every process's output and every run's log, config and summary) and
   ``campaign.log`` (this script's own report).

``--phases`` picks among ``graded``, ``benchmark`` and ``selection``. ``selection`` trains every
candidate of ``--candidates FILE`` at the same time on the card, each on 45,000 training images
and scored on the 5,000 held out (never the test set), into ``selection.csv``. FILE has one
candidate a line, ``name | arguments of assignment_utils.experiments``, e.g.
``batch 250 | --set batch_size=250``; ``#`` starts a comment. Every candidate is checked before
anything starts (its arguments, its ``TrainConfig``, its model against the assignment's rules).

Every phase has a deadline inside ``--budget`` seconds and stops itself in time; what finished is
written, and what did not is reported as not finished, never as done.

    CIFAR10_PATH=/data/cifar10.npz python scripts/gpu_campaign.py --out results/gpu --budget 480
    CIFAR10_PATH=assignment_utils/package_data/cifar10_sample.npz \
        python scripts/gpu_campaign.py --out smoke --smoke   # CPU, about 2 min on 2 cores
    CIFAR10_PATH=... python scripts/gpu_campaign.py --out DIR --phases selection \
        --candidates results/candidates.txt --budget 280
    CIFAR10_PATH=... python scripts/gpu_campaign.py --out DIR --phases graded selection \
        --candidates results/candidates.txt --budget 540   # render first, then choose
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

import nbformat  # noqa: E402
import pandas as pd  # noqa: E402

from assignment_utils.experiments import parse_command_line  # noqa: E402
from assignment_utils.models import separable_net  # noqa: E402
from assignment_utils.rubric import check_assignment  # noqa: E402
from assignment_utils.run_record import RUN_COLUMNS, environment_record, run_row  # noqa: E402
NOTEBOOK = Path("notebooks/cifar10_separable.ipynb")  # relative: papermill records the paths
SEEDS = (1, 2)                                      # the notebook's own run is seed 0
BENCHMARK_MIN_SECONDS = 100                         # kept for the benchmark out of the budget
PHASES = ("graded", "benchmark", "selection")
HOLDOUT = 5000                                      # held-out training images for selection
SMOKE_HOLDOUT = 50                                  # the same, out of the 200-image smoke sample
PACK_SECONDS = 15                                   # kept for packing at the end
MAX_RETURNED = 8                                    # files the GPU machine returns at most
# What a campaign returns: always, and for each phase.
RETURNED = {"always": ("environment.json", "logs.tar.gz", "campaign.log"),
            "graded": ("cifar10_separable.ipynb", "model.keras", "model.summary.json",
                       "runs.csv"),
            "benchmark": ("benchmark.csv",),
            "selection": ("selection.csv",)}
# The notebook's run, inside --work: its output_dir ("runs/notebook"), the model train() saves
# there and the summary the notebook writes, returned as (name in --out, name in the run).
RENDER_RUN = Path("runs") / "notebook"
RENDER_FILES = (("model.keras", "model.keras"), ("model.summary.json", "summary.json"))
# Paths of one particular machine (this team's, a GPU machine's, a home folder, Colab's) that must
# not reach a committed notebook, nor anything a user reads or runs (tests/test_docs.py): a
# machine's own folders, followed by a name (so a regex's alternation "/tmp/|" is not one).
MACHINE_PATH = re.compile(r"(?<![\w.~-])(?:/work/|/tmp/|/root/|/content/|/home/|/Users/|"
                          r"(?:\.\./)*shared/|[A-Z]:\\+Users\\+)(?=[\w.<$-])")


class Campaign:
    """Runs the phases against one deadline and keeps a log of what happened."""

    def __init__(self, out: Path, work: Path, budget: float, smoke: bool, phases: list[str],
                 report_seconds: float = 20):
        self.out, self.work, self.smoke, self.phases = out, work, smoke, phases
        self.report_seconds = report_seconds
        self.start = time.monotonic()
        self.deadline = self.start + budget
        self.log_path = out / "campaign.log"

    def say(self, message: str) -> None:
        line = f"[{time.monotonic() - self.start:6.1f} s] {message}"
        print(line, flush=True)
        with self.log_path.open("a") as f:
            f.write(line + "\n")

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def launch(self, name: str, command: list[str], cwd: Path = ROOT) -> subprocess.Popen:
        log = (self.work / "logs" / f"{name}.log").open("w")
        self.say(f"start {name}: {' '.join(command)}")
        path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        return subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)

    def wait(self, processes: dict[str, subprocess.Popen], until: float) -> dict[str, int | None]:
        """Wait for every process until ``until`` (monotonic), printing each one's last epoch
        line every ``report_seconds``; stop those still running then. Exit codes, None for
        stopped ones. Keys are the names given to :meth:`launch`."""
        codes: dict[str, int | None] = {}
        next_report = time.monotonic() + self.report_seconds
        while len(codes) < len(processes) and time.monotonic() < until:
            for name, process in processes.items():
                if name not in codes and process.poll() is not None:
                    codes[name] = process.returncode
                    self.say(f"{name} ended with exit code {process.returncode}")
            if time.monotonic() >= next_report:
                next_report += self.report_seconds
                for name in processes.keys() - codes.keys():
                    self.say(f"  {name}: {self.last_epoch_line(name)}")
            time.sleep(1)
        for name, process in processes.items():
            if name not in codes:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                codes[name] = None
                self.say(f"{name} NOT FINISHED: stopped at its deadline "
                         f"(last: {self.last_epoch_line(name)})")
        return codes

    def last_epoch_line(self, name: str) -> str:
        try:  # a progress report must never stop the campaign
            text = (self.work / "logs" / f"{name}.log").read_text(errors="replace")
        except OSError as error:
            return f"(log unreadable: {error})"
        lines = [line for line in re.split(r"[\r\n]", text) if "val_accuracy" in line]
        return lines[-1].strip()[-160:] if lines else "(no epoch finished yet)"


def environment(campaign: Campaign) -> None:
    record = environment_record()
    try:
        record["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        record["nvidia_smi"] = f"not available ({error.__class__.__name__})"
    (campaign.out / "environment.json").write_text(json.dumps(record, indent=2))
    campaign.say(f"device {record['device']}, backend {record['backend']}, "
                 f"nvidia-smi: {record['nvidia_smi']}, versions {record['versions']}")


def graded_phase(campaign: Campaign) -> None:
    """The notebook render and the extra seeds, side by side on the card."""
    python = sys.executable
    rendered = campaign.work.relative_to(ROOT) / NOTEBOOK.name
    render = [python, "-m", "papermill", str(NOTEBOOK), str(rendered), "-k", "python3",
              "--cwd", str(campaign.work), "--log-output", "--no-progress-bar"]
    seeds_args = []
    if campaign.smoke:
        render += ["-p", "epochs", "1"]
        seeds_args = ["--epochs", "1"]
    processes = {"notebook": campaign.launch("notebook", render)}
    for seed in SEEDS:
        processes[f"seed{seed}"] = campaign.launch(f"seed{seed}", [
            python, "-m", "assignment_utils.experiments", "--seeds", str(seed), *seeds_args,
            "--output-root", str(campaign.work / "runs" / "seeds"),
            "--out", str(campaign.work / f"seed{seed}.csv")])
    reserve = BENCHMARK_MIN_SECONDS if "benchmark" in campaign.phases else 0
    codes = campaign.wait(processes, campaign.deadline - reserve - PACK_SECONDS)

    if codes["notebook"] == 0:
        shutil.copy(ROOT / rendered, campaign.out / NOTEBOOK.name)
        check_render(campaign, campaign.out / NOTEBOOK.name)
        return_render_model(campaign)
    rows = []
    summary = campaign.work / RENDER_RUN / "summary.json"
    if codes["notebook"] == 0 and summary.exists():
        rows.append({**run_row(json.loads(summary.read_text())), "source": "notebook"})
    for seed in SEEDS:
        table = campaign.work / f"seed{seed}.csv"
        if codes[f"seed{seed}"] == 0 and table.exists():
            rows += [{**row, "source": "experiments"} for row in
                     pd.read_csv(table).to_dict("records")]
    write_runs(campaign, rows, concurrent=len(processes))


def return_render_model(campaign: Campaign) -> None:
    """The render's model and record, copied byte for byte into ``--out`` (``RENDER_FILES``)."""
    for name, source in RENDER_FILES:
        path = campaign.work / RENDER_RUN / source
        if path.is_file():
            shutil.copyfile(path, campaign.out / name)
        else:
            campaign.say(f"{name} NOT RETURNED: the render wrote no {RENDER_RUN / source}")


def write_runs(campaign: Campaign, rows: list[dict], concurrent: int) -> None:
    table = pd.DataFrame(rows, columns=[*RUN_COLUMNS, "source"])
    table["trainings_sharing_the_card"] = concurrent
    table.to_csv(campaign.out / "runs.csv", index=False)
    campaign.say(f"runs.csv: {len(table)} finished runs\n"
                 + table[["seed", "epochs", "final_val_acc", "best_val_acc", "tta_val_acc",
                          "train_seconds", "compile_seconds"]].to_string(index=False))


def check_render(campaign: Campaign, path: Path) -> None:
    """Report what would make the render unfit to commit (it is never edited here)."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    if any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells):
        problems.append("an injected-parameters cell")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    if errors:
        problems.append(f"{len(errors)} error outputs")
    text = nbformat.writes(nb)
    paths = sorted(set(MACHINE_PATH.findall(text)))
    if paths:
        problems.append(f"machine paths {paths}")
    campaign.say("render check: " + ("; ".join(problems) if problems else "clean"))


def benchmark_phase(campaign: Campaign) -> None:
    budget = campaign.left() - PACK_SECONDS - 30  # 30 s for the last run to end and exit
    if budget < 30:
        campaign.say(f"benchmark NOT RUN: {campaign.left():.0f} s left")
        return
    command = [sys.executable, "-m", "assignment_utils.benchmark", "--budget", f"{budget:.0f}",
               "--out", str(campaign.out / "benchmark.csv")]
    if campaign.smoke:
        command += ["--epochs", "2"]
    processes = {"benchmark": campaign.launch("benchmark", command)}
    campaign.wait(processes, campaign.deadline - PACK_SECONDS)
    table = campaign.out / "benchmark.csv"
    if table.exists():
        campaign.say("benchmark.csv:\n" + table.read_text())
    else:
        campaign.say("benchmark NOT FINISHED: no row was written")


def candidate_arguments(name: str, arguments: list[str], smoke: bool = False) -> list[str]:
    """The ``assignment_utils.experiments`` command line of one candidate, its output folders
    aside: scored on held-out images, seed 0 unless its own ``--seeds`` (later) says otherwise,
    one epoch in a smoke run."""
    return ["--holdout", str(SMOKE_HOLDOUT if smoke else HOLDOUT), "--seeds", "0",
            *(["--epochs", "1"] if smoke else []), *arguments, "--candidate", name]


def read_candidates(path: Path, smoke: bool = False) -> list[tuple[str, list[str]]]:
    """``(name, experiments arguments)`` for every candidate line of ``path``, each checked before
    any GPU time is spent: the command line it will be launched with (``candidate_arguments``)
    parses and makes a valid ``TrainConfig``, and its model keeps every rule of the assignment
    (``check_assignment``). A problem raises ``ValueError`` naming the line."""
    candidates = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, arguments = line.partition("|")
        name, arguments = name.strip(), arguments.split()
        where = f"{path}:{number}"
        if not sep or not name:
            raise ValueError(f"{where}: expected 'name | arguments', got {line!r}")
        if name in dict(candidates):
            raise ValueError(f"{where}: the candidate name {name!r} is already taken")
        try:
            *_, model_kwargs = parse_command_line(candidate_arguments(name, arguments, smoke))
            rules = check_assignment(separable_net(**model_kwargs))
        except ValueError as error:
            raise ValueError(f"{where}: candidate {name!r}: {error}") from error
        broken = rules[rules.passed == False]  # noqa: E712 (None is "not run", not broken)
        if len(broken):
            raise ValueError(f"{where}: candidate {name!r} breaks the assignment: " + "; ".join(
                f"{row.requirement} ({row.evidence})" for row in broken.itertuples()))
        candidates.append((name, arguments))
    if not candidates:
        raise ValueError(f"{path} lists no candidate")
    return candidates


def selection_phase(campaign: Campaign, candidates: list[tuple[str, list[str]]]) -> None:
    """Every candidate at once, each in its own folder, scored on held-out training images."""
    if campaign.left() - PACK_SECONDS < (30 if campaign.smoke else 180):
        campaign.say(f"selection NOT RUN: {campaign.left():.0f} s left")
        return
    # Keyed by process name ("candidate3"), which names its log: wait() reads progress from it.
    processes, tables = {}, {}
    for index, (name, arguments) in enumerate(candidates, start=1):
        key = f"candidate{index}"
        tables[key] = campaign.work / "selection" / f"{key}.csv"
        campaign.say(f"{key} is {name!r}")
        processes[key] = campaign.launch(key, [
            sys.executable, "-m", "assignment_utils.experiments",
            *candidate_arguments(name, arguments, campaign.smoke),
            "--trainings-sharing-the-card", str(len(candidates)),
            "--output-root", str(campaign.work / "selection" / key), "--out", str(tables[key])])
    codes = campaign.wait(processes, campaign.deadline - PACK_SECONDS)
    rows = [pd.read_csv(tables[key])
            for key in processes if codes[key] == 0 and tables[key].exists()]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["candidate"])
    table.to_csv(campaign.out / "selection.csv", index=False)
    campaign.say(f"selection.csv: {len(table)} of {len(processes)} candidates finished\n"
                 + (table[["candidate", "params", "final_val_acc", "best_val_acc"]].to_string(index=False)
                    if len(table) else ""))


def returned_files(phases: list[str]) -> list[str]:
    """The names of the files a campaign of ``phases`` returns in ``--out`` (``RETURNED``)."""
    return [name for phase in ("always", *PHASES) if phase == "always" or phase in phases
            for name in RETURNED[phase]]


def pack(campaign: Campaign) -> None:
    """Logs, run logs, configs and summaries into one archive (the render's model is returned
    on its own, by :func:`return_render_model`)."""
    with tarfile.open(campaign.out / "logs.tar.gz", "w:gz") as archive:
        for path in sorted(campaign.work.rglob("*")):
            if path.suffix in {".log", ".csv", ".json"} and "checkpoint" not in path.parts:
                archive.add(path, arcname=str(path.relative_to(campaign.work)))
    campaign.say("packed: " + ", ".join(
        f"{p.name} ({p.stat().st_size / 1e6:.2f} MB)" for p in sorted(campaign.out.iterdir())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for what comes back")
    parser.add_argument("--work", type=Path, default=ROOT / "output" / "campaign",
                        help="folder for the runs (inside the checkout; emptied first)")
    parser.add_argument("--budget", type=float, default=480, help="seconds for everything")
    parser.add_argument("--smoke", action="store_true",
                        help="one epoch per training and two per benchmark run: a CPU check, meant "
                             "for the packaged 200-image sample (full CIFAR-10 takes too long "
                             "on a CPU)")
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=["graded", "benchmark"])
    parser.add_argument("--candidates", type=Path, help="candidates for the selection phase")
    parser.add_argument("--report-seconds", type=float, default=20,
                        help="how often to print each running process's last epoch line")
    args = parser.parse_args(argv)
    if ("selection" in args.phases) != (args.candidates is not None):
        parser.error("the selection phase and --candidates FILE go together")
    returned = returned_files(args.phases)
    if len(returned) > MAX_RETURNED:
        parser.error(f"the phases {' '.join(args.phases)} would return {len(returned)} files "
                     f"({', '.join(returned)}), more than the {MAX_RETURNED} a GPU machine "
                     "returns: run them in two calls, e.g. the selection on its own")
    try:
        candidates = read_candidates(args.candidates, args.smoke) if args.candidates else []
    except (OSError, ValueError) as error:
        parser.error(str(error))
    if not os.environ.get("CIFAR10_PATH"):
        parser.error("set CIFAR10_PATH to the CIFAR-10 .npz (the notebook reads it from there)")
    data = Path(os.environ["CIFAR10_PATH"]).resolve()
    if not data.exists():
        parser.error(f"CIFAR10_PATH={os.environ['CIFAR10_PATH']} does not exist")
    # The notebook runs inside --work: a path relative to here would point nowhere there.
    os.environ["CIFAR10_PATH"] = str(data)
    work = args.work.resolve()
    if ROOT not in work.parents:
        parser.error(f"--work must lie inside the checkout {ROOT}")
    shutil.rmtree(work, ignore_errors=True)
    (work / "logs").mkdir(parents=True)
    args.out.mkdir(parents=True, exist_ok=True)
    campaign = Campaign(args.out.resolve(), work, args.budget, args.smoke, args.phases,
                        args.report_seconds)
    campaign.say(f"budget {args.budget:.0f} s, phases {args.phases}, smoke={args.smoke}, "
                 f"data {os.environ['CIFAR10_PATH']}")
    environment(campaign)
    if "graded" in args.phases:
        graded_phase(campaign)
    if "benchmark" in args.phases:
        benchmark_phase(campaign)
    if "selection" in args.phases:
        selection_phase(campaign, candidates)
    pack(campaign)
    return 0


if __name__ == "__main__":
    sys.exit(main())
