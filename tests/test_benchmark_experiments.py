"""The speed benchmark and the seed/holdout runner, as CPU smoke runs on the real sample."""

import inspect
import math
import re

import pandas as pd
import pytest

from assignment_utils import benchmark, experiments
from assignment_utils.data import SAMPLE_PATH, load_cifar10
from assignment_utils.models import separable_net
from assignment_utils.training import TrainConfig

pytestmark = pytest.mark.slow


def test_benchmark_compares_naive_fit_and_pipeline(tmp_path, capsys):
    out = tmp_path / "benchmark.csv"
    with pytest.warns(RuntimeWarning, match="batch_size=250 is larger than the 200 training images"):
        assert benchmark.main(["--data", str(SAMPLE_PATH), "--epochs", "2", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == benchmark.COLUMNS
    assert list(zip(table.pipeline, table.model)) == list(benchmark.DEFAULT_RUNS)
    assert (table.epochs == 2).all() and (table.seconds_per_epoch > 0).all()
    assert (table.compile_seconds >= 0).all() and table.note.isna().all()
    # An epoch's cycle (end to end) holds the epoch and what runs after it: the pipeline's
    # checkpoint (epoch 2 is the run's last, so it is saved) and log take time on top.
    assert (table.cycle_seconds_per_epoch >= table.seconds_per_epoch).all()
    pipelines = table[table.pipeline == "pipeline"]
    assert (pipelines.cycle_seconds_per_epoch > pipelines.seconds_per_epoch).all()
    assert table.val_acc.between(0, 1).all() and (table.backend == "tensorflow").all()
    printed = capsys.readouterr().out
    assert "device: CPU" in printed and "naive" in printed and "pipeline_no_xla" in printed


def test_benchmark_budget_stops_runs_and_says_so(tmp_path):
    """A spent budget runs nothing more, and no unmeasured time is reported."""
    data = load_cifar10(SAMPLE_PATH)
    table = benchmark.run_benchmark(data, 2, TrainConfig(), budget=0, out=tmp_path / "b.csv")
    assert table.note.str.startswith("not run").all() and table.seconds_per_epoch.isna().all()
    assert pd.read_csv(tmp_path / "b.csv").shape[0] == len(benchmark.DEFAULT_RUNS)
    # A run stopped after its first epoch has no steady-state time to report.
    with pytest.warns(RuntimeWarning, match="batch_size=250 is larger than the 200 training images"):
        row = benchmark.benchmark_run("pipeline", "reference_model", data, 3, TrainConfig(),
                                      deadline=0)
    assert row["epochs"] == 1 and math.isnan(row["seconds_per_epoch"])
    assert row["note"] == "stopped by the time budget after 1 of 3 epochs"


def test_benchmark_rejects_unknown_names():
    data = load_cifar10(SAMPLE_PATH)
    with pytest.raises(ValueError, match="unknown"):
        benchmark.run_benchmark(data, 1, TrainConfig(), runs=[("pipeline", "resnet50")])


def test_experiments_holdout_never_touches_the_test_set(tmp_path):
    data = load_cifar10(SAMPLE_PATH)
    poisoned = data._replace(y_test=data.y_test * 0 + 99)  # any use of the test labels would fail
    table = experiments.run_seeds(poisoned, [3], TrainConfig(epochs=1, batch_size=50), tmp_path,
                                  holdout=50, model_kwargs={"widths": (8, 16), "stem_width": 8,
                                                            "dropout": (0.0, 0.1), "blocks": 1})
    row = table.iloc[0]
    assert row.validation == "holdout-50" and row.seed == 3 and row.epochs == 1
    assert 0 <= row.tta_val_acc <= 1 and row.params < 100_000
    assert (tmp_path / "holdout-50-seed3" / "log.csv").exists()


def test_experiments_cli_writes_the_runs_table(tmp_path):
    out = tmp_path / "runs.csv"
    assert experiments.main(["--data", str(SAMPLE_PATH), "--seeds", "0", "1", "--epochs", "2",
                             "--set", "batch_size=50", "--set", "steps_per_execution=2",
                             "--widths", "8", "16", "--stem-width", "8", "--dropout", "0", "0.1",
                             "--blocks", "1",
                             "--output-root", str(tmp_path / "runs"), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns[:len(experiments.RUN_COLUMNS)]) == experiments.RUN_COLUMNS
    assert table.seed.tolist() == [0, 1] and (table.validation == "test").all()
    assert (table.final_val_acc <= table.best_val_acc).all()
    assert "batch_size=50" in table.config[0] and "steps_per_execution=2" in table.config[0]
    with pytest.raises(ValueError, match="seeds is empty"):
        experiments.run_seeds(load_cifar10(SAMPLE_PATH), [], TrainConfig(), tmp_path)


def test_experiments_cli_model_defaults_are_separable_nets(tmp_path, monkeypatch):
    """The CLI once repeated separable_net's defaults by hand: changing one place would have made
    the campaign's extra seeds train another model than the notebook."""
    seen = {}

    def run_seeds(data, seeds, config, output_root, holdout, model_kwargs):
        seen.update(model_kwargs)
        return pd.DataFrame(columns=[*experiments.RUN_COLUMNS, "validation"])

    monkeypatch.setattr(experiments, "run_seeds", run_seeds)
    assert experiments.main(["--data", str(SAMPLE_PATH), "--out", str(tmp_path / "r.csv")]) == 0
    defaults = {name: p.default for name, p in inspect.signature(separable_net).parameters.items()}
    assert seen == {name: defaults[name]
                    for name in ("widths", "stem_width", "kernel_size", "dropout", "bn_momentum",
                                 "blocks", "dtype_policy", "separable_impl")}
    assert seen["dtype_policy"] == "float32" and seen["separable_impl"] == "keras"
    assert experiments.main(["--data", str(SAMPLE_PATH), "--dtype-policy",
                             "mixed_bfloat16_outside_convs", "--out", str(tmp_path / "r.csv")]) == 0
    assert seen["dtype_policy"] == "mixed_bfloat16_outside_convs"
    assert experiments.main(["--data", str(SAMPLE_PATH), "--separable-impl", "shifted",
                             "--out", str(tmp_path / "r.csv")]) == 0
    assert seen["separable_impl"] == "shifted"
    with pytest.raises(SystemExit):
        experiments.main(["--data", str(SAMPLE_PATH), "--separable-impl", "cudnn"])
    with pytest.raises(SystemExit):
        experiments.main(["--data", str(SAMPLE_PATH), "--dtype-policy", "float16"])
    assert experiments.main(["--data", str(SAMPLE_PATH), "--blocks", "2", "1", "1",
                             "--out", str(tmp_path / "r.csv")]) == 0
    assert seen["blocks"] == (2, 1, 1)
    assert experiments.main(["--data", str(SAMPLE_PATH), "--blocks", "2",
                             "--out", str(tmp_path / "r.csv")]) == 0
    assert seen["blocks"] == 2


def test_overrides_are_parsed_and_checked():
    assert experiments.parse_overrides(["learning_rate=0.4", "augment=false", "optimizer=adam"]) \
        == {"learning_rate": 0.4, "augment": False, "optimizer": "adam"}
    with pytest.raises(ValueError, match="bad override 'lr=0.1'"):
        experiments.parse_overrides(["lr=0.1"])
    with pytest.raises(ValueError, match="bad override 'epochs'"):
        experiments.parse_overrides(["epochs"])


def _fake_run_seeds(accuracy):
    """A stand-in for run_seeds: one held-out row per seed, scored ``accuracy``."""
    def run_seeds(data, seeds, config, output_root, holdout, model_kwargs):
        split = "test" if holdout is None else f"holdout-{holdout}"
        return pd.DataFrame([{**{c: 0 for c in experiments.RUN_COLUMNS}, "seed": s,
                              "final_val_acc": accuracy, "validation": split,
                              "model": repr(model_kwargs), "config": repr(config)} for s in seeds])
    return run_seeds


def test_candidate_rows_are_appended_to_a_selection_table(tmp_path, monkeypatch, capsys):
    """CPU candidates were once added to results/selection.csv by a hand-written pandas step."""
    out = tmp_path / "selection.csv"
    common = ["--data", str(SAMPLE_PATH), "--holdout", "50", "--seeds", "0", "--out", str(out)]
    monkeypatch.setattr(experiments, "run_seeds", _fake_run_seeds(0.5))
    assert experiments.main([*common, "--candidate", "first", "--trainings-sharing-the-card",
                             "3"]) == 0
    monkeypatch.setattr(experiments, "run_seeds", _fake_run_seeds(0.75))
    assert experiments.main([*common, "--candidate", "second, with a comma", "--append"]) == 0
    table = pd.read_csv(out)
    assert table.columns[0] == "candidate" and table.columns[-1] == "trainings_sharing_the_card"
    assert table.candidate.tolist() == ["first", "second, with a comma"]
    assert table.final_val_acc.tolist() == [0.5, 0.75]
    assert table.trainings_sharing_the_card.tolist() == [3, 1]
    # Without --append the table is replaced; plain runs rows do not fit a selection table.
    assert experiments.main([*common, "--candidate", "only"]) == 0
    assert pd.read_csv(out).candidate.tolist() == ["only"]
    # Refused before any data is loaded or trained (it used to be refused after the training).
    with pytest.raises(SystemExit):
        experiments.main([*common, "--append"])
    assert re.search(r"cannot append to .*selection.csv: its columns", capsys.readouterr().err)
    assert pd.read_csv(out).candidate.tolist() == ["only"]


def test_a_candidate_is_never_scored_on_the_test_set(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiments, "run_seeds", _fake_run_seeds(0.5))
    with pytest.raises(SystemExit):
        experiments.main(["--data", str(SAMPLE_PATH), "--candidate", "x",
                          "--out", str(tmp_path / "s.csv")])
    assert "give --holdout N too" in capsys.readouterr().err
    test_rows = _fake_run_seeds(0.5)(None, [0], TrainConfig(), tmp_path, None, {})
    with pytest.raises(ValueError, match="held-out training images, not the test set"):
        experiments.selection_rows(test_rows, "x", 1)
    with pytest.raises(ValueError, match="sharing=0"):
        experiments.selection_rows(test_rows.assign(validation="holdout-50"), "x", 0)
