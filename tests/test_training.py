"""Training from a config on real CIFAR-10 images: history schema, checkpoints, resume, errors."""

import dataclasses
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment_utils.data import SAMPLE_PATH, load_cifar10
from assignment_utils.models import separable_net
from assignment_utils import training
from assignment_utils.training import (EpochCheckpoint, TrainConfig, learning_rate_reader,
                                         make_optimizer, train)
from profiles import examples

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(batch_size=50, learning_rate=0.05, warmup_fraction=0.25, cutout=4)



def _tiny_model():
    keras.utils.set_random_seed(0)
    return separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.1), blocks=1)


@pytest.fixture(scope="module")
def sample():
    return load_cifar10(SAMPLE_PATH)


def test_images_are_raw_pixels_uint8_or_float(tmp_path, sample):
    """The model standardizes inside: float pixels in 0..255 train like uint8 ones, while images
    scaled to [0, 1] or already standardized are refused (they would train on near-black)."""
    config = TrainConfig(epochs=1, **SMALL, verbose=0)
    floats = sample.x_train.astype("float32")
    history = train(_tiny_model(), (floats, sample.y_train), (sample.x_test, sample.y_test), config,
                    tmp_path / "float")
    assert len(history) == 1
    for bad, message in ((floats / 255, r"scaled to \[0, 1\]"), (floats - 128, "raw values in 0..255")):
        with pytest.raises(ValueError, match=message):
            train(_tiny_model(), (bad, sample.y_train), (sample.x_test, sample.y_test), config,
                  tmp_path / "bad")


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs"), ({"epochs": 2.5}, "epochs"), ({"batch_size": -1}, "batch_size"),
    ({"batch_size": True}, "batch_size"), ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": "0.1"}, "learning_rate"), ({"optimizer": "rmsprop"}, "optimizer"),
    ({"schedule": "step"}, "schedule"), ({"warmup_fraction": 1.0}, "warmup_fraction"),
    ({"jit_compile": "yes"}, "jit_compile must be True, False or 'auto'"), ({"steps_per_execution": 2.5}, "steps_per_execution"),
    ({"momentum": 1.0}, "momentum"), ({"label_smoothing": -0.1}, "label_smoothing"),
    ({"weight_decay": -1e-4}, "weight_decay"), ({"cutout": -2}, "cutout"),
    ({"verbose": 3}, "verbose"), ({"seed": 1.5}, "seed"), ({"steps_per_execution": 0}, "steps_per_execution"),
])
def test_config_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"weight_decay": float("nan")}, "weight_decay must be a finite number >= 0, got nan"),
    ({"seed": -1}, "seed must be an integer in 0..2147483647, got -1"),  # crashed inside train()
    ({"epochs": "abc"}, "epochs must be a positive integer, got 'abc'"),  # papermill -p epochs abc
    ({"augment": "no"}, "augment must be True or False, got 'no'"),       # used to augment
    ({"learning_rate": True}, "learning_rate must be a finite number"),
    ({"verbose": True}, "verbose must be 0, 1 or 2"),
])
def test_config_messages_name_the_field_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**kwargs)


def test_config_takes_numpy_numbers_as_plain_numbers():
    """A NumPy float32 learning rate used to be refused ("got np.float32(0.1)")."""
    config = TrainConfig(learning_rate=np.float32(0.1), epochs=np.int64(3), augment=np.bool_(True))
    assert config.learning_rate == pytest.approx(0.1) and type(config.learning_rate) is float
    assert type(config.epochs) is int and config.augment is True
    json.dumps(config.to_dict())  # storable in run.json


