"""Tests for assignment_utils.baselines and the parser on the assignment's own text.

Expected figures come from reading the seed (../shared/seed/000_5ada3d6232e4e3f5.txt):
the base log peaks at val_acc 0.8287 in epoch 47 (the assignment rounds it to "82.8")
and ends at 0.8202 ("82.02"); the reference run peaks at 0.8360 in epoch 43 ("83.6%")
and ends at 0.8263.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import pytest

from assignment_utils.baselines import BASELINE_NAMES, load_baseline
from assignment_utils.logs import LogWarning, parse_keras_log
from assignment_utils.summaries import RunSummary, summarize_run

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "seed" / "000_5ada3d6232e4e3f5.txt"
needs_seed = pytest.mark.skipif(not SEED.is_file(), reason=f"assignment seed not available at {SEED}")


def packaged(name: str) -> bytes:
    return (resources.files("assignment_utils") / "package_data" / f"{name}_log.txt").read_bytes()


@pytest.mark.parametrize(
    "name, expected",
    [
        ("base", RunSummary(epochs=50, best_val_acc=0.8287, best_epoch=47,
                            final_val_acc=0.8202, final_epoch=50)),
        ("reference", RunSummary(epochs=50, best_val_acc=0.8360, best_epoch=43,
                                 final_val_acc=0.8263, final_epoch=50)),
    ],
)
def test_baseline_summaries(name, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no repeated or missing epochs
        frame = load_baseline(name)
    assert summarize_run(frame) == expected
    assert frame["epoch"].tolist() == list(range(1, 51))
    assert frame.columns.tolist() == ["epoch", "loss", "acc", "val_loss", "val_acc", "seconds"]
    assert frame.notna().all().all()


def test_base_log_lacks_its_first_header_which_is_inferred():
    text = packaged("base").decode()
    assert text.startswith("390/390 [===] - 17s 43ms/step - loss: 1.8323")
    first = load_baseline("base").iloc[0]
    assert (first["epoch"], first["loss"], first["val_acc"], first["seconds"]) == (1, 1.8323, 0.4895, 17)


def test_assignment_rounding_of_the_base_figures():
    summary = summarize_run(load_baseline("base"))
    assert f"{summary.best_val_acc:.3%}"[:4] == "82.8"  # "Highest - 82.8" (truncated 82.87)
    assert f"{summary.final_val_acc:.2%}" == "82.02%"  # "At 50th epoch - 82.02"


def test_unknown_baseline_lists_the_valid_names():
    assert BASELINE_NAMES == ("base", "reference")
    with pytest.raises(ValueError, match="unknown baseline 'best'; valid names: base, reference"):
        load_baseline("best")  # type: ignore[arg-type]


@needs_seed
@pytest.mark.parametrize("name", BASELINE_NAMES)
def test_packaged_logs_are_verbatim_excerpts_of_the_seed(name):
    data = packaged(name)
    seed_lines = SEED.read_bytes().splitlines(keepends=True)
    lines = data.splitlines(keepends=True)
    assert len(lines) in (99, 100)  # 50 epoch lines + 49 or 50 headers
    start = seed_lines.index(lines[0])
    assert seed_lines[start : start + len(lines)] == lines  # whole lines, same bytes, same order
    assert lines[-1].startswith(b"390/390") and lines[-2] == b"Epoch 50/50\n"


@needs_seed
def test_whole_seed_document_repeats_epochs_and_the_last_log_wins():
    text = SEED.read_text(encoding="utf-8")
    with pytest.warns(LogWarning, match=r"epochs 1-50 appear more than once.*keeping the last"):
        frame = parse_keras_log(text)
    reference = load_baseline("reference")
    assert frame.equals(reference)
    assert summarize_run(frame).best_val_acc == 0.8360
