"""Tests for assignment_utils.logs: text logs of every Keras generation, History/dict/CSV
sources, warnings and errors; for assignment_utils.summaries and the command line,
assignment_utils.log_cli.

Fixtures live in tests/data/logs/: ``keras3_*`` are real Keras 3.15 captures (regenerate
with ``capture_keras3.py`` there), the others are small hand-made logs in the Keras 1/2
formats (the seed's own logs are tested in test_baselines.py).
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import math
import re
import subprocess
import sys
import warnings
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from profiles import examples

from assignment_utils.log_cli import main
from assignment_utils.logs import (
    CutEpochWarning,
    LogParseError,
    LogWarning,
    MissingEpochWarning,
    as_history_frame,
    history_to_frame,
    parse_keras_log,
    parse_keras_runs,
    read_csv_log,
    read_history_json,
)
from assignment_utils.summaries import RunSummary, summarize_run, summary_table

DATA = Path(__file__).parent / "data" / "logs"
REPO = Path(__file__).resolve().parents[1]

KERAS2_LOG = """\
Epoch 1/3
390/390 [===] - 17s 43ms/step - loss: 1.8323 - acc: 0.3050 - val_loss: 1.3921 - val_acc: 0.4895
Epoch 2/3
390/390 [===] - 7s 19ms/step - loss: 1.3237 - acc: 0.5231 - val_loss: 1.1247 - val_acc: 0.5865
Epoch 3/3
390/390 [===] - 8s 19ms/step - loss: 1.1088 - acc: 0.6082 - val_loss: 0.9720 - val_acc: 0.6589
"""


def raw(name: str) -> str:
    """A fixture's exact text: ``\\r`` kept (``Path.read_text`` would turn it into ``\\n``)."""
    return (DATA / name).read_bytes().decode("utf-8")


def assert_same_history(left: pd.DataFrame, right: pd.DataFrame, *, atol: float = 1e-4) -> None:
    """Same epochs and metric columns; values equal up to the text logs' 4-digit rounding."""
    columns = [c for c in left.columns if c != "seconds"]
    assert columns == [c for c in right.columns if c != "seconds"]
    assert left["epoch"].tolist() == right["epoch"].tolist()
    np.testing.assert_allclose(
        left[columns].to_numpy(float), right[columns].to_numpy(float), rtol=1e-3, atol=atol
    )