def test_cosine_schedule_warms_up_then_decays_to_a_thousandth():
    config = TrainConfig(epochs=10, learning_rate=0.4, warmup_fraction=0.2)
    schedule = make_optimizer(config, steps_per_epoch=100)._learning_rate
    values = [float(schedule(step)) for step in (0, 100, 200, 600, 1000)]
    assert values[0] == pytest.approx(0.04, rel=1e-3)        # a tenth of the peak
    assert values[1] == pytest.approx(0.22, rel=1e-3)        # half-way through the warm-up
    assert values[2] == pytest.approx(0.4, rel=1e-3)         # the peak after 20 % of the steps
    assert values[2] > values[3] > values[4]
    assert values[4] == pytest.approx(0.0004, rel=1e-3)


def test_defaults_are_valid_for_any_epoch_count():
    """TrainConfig(epochs=1) used to raise because of a 2-epoch warm-up default."""
    assert TrainConfig(epochs=1).warmup_fraction == 0.2


def test_train_returns_history_and_writes_log_config_and_model(tmp_path, sample):
    model = _tiny_model()
    config = TrainConfig(epochs=2, **SMALL, verbose=0)
    history = train(model, (sample.x_train, sample.y_train), (sample.x_test, sample.y_test),
                    config, tmp_path)
    assert list(history["epoch"]) == [1, 2]
    for column in ("loss", "acc", "val_loss", "val_acc", "seconds", "learning_rate"):
        assert history[column].notna().all(), column
    assert history["val_acc"].between(0, 1).all()
    assert json.loads((tmp_path / "run.json").read_text())["config"]["epochs"] == 2
    reloaded = keras.saving.load_model(tmp_path / "model.keras")
    x = sample.x_test[:8]  # raw uint8 pixels: the saved model standardizes them itself
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_finished_run_is_not_trained_again_and_says_so(tmp_path, sample, capsys):
    config = TrainConfig(epochs=1, **SMALL, verbose=0)
    data = (sample.x_train, sample.y_train), (sample.x_test, sample.y_test)
    first = train(_tiny_model(), *data, config, tmp_path)
    again_model = _tiny_model()
    # How a run executes is not part of its identity: another steps_per_execution may resume it.
    again = train(again_model, *data, dataclasses.replace(config, steps_per_execution=2), tmp_path)
    pd.testing.assert_frame_equal(first, again)
    assert len(pd.read_csv(tmp_path / "log.csv")) == 1
    assert f"already complete: 1 epochs in {tmp_path}" in capsys.readouterr().out


@pytest.mark.parametrize("change, differs", [
    (lambda m, d, c: (m, d, dataclasses.replace(c, learning_rate=0.1)), "config.learning_rate"),
    (lambda m, d, c: (separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.3), blocks=1), d, c),
     "model.architecture"),
    (lambda m, d, c: (m, ((d[0][0][:100], d[0][1][:100]), d[1]), c), "data.train_images"),
])
def test_a_reused_output_dir_with_another_run_is_refused(tmp_path, sample, change, differs):
    """papermill -p train_subset 100 then -p train_subset 500 into one output_dir used to return
    the first run; so did a model with another dropout, loading the old weights into it."""
    data = (sample.x_train, sample.y_train), (sample.x_test, sample.y_test)
    config = TrainConfig(epochs=1, **SMALL, verbose=0)
    train(_tiny_model(), *data, config, tmp_path)
    model, other_data, other_config = change(_tiny_model(), data, config)
    with pytest.raises(ValueError, match=rf"holds another run.*{differs}.*another output_dir"):
        train(model, *other_data, other_config, tmp_path)


def test_an_epoch_logged_but_not_checkpointed_is_logged_once(tmp_path, sample):
    """A kill between the CSV log's row and the checkpoint of the first epoch: the rerun trains
    that epoch again and the log holds it once, not twice."""
    data = (sample.x_train, sample.y_train), (sample.x_test, sample.y_test)
    config = TrainConfig(epochs=1, **SMALL, verbose=0)
    train(_tiny_model(), *data, config, tmp_path)
    for path in (tmp_path / "checkpoint").iterdir():
        path.unlink()
    history = train(_tiny_model(), *data, config, tmp_path)
    assert list(history["epoch"]) == [1]
    assert list(pd.read_csv(tmp_path / "log.csv")["epoch"]) == [0]


