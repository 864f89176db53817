"""``python -m assignment_utils.verify``: a saved model re-scored against its record, without
training; models that break the assignment's rules, records of other models, and missing or
damaged files and data are refused with the reason.

A small model is trained here (2 epochs on the package's 200-image sample) and saved with its
record, as the notebook saves the graded run; the slow test checks the committed
``results/model.keras`` on the full test set."""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from profiles import examples

from assignment_utils import verify as verify_module
from assignment_utils.data import SAMPLE_PATH
from assignment_utils.evaluation import evaluate
from assignment_utils.models import separable_net
from assignment_utils.run_record import read_summary, write_summary
from assignment_utils.training import TrainConfig, train
from assignment_utils.verify import CannotVerify, Figure, default_model, main, record_path, verify

ROOT = Path(__file__).resolve().parents[1]
COMMITTED_MODEL = ROOT / "results" / "model.keras"
COMMITTED_RECORD = ROOT / "results" / "model.summary.json"
CAMPAIGN_LOGS = ROOT / "results" / "gpu_campaign" / "logs.tar.gz"
NOTEBOOK = ROOT / "notebooks" / "cifar10_separable.ipynb"
FULL_NPZ = os.environ.get("CIFAR10_FULL_NPZ")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small separable net trained for 2 epochs on the sample's 200 training images and
    validated on its 100 test images (10 per class), saved by ``train`` as ``model.keras`` with
    its record beside it, as the notebook writes it."""
    from assignment_utils.data import load_cifar10

    folder = tmp_path_factory.mktemp("run")
    data = load_cifar10(SAMPLE_PATH)
    model = separable_net(widths=(8, 16), stem_width=8, dropout=(0.0, 0.1), blocks=1)
    history = train(model, (data.x_train, data.y_train), (data.x_test, data.y_test),
                    TrainConfig(epochs=2, batch_size=10, verbose=0), folder)
    write_summary(folder / "model.summary.json", history, model.count_params(), seed=0,
                  tta_val_acc=evaluate(model, data.x_test, data.y_test).flip_accuracy)
    return folder / "model.keras"


def _save(model: keras.Model, folder: Path, name: str, record: dict | None = None) -> Path:
    """``model`` saved as ``folder/name.keras`` with a record of its parameter count beside it."""
    path = folder / f"{name}.keras"
    model.save(path)
    record = record or {"epochs": 1, "params": model.count_params(), "final_val_acc": 0.1}
    record_path(path).write_text(json.dumps(record))
    return path


def test_a_trained_model_reproduces_its_record(trained, capsys):
    record = json.loads(record_path(trained).read_text())
    assert main([str(trained), "--data", str(SAMPLE_PATH)]) == 0
    out = capsys.readouterr().out
    params = f"{record['params']:,}"
    assert re.search(rf"^parameters\s+{params}\s+{params}\s+0$", out, re.M)
    for name, field in (("single view", "final_val_acc"), ("flip-averaged", "tta_val_acc")):
        shown = f"{100 * record[field]:.2f} %"
        assert re.search(rf"^{name} accuracy\s+{shown}\s+{shown}\s+\+0\.00 points$", out, re.M)
    assert "layer types: SeparableConv2D x" in out and "BatchNormalization x" in out
    assert f"backend: {keras.backend.backend()} on " in out
    assert "100 test images, cifar10_sample.npz (--data)" in out
    assert re.search(r"^seconds: \d+\.\d \(loading the model", out, re.M)
    assert out.rstrip().endswith("reproduced: every recorded accuracy within 0.1 points")


def test_perturbed_weights_do_not_reproduce_the_record(trained, tmp_path, capsys):
    """The classifier of a copy is set to answer class 0 whatever the image: 10 of the sample's
    100 test images (10 per class), 10.00 % single view and flip-averaged."""
    record = json.loads(record_path(trained).read_text())
    assert record["final_val_acc"] != pytest.approx(0.10, abs=1e-6), \
        "the trained model scores like a constant class; train it longer"
    model = keras.saving.load_model(trained)
    classifier = model.get_layer("classifier")
    depthwise, pointwise, bias = classifier.get_weights()
    classifier.set_weights([depthwise, np.zeros_like(pointwise),
                            np.eye(1, len(bias), 0).ravel().astype(bias.dtype) * 10])
    perturbed = _save(model, tmp_path, "perturbed", record)
    assert main([str(perturbed), "--data", str(SAMPLE_PATH)]) == 1
    out = capsys.readouterr().out
    recorded = f"{100 * record['final_val_acc']:.2f} %"
    assert f"NOT REPRODUCED: single view accuracy: recorded {recorded}, measured 10.00 %" in out
    assert "NOT REPRODUCED: flip-averaged accuracy" in out and "more than 0.1" in out
    assert "reproduced: every" not in out


def _tail(x):
    """A head that keeps every rule: separable convolution to 10 classes, BatchNormalization,
    dropout, global average pooling, softmax."""
    x = keras.layers.SeparableConv2D(10, 3, padding="same", name="sep")(x)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Dropout(0.1, name="drop")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.layers.Activation("softmax", name="softmax")(x)


def _conv2d():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    return keras.Model(inputs, _tail(x))


def _dense():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.SeparableConv2D(8, 3, padding="same", name="sep")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Dropout(0.1, name="drop")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="dense")(x))


def _nested_conv2d():
    inner = keras.Sequential([keras.Input((32, 32, 3)),
                              keras.layers.Conv2D(8, 3, padding="same", name="conv")], name="inner")
    inputs = keras.Input((32, 32, 3))
    return keras.Model(inputs, _tail(inner(inputs)))


def _too_many_parameters():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.SeparableConv2D(320, 3, padding="same", name="wide1")(inputs)
    x = keras.layers.SeparableConv2D(320, 3, padding="same", name="wide2")(x)  # 320 x 320 > 100,000
    return keras.Model(inputs, _tail(x))


def _no_batch_norm():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.SeparableConv2D(10, 3, padding="same", name="sep")(inputs)
    x = keras.layers.Dropout(0.1, name="drop")(x)
    return keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="gap")(x))


@pytest.mark.parametrize("build, message", [
    (_conv2d, r"rule 'Depthwise separable convolutions only' \(.*not allowed: conv \(Conv2D\)"),
    (_dense, r"rule 'Depthwise separable convolutions only' \(.*not allowed: dense \(Dense\)"),
    (_nested_conv2d, r"rule 'Depthwise separable convolutions only' \(.*not allowed: "
                     r"inner/conv \(Conv2D\)"),
    (_too_many_parameters, r"rule 'Fewer than 100,000 parameters' \(1\d\d,\d\d\d total"),
    (_no_batch_norm, r"rule 'BatchNormalization' \(0 BatchNormalization layer"),
])
def test_a_model_that_breaks_a_rule_is_refused_with_the_rule_named(tmp_path, capsys, build,
                                                                    message):
    path = _save(build(), tmp_path, "model")
    assert main([str(path), "--data", str(SAMPLE_PATH)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("REFUSED: ") and "breaks the assignment's rule" in err
    assert re.search(message, err), err


def test_a_model_for_other_images_is_refused(tmp_path, capsys):
    inputs = keras.Input((28, 28, 1))
    path = _save(keras.Model(inputs, _tail(inputs)), tmp_path, "mnist")
    assert main([str(path), "--data", str(SAMPLE_PATH)]) == 1
    assert "maps (28, 28, 1) to (10,), not 32x32x3 CIFAR-10 images" in capsys.readouterr().err


def test_a_record_of_another_model_is_refused(trained, capsys):
    """The committed record is the graded run's: 91,509 parameters (results/model.summary.json)."""
    assert main([str(trained), "--record", str(COMMITTED_RECORD), "--data", str(SAMPLE_PATH)]) == 1
    err = capsys.readouterr().err
    params = json.loads(record_path(trained).read_text())["params"]
    assert "describes another model: it records 91,509 parameters" in err
    assert f"has {params:,}; pass this model's own record with --record PATH" in err


