#!/usr/bin/env python3
"""Profile one training step of the render's model as ``train()`` runs it, phase by phase.

On JAX (``KERAS_BACKEND=jax``): XLA's cost analysis and the optimized HLO of the compiled step
(bytes and FLOPs by phase, forward and backward; ``assignment_utils.step_profile``), a
``jax.profiler`` trace of it (seconds by phase), the inference step's cost, the step in
bfloat16 activations (Keras's ``mixed_bfloat16``, everywhere or outside the separable
convolutions) and with the separable convolutions as ``ShiftedSeparableConv2D`` (shifted
products and a matrix product), each against float32 with Keras's layers from the same state,
step times at several batch sizes, and the host's share (the batch iterator, the call, the
checkpoint). On any other backend:
the wall time per step of ``fit`` at each batch size. With ``--gpu-target h100`` (or ``h200``),
on a machine without the card: every variant's step compiled for that card by XLA's GPU
compiler (``assignment_utils.gpu_target``; its own environment, ``.venv-gpu-compiler``), its
bytes by phase and its compile time, nothing run. Rows go to ``OUT/phases.csv`` (JAX) and
``OUT/steps.csv`` (every measurement, one a row; a run on another backend replaces that
backend's rows)::

    KERAS_BACKEND=jax python scripts/profile_step.py --out results/profile
    KERAS_BACKEND=tensorflow python scripts/profile_step.py --out results/profile
    JAX_PLATFORMS=cpu KERAS_BACKEND=jax .venv-gpu-compiler/bin/python scripts/profile_step.py \
        --gpu-target h100 --data assignment_utils/package_data/cifar10_sample.npz \
        --out results/profile/gpu_compiler/h100
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout's package, installed or not

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from assignment_utils import step_profile as sp  # noqa: E402
from assignment_utils.data import add_data_arguments, load_cifar10  # noqa: E402
from assignment_utils.gpu_target import GPU_TARGETS, target_sharding  # noqa: E402
from assignment_utils.models import (SEPARABLE_IMPLEMENTATIONS, separable_net,  # noqa: E402
                                     with_dtype_policy, with_separable_impl)
from assignment_utils.training import TrainConfig, build_trainer  # noqa: E402

STEPS_COLUMNS = ["backend", "variant", "batch_size", "measure", "value", "unit", "runs",
                 "load_1min", "note"]


class Recorder:
    """Collects measurements as rows of ``steps.csv`` and prints each one."""

    def __init__(self, backend: str):
        self.backend, self.rows = backend, []

    def add(self, measure: str, value: float, unit: str, variant: str = "float32",
            batch_size: int | None = None, runs: int = 1, note: str = "") -> None:
        load = os.getloadavg()[0]
        self.rows.append({"backend": self.backend, "variant": variant, "batch_size": batch_size,
                          "measure": measure, "value": value, "unit": unit, "runs": runs,
                          "load_1min": round(load, 2), "note": note})
        print(f"[{time.strftime('%H:%M:%S')} load {load:.2f}] {variant} b={batch_size} "
              f"{measure}: {value:.6g} {unit} {note}", flush=True)


def build(config: TrainConfig, policy: str, impl: str = "keras", seed: int = 0
          ) -> tuple[keras.Model, keras.Model]:
    """``(model, trainer)`` of the render's model under a dtype policy (``float32``,
    ``mixed_bfloat16`` in every layer, or ``mixed_bfloat16_outside_convs``: float32 separable
    convolutions, bfloat16 elsewhere) and a separable implementation (``keras`` or
    ``shifted``); weights from ``seed``, the same for every variant."""
    keras.utils.set_random_seed(seed)
    model = separable_net(dtype_policy=policy, separable_impl=impl)
    steps_per_epoch = 50_000 // config.batch_size
    return model, build_trainer(model, config, steps_per_epoch)


def variant_name(policy: str, impl: str) -> str:
    """``float32``, ``mixed_bfloat16``, ...; ``float32, shifted`` with ShiftedSeparableConv2D."""
    return policy if impl == "keras" else f"{policy}, {impl}"


def variants(args) -> list[tuple[str, str]]:
    """Every ``(policy, impl)`` asked for but the base, float32 with Keras's layers."""
    return [(policy, impl) for impl in args.separable_impls for policy in args.policies
            if (policy, impl) != ("float32", "keras")]