def test_damaged_run_files_are_errors_naming_the_file(tmp_path, sample):
    data = (sample.x_train, sample.y_train), (sample.x_test, sample.y_test)
    config = TrainConfig(epochs=1, **SMALL, verbose=0)
    train(_tiny_model(), *data, config, tmp_path)
    (tmp_path / "log.csv").unlink()  # used to return a history of the later epochs only
    with pytest.raises(ValueError, match=r"log.csv holds 0 complete epochs but the checkpoint holds 1"):
        train(_tiny_model(), *data, config, tmp_path)
    weights = next((tmp_path / "checkpoint").glob("epoch_*.weights.h5"))
    weights.write_bytes(weights.read_bytes()[:100])  # truncated: used to be h5py's OSError
    (tmp_path / "log.csv").write_text("epoch,accuracy\n0,0.1\n")
    with pytest.raises(ValueError, match=r"epoch_001.weights.h5 could not be loaded .*delete"):
        train(_tiny_model(), *data, config, tmp_path)
    (tmp_path / "checkpoint" / "checkpoint.json").write_text("")  # used to be a JSONDecodeError
    with pytest.raises(ValueError, match=r"checkpoint.json is damaged"):
        train(_tiny_model(), *data, config, tmp_path)
    with pytest.raises(ValueError, match="output_dir is empty"):
        train(_tiny_model(), *data, config, "")


def test_bad_inputs_are_rejected(tmp_path, sample):
    config = TrainConfig(epochs=1, **SMALL)
    good = (sample.x_train, sample.y_train)
    with pytest.raises(ValueError, match="labels must be in 0..9"):
        train(_tiny_model(), (sample.x_train, sample.y_train + 10), good, config, tmp_path)
    with pytest.raises(ValueError, match="train_data"):
        train(_tiny_model(), (sample.x_train, sample.y_train[:5]), good, config, tmp_path)
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        train(_tiny_model(), good, sample.x_test, config, tmp_path)
    with pytest.raises(TypeError, match="TrainConfig"):
        train(_tiny_model(), good, good, {"epochs": 1}, tmp_path)