def parse_quietly(text: str) -> pd.DataFrame:
    """Parse, failing the test if any warning is raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parse_keras_log(text)


# --------------------------------------------------------------------------- schema


def test_schema_columns_types_and_order():
    frame = parse_quietly(KERAS2_LOG)
    assert frame.columns.tolist() == ["epoch", "loss", "acc", "val_loss", "val_acc", "seconds"]
    assert frame["epoch"].dtype == np.int64
    assert all(frame[c].dtype == np.float64 for c in frame.columns[1:])
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert frame["val_acc"].tolist() == [0.4895, 0.5865, 0.6589]
    assert frame["seconds"].tolist() == [17.0, 7.0, 8.0]
    assert frame.index.tolist() == [0, 1, 2]


def test_extra_metrics_follow_in_stable_order():
    text = ("Epoch 1/1\n10/10 - 1s - 5ms/step - top5: 0.9 - lr: 0.001 - loss: 0.5"
            " - val_top5: 0.8 - accuracy: 0.4 - val_loss: 0.7")
    assert parse_quietly(text).columns.tolist() == [
        "epoch", "loss", "acc", "val_loss", "seconds", "lr", "top5", "val_top5"
    ]


@pytest.mark.parametrize(
    "name", ["acc", "accuracy", "sparse_categorical_accuracy", "categorical_accuracy"]
)
def test_accuracy_aliases_map_to_acc(name):
    text = f"Epoch 1/1\n5/5 - 1s - 2ms/step - {name}: 0.25 - loss: 2.0 - val_{name}: 0.5 - val_loss: 1.5"
    frame = parse_quietly(text)
    assert frame[["acc", "val_acc"]].iloc[0].tolist() == [0.25, 0.5]
    assert name == "acc" or name not in frame.columns


def test_first_accuracy_alias_wins_and_the_others_keep_their_names():
    text = "Epoch 1/1\n5/5 - 1s - 2ms/step - accuracy: 0.25 - loss: 2.0 - sparse_categorical_accuracy: 0.24"
    frame = parse_quietly(text)
    assert frame["acc"][0] == 0.25
    assert frame["sparse_categorical_accuracy"][0] == 0.24


def test_missing_validation_columns_are_absent_not_invented():
    frame = parse_quietly("Epoch 1/2\n5/5 - 1s - loss: 2.0\nEpoch 2/2\n5/5 - 1s - loss: 1.9")
    assert frame.columns.tolist() == ["epoch", "loss", "seconds"]


# --------------------------------------------------------------------------- Keras 1/2 text


def test_missing_first_header_is_inferred_from_the_next_one():
    text = KERAS2_LOG.removeprefix("Epoch 1/3\n")
    assert parse_quietly(text).equals(parse_quietly(KERAS2_LOG))


def test_text_without_any_header_is_consecutive_epochs():
    text = "\n".join(line for line in KERAS2_LOG.splitlines() if not line.startswith("Epoch"))
    assert parse_quietly(text).equals(parse_quietly(KERAS2_LOG))


def test_markdown_report_with_callbacks_eta_lines_and_evaluate_output():
    frame = as_history_frame(DATA / "keras2_markdown_report.md")
    assert frame["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert frame.columns.tolist() == ["epoch", "loss", "acc", "val_loss", "val_acc", "seconds", "lr"]
    # epoch 1 has no header (cut off) and ETA lines before its end line
    assert frame.loc[0, ["loss", "acc", "val_acc"]].tolist() == [1.7101, 0.3712, 0.4921]
    # the model.evaluate line after epoch 6 does not replace epoch 6
    assert frame.loc[5, ["loss", "val_acc"]].tolist() == [0.8410, 0.7151]
    assert frame["lr"].tolist() == [0.001] * 4 + [5e-4] * 2  # "5.0000e-04"
    assert frame["seconds"].tolist() == [18, 8, 8, 8, 63, 8]


@pytest.mark.parametrize("name", ["keras1_verbose1.txt", "keras1_verbose2.txt"])
def test_keras1_formats(name):
    frame = as_history_frame(DATA / name)
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert frame["val_acc"].tolist() == [0.4902, 0.5661, 0.6239]
    assert frame["seconds"].tolist() == [63, 58, 58]


def test_header_and_metrics_on_one_line():
    frame = parse_quietly("Epoch 1/1 390/390 [===] - 7s - loss: 1.0 - acc: 0.6")
    assert frame[["epoch", "loss", "acc"]].iloc[0].tolist() == [1, 1.0, 0.6]


@pytest.mark.parametrize(
    "timing, seconds",
    [("17s 43ms/step", 17), ("1m 3s 161ms/step", 63), ("2m 1s/step", 120),
     ("1h 2m 3s", 3723), ("12.5s", 12.5), ("43ms/step", None)],
)
def test_epoch_seconds(timing, seconds):
    frame = parse_quietly(f"Epoch 1/1\n390/390 [===] - {timing} - loss: 1.0")
    if seconds is None:
        assert "seconds" not in frame.columns
    else:
        assert frame["seconds"][0] == seconds


def test_e_notation_nan_and_inf():
    text = "Epoch 1/1\n9/9 - 1s - loss: nan - acc: 1.2e-04 - val_loss: inf - val_acc: -inf - lr: 1.0000E-05"
    row = parse_quietly(text).iloc[0]
    assert math.isnan(row["loss"])
    assert row["acc"] == 1.2e-4 and row["lr"] == 1e-5
    assert row["val_loss"] == math.inf and row["val_acc"] == -math.inf


# --------------------------------------------------------------------------- Keras 3 text


def test_keras3_fixtures_are_real_terminal_output():
    text = raw("keras3_verbose1.txt")
    assert "\x1b[1m" in text and "\x1b[32m━" in text and "\r" in text and "\b" in text
    assert "ReduceLROnPlateau reducing learning rate" in text and "early stopping" in text


@pytest.mark.parametrize("newlines", ["kept", "universal"])
def test_keras3_verbose1_keeps_only_epoch_end_lines(newlines):
    name = "keras3_verbose1.txt"
    frame = parse_quietly(raw(name) if newlines == "kept" else (DATA / name).read_text())
    assert frame.columns.tolist() == [
        "epoch", "loss", "acc", "val_loss", "val_acc", "seconds", "learning_rate"
    ]
    assert frame["epoch"].tolist() == [1, 2, 3, 4, 5, 6]  # EarlyStopping after epoch 6
    assert frame["learning_rate"].tolist() == [1e-3, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7]
    # per-step redraws ("1/6 ... loss: 2.3006") and the provisional 6/6 line are ignored
    assert_same_history(frame, as_history_frame(DATA / "keras3_verbose2.txt"), atol=0)


def test_keras3_verbose2_matches_csvlogger_and_history_of_the_same_run():
    text_frame = as_history_frame(DATA / "keras3_verbose2.txt")
    saved = json.loads((DATA / "keras3_history.json").read_text())
    history = SimpleNamespace(history=saved["history"], epoch=saved["epoch"])
    assert_same_history(text_frame, read_csv_log(DATA / "keras3_csvlogger.csv"))
    assert_same_history(text_frame, history_to_frame(history))
    assert text_frame["seconds"].notna().all()


@pytest.mark.parametrize("newlines", ["kept", "universal"])
def test_keras3_single_epoch_has_no_header(newlines):
    name = "keras3_verbose1_single_epoch.txt"
    text = raw(name) if newlines == "kept" else (DATA / name).read_text()
    assert "Epoch" not in text
    frame = parse_quietly(text)
    assert frame[["epoch", "loss", "acc", "val_loss", "val_acc", "seconds"]].iloc[0].tolist() == [
        1, 2.2992, 0.0938, 2.2881, 0.1406, 1.0
    ]


@pytest.mark.parametrize("newlines", ["kept", "universal"])
def test_keras3_without_validation(newlines):
    name = "keras3_verbose1_no_validation.txt"
    text = raw(name) if newlines == "kept" else (DATA / name).read_text()
    frame = parse_quietly(text)
    assert frame.columns.tolist() == ["epoch", "loss", "acc", "seconds"]
    assert frame["loss"].tolist() == [2.2992, 2.2981, 2.2974]


def test_keras3_headerless_redraw_without_validation_is_one_epoch():
    bar = ("\x1b[1m6/6\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m \x1b[1m{}s\x1b[0m 64ms/step"
           " - accuracy: 0.0938 - loss: 2.2992")
    frame = parse_quietly(bar.format(0) + "\n" + "\b" * 70 + "\r" + bar.format(1) + "\n")
    assert frame["epoch"].tolist() == [1] and frame["seconds"][0] == 1


# --------------------------------------------------------------------------- warnings and errors


def test_resumed_run_warns_and_the_last_occurrence_wins():
    with pytest.warns(LogWarning, match=r"epoch 4 appears more than once.*keeping the last"):
        frame = as_history_frame(DATA / "keras2_resumed.txt")
    assert frame["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert frame.loc[3, "val_acc"] == 0.7202  # the resumed run's epoch 4
    assert math.isnan(frame.loc[5, "loss"]) and frame.loc[5, "val_loss"] == math.inf


def test_gap_warns_naming_the_missing_epochs():
    with pytest.warns(LogWarning, match=r"epochs 4-5 are missing in .*keras2_gap\.txt \(found epochs 1-3, 6\)"):
        frame = as_history_frame(DATA / "keras2_gap.txt")
    assert frame["epoch"].tolist() == [1, 2, 3, 6]


def test_log_starting_late_warns_about_the_leading_epochs():
    with pytest.warns(LogWarning, match="epochs 1-2 are missing"):
        frame = parse_keras_log("Epoch 3/4\n9/9 - 1s - loss: 1.0\nEpoch 4/4\n9/9 - 1s - loss: 0.9")
    assert frame["epoch"].tolist() == [3, 4]


@pytest.mark.parametrize("text", ["", "just some markdown\n\n| a | b |", raw("not_a_log.md")])
def test_text_without_epochs_raises_log_parse_error(text):
    expected = r"no training epoch found: expected Keras fit output such as 'Epoch 1/50'"
    with pytest.raises(LogParseError, match=expected):
        parse_keras_log(text)
    assert issubclass(LogParseError, ValueError)


def test_per_step_lines_alone_are_not_epochs():
    with pytest.raises(LogParseError):
        parse_keras_log("Epoch 1/5\n 12/390 ━━━━━━━━━━━━━━━━━━━━ 3s 9ms/step - accuracy: 0.1 - loss: 2.3")


@pytest.mark.parametrize(
    "cut, reason",
    [
        ("val_acc: 0.7", r"its last value 0\.7 looks cut short"),  # was read as 0.7
        ("val_acc: 0.", r"its last value 0\. looks cut short"),  # was read as 0.0
        ("val_acc: 0", r"its last value 0 looks cut short"),  # was read as 0.0
        ("val_loss: 0.9720 - val_ac", r"it ends in a partial metric '- val_ac'"),  # was NaN
        ("val_loss: 0.9720 - val_acc:", r"it ends in a partial metric '- val_acc:'"),  # was NaN
        ("loss: 1.1088 - acc: 0.6082", r"it lacks val_loss, val_acc \(which epoch 2 has\)"),
    ],
)
def test_last_epoch_line_cut_short_is_dropped_with_a_warning(cut, reason):
    """KERAS2_LOG cut inside epoch 3's line, e.g. '... val_acc: 0.7326' cut to '... val_acc: 0.7'."""
    complete = KERAS2_LOG.replace("0.6589", "0.7326").removesuffix("\n")
    text = complete[: complete.rindex(cut) + len(cut)]
    with pytest.warns(LogWarning, match=r"epoch 3 is incomplete: the text ends inside its metrics "
                      rf"line and {reason}; dropped it \(if the line is complete, end the text "
                      r"with a newline\)"):
        frame = parse_keras_log(text)
    assert frame.equals(parse_quietly(KERAS2_LOG).iloc[:2])
    assert parse_quietly(complete)["val_acc"].tolist() == [0.4895, 0.5865, 0.7326]