def relative(a, b) -> float:
    """``|a - b| / |b|`` over all arrays of two lists."""
    a = np.concatenate([np.ravel(np.asarray(x, "float64")) for x in a])
    b = np.concatenate([np.ravel(np.asarray(x, "float64")) for x in b])
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def floats(arrays: list) -> list:
    """The floating-point arrays of a list (random seed states aside)."""
    return [a for a in arrays if np.issubdtype(np.asarray(a).dtype, np.floating)]


def first_step(step: sp.CompiledStep, initial: tuple, repeats: int) -> tuple[list[float], tuple]:
    """Wall seconds of ``repeats`` executions of ``step``, and ``(logs, state)`` of the first,
    which starts from ``initial``."""
    times, first = step.run(1, state=initial)
    if repeats > 1:
        times += step.run(repeats - 1)[0]
    return times, first


def traced_seconds(step: sp.CompiledStep, repeats: int, ops: pd.DataFrame, record: Recorder,
                   variant: str, batch_size: int) -> pd.Series | None:
    """Seconds per operation of ``step`` from a ``jax.profiler`` trace of ``repeats`` runs, with
    its rows; None, and a row saying why, where the machine's profiler fails (the bytes, FLOPs
    and step times are measured without it)."""
    try:
        with tempfile.TemporaryDirectory() as trace_dir:
            seconds, wall = sp.trace_seconds(step, repeats, trace_dir)
    except Exception as error:  # noqa: BLE001 (reported as a row, and the profile goes on)
        record.add("step wall, traced", float("nan"), "s", variant, batch_size,
                   note=f"trace failed: {type(error).__name__}: {error}"[:300])
        return None
    record.add("step wall, traced", wall, "s", variant, batch_size, runs=repeats)
    record.add("traced operation seconds, summed", float(seconds.reindex(ops.name).sum()), "s",
               variant, batch_size, runs=repeats,
               note="CPU: threads overlap; GPU: kernel time")
    return seconds