class _Clock:
    """A stand-in for ``time.monotonic`` that moves only when told."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


class _SavedEpochs:
    """A stand-in model that records which epochs ``EpochCheckpoint`` saved (from the file names)."""

    def __init__(self):
        self.saved = []

    def save_weights(self, path, overwrite=False):
        self.saved.append(int(re.fullmatch(r"epoch_(\d+)\.weights\.h5", Path(path).name)[1]))
        Path(path).write_bytes(b"weights")


def _checkpoint_run(directory, monkeypatch, durations, seconds, stop_after=None):
    """Drive an ``EpochCheckpoint`` through epochs of the given wall ``durations`` (a fake clock),
    as ``fit`` calls it; with ``stop_after``, the run stops early after that many epochs."""
    clock, model = _Clock(), _SavedEpochs()
    monkeypatch.setattr(training, "time", clock)
    callback = EpochCheckpoint(directory, seconds)
    callback.set_model(model)
    callback.set_params({"epochs": len(durations)})
    callback.on_train_begin()
    ends = []
    for epoch, duration in enumerate(durations[:stop_after]):
        clock.now += duration
        ends.append(clock.now)
        callback.on_epoch_end(epoch)
    callback.on_train_end()
    return model.saved, ends


def test_checkpoints_are_saved_once_the_interval_has_passed_and_after_the_last_epoch(
        tmp_path, monkeypatch):
    # Read by hand: epochs end at 4, 8, 12, 16 and 20 s; 12 s is the first end 10 s after the
    # start, 20 s the last epoch.
    assert _checkpoint_run(tmp_path / "a", monkeypatch, [4] * 5, 10)[0] == [3, 5]
    # A first epoch of 25 s (the compilation) and 49 of 1 s, as on a card: 6 saves, not 50.
    assert _checkpoint_run(tmp_path / "b", monkeypatch, [25] + [1] * 49, 10)[0] == [
        1, 11, 21, 31, 41, 50]
    assert _checkpoint_run(tmp_path / "c", monkeypatch, [4] * 5, 0)[0] == [1, 2, 3, 4, 5]
    assert _checkpoint_run(tmp_path / "d", monkeypatch, [4] * 5, math.inf)[0] == [5]
    # An early stop (EarlyStopping, TerminateOnNaN) after epoch 2 of 5 saves epoch 2.
    assert _checkpoint_run(tmp_path / "e", monkeypatch, [4] * 5, 10, stop_after=2)[0] == [2]
    assert json.loads((tmp_path / "e" / "checkpoint.json").read_text())["epoch"] == 2


@settings(max_examples=examples(200), deadline=None)
@given(durations=st.lists(st.floats(0, 100), min_size=1, max_size=30),
       seconds=st.one_of(st.just(0.0), st.floats(0, 200), st.just(math.inf)),
       stopped=st.integers(1, 30))
def test_a_checkpoint_is_saved_when_and_only_when_the_interval_has_passed(
        tmp_path_factory, durations, seconds, stopped):
    """On generated epoch times: the last epoch run is saved; every other save comes at least
    ``seconds`` after the one before (or the start), and no epoch that ends that late is skipped.
    Only the last save's files are left."""
    directory = tmp_path_factory.mktemp("checkpoint")
    stop_after = min(stopped, len(durations))
    with pytest.MonkeyPatch.context() as monkeypatch:
        saved, ends = _checkpoint_run(directory, monkeypatch, durations, seconds, stop_after)
    assert saved == sorted(set(saved)) and saved[-1] == stop_after
    last_save = 0.0
    for epoch, end in enumerate(ends, start=1):
        due = end - last_save >= seconds
        assert (epoch in saved) == (due or epoch == stop_after), (epoch, end, last_save)
        if epoch in saved:
            last_save = end
    if seconds == 0:
        assert saved == list(range(1, stop_after + 1))
    assert sorted(p.name for p in directory.iterdir()) == [
        "checkpoint.json", f"epoch_{stop_after:03d}.weights.h5"]
    assert json.loads((directory / "checkpoint.json").read_text())["epoch"] == stop_after