def test_keras3_capture_cut_mid_number_drops_the_last_epoch():
    """keras3_verbose1.txt cut inside epoch 6's 'val_loss: 2.2881' (to 'val_loss: 2.28')."""
    text = raw("keras3_verbose1.txt")
    end = text.rindex("val_loss: ") + len("val_loss: 2.28")
    with pytest.warns(LogWarning, match="epoch 6 is incomplete"):
        frame = parse_keras_log(text[:end])
    assert frame["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert_same_history(frame, parse_quietly(text).iloc[:5], atol=0)


@pytest.mark.parametrize(
    "cut, reason",
    [
        ("val_acc: 0.", r"its last value 0\. looks cut short"),  # was read as 0.0
        ("val_acc: 0.58", r"its last value 0\.58 looks cut short"),  # was read as 0.58
        ("val_loss: 1.1247 - val_ac", r"it ends in a partial metric '- val_ac'"),  # was NaN
        ("val_loss: 1.1247 - val_acc:", r"it ends in a partial metric '- val_acc:'"),  # was NaN
    ],
)
def test_a_line_cut_before_a_newline_drops_its_epoch(cut, reason):
    """KERAS2_LOG with epoch 2's line ('... val_acc: 0.5865') cut, then a newline and epoch 3."""
    line = KERAS2_LOG.splitlines()[3]
    text = KERAS2_LOG.replace(line, line[: line.index(cut) + len(cut)])
    with pytest.warns(LogWarning) as caught:
        frame = parse_keras_log(text, source="log.txt")
    messages = [str(w.message) for w in caught]
    assert any(re.fullmatch(rf"epoch 2 in log\.txt is incomplete: its metrics line is cut short: "
                            rf"{reason}; dropped it", m) for m in messages), messages
    assert "epoch 2 is missing in log.txt (found epochs 1, 3)" in messages
    cut_warnings = [w.message for w in caught if issubclass(w.category, CutEpochWarning)]
    assert [w.epoch for w in cut_warnings] == [2]
    assert all(issubclass(w.category, MissingEpochWarning) for w in caught)
    assert frame["epoch"].tolist() == [1, 3] and frame["val_acc"].tolist() == [0.4895, 0.6589]


def test_the_last_epoch_cut_before_more_output_is_dropped():
    """'val_acc: 0.' then a newline and the notebook's timing line: was read as 0.0."""
    text = KERAS2_LOG.replace("val_acc: 0.6589\n", "val_acc: 0.\nModel took 31.20 seconds\n")
    with pytest.warns(CutEpochWarning, match="epoch 3 is incomplete"):
        frame = parse_keras_log(text)
    assert frame["val_acc"].tolist() == [0.4895, 0.5865]
    with pytest.warns(CutEpochWarning, match="epoch 3 is incomplete"):
        assert [len(run) for run in parse_keras_runs(text)] == [2]


def test_complete_lines_with_few_decimals_are_kept():
    """Only a value with fewer decimals than its line's others is cut: hand-made logs keep
    theirs."""
    text = "".join(f"Epoch {k}/3\n9/9 - 1s - loss: 0.5 - acc: 0.8 - val_loss: 0.6 - "
                   f"val_acc: 0.{k}\n" for k in (1, 2, 3))
    assert parse_quietly(text)["val_acc"].tolist() == [0.1, 0.2, 0.3]


def test_all_epochs_cut_short_is_an_error():
    text = "".join(f"Epoch {k}/2\n9/9 - loss: 1.2345 - val_acc: 0.\n" for k in (1, 2))
    with pytest.warns(CutEpochWarning):
        with pytest.raises(LogParseError, match="no complete training epoch found: all its epochs "
                                                "are cut short"):
            parse_keras_log(text)


_VALUE = st.integers(0, 9999)


@settings(max_examples=examples(100))
@given(
    epochs=st.lists(st.tuples(_VALUE, _VALUE, _VALUE, _VALUE), min_size=1, max_size=8),
    cuts=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(["point", "digits", "name"])),
                  max_size=4),
    newline=st.booleans(),
)
def test_property_a_cut_epoch_is_dropped_and_no_other_value_changes(epochs, cuts, newline):
    """A Keras 2 log whose lines may be cut inside their last metric: every cut epoch is dropped
    with a CutEpochWarning, every other epoch keeps its exact values."""
    lines, cut = [], set()
    kinds = {index: kind for index, kind in cuts if index < len(epochs)}
    for number, (loss, acc, val_loss, val_acc) in enumerate(epochs, start=1):
        line = (f"390/390 [===] - 7s 19ms/step - loss: 1.{loss:04d} - acc: 0.{acc:04d} - "
                f"val_loss: 1.{val_loss:04d} - val_acc: 0.{val_acc:04d}")
        kind = kinds.get(number - 1)
        if kind is not None:
            cut.add(number)
            keep = {"point": len(line) - 4, "digits": len(line) - 2, "name": line.rindex("_acc")}
            line = line[: keep[kind]]
        lines += [f"Epoch {number}/{len(epochs)}", line]
    text = "\n".join(lines) + ("\n" if newline else "")
    kept = [n for n in range(1, len(epochs) + 1) if n not in cut]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if not kept:
            with pytest.raises(LogParseError, match="no complete training epoch found"):
                parse_keras_log(text)
            return
        frame = parse_keras_log(text)
    assert sorted(w.message.epoch for w in caught if issubclass(w.category, CutEpochWarning)) \
        == sorted(cut)
    assert frame["epoch"].tolist() == kept
    expected = [epochs[n - 1][3] / 10_000 for n in kept]
    assert frame["val_acc"].tolist() == pytest.approx(expected, abs=0, rel=1e-12)
    assert frame["loss"].tolist() == pytest.approx([1 + epochs[n - 1][0] / 10_000 for n in kept],
                                                   abs=0, rel=1e-12)