def profile_jax(args, data, record: Recorder, out: Path) -> None:
    import jax

    config = TrainConfig()
    batch = sp.step_batch(data.x_train, data.y_train, config.batch_size)
    model, trainer = build(config, "float32")
    record.add("parameters", model.count_params(), "count")
    record.add("layer outputs per image (float32)", sp.activation_bytes(model), "bytes")

    step = sp.compiled_step(trainer, batch)
    initial = jax.tree_util.tree_map(lambda a: a.copy(), step.state)
    record.add("lower (trace to HLO)", step.lower_seconds, "s", batch_size=config.batch_size)
    record.add("XLA compile", step.compile_seconds, "s", batch_size=config.batch_size)
    cost = step.cost()
    record.add("XLA cost analysis: flops", cost["flops"], "FLOP", batch_size=config.batch_size)
    record.add("XLA cost analysis: bytes accessed", cost["bytes accessed"], "bytes",
               batch_size=config.batch_size)
    ops = sp.hlo_op_table(step.hlo_text())
    if args.keep_ops:
        ops.to_csv(out / "ops_float32.csv.gz", index=False)
    seconds = traced_seconds(step, args.trace_repeats, ops, record, "float32",
                             config.batch_size)
    phases = [sp.phase_table(ops, seconds).assign(variant="float32")]
    times, (logs_f32, state_f32) = first_step(step, initial, args.repeats)
    record.add("jitted step wall (median)", float(np.median(times)), "s",
               batch_size=config.batch_size, runs=len(times))
    record.add("host: dispatch of a step that computes nothing", sp.dispatch_seconds(step), "s",
               batch_size=config.batch_size, runs=50)
    record.add("host: fit's batch iterator, per batch", sp.iterator_seconds(batch, 20), "s",
               batch_size=config.batch_size, runs=20)
    with tempfile.TemporaryDirectory() as directory:
        record.add("host: save_weights per epoch (checkpoint)",
                   sp.checkpoint_seconds(trainer, directory), "s", runs=3)

    test = sp.compiled_step(trainer, batch, step="test")
    test_cost = test.cost()
    record.add("inference step: XLA flops", test_cost["flops"], "FLOP", batch_size=config.batch_size)
    record.add("inference step: XLA bytes accessed", test_cost["bytes accessed"], "bytes",
               batch_size=config.batch_size)
    record.add("inference step: XLA compile", test.compile_seconds, "s",
               batch_size=config.batch_size)

    probe = data.x_test[:args.predict_images]
    probabilities_f32 = model.predict(probe, batch_size=config.batch_size, verbose=0)
    for policy, impl in variants(args):
        model_b, trainer_b = build(config, policy, impl)
        step_b = sp.compiled_step(trainer_b, batch, state=initial)
        variant = variant_name(policy, impl)
        cost_b = step_b.cost()
        record.add("XLA cost analysis: flops", cost_b["flops"], "FLOP", variant, config.batch_size)
        record.add("XLA cost analysis: bytes accessed", cost_b["bytes accessed"], "bytes", variant,
                   config.batch_size)
        record.add("XLA compile", step_b.compile_seconds, "s", variant, config.batch_size)
        ops_b = sp.hlo_op_table(step_b.hlo_text())
        seconds_b = traced_seconds(step_b, args.trace_repeats, ops_b, record, variant,
                                   config.batch_size)
        phases.append(sp.phase_table(ops_b, seconds_b).assign(variant=variant))
        times_b, (logs_b, state_b) = first_step(step_b, initial, args.repeats)
        record.add("jitted step wall (median)", float(np.median(times_b)), "s", variant,
                   config.batch_size, runs=len(times_b))
        record.add("loss of the step", float(logs_b["loss"]), "", variant, config.batch_size,
                   note=f"float32: {float(logs_f32['loss']):.6f}")
        update_f32 = [a - b for a, b in zip(state_f32[0], initial[0])]
        update_b = [a - b for a, b in zip(state_b[0], initial[0])]
        record.add("weight update vs float32's, relative difference",
                   relative(update_b, update_f32), "", variant, config.batch_size,
                   note="|dW - dW_f32| / |dW_f32|, same state and batch")
        record.add("BatchNorm moving statistics vs float32's, relative difference",
                   relative(floats(state_b[1]), floats(state_f32[1])), "", variant,
                   config.batch_size)
        probabilities_b = model_b.predict(probe, batch_size=config.batch_size, verbose=0)
        record.add("inference: max |probability - float32's|",
                   float(np.abs(probabilities_b - probabilities_f32).max()), "", variant,
                   note=f"{len(probe)} test images, initial weights")
        record.add("inference: same class as float32", float(np.mean(
            probabilities_b.argmax(1) == probabilities_f32.argmax(1))), "share", variant,
            note=f"{len(probe)} test images, initial weights")
    pd.concat(phases, ignore_index=True).to_csv(out / "phases.csv", index=False)
    if args.trained:
        compare_trained(args, data, record)

    for batch_size in args.batch_sizes:
        if batch_size == config.batch_size:
            continue
        other = TrainConfig(batch_size=batch_size)
        _, trainer_n = build(other, "float32")
        step_n = sp.compiled_step(trainer_n, sp.step_batch(data.x_train, data.y_train, batch_size))
        cost_n = step_n.cost()
        record.add("XLA cost analysis: bytes accessed", cost_n["bytes accessed"], "bytes",
                   batch_size=batch_size)
        record.add("XLA cost analysis: flops", cost_n["flops"], "FLOP", batch_size=batch_size)
        times_n, _ = step_n.run(args.repeats)
        record.add("jitted step wall (median)", float(np.median(times_n)), "s",
                   batch_size=batch_size, runs=len(times_n))
    if args.fit_steps:
        fit_batch = sp.step_batch(data.x_train, data.y_train, config.batch_size)
        per_step = sp.fit_step_seconds(build(config, "float32")[1], fit_batch, args.fit_steps, 1)
        record.add("fit wall per step", float(np.median(per_step)), "s",
                   batch_size=config.batch_size, runs=args.fit_steps,
                   note="steps_per_execution = the epoch, as train(); no validation")