def test_missing_data_is_a_clear_error(trained, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "cifar10.npz"
    assert main([str(trained), "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "error: no CIFAR-10 test set: CIFAR-10 not found" in err and "does not exist" in err
    assert "Traceback" not in err
    monkeypatch.setenv("CIFAR10_PATH", str(missing))
    assert main([str(trained)]) == 2
    assert "from environment variable CIFAR10_PATH" in capsys.readouterr().err
    missing.write_bytes(b"not an archive")
    assert main([str(trained)]) == 2
    assert "is not a readable .npz archive" in capsys.readouterr().err


@pytest.mark.parametrize("case, message", [
    ("no model", r"no model at .*missing\.keras: the file does not exist; pass a \.keras file"),
    ("no record beside it", (r"no record of .*lonely\.keras: .*lonely\.summary\.json does not "
                             r"exist; pass the run's summary\.json with --record PATH")),
    ("model is a folder", r"no model at .*folder\.keras: it is a folder"),
    ("not .keras", r"model\.h5 is not a \.keras file"),
    ("record is a folder", r"no record of .*model\.keras: .*record\.json is a folder"),
    ("record of held-out images", (r"holds accuracies on holdout-5000 \(held-out training "
                                   r"images\), not on the test set")),
    ("record not JSON", (r"cannot read the record .*bad\.json: .*is not a run summary "
                         r"\(JSON text\)")),
    ("record lacks params", r"is not a valid run summary: no 'params'"),
])
def test_missing_or_unreadable_files_are_clear_errors(trained, tmp_path, capsys, case, message):
    record = record_path(trained)
    args = {
        "no model": [str(tmp_path / "missing.keras")],
        "no record beside it": [str(tmp_path / "lonely.keras")],
        "model is a folder": [str(tmp_path / "folder.keras"), "--record", str(record)],
        "not .keras": [str(tmp_path / "model.h5"), "--record", str(record)],
        "record is a folder": [str(trained), "--record", str(tmp_path / "record.json")],
        "record of held-out images": [str(trained), "--record", str(tmp_path / "holdout.json")],
        "record not JSON": [str(trained), "--record", str(tmp_path / "bad.json")],
        "record lacks params": [str(trained), "--record", str(tmp_path / "short.json")],
    }[case]
    shutil.copyfile(trained, tmp_path / "lonely.keras")
    (tmp_path / "folder.keras").mkdir()
    (tmp_path / "model.h5").write_bytes(b"")
    (tmp_path / "record.json").mkdir()
    (tmp_path / "holdout.json").write_text(json.dumps({**json.loads(record.read_text()),
                                                       "validation": "holdout-5000"}))
    (tmp_path / "bad.json").write_text('{"params": 1965,')
    (tmp_path / "short.json").write_text('{"epochs": 1, "final_val_acc": 0.2}')
    assert main([*args, "--data", str(SAMPLE_PATH)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m assignment_utils.verify")
    assert re.search(message, err), err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def record_beside(trained, tmp_path_factory):
    """A folder holding a copy of the trained model's record as ``model.summary.json``."""
    folder = tmp_path_factory.mktemp("garbage")
    shutil.copyfile(record_path(trained), folder / "model.summary.json")
    return folder


def _zip_of(members: dict[str, bytes]) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@settings(max_examples=examples(30))
@given(content=st.one_of(
    st.binary(max_size=2000),
    st.dictionaries(st.sampled_from(["config.json", "metadata.json", "model.weights.h5"]),
                    st.one_of(st.binary(max_size=200), st.just(b"{}"),
                              st.just(b'{"class_name": "Functional", "config": {}}')),
                    max_size=3).map(_zip_of)))
@example(content=b"")
def test_a_damaged_model_file_is_a_clear_error(record_beside, content):
    """Random bytes, an empty file, or a zip archive of the right member names with the wrong
    contents (what an interrupted copy or a wrong file gives)."""
    model = record_beside / "model.keras"
    model.write_bytes(content)
    with pytest.raises(CannotVerify, match=r"cannot load .*model\.keras as a Keras model \(.*\); "
                                           "it may be cut short or not a model"):
        verify(model, data=SAMPLE_PATH, say=lambda _: None)


@settings(max_examples=examples(50))
@given(content=st.one_of(st.binary(max_size=500),
                         st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                                      lambda inner: st.lists(inner, max_size=3), max_leaves=5)
                         .map(lambda value: json.dumps(value).encode())))
@example(content=b"")
@example(content=b"{}")
def test_a_damaged_record_is_a_clear_error(trained, tmp_path_factory, content):
    """Random bytes, an empty file, JSON that is not an object, or an object without the fields."""
    record = tmp_path_factory.getbasetemp() / "damaged.summary.json"
    record.write_bytes(content)
    with pytest.raises(CannotVerify, match=r"cannot read the record .*damaged\.summary\.json: "
                                           r".*(not a run summary|not the object of a run "
                                           r"summary|not a valid run summary)"):
        verify(trained, record, data=SAMPLE_PATH, say=lambda _: None)


VALID_RECORD = {"epochs": 50, "params": 91509, "final_val_acc": 0.9145, "best_val_acc": 0.9145,
                "best_epoch": 50, "tta_val_acc": 0.9188, "commit": "9d079b8", "backend": "jax",
                "device": "NVIDIA H100 80GB HBM3"}
WRONG = {
    "epochs": st.one_of(st.integers(max_value=0), st.booleans(), st.floats(), st.text(), st.none()),
    "params": st.one_of(st.integers(max_value=0), st.booleans(), st.floats(), st.text(), st.none(),
                        st.lists(st.integers(), max_size=2)),
    "final_val_acc": st.one_of(st.floats().filter(lambda v: not 0 <= v <= 1), st.booleans(),
                               st.integers().filter(lambda v: v not in (0, 1)), st.text(),
                               st.none()),
    "best_val_acc": st.one_of(st.floats().filter(lambda v: not 0 <= v <= 1), st.text()),
    "tta_val_acc": st.one_of(st.floats().filter(lambda v: not 0 <= v <= 1), st.booleans(),
                             st.text()),
    "best_epoch": st.one_of(st.integers(max_value=0), st.floats(), st.text()),
    "commit": st.one_of(st.integers(), st.lists(st.text(), max_size=2)),
    "device": st.one_of(st.integers(), st.booleans()),
}


@given(field=st.sampled_from(sorted(WRONG)), data=st.data())
def test_read_summary_names_the_field_of_the_wrong_type(tmp_path_factory, field, data):
    value = data.draw(WRONG[field], label="value")
    path = tmp_path_factory.getbasetemp() / "wrong.json"
    path.write_text(json.dumps({**VALID_RECORD, field: value}))
    with pytest.raises(ValueError, match=rf"wrong\.json is not a valid run summary: '{field}' is "):
        read_summary(path)


@given(epochs=st.integers(1, 500), params=st.integers(1, 10**7),
       accuracies=st.tuples(*[st.floats(0, 1)] * 3), best_after=st.integers(0, 5))
def test_read_summary_keeps_a_valid_record_and_refuses_a_best_epoch_after_the_last(
        tmp_path_factory, epochs, params, accuracies, best_after):
    path = tmp_path_factory.getbasetemp() / "valid.json"
    best_epoch = epochs + best_after
    record = {"epochs": epochs, "params": params, "best_epoch": best_epoch, "final_val_acc":
              accuracies[0], "best_val_acc": accuracies[1], "tta_val_acc": accuracies[2],
              "commit": None}
    path.write_text(json.dumps(record))
    if best_after:
        with pytest.raises(ValueError, match=f"best_epoch {best_epoch} is after the last epoch "
                                             f"\\({epochs}\\)"):
            read_summary(path)
    else:
        assert read_summary(path) == record


@given(recorded=st.integers(0, 10_000), measured=st.integers(0, 10_000))
def test_an_accuracy_reproduces_within_ten_of_ten_thousand_images(recorded, measured):
    """0.1 points of 10,000 test images are 10 images; the record holds Keras's float32."""
    figure = Figure("single view", float(np.float32(recorded / 10_000)), measured / 10_000)
    assert figure.reproduced == (abs(recorded - measured) <= 10)


def test_the_default_model_is_the_checkouts_or_a_clear_error(tmp_path, monkeypatch):
    assert default_model() == COMMITTED_MODEL
    monkeypatch.setattr(verify_module, "CHECKOUT", tmp_path)  # installed without the checkout
    with pytest.raises(CannotVerify, match="not from a checkout, so there is no "
                                           "results/model.keras: run the command in a clone"):
        default_model()
    (tmp_path / "pyproject.toml").write_text("")  # a checkout without the file
    with pytest.raises(CannotVerify, match=r"results/model\.keras is missing from the checkout: "
                                           r"restore it \(git checkout -- results/model\.keras\)"):
        default_model()


def test_the_command_line_reports_a_missing_model_without_a_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "assignment_utils.verify",
                             str(tmp_path / "none.keras"), "--record", str(COMMITTED_RECORD)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: no model at" in result.stderr and "the file does not exist" in result.stderr


@pytest.mark.parametrize("backend, device, slow", [
    ("torch", "CPU", True), ("tensorflow", "CPU", False), ("jax", "NVIDIA H100 80GB HBM3", False),
    ("jax", "CPU", False),  # scored with ShiftedSeparableConv2D instead (next test)
])
def test_a_backend_slow_on_a_cpu_is_named_with_the_time_to_expect_and_the_faster_one(
        backend, device, slow):
    said = []
    verify_module._warn_if_slow(backend, device, said.append)
    assert bool(said) == slow
    if slow:
        assert said[0].startswith(f"note: {backend} is slow on a CPU for this model: on a 2-core "
                                  "CPU the check of the 10,000 test images took about ")
        assert "nothing in this package can close that gap" in said[0]
        assert said[0].endswith("KERAS_BACKEND=tensorflow python -m assignment_utils.verify")
        assert re.search(r"https://github\.com/\S+/issues/\d+", said[0])


def test_jax_on_a_cpu_scores_with_shifted_layers_and_says_so(trained):
    """Only JAX on a CPU swaps: the trained net's 8 separable convolutions (stem, two per stage's
    block and one projection per stage, the classifier), the same weights and predictions; a
    subclassed model, which cannot be swapped, is scored as it is, and that is said."""
    import keras

    from assignment_utils.shifted_conv import ShiftedSeparableConv2D

    model = keras.saving.load_model(trained)
    for backend, device in (("tensorflow", "CPU"), ("torch", "CPU"), ("jax", "NVIDIA H200")):
        said = []
        assert verify_module._scoring_model(model, backend, device, said.append) == (model, 0)
        assert said == []
    said = []
    scored, count = verify_module._scoring_model(model, "jax", "CPU", said.append)
    assert count == 8 and sum(isinstance(layer, ShiftedSeparableConv2D)
                              for layer in scored.layers) == 8
    assert said == ["note: XLA's CPU depthwise (grouped) convolution is slow: "
                    "https://github.com/jax-ml/jax/issues/23713; so 8 separable convolutions are "
                    "scored as ShiftedSeparableConv2D, the same function from the same weights "
                    "without convolutions"]
    images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("uint8")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(scored(images)),
                               keras.ops.convert_to_numpy(model(images)), atol=1e-5)

    class Holder(keras.Model):
        def __init__(self):
            super().__init__(name="holder")
            self.conv = keras.layers.SeparableConv2D(10, 32)

        def call(self, x):
            return keras.ops.squeeze(self.conv(x), (1, 2))

    holder = Holder()
    holder(images.astype("float32"))
    said = []
    assert verify_module._scoring_model(holder, "jax", "CPU", said.append) == (holder, 0)
    assert said[0].startswith("note: scoring with the model's own layers, slow on this CPU "
                              "(holder is a subclassed model")


@pytest.mark.slow
def test_the_model_saved_on_tensorflow_reproduces_on_jax(trained):
    """The command on another backend than the one that saved the model, as a reader runs it:
    the note on scoring with shifted layers comes first, then the same table."""
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-m", "assignment_utils.verify", str(trained),
                             "--data", str(SAMPLE_PATH)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert " on jax (Keras " in lines[0]
    assert lines[1].startswith("note: XLA's CPU depthwise (grouped) convolution is slow")
    assert re.search(r"^backend: jax on CPU, 8 separable convolutions scored as "
                     r"ShiftedSeparableConv2D; data: 100 test images", result.stdout, re.M)
    assert lines[-1] == "reproduced: every recorded accuracy within 0.1 points"


def test_no_keras_is_a_clear_error(trained, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "keras", None)  # import keras raises ImportError
    assert main([str(trained), "--data", str(SAMPLE_PATH)]) == 2
    err = capsys.readouterr().err
    assert "error: cannot import Keras on the " in err and "pip install 'keras>=3.5' " in err


def test_the_committed_model_and_record_are_the_renders():
    """``results/model.keras`` and ``results/model.summary.json`` are the graded render's
    ``runs/notebook/model.keras`` and ``summary.json``, as packed by the GPU campaign (renders
    before the model came back on its own packed it into the archive too), and the record is the
    run whose record table the committed notebook shows: same commit, date and figures."""
    with tarfile.open(CAMPAIGN_LOGS) as archive:
        names = archive.getnames()
        summary = archive.extractfile("runs/notebook/summary.json").read()
        model = (archive.extractfile("runs/notebook/model.keras").read()
                 if "runs/notebook/model.keras" in names else None)
    assert COMMITTED_RECORD.read_bytes() == summary
    if model is not None:
        assert COMMITTED_MODEL.read_bytes() == model

    record = json.loads(summary)
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    table = [output for cell in cells if cell["cell_type"] == "code"
             and "record_table(record)" in "".join(cell["source"])
             for output in cell["outputs"] if output["output_type"] == "execute_result"]
    assert len(table) == 1, "the notebook shows one record table"
    text = "".join(table[0]["data"]["text/plain"])
    shown = dict(re.findall(r"^(\w+)\s+(.+?)\s*$", text, re.M))
    assert shown["commit"] == record["commit"] and shown["date"] == record["date"]
    assert shown["params"] == str(record["params"])
    assert shown["final_val_acc"] == f"{100 * record['final_val_acc']:.2f} %"
    assert shown["tta_val_acc"] == f"{100 * record['tta_val_acc']:.2f} %"


@pytest.mark.slow
@pytest.mark.skipif(not FULL_NPZ, reason="CIFAR10_FULL_NPZ is not set: point it at the full "
                                         "CIFAR-10 as an .npz (x_train, y_train, x_test, y_test)")
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="timed for TensorFlow on a CPU (JAX's CPU depthwise convolution is "
                           "far slower)")
def test_the_committed_model_reproduces_its_record_on_the_full_test_set(capsys):
    """The command as a reader runs it: no MODEL, so the checkout's ``results/model.keras``.
    Recorded (``results/model.summary.json``): 91.45 % single view, 91.88 % flip-averaged."""
    assert main(["--data", FULL_NPZ]) == 0
    out = capsys.readouterr().out
    assert "10,000 test images" in out
    assert re.search(r"^single view accuracy\s+91\.45 %\s+\d\d\.\d\d %", out, re.M)
    assert re.search(r"^flip-averaged accuracy\s+91\.88 %\s+\d\d\.\d\d %", out, re.M)
    assert out.rstrip().endswith("reproduced: every recorded accuracy within 0.1 points")
    shown = re.search(r"```console\n\$ [^\n]*assignment_utils\.verify[^\n]*\n(.*?)```",
                      (ROOT / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    table = [line for line in shown.splitlines() if not line.startswith(("seconds:", "backend:"))]
    assert len(table) == 5 and all(line in out.splitlines() for line in table), \
        "the README's verify output is not what the command prints: run it and copy it again"