def test_only_epoch_cut_short_is_an_error():
    with pytest.warns(LogWarning, match="epoch 1 is incomplete"):
        with pytest.raises(LogParseError, match="no complete training epoch found"):
            parse_keras_log("Epoch 1/5\n390/390 [===] - 7s - loss: 1.8323 - acc: 0.30")


def test_complete_last_line_without_a_newline_is_kept():
    assert parse_quietly("Epoch 1/1\n9/9 - 1s - loss: 0.5 - acc: 0.25")["acc"].tolist() == [0.25]
    assert parse_quietly("Epoch 1/1\n9/9 - 1s - loss: 0.5000 - lr: 1.0000e-04")["lr"][0] == 1e-4


def restarted_text() -> str:
    """The packaged 50-epoch base log, then a restarted fit whose counter goes back to 1."""
    base = (resources.files("assignment_utils") / "package_data" / "base_log.txt").read_text()
    restart = "".join(
        f"Epoch {k}/10\n390/390 [===] - 7s 19ms/step - loss: 1.{k:04d} - acc: 0.{k:04d}"
        f" - val_loss: 1.{k:04d} - val_acc: 0.{k:04d}\n"
        for k in range(1, 11)
    )
    return base + restart


def test_restarted_epoch_counter_starts_a_new_run():
    """50 epochs, then 'Epoch 1/10' .. 'Epoch 10/10': was merged into one 50-epoch run."""
    text = restarted_text()
    with pytest.warns(LogWarning, match=r"holds 2 runs of 50 and 10 epochs \(the epoch counter "
                      r"restarts at 1, so epochs 1-10 appear more than once\); keeping the last "
                      r"run\. parse_keras_runs\(\) returns every run"):
        frame = parse_keras_log(text)
    assert frame["epoch"].tolist() == list(range(1, 11))
    assert frame["val_acc"].tolist() == [k / 10_000 for k in range(1, 11)]

    first, second = parse_keras_runs(text)
    assert len(first) == 50 and first["val_acc"].max() == 0.8287
    assert second.equals(frame)