class _Interrupt(keras.callbacks.Callback):
    """Raises at the end of an epoch, after the run's own callbacks: a kill after that epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def test_a_run_killed_between_checkpoints_resumes_from_the_last_one(tmp_path, sample, capsys):
    """Killed after epoch 3 of 4, with a save every epoch and with none before the last: the
    rerun resumes after epoch 3, or trains from the start, and each log holds 4 epochs once."""
    data = (sample.x_train, sample.y_train), (sample.x_test, sample.y_test)
    config = TrainConfig(epochs=4, **SMALL, verbose=0)
    for seconds, resumed in ((0, "resuming at epoch 4 of 4"), (math.inf, None)):
        output_dir = tmp_path / str(seconds)
        with pytest.raises(KeyboardInterrupt):
            train(_tiny_model(), *data, config, output_dir, callbacks=[_Interrupt(3)],
                  seconds_between_checkpoints=seconds)
        assert len(pd.read_csv(output_dir / "log.csv")) == 3
        assert (output_dir / "checkpoint" / "checkpoint.json").exists() == (seconds == 0)
        capsys.readouterr()
        history = train(_tiny_model(), *data, config, output_dir, seconds_between_checkpoints=seconds)
        out = capsys.readouterr().out
        assert (resumed in out) if resumed else ("resuming" not in out)
        assert list(history["epoch"]) == [1, 2, 3, 4]
        assert list(pd.read_csv(output_dir / "log.csv")["epoch"]) == [0, 1, 2, 3]
        checkpoint = json.loads((output_dir / "checkpoint" / "checkpoint.json").read_text())
        assert checkpoint["epoch"] == 4


@pytest.mark.parametrize("seconds", [-1, math.nan, "10", True, None])
def test_a_bad_checkpoint_interval_is_refused_before_anything_is_written(tmp_path, sample, seconds):
    data = (sample.x_train, sample.y_train), (sample.x_test, sample.y_test)
    with pytest.raises(ValueError, match=r"seconds_between_checkpoints must be a number >= 0"):
        train(_tiny_model(), *data, TrainConfig(epochs=1, **SMALL, verbose=0), tmp_path / "run",
              seconds_between_checkpoints=seconds)
    assert not (tmp_path / "run").exists()


RUN_SCRIPT = textwrap.dedent(f"""
    import sys, keras
    from assignment_utils.data import SAMPLE_PATH, load_cifar10
    from assignment_utils.models import separable_net
    from assignment_utils.training import TrainConfig, train
    data = load_cifar10(SAMPLE_PATH)
    keras.utils.set_random_seed(0)
    model = separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.1), blocks=1)
    config = TrainConfig(epochs=int(sys.argv[2]), steps_per_execution=eval(sys.argv[3]), verbose=0,
                         **{SMALL!r})
    history = train(model, (data.x_train, data.y_train), (data.x_test, data.y_test), config, sys.argv[1],
                    seconds_between_checkpoints=0)
    print("EPOCHS", list(history["epoch"]))