def profile_gpu_target(args, data, record: Recorder, out: Path) -> None:
    """Every variant's training step compiled for ``args.gpu_target`` by XLA's GPU compiler on
    this machine: bytes by phase (``phases.csv``), compile seconds and kernel counts."""
    config = TrainConfig()
    batch = sp.step_batch(data.x_train, data.y_train, config.batch_size)
    note = f"compiled for the {args.gpu_target} on this machine, nothing run"
    phases = []
    for policy, impl in [("float32", "keras"), *variants(args)]:
        variant = variant_name(policy, impl)
        step = sp.compiled_step(build(config, policy, impl)[1], batch, target=args.gpu_target)
        ops = sp.hlo_op_table(step.hlo_text())
        if args.keep_ops:
            ops.to_csv(out / f"ops_{variant.replace(', ', '_')}.csv.gz", index=False)
        record.add("lower (trace to HLO)", step.lower_seconds, "s", variant, config.batch_size)
        record.add("XLA compile, without autotuning", step.compile_seconds, "s", variant,
                   config.batch_size, note=note)
        record.add("bytes of the step's operations", float(ops.bytes.sum()), "bytes", variant,
                   config.batch_size, note="step_profile.hlo_op_table")
        for kind, opcodes in (("fusions", {"fusion"}), ("custom calls (cuDNN, cuBLAS)",
                                                        {"custom-call"})):
            record.add(f"kernels: {kind}", int(ops.opcode.isin(opcodes).sum()), "count",
                       variant, config.batch_size)
        phases.append(sp.phase_table(ops).assign(variant=variant))
    pd.concat(phases, ignore_index=True).to_csv(out / "phases.csv", index=False)


def compare_trained(args, data, record: Recorder) -> None:
    """Predictions of a trained model (``--trained``) in each variant against float32's."""
    trained = keras.saving.load_model(args.trained)
    images, labels = data.x_test[:args.predict_images], data.y_test[:args.predict_images]
    reference = trained.predict(images, batch_size=250, verbose=0)
    note = f"{len(images)} test images, trained weights ({Path(args.trained).name})"
    record.add("inference: test accuracy", float(np.mean(reference.argmax(1) == labels)),
               "share", note=note)
    for policy, impl in variants(args):
        probabilities = with_separable_impl(with_dtype_policy(trained, policy), impl).predict(
            images, batch_size=250, verbose=0)
        variant = variant_name(policy, impl)
        record.add("inference: test accuracy", float(np.mean(probabilities.argmax(1) == labels)),
                   "share", variant, note=note)
        record.add("inference: max |probability - float32's|",
                   float(np.abs(probabilities - reference).max()), "", variant, note=note)
        record.add("inference: same class as float32", float(np.mean(
            probabilities.argmax(1) == reference.argmax(1))), "share", variant, note=note)