def test_parse_keras_runs_of_a_single_run_and_a_resumed_one():
    assert len(parse_keras_runs(KERAS2_LOG)) == 1
    with pytest.warns(LogWarning, match="epoch 4 appears more than once"):  # resumed, not restarted
        (resumed,) = parse_keras_runs(raw("keras2_resumed.txt"))
    assert resumed["epoch"].tolist() == [1, 2, 3, 4, 5, 6]


def test_cli_warns_about_several_runs(tmp_path, capsys):
    path = tmp_path / "two_runs.txt"
    path.write_text(restarted_text())
    assert main([str(path)]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "2 runs" in captured.err and "two_runs.txt" in captured.err
    assert captured.out.splitlines()[1].split()[1:] == ["10", "0.10%", "10", "0.10%", "10"]


# --------------------------------------------------------------------------- notebooks and encodings


def notebook(text: str, *, ensure_ascii: bool) -> str:
    """An nbformat 4 notebook whose cell printed ``text`` (as Jupyter saves it) and a History."""
    cell = {
        "cell_type": "code", "execution_count": 3, "metadata": {}, "source": ["model.fit(...)"],
        "outputs": [
            {"name": "stdout", "output_type": "stream", "text": text.splitlines(keepends=True)},
            {"data": {"text/plain": ["<keras.src.callbacks.history.History at 0x7f0c>"]},
             "execution_count": 3, "metadata": {}, "output_type": "execute_result"},
        ],
    }
    markdown = {"cell_type": "markdown", "metadata": {}, "source": ["Epoch 9/9 - loss: 9.9"]}
    document = {"cells": [markdown, cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=ensure_ascii) + "\n"


@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_ipynb_with_a_keras3_verbose1_log(tmp_path, ensure_ascii):
    """keras3_verbose1.txt saved in a notebook: '\\u001b[1m2s' was read as 1m 2s (4,140 s/epoch)."""
    path = tmp_path / "run.ipynb"
    path.write_text(notebook(raw("keras3_verbose1.txt"), ensure_ascii=ensure_ascii))
    expected = parse_quietly(raw("keras3_verbose1.txt"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = as_history_frame(path)
        pd.testing.assert_frame_equal(parse_keras_log(path.read_text()), frame)
    pd.testing.assert_frame_equal(frame, expected)
    assert frame["seconds"].max() < 5


@pytest.mark.parametrize(
    "encode",
    [lambda text: text.encode("utf-16"),  # PowerShell's "python train.py > log.txt"
     lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
     lambda text: codecs.BOM_UTF8 + text.encode("utf-8")],
    ids=["utf-16-le-bom", "utf-16-be-bom", "utf-8-bom"],
)
def test_byte_order_marks_decode(tmp_path, encode):
    """A UTF-16 log with BOM was 'no training epoch found'; its CSV had columns like 'e\\x00p\\x00'."""
    text_log, csv_log = tmp_path / "log.txt", tmp_path / "log.csv"
    text_log.write_bytes(encode(KERAS2_LOG))
    csv_log.write_bytes(encode("epoch,accuracy,loss\n0,0.5,1.5\n1,0.6,1.2\n"))
    assert as_history_frame(text_log).equals(parse_quietly(KERAS2_LOG))
    assert read_csv_log(csv_log).columns.tolist() == ["epoch", "loss", "acc"]
    assert read_csv_log(csv_log)["acc"].tolist() == [0.5, 0.6]


# --------------------------------------------------------------------------- History, dict, CSV


def test_history_object_epochs_become_one_based():
    history = SimpleNamespace(history={"loss": [1.0, 0.8], "accuracy": [0.5, 0.6]}, epoch=[0, 1])
    frame = history_to_frame(history)
    assert frame.columns.tolist() == ["epoch", "loss", "acc"]
    assert frame["epoch"].tolist() == [1, 2]


def test_history_of_a_resumed_fit_keeps_its_epoch_numbers():
    history = SimpleNamespace(history={"loss": [0.7, 0.6]}, epoch=[2, 3])
    with pytest.warns(LogWarning, match="epochs 1-2 are missing"):
        assert history_to_frame(history)["epoch"].tolist() == [3, 4]


def test_dict_round_trip_and_explicit_epochs():
    frame = parse_quietly(KERAS2_LOG)
    assert history_to_frame(frame.to_dict("list")).equals(frame)
    assert history_to_frame({"loss": [np.float32(0.5)]})["loss"].tolist() == [0.5]


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ({"loss": [1.0, 0.9], "val_loss": [1.0]}, LogParseError, "differ in length"),
        ({"loss": ["high"]}, LogParseError, "'loss' is not numeric"),
        ({"loss": [1.0], "epoch": [0]}, LogParseError, "1-based"),
        ({}, LogParseError, "holds no epochs"),
        ([1.0, 0.9], TypeError, "got list"),
    ],
)
def test_history_errors(bad, error, message):
    with pytest.raises(error, match=message):
        history_to_frame(bad)


def test_csvlogger_epochs_become_one_based():
    frame = read_csv_log(DATA / "keras3_csvlogger.csv")
    assert frame.columns.tolist() == ["epoch", "loss", "acc", "val_loss", "val_acc", "learning_rate"]
    assert frame["epoch"].tolist() == [1, 2, 3, 4, 5, 6]


def test_csvlogger_in_percent_becomes_fractions(tmp_path, capsys):
    """accuracy 45.1, 85.3 and val_accuracy 50.2, 81 (percent) were kept, and the CLI printed '8100.00%'."""
    path = tmp_path / "percent.csv"
    path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,45.1,1.5,50.2,1.4\n1,85.3,0.5,81,0.6\n")
    with pytest.warns(LogWarning, match=r"acc, val_acc .*percent.*\(1, 100\].*divided by 100"):
        frame = read_csv_log(path)
    assert frame["acc"].tolist() == [0.451, 0.853] and frame["val_acc"].tolist() == [0.502, 0.81]
    assert frame["loss"].tolist() == [1.5, 0.5]
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[1:] == ["2", "81.00%", "2", "81.00%", "2"]


@pytest.mark.parametrize("values", ["0.5,85.3", "45.1,150.0"])
def test_accuracy_neither_fractions_nor_percent_is_an_error(tmp_path, values):
    path = tmp_path / "mixed.csv"
    first, second = values.split(",")
    path.write_text(f"epoch,loss,val_accuracy\n0,1.0,{first}\n1,0.9,{second}\n")
    with pytest.raises(LogParseError, match=r"mixed\.csv: column 'val_acc' has values above 1 .*"
                       r"fractions in \[0, 1\] or all percentages in \(1, 100\]"):
        read_csv_log(path)


def test_appended_csvlogger_of_a_resumed_run(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("epoch,accuracy,loss\n0,0.1,2.3\n1,0.2,2.2\nepoch,accuracy,loss\n1,0.25,2.1\n2,0.3,2.0\n")
    with pytest.raises(LogParseError, match="column 'epoch' is not numeric"):  # two files pasted together
        read_csv_log(path)
    path.write_text("epoch,accuracy,loss\n0,0.1,2.3\n1,0.2,2.2\n1,0.25,2.1\n2,0.3,2.0\n")
    with pytest.warns(LogWarning, match="epoch 2 appears more than once"):
        frame = read_csv_log(path)
    assert frame["acc"].tolist() == [0.1, 0.25, 0.3]


@pytest.mark.parametrize(
    "content, message",
    [("", "not a readable CSVLogger file"), ("a,b\n1,2\n", "expected an 'epoch' column"),
     ("epoch,loss\n", "holds no epochs")],
)
def test_bad_csv_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(LogParseError, match=message):
        read_csv_log(path)


def test_missing_csv_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CSV log not found: .*nope\.csv"):
        read_csv_log(tmp_path / "nope.csv")


def test_history_json_both_layouts(tmp_path):
    saved = json.loads((DATA / "keras3_history.json").read_text())  # {"epoch": [0..], "history": ..}
    plain = tmp_path / "history.json"
    plain.write_text(json.dumps(saved["history"]))  # json.dump(history.history, f)
    expected = history_to_frame(SimpleNamespace(**saved))
    pd.testing.assert_frame_equal(read_history_json(DATA / "keras3_history.json"), expected)
    pd.testing.assert_frame_equal(read_history_json(plain), expected)
    pd.testing.assert_frame_equal(as_history_frame(plain), expected)


@pytest.mark.parametrize(
    "content, message",
    [("{\"loss\": [1.0,", r"bad\.json is not valid JSON"),
     ("[1.0, 0.9]", r"bad\.json: expected a JSON object of per-epoch lists"),
     ('{"loss": [1.0], "val_loss": []}', r"bad\.json: metric lists differ in length")],
)
def test_bad_history_json(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(LogParseError, match=message):
        read_history_json(path)


def test_real_fit_history_dict_csvlogger_and_verbose2_agree(tmp_path, capsys):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(1).random((40, 4), dtype="float32")
    y = (x.sum(axis=1) > 2).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    capsys.readouterr()
    history = model.fit(x[:32], y[:32], validation_data=(x[32:], y[32:]), epochs=2, batch_size=8,
                        verbose=2, callbacks=[keras.callbacks.CSVLogger(str(tmp_path / "log.csv"))])
    printed = capsys.readouterr().out

    from_history = history_to_frame(history)
    assert from_history.columns.tolist() == ["epoch", "loss", "acc", "val_loss", "val_acc"]
    assert from_history["epoch"].tolist() == [1, 2]
    pd.testing.assert_frame_equal(history_to_frame(history.history), from_history)
    pd.testing.assert_frame_equal(read_csv_log(tmp_path / "log.csv"), from_history, rtol=1e-6)
    assert_same_history(parse_quietly(printed), from_history)


# --------------------------------------------------------------------------- as_history_frame


def test_as_history_frame_dispatch(tmp_path):
    expected = parse_quietly(KERAS2_LOG)
    path = tmp_path / "run.log"
    path.write_text(KERAS2_LOG)
    csv = tmp_path / "run.csv"
    expected.drop(columns="seconds").assign(epoch=expected["epoch"] - 1).to_csv(csv, index=False)
    history = SimpleNamespace(history=expected.drop(columns="epoch").to_dict("list"), epoch=[0, 1, 2])

    for source in (expected, path, str(path), KERAS2_LOG, expected.to_dict("list"), history):
        assert as_history_frame(source).equals(expected)
    assert as_history_frame(csv).equals(expected.drop(columns="seconds"))
    assert as_history_frame(KERAS2_LOG.splitlines()[1])["epoch"].tolist() == [1]  # one-line text


def test_as_history_frame_normalises_dataframes():
    plain = pd.DataFrame({"accuracy": [0.5, 0.6], "loss": [1.0, 0.9]})  # pd.DataFrame(history.history)
    frame = as_history_frame(plain)
    assert frame.columns.tolist() == ["epoch", "loss", "acc"] and frame["epoch"].tolist() == [1, 2]
    assert as_history_frame(frame.set_index("epoch")).equals(frame)
    with pytest.raises(LogParseError, match="DataFrame: column 'note' is not numeric"):
        as_history_frame(plain.assign(note=["a", "b"]))
    with pytest.raises(LogParseError, match="no epochs"):
        as_history_frame(plain.iloc[:0])


def test_str_naming_an_existing_file_is_read_as_that_file(tmp_path):
    """A log saved as 'val_loss: 0.77.log' was parsed as text because its name has 'loss:'."""
    path = tmp_path / "val_loss: 0.77.log"
    path.write_text(KERAS2_LOG)
    assert as_history_frame(str(path)).equals(parse_quietly(KERAS2_LOG))


def test_as_history_frame_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"log file not found: .*missing\.txt"):
        as_history_frame(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match=r"log file not found: .*missing\.txt \(a str is "
                       "read as a file if one exists there, else as log text"):
        as_history_frame(str(tmp_path / "missing.txt"))
    with pytest.raises(TypeError, match="expected a DataFrame, a keras History.*got int"):
        as_history_frame(42)
    with pytest.raises(LogParseError, match=r"in .*not_a_log\.md"):
        as_history_frame(DATA / "not_a_log.md")


# --------------------------------------------------------------------------- summaries


def test_summarize_run_best_final_and_ties():
    frame = history_to_frame({"loss": [1.0] * 5, "val_acc": [0.5, 0.7, math.nan, 0.7, 0.6]})
    summary = summarize_run(frame)
    assert summary == RunSummary(epochs=5, best_val_acc=0.7, best_epoch=2, final_val_acc=0.6, final_epoch=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.best_epoch = 4  # type: ignore[misc]


def test_summarize_run_errors():
    with pytest.raises(ValueError, match="no validation accuracy"):
        summarize_run(history_to_frame({"loss": [1.0]}))
    with pytest.raises(ValueError, match="NaN"):
        summarize_run(history_to_frame({"loss": [1.0], "val_acc": [math.nan]}))


def test_summary_table_one_row_per_run():
    runs = {"a": parse_quietly(KERAS2_LOG), "b": history_to_frame({"val_acc": [0.9, 0.8]})}
    table = summary_table(runs)
    assert table.index.tolist() == ["a", "b"] and table.index.name == "run"
    assert table.columns.tolist() == ["epochs", "best_val_acc", "best_epoch", "final_val_acc", "final_epoch"]
    assert table.loc["b"].tolist() == [2, 0.9, 1, 0.8, 2]


# --------------------------------------------------------------------------- command line


@pytest.fixture
def packaged_logs():
    """Paths of the packaged seed logs (read-only; real files in a source checkout)."""
    data = resources.files("assignment_utils") / "package_data"
    with resources.as_file(data / "base_log.txt") as base:
        with resources.as_file(data / "reference_log.txt") as reference:
            yield str(base), str(reference)


def test_cli_prints_best_and_last_epoch(packaged_logs, capsys):
    base, reference = packaged_logs
    assert main([base, reference, str(DATA / "keras3_csvlogger.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == "run epochs best val_acc best epoch last val_acc last epoch".split()
    assert out[1].split()[1:] == ["50", "82.87%", "47", "82.02%", "50"]
    assert out[2].split()[1:] == ["50", "83.60%", "43", "82.63%", "50"]
    assert out[3].split()[1:] == ["6", "14.06%", "1", "14.06%", "6"]
    assert out[1].startswith(base)


def test_cli_reads_a_saved_history_json(capsys):
    """keras3_history.json was 'no training epoch found' (read as a text log)."""
    assert main([str(DATA / "keras3_history.json")]) == 0
    assert capsys.readouterr().out.splitlines()[1].split()[1:] == ["6", "14.06%", "1", "14.06%", "6"]


def test_cli_reports_warnings_on_stderr(capsys):
    assert main([str(DATA / "keras2_gap.txt")]) == 0
    assert "warning: epochs 4-5 are missing" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, message",
    [("nope.txt", "log file not found"), ("not_a_log.md", "no training epoch found"),
     ("keras3_verbose1_no_validation.txt", "no validation accuracy")],
)
def test_cli_invalid_logs_exit_2(capsys, name, message):
    assert main([str(DATA / "keras2_gap.txt"), str(DATA / name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error: " in captured.err and message in captured.err and name in captured.err


def test_cli_usage_errors(capsys):
    assert main([]) == 2
    assert "required: LOG" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert "--plot" in capsys.readouterr().out


def test_cli_plot(packaged_logs, tmp_path, capsys):
    pytest.importorskip("assignment_utils.plots")
    png = tmp_path / "runs.png"
    assert main([*packaged_logs, "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot saved to {png}" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "assignment_utils.log_cli", str(DATA / "keras1_verbose2.txt")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "62.39%" in result.stdout