""")


def _run(output_dir, epochs, backend="tensorflow", steps_per_execution=None, **popen):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", RUN_SCRIPT, str(output_dir), str(epochs),
                             str(steps_per_execution)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


@pytest.mark.slow
def test_run_killed_mid_training_resumes_to_exactly_the_requested_epochs(tmp_path):
    """A real interruption: the training process is killed (SIGKILL, like a lost Colab runtime)
    once two epochs are logged; a new process with the same output_dir finishes the run."""
    epochs = 6
    process = _run(tmp_path, epochs)
    log = tmp_path / "log.csv"
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if log.exists() and len(log.read_text().strip().splitlines()) >= 3:  # header + 2 epochs
            break
        time.sleep(0.05)
    assert process.poll() is None, f"training ended before it could be interrupted: {process.communicate()}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    logged_before = len(pd.read_csv(log))
    assert 2 <= logged_before < epochs

    out, err = _run(tmp_path, epochs).communicate(timeout=300)
    assert f"EPOCHS {list(range(1, epochs + 1))}" in out, err[-2000:]
    resumed_at = int(out.split("resuming at epoch ")[1].split(" of ")[0])
    assert logged_before <= resumed_at <= logged_before + 1  # a kill may fall between log and checkpoint
    csv = pd.read_csv(log)
    assert list(csv["epoch"]) == list(range(epochs))  # CSVLogger counts from 0; no duplicates
    # The optimizer state came back too: the schedule continues where it stopped.
    schedule = make_optimizer(TrainConfig(epochs=epochs, **SMALL), steps_per_epoch=4)._learning_rate
    expected = [float(schedule(4 * (e + 1))) for e in range(epochs)]
    np.testing.assert_allclose(csv["learning_rate"], expected, rtol=1e-4, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_training_runs_on_other_backends(tmp_path, backend):
    """Also with several steps per compiled call (the GPU speed-up), as on TensorFlow."""
    pytest.importorskip(backend)
    out, err = _run(tmp_path, 2, backend=backend, steps_per_execution=2).communicate(timeout=300)
    assert "EPOCHS [1, 2]" in out, err[-2000:]
    # Keras's PyTorch backend refuses steps_per_execution > 1: train() says so and uses 1.
    assert ("training with steps_per_execution=1" in err) == (backend == "torch")
    assert (tmp_path / "model.keras").exists()


@pytest.fixture
def jax_compiles():
    """A list whose first item counts XLA compilations during the test (JAX only)."""
    jax = pytest.importorskip("jax")
    if keras.backend.backend() != "jax":
        pytest.skip("counts JAX's compilations: run under JAX by test_jax_compile_counts")
    count = [0]

    def listener(event, seconds, **kwargs):
        count[0] += event == "/jax/core/compile/backend_compile_duration"

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield count
    jax.monitoring.unregister_event_duration_listener(listener)


@settings(max_examples=examples(40))
@given(epochs=st.integers(1, 60), steps_per_epoch=st.integers(1, 300),
       warmup_fraction=st.floats(0, 0.99), learning_rate=st.floats(1e-4, 9.9),
       schedule=st.sampled_from(["cosine", "constant"]), where=st.floats(0, 1.1))
def test_learning_rate_reader_gives_the_optimizers_own_rate(epochs, steps_per_epoch,
                                                            warmup_fraction, learning_rate,
                                                            schedule, where):
    config = TrainConfig(epochs=epochs, warmup_fraction=warmup_fraction,
                         learning_rate=learning_rate, schedule=schedule)
    optimizer = make_optimizer(config, steps_per_epoch)
    optimizer.build([keras.Variable(1.0)])
    optimizer.iterations.assign(int(where * epochs * steps_per_epoch))
    eager = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    # Keras's own value: the same on TensorFlow; on JAX, compiled as one program, within a few
    # float32 rounding steps of the peak rate (the cosine's arithmetic, fused).
    rounding = float(np.spacing(np.float32(learning_rate)))
    assert abs(learning_rate_reader(optimizer)() - eager) <= (
        4 * rounding if keras.backend.backend() == "jax" else 0)


def test_reading_the_learning_rate_compiles_once_on_jax(jax_compiles):
    """Keras's CosineDecay, evaluated eagerly on JAX, compiles its ops.cond anew at every call:
    reading the rate for the log cost a compilation in every epoch."""
    # 7 epochs of 9 steps, warm-up over round(0.3 * 63) = 19 steps: both branches, the switch
    # between them, the last step and a step past it.
    optimizer = make_optimizer(TrainConfig(epochs=7, warmup_fraction=0.3), steps_per_epoch=9)
    optimizer.build([keras.Variable(1.0)])
    read = learning_rate_reader(optimizer)
    values, counts = [], []
    for step in [0, 1, 18, 19, 20, 40, 62, 63, 80]:
        optimizer.iterations.assign(step)
        before = jax_compiles[0]
        values.append(read())
        counts.append(jax_compiles[0] - before)
    assert counts[0] >= 1 and counts[1:] == [0] * 8
    assert values[0] == pytest.approx(0.02)       # a tenth of the default peak 0.2
    assert values[3] == pytest.approx(0.2)        # the peak, at the end of the warm-up
    assert values[-1] == pytest.approx(0.0002)    # a thousandth of it, at the end and past it


def test_training_compiles_nothing_after_the_first_epoch_on_jax(tmp_path, sample, jax_compiles):
    class CompilesPerEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.before = jax_compiles[0]

        def on_epoch_end(self, epoch, logs=None):  # after EpochStats has read the rate
            per_epoch.append(jax_compiles[0] - self.before)

    per_epoch = []
    train(_tiny_model(), (sample.x_train, sample.y_train), (sample.x_test, sample.y_test),
          TrainConfig(epochs=3, verbose=0, **SMALL), tmp_path, callbacks=[CompilesPerEpoch()])
    # The first epoch compiles the training and the test step; the others nothing.
    assert per_epoch[0] >= 2 and per_epoch[1:] == [0, 0]


@pytest.mark.slow
def test_jax_compile_counts():
    """The JAX-only tests above, run by pytest under JAX."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__)),
         "-k", "learning_rate_reader or compiles"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout and "skipped" not in result.stdout