def profile_fit(args, data, record: Recorder) -> None:
    for batch_size, impl in [(b, i) for b in args.batch_sizes for i in args.separable_impls]:
        config = TrainConfig(batch_size=batch_size)
        _, trainer = build(config, "float32", impl)
        batch = sp.step_batch(data.x_train, data.y_train, batch_size)
        per_step = sp.fit_step_seconds(trainer, batch, args.fit_steps, args.fit_epochs)
        record.add("fit wall per step", float(np.median(per_step)), "s",
                   variant_name("float32", impl), batch_size=batch_size,
                   runs=len(per_step) * args.fit_steps,
                   note=f"median of {len(per_step)} epochs of {args.fit_steps} steps; "
                        "steps_per_execution = the epoch, as train(); no validation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[125, 250, 500])
    parser.add_argument("--policies", nargs="+", default=[
        "float32", "mixed_bfloat16", "mixed_bfloat16_outside_convs"],
        choices=["float32", "mixed_bfloat16", "mixed_bfloat16_outside_convs"])
    parser.add_argument("--separable-impls", nargs="+", default=list(SEPARABLE_IMPLEMENTATIONS),
                        choices=list(SEPARABLE_IMPLEMENTATIONS),
                        help="keras: SeparableConv2D; shifted: ShiftedSeparableConv2D")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of a jitted step")
    parser.add_argument("--trace-repeats", type=int, default=1)
    parser.add_argument("--fit-steps", type=int, default=2,
                        help="steps per timed fit epoch (0: no fit timing on JAX)")
    parser.add_argument("--fit-epochs", type=int, default=2, help="timed fit epochs (not JAX)")
    parser.add_argument("--predict-images", type=int, default=500)
    parser.add_argument("--keep-ops", action="store_true",
                        help="also write the operation tables (ops_*.csv.gz)")
    parser.add_argument("--gpu-target", choices=list(GPU_TARGETS),
                        help="compile every variant's step for this card without one (XLA's "
                             "GPU compiler; needs .venv-gpu-compiler and JAX_PLATFORMS=cpu)")
    parser.add_argument("--trained", type=Path,
                        help="a saved separable_net (.keras) to compare predictions on under "
                             "each policy, e.g. results/model.keras")
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.repeats < 1 or args.trace_repeats < 1:
        parser.error("batch sizes, --repeats and --trace-repeats must be positive")
    backend = keras.backend.backend()
    if args.gpu_target:
        if backend != "jax":
            parser.error(f"--gpu-target compiles with JAX: set KERAS_BACKEND=jax (it is "
                         f"{backend!r})")
        try:
            target_sharding(args.gpu_target)  # refused here, before any work, saying why
        except RuntimeError as error:
            parser.error(str(error))
    data = load_cifar10(args.data, subset=args.subset)
    args.out.mkdir(parents=True, exist_ok=True)
    record = Recorder(f"jax, for the {args.gpu_target}" if args.gpu_target else backend)
    versions = {"keras": keras.__version__, "numpy": np.__version__}
    if backend == "jax":
        import jax
        device = jax.devices()[0]
        versions.update(jax=jax.__version__, device=str(device), kind=device.device_kind,
                        **{name: getattr(device, name) for name in (
                            "core_count", "compute_capability") if hasattr(device, name)})
    elif backend == "tensorflow":
        import tensorflow as tf
        versions.update(tensorflow=tf.__version__)
    record.add("cpu cores", os.cpu_count(), "count",
               note=f"{platform.processor() or platform.machine()}; {versions}")
    if args.gpu_target:
        profile_gpu_target(args, data, record, args.out)
    elif backend == "jax":
        profile_jax(args, data, record, args.out)
    else:
        profile_fit(args, data, record)
    table = pd.DataFrame(record.rows, columns=STEPS_COLUMNS)
    path = args.out / "steps.csv"
    if path.exists():
        kept = pd.read_csv(path)
        table = pd.concat([kept[kept.backend != record.backend], table], ignore_index=True)
    table.to_csv(path, index=False)
    print(f"wrote {path}" + (f" and {args.out / 'phases.csv'}" if backend == "jax" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
