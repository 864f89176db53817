"""Where one training step of ``train()`` spends its bytes, FLOPs and time, phase by phase.

XLA compiles the whole step (augmentation, forward, backward, optimizer update) into one HLO
module. :func:`hlo_op_table` reads the optimized module's text (``compiled.as_text()``) and gives
one row per operation that runs, with the bytes it reads and writes and its FLOPs, counted like
XLA's own cost analysis (an operation's operands plus its output); :func:`phase_table` sums them
into phases: depthwise and pointwise convolution (told apart by the Keras function that emitted
them), BatchNorm, ReLU and residual adds, pooling and dropout, augmentation, loss and metrics,
optimizer update, dtype casts, and the rest; forward and backward apart. Pure text: no JAX.

:func:`compiled_step` builds the step itself, on JAX, exactly as Keras's ``fit`` jits it
(``trainer.train_step`` with the state donated), for a trainer composed and compiled as
``training.train`` does it (:func:`~assignment_utils.training.build_trainer`), here or, with
``target``, for a GPU that need not be here (:mod:`~assignment_utils.gpu_target`);
:func:`trace_seconds` times its operations with ``jax.profiler``, and the ``*_seconds`` helpers
time the host's share (the call, the batch iterator, the checkpoint) and ``fit`` on any
backend.

>>> table = hlo_op_table(open("step.hlo").read())        # doctest: +SKIP
>>> phase_table(table)                                   # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from assignment_utils.gpu_target import abstract_like, target_sharding


# Bytes per element of XLA's element types (sub-byte types rounded up: XLA packs them, but
# nothing in a training step of these models uses them).
DTYPE_BYTES = {"pred": 1, "s8": 1, "u8": 1, "s4": 1, "u4": 1, "s16": 2, "u16": 2, "f16": 2,
               "bf16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8, "c64": 8,
               "c128": 16, "token": 0, "f8e4m3fn": 1, "f8e5m2": 1}
# Operations that move no data of their own (XLA's cost analysis counts no bytes for them).
FREE_OPCODES = {"parameter", "constant", "get-tuple-element", "bitcast", "tuple",
                "after-all", "partition-id", "replica-id"}
# Elementwise and reduction operations: one FLOP per output element (reductions: per input
# element), as XLA's cost analysis counts them.
ARITHMETIC_OPCODES = {
    "add", "subtract", "multiply", "divide", "maximum", "minimum", "compare", "select", "negate",
    "abs", "exponential", "log", "tanh", "sqrt", "rsqrt", "power", "and", "or", "xor", "not",
    "floor", "ceil", "round-nearest-afz", "round-nearest-even", "sign", "clamp", "remainder",
    "shift-left", "shift-right-arithmetic", "shift-right-logical", "logistic", "exponential-minus-one",
    "log-plus-one", "atan2", "cosine", "sine", "is-finite", "popcnt"}
PHASES = ("depthwise conv", "pointwise conv", "batchnorm", "relu and add", "pooling and dropout",
          "augmentation", "loss and metrics", "optimizer update", "dtype casts", "other")
PASSES = ("forward", "backward", "update", "other")
# Name-scope pieces (Keras layer names, Keras functions) that decide a phase, in order; the
# convolutions are told apart first, by the function of Keras's JAX backend that emitted them.
_SCOPE_PHASES = (
    # ShiftedSeparableConv2D's two halves (keras.ops, no convolution), by their name scopes.
    ("/depthwise_conv/", "depthwise conv"), ("/pointwise_conv/", "pointwise conv"),
    ("cifar_augment", "augmentation"),
    ("_bn/", "batchnorm"), ("_relu/", "relu and add"), ("_add", "relu and add"),
    ("_pool", "pooling and dropout"), ("/pool/", "pooling and dropout"),
    ("_dropout", "pooling and dropout"),
    ("compile_loss", "loss and metrics"), ("crossentropy", "loss and metrics"),
    ("accuracy", "loss and metrics"), ("/mean/", "loss and metrics"),
    # Casts between layers of different dtype policies (mixed precision).
    ("convert_element_type", "dtype casts"))
# The optimizer's name scope: Keras names a second SGD of a process "sgd_1".
_OPTIMIZER_SCOPE = re.compile(r"/(sgd|adam|adamw)(_\d+)?(/|$)")

_SHAPE = re.compile(r"\b([a-z]+[0-9]*[a-z0-9]*)\[([0-9,]*)\]")
_INSTRUCTION = re.compile(r"^\s*(ROOT\s+)?%(?P<name>[^\s=]+)\s*=\s*(?P<rest>.*)$")
_COMPUTATION = re.compile(r"^(ENTRY\s+)?%(?P<name>[^\s(]+)\s*\(.*\{\s*$")


def shape_elements(shape: str) -> list[tuple[str, int]]:
    """``(element type, element count)`` of every array in an HLO shape: ``f32[2,3]{1,0}`` is
    ``[("f32", 6)]``, a tuple ``(f32[2], s32[])`` is ``[("f32", 2), ("s32", 1)]``. Layouts and
    tilings (``{1,0:T(8,128)}``) are ignored. An unknown element type is a ``ValueError``."""
    arrays = []
    for dtype, dims in _SHAPE.findall(shape):
        if dtype not in DTYPE_BYTES:
            raise ValueError(f"unknown XLA element type {dtype!r} in shape {shape!r}")
        arrays.append((dtype, int(np.prod([int(d) for d in dims.split(",") if d] or [1]))))
    return arrays


def shape_bytes(shape: str) -> int:
    """Bytes of all arrays of an HLO shape (``f32[250,32,32,48]{3,2,1,0}`` is 49,152,000)."""
    return sum(DTYPE_BYTES[dtype] * count for dtype, count in shape_elements(shape))


def _closing(text: str, start: int) -> int:
    """Index just past the bracket that closes the one at ``text[start]`` (``(``, ``{``, ``[``)."""
    pairs, depth, quoted = {"(": ")", "{": "}", "[": "]"}, 0, False
    opening = text[start]
    for i in range(start, len(text)):
        c = text[i]
        if c == '"':
            quoted = not quoted
        elif not quoted and c == opening:
            depth += 1
        elif not quoted and c == pairs[opening]:
            depth -= 1
            if depth == 0:
                return i + 1
    raise ValueError(f"unbalanced {opening!r} in HLO line {text[:120]!r}")


@dataclass(frozen=True)
class HloInstruction:
    """One instruction of an HLO computation, as its text line gives it."""

    name: str
    shape: str
    opcode: str
    operands: tuple[str, ...]
    attributes: str

    def attribute(self, key: str) -> str | None:
        """The value of ``key=value`` among the attributes (``calls``, ``window``, ...)."""
        match = re.search(rf"(?:^|[\s,]){re.escape(key)}=(\{{[^}}]*\}}|\"[^\"]*\"|[^\s,]+)",
                          self.attributes)
        return match.group(1) if match else None

    @property
    def op_name(self) -> str:
        match = re.search(r'op_name="([^"]*)"', self.attributes)
        return match.group(1) if match else ""

    @property
    def stack_frame(self) -> int | None:
        match = re.search(r"stack_frame_id=(\d+)", self.attributes)
        return int(match.group(1)) if match else None

    @property
    def called(self) -> list[str]:
        """Computations this instruction runs (fusion bodies, branches, loop bodies)."""
        names = []
        for key in ("calls", "to_apply", "body", "condition", "branch_computations",
                    "true_computation", "false_computation"):
            value = self.attribute(key)
            if value:
                names += re.findall(r"%?([^\s{},%]+)", value)
        return names


def parse_instruction(line: str) -> HloInstruction | None:
    """The instruction on one line of HLO text, None for any other line."""
    match = _INSTRUCTION.match(line)
    if not match:
        return None
    rest = match.group("rest").strip()
    end = _closing(rest, 0) if rest.startswith("(") else rest.index(" ")
    shape, rest = rest[:end], rest[end:].strip()
    opcode_match = re.match(r"([a-z][a-z0-9\-]*)\(", rest)
    if not opcode_match:
        raise ValueError(f"no opcode in HLO line {line[:160]!r}")
    opcode = opcode_match.group(1)
    close = _closing(rest, len(opcode))
    operands = tuple(re.findall(r"%([^\s,()]+)", rest[len(opcode) + 1:close - 1]))
    return HloInstruction(match.group("name"), shape, opcode, operands,
                          rest[close:].lstrip(", "))


@dataclass
class HloModuleText:
    """An HLO module's computations (instructions in order), its entry's name, and the innermost
    function of every stack frame (from the module's ``StackFrames`` tables)."""

    computations: dict[str, list[HloInstruction]] = field(default_factory=dict)
    entry: str = ""
    frame_functions: dict[int, str] = field(default_factory=dict)


def parse_hlo_module(text: str) -> HloModuleText:
    """Parse the text XLA prints for a compiled module (``jax.jit(f).lower(...).compile()
    .as_text()``). Text without an ``ENTRY`` computation is a ``ValueError``."""
    module, current = HloModuleText(), None
    for line in text.splitlines():
        header = _COMPUTATION.match(line)
        if header:
            current = header.group("name")
            module.computations[current] = []
            if header.group(1):
                module.entry = current
        elif line.startswith("}"):
            current = None
        elif current is not None:
            instruction = parse_instruction(line)
            if instruction is not None:
                module.computations[current].append(instruction)
    if not module.entry:
        raise ValueError("no ENTRY computation in this text: pass the text of a whole HLO "
                         "module, e.g. jax.jit(f).lower(...).compile().as_text()")
    module.frame_functions = _frame_functions(text)
    return module


def _table(text: str, title: str) -> str:
    match = re.search(rf"^{title}\n(.*?)(?:\n\n|\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


def _frame_functions(text: str) -> dict[int, str]:
    """Stack frame id -> the name of the function of its innermost location."""
    functions = dict(re.findall(r'^(\d+) "(.*)"$', _table(text, "FunctionNames"), re.M))
    locations = dict(re.findall(r"^(\d+) \{file_name_id=\d+ function_name_id=(\d+)",
                                _table(text, "FileLocations"), re.M))
    frames = re.findall(r"^(\d+) \{file_location_id=(\d+)", _table(text, "StackFrames"), re.M)
    return {int(frame): functions.get(locations.get(location, ""), "")
            for frame, location in frames}


def _dims(shape: str) -> list[int]:
    match = _SHAPE.search(shape)
    return [int(d) for d in match.group(2).split(",") if d] if match else []


def convolution_flops(instruction: HloInstruction, operand_shapes: list[str]) -> int:
    """FLOPs of a ``convolution``: 2 x output elements x (window taps x kernel input features),
    every tap counted, padding included (XLA's cost analysis leaves out taps in the padding)."""
    window = instruction.attribute("window") or ""
    size = re.search(r"size=([0-9x]+)", window)
    taps = int(np.prod([int(s) for s in size.group(1).split("x")])) if size else 1
    labels = instruction.attribute("dim_labels") or ""
    kernel_labels = labels.split("_")[1].split("->")[0] if "_" in labels else ""
    kernel = _dims(operand_shapes[1]) if len(operand_shapes) > 1 else []
    inputs = kernel[kernel_labels.index("i")] if "i" in kernel_labels and kernel else 1
    outputs = int(np.prod(_dims(instruction.shape) or [1]))
    return 2 * outputs * taps * inputs


def dot_flops(instruction: HloInstruction, operand_shapes: list[str]) -> int:
    """FLOPs of a ``dot``: 2 x output elements x the contracted size."""
    contracting = instruction.attribute("lhs_contracting_dims") or "{}"
    lhs = _dims(operand_shapes[0]) if operand_shapes else []
    contracted = int(np.prod([lhs[int(d)] for d in re.findall(r"\d+", contracting)] or [1]))
    return 2 * int(np.prod(_dims(instruction.shape) or [1])) * contracted


def _instruction_cost(module: HloModuleText, instruction: HloInstruction,
                      shapes: dict[str, str]) -> tuple[int, int, list[HloInstruction]]:
    """``(FLOPs, convolution and dot FLOPs, the convolutions and dots)`` of running
    ``instruction`` once, the computations it calls included (a reduction's own computation
    is its per-element operation, counted with the reduction)."""
    operand_shapes = [shapes.get(o, "") for o in instruction.operands]
    flops = matmul = 0
    kernels: list[HloInstruction] = []
    if instruction.opcode in ("convolution", "dot"):
        cost = (convolution_flops if instruction.opcode == "convolution" else dot_flops)(
            instruction, operand_shapes)
        flops, matmul, kernels = cost, cost, [instruction]
    elif instruction.opcode in ARITHMETIC_OPCODES:
        flops = sum(count for _, count in shape_elements(instruction.shape))
    elif instruction.opcode in ("reduce", "reduce-window"):
        inputs = operand_shapes[:max(len(operand_shapes) // 2, 1)]
        flops = sum(count for s in inputs for _, count in shape_elements(s))
    if instruction.opcode in ("reduce", "reduce-window", "select-and-scatter", "scatter", "sort",
                              "map"):
        return flops, matmul, kernels
    for called in instruction.called:
        body = module.computations.get(called, [])
        body_shapes = {i.name: i.shape for i in body}
        for inner in body:
            sub_flops, sub_matmul, sub_kernels = _instruction_cost(module, inner, body_shapes)
            flops, matmul, kernels = flops + sub_flops, matmul + sub_matmul, kernels + sub_kernels
    return flops, matmul, kernels


def classify(op_name: str, function: str, has_convolution: bool) -> tuple[str, str]:
    """``(phase, pass)`` of an operation from its name scope (``op_name``: Keras layer names under
    ``jvp(...)`` for the forward pass, ``transpose(jvp(...))`` for the backward pass) and the
    innermost function that emitted it (``depthwise_conv`` and ``conv`` of Keras's JAX backend
    make a separable convolution's two halves; ``ShiftedSeparableConv2D`` names them as scopes,
    ``depthwise_conv`` and ``pointwise_conv``)."""
    if "transpose(" in op_name:
        direction = "backward"
    elif "jvp(" in op_name:
        direction = "forward"
    elif _OPTIMIZER_SCOPE.search(op_name):
        return "optimizer update", "update"
    else:
        direction = "other"
    if function == "depthwise_conv":
        return "depthwise conv", direction
    if function == "conv" and (has_convolution or "_sepconv/" in op_name
                               or "classifier/" in op_name):
        return "pointwise conv", direction
    for piece, phase in _SCOPE_PHASES:
        if piece in op_name:
            return phase, direction
    return "other", direction


def layer_of(op_name: str) -> str:
    """The Keras layer in a name scope: ``jit(train_step)/jvp(separable_net)/stem_bn/add`` is
    ``stem_bn``; "" where there is none."""
    match = re.search(r"jvp\([^)]*\)\)?/([^/]+)", op_name)
    return match.group(1) if match else ""


def _inner(module: HloModuleText, instruction: HloInstruction) -> list[HloInstruction]:
    """Every instruction of the computations ``instruction`` calls, nested ones included."""
    found = []
    for called in instruction.called:
        for inner in module.computations.get(called, []):
            found += [inner, *_inner(module, inner)]
    return found


def _named_phase(module: HloModuleText, instruction: HloInstruction,
                 kernels: list[HloInstruction]) -> tuple[str, str] | None:
    """``(phase, pass)`` from the name scopes XLA kept: the first convolution's or dot's inside,
    else the instruction's own, else the most common among the instructions it fuses (ties to
    the first met); None when it has none. A convolution that XLA made without a name scope
    (it rewrites a grouped convolution's filter gradient as a dense one) is classed by its
    shape: a window larger than its output is a filter gradient, of a depthwise kernel where the
    output is k x k (k > 1; in a separable network only depthwise kernels are), else pointwise."""
    for kernel in kernels:
        if kernel.op_name:
            return classify(kernel.op_name, module.frame_functions.get(kernel.stack_frame, ""),
                            True)
    for kernel in kernels:
        if kernel.opcode == "convolution":
            output = _dims(kernel.shape)
            window = re.search(r"size=([0-9x]+)", kernel.attribute("window") or "")
            taps = [int(t) for t in window.group(1).split("x")] if window else []
            labels = (kernel.attribute("dim_labels") or "->").split("->")[-1]
            spatial = [output[i] for i, c in enumerate(labels) if c.isdigit() and i < len(output)]
            if taps and spatial and max(taps) > max(spatial):
                return ("depthwise conv" if max(spatial) > 1 else "pointwise conv"), "backward"
    if instruction.op_name and not instruction.op_name.startswith("state["):
        function = module.frame_functions.get(instruction.stack_frame, "")
        return classify(instruction.op_name, function, bool(kernels))
    votes: dict[tuple[str, str], int] = {}
    for inner in _inner(module, instruction):
        if inner.op_name and not inner.op_name.startswith("state["):
            key = classify(inner.op_name, module.frame_functions.get(inner.stack_frame, ""), False)
            votes[key] = votes.get(key, 0) + 1
    return max(votes, key=votes.get) if votes else None


def hlo_op_table(text: str) -> pd.DataFrame:
    """One row per operation of the entry computation that moves data: ``name``, ``opcode``,
    ``phase`` (one of ``PHASES``), ``pass`` (``PASSES``), ``attributed`` (how: ``"name"`` from
    the name scopes XLA kept, see :func:`classify`; ``"users"``/``"operands"`` from the
    operations that use its result or make its operands, all agreeing; ``"none"``), ``layer``,
    ``bytes`` (operands read plus output written, as XLA's cost analysis counts an operation
    outside a fusion), ``output_bytes``, ``flops`` (``matmul_flops`` of them in convolutions and
    dots; elementwise operations one per element), ``kernels`` (the convolutions and dots inside,
    as text) and ``op_name``."""
    module = parse_hlo_module(text)
    entry = module.computations[module.entry]
    shapes = {i.name: i.shape for i in entry}
    by_name = {i.name: i for i in entry}
    rows, phases = [], {}
    for instruction in entry:
        if instruction.opcode in FREE_OPCODES:
            continue
        flops, matmul, kernels = _instruction_cost(module, instruction, shapes)
        phases[instruction.name] = _named_phase(module, instruction, kernels)
        output = shape_bytes(instruction.shape)
        rows.append({
            "name": instruction.name, "opcode": instruction.opcode,
            "layer": layer_of(instruction.op_name or next(
                (k.op_name for k in kernels if k.op_name), "")),
            "bytes": output + sum(shape_bytes(shapes.get(o, "")) for o in instruction.operands),
            "output_bytes": output, "flops": flops, "matmul_flops": matmul,
            "kernels": "; ".join(f"{k.opcode} {k.shape.split('{')[0]} "
                                 f"{k.attribute('window') or ''} groups="
                                 f"{k.attribute('feature_group_count') or 1}".strip()
                                 for k in kernels),
            "op_name": instruction.op_name})
    how = {name: "name" for name, phase in phases.items() if phase is not None}
    _propagate(entry, by_name, phases, how)
    table = pd.DataFrame(rows, columns=["name", "opcode", "layer", "bytes", "output_bytes",
                                        "flops", "matmul_flops", "kernels", "op_name"])
    found = [phases.get(name) or ("other", "other") for name in table["name"]]
    table.insert(2, "phase", [phase for phase, _ in found])
    table.insert(3, "pass", [direction for _, direction in found])
    table.insert(4, "attributed", [how.get(name, "none") for name in table["name"]])
    return table


def _propagate(entry: list[HloInstruction], by_name: dict[str, HloInstruction],
               phases: dict[str, tuple[str, str] | None], how: dict[str, str]) -> None:
    """Give each operation without a phase the phase of the operations that use its result, where
    they all agree, else of those that make its operands, where they all agree; through
    tuples, bitcasts and tuple elements, until nothing changes."""
    users: dict[str, list[str]] = {}
    for instruction in entry:
        for operand in instruction.operands:
            users.setdefault(operand, []).append(instruction.name)

    def reach(names: list[str], step) -> set:
        found, seen, todo = set(), set(), list(names)
        while todo:
            name = todo.pop()
            if name in seen or name not in by_name:
                continue
            seen.add(name)
            if by_name[name].opcode in FREE_OPCODES:
                todo += step(name)
            else:
                found.add(phases.get(name))
        return found

    changed = True
    while changed:
        changed = False
        for name, phase in phases.items():
            if phase is not None:
                continue
            for source, names in (("users", users.get(name, [])),
                                  ("operands", list(by_name[name].operands))):
                step = (lambda n: users.get(n, [])) if source == "users" else (
                    lambda n: list(by_name[n].operands))
                found = reach(names, step)
                if len(found) == 1 and None not in found:
                    phases[name], how[name], changed = found.pop(), source, True
                    break


def phase_table(ops: pd.DataFrame, seconds: pd.Series | None = None) -> pd.DataFrame:
    """``ops`` (:func:`hlo_op_table`) summed by phase and pass: operations, bytes, FLOPs, shares
    of the step's bytes and FLOPs; with ``seconds`` (time per operation name, e.g. from
    :func:`trace_seconds`) also the time and its share. Phases in ``PHASES`` order, a total last."""
    table = ops.copy()
    if seconds is not None:
        table["seconds"] = table["name"].map(seconds).fillna(0.0)
    columns = ["bytes", "flops", "matmul_flops"] + (["seconds"] if seconds is not None else [])
    grouped = table.groupby(["phase", "pass"], sort=False)[columns].sum()
    grouped.insert(0, "operations", table.groupby(["phase", "pass"], sort=False).size())
    grouped = grouped.reset_index()
    order = {p: i for i, p in enumerate(PHASES)}
    grouped = grouped.sort_values(["phase", "pass"], key=lambda s: s.map(
        order if s.name == "phase" else {p: i for i, p in enumerate(PASSES)})).reset_index(drop=True)
    total = {"phase": "total", "pass": "", "operations": len(table),
             **{c: table[c].sum() for c in columns}}
    grouped = pd.concat([grouped, pd.DataFrame([total])], ignore_index=True)
    for column in columns:
        grouped[f"{column}_share"] = grouped[column] / total[column] if total[column] else 0.0
    return grouped


def step_batch(images: np.ndarray, labels: np.ndarray, batch_size: int,
               num_classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The first ``batch_size`` images (uint8) and one-hot float32 labels, as ``fit`` hands a
    step of ``train``; the arrays are repeated when they hold fewer images."""
    if batch_size < 1 or len(images) == 0 or len(images) != len(labels):
        raise ValueError(f"need batch_size >= 1 and as many labels as images, got batch_size="
                         f"{batch_size}, {len(images)} images, {len(labels)} labels")
    index = np.arange(batch_size) % len(images)
    one_hot = np.eye(num_classes, dtype="float32")[np.asarray(labels).reshape(-1)[index]]
    return np.asarray(images)[index], one_hot


def _require_jax() -> None:
    if keras.backend.backend() != "jax":
        raise RuntimeError(f"the compiled step is profiled on JAX; this process runs Keras on "
                           f"{keras.backend.backend()!r}: set KERAS_BACKEND=jax before Python starts")


def trainer_state(trainer: keras.Model, batch: tuple[np.ndarray, np.ndarray],
                  step: str = "train") -> tuple:
    """The state Keras's JAX ``fit`` passes to ``train_step`` (trainable, non-trainable,
    optimizer and metrics variables; ``step="test"``: ``evaluate``'s ``test_step``, without the
    optimizer's), after building everything ``fit`` builds."""
    _require_jax()
    if step not in ("train", "test"):
        raise ValueError(f"step must be 'train' or 'test', got {step!r}")
    trainer._symbolic_build(data_batch=batch)
    if not trainer.optimizer.built:
        trainer.optimizer.build(trainer.trainable_variables)
    groups = [trainer.trainable_variables, trainer.non_trainable_variables,
              *([trainer.optimizer.variables] if step == "train" else []),
              trainer.metrics_variables]
    return tuple([v.value for v in variables] for variables in groups)


@dataclass
class CompiledStep:
    """One step compiled by XLA, with what it took: ``lower_seconds`` (tracing the Python into
    HLO) and ``compile_seconds`` (XLA's optimization and code generation). ``target`` names the
    card it was compiled for without one (``gpu_target``), None where it runs here."""

    compiled: object
    state: tuple
    batch: tuple
    lower_seconds: float
    compile_seconds: float
    target: str | None = None

    def cost(self) -> dict[str, float]:
        """XLA's cost analysis of the whole step: ``flops``, ``bytes accessed``, ...; empty
        where XLA gives none (a step compiled for a card that is not here)."""
        analysis = self.compiled.cost_analysis()
        if isinstance(analysis, (list, tuple)):
            analysis = analysis[0] if analysis else None
        return dict(analysis or {})

    def hlo_text(self) -> str:
        return self.compiled.as_text()

    def run(self, repeats: int, state: tuple | None = None) -> tuple[list[float], tuple]:
        """Wall seconds of ``repeats`` executions, each on the state the one before returned
        (as ``fit`` chains them; the first on ``state``, else on the state the last call left),
        the batch already on the device, each waited for; and the last ``(logs, state)``."""
        import jax

        if self.target is not None:
            raise RuntimeError(f"this step was compiled for the {self.target} without one "
                               f"(gpu_target): it cannot run here; compile it without a target "
                               f"to run it")
        state, batch = state if state is not None else self.state, jax.device_put(self.batch)
        times, logs = [], None
        for _ in range(repeats):
            state = jax.tree_util.tree_map(lambda a: a.copy(), state)  # donated: keep the input
            start = time.perf_counter()
            logs, state = self.compiled(state, batch)
            jax.block_until_ready((logs, state))
            times.append(time.perf_counter() - start)
        self.state = state
        return times, (logs, state)


def compiled_step(trainer: keras.Model, batch: tuple[np.ndarray, np.ndarray],
                  step: str = "train", state: tuple | None = None, target: str | None = None
                  ) -> CompiledStep:
    """``trainer.train_step`` (or ``test_step``) jitted as Keras's JAX ``fit`` (``evaluate``)
    jits it, the state donated, lowered and compiled for ``batch`` and ``state`` (by default a
    copy of the trainer's own, :func:`trainer_state`: the trainer keeps its weights). With
    ``target`` (a key of ``gpu_target.GPU_TARGETS``), compiled by XLA's GPU compiler for that
    card, which need not be here (:mod:`~assignment_utils.gpu_target`): the HLO is the card's,
    and the step cannot run."""
    _require_jax()
    import jax
    import jax.numpy as jnp

    own = trainer_state(trainer, batch, step)  # builds what fit builds, whatever the state
    state = jax.tree_util.tree_map(jnp.array, own if state is None else state)
    arguments = (state, batch) if target is None else abstract_like(
        (state, batch), target_sharding(target))
    function = trainer.train_step if step == "train" else trainer.test_step
    start = time.perf_counter()
    lowered = jax.jit(function, donate_argnums=0).lower(*arguments)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    return CompiledStep(compiled, state, batch, lowered_at - start,
                        time.perf_counter() - lowered_at, target)


def dispatch_seconds(step: CompiledStep, repeats: int = 50) -> float:
    """Median wall seconds of calling a jitted function that takes and returns the same state
    and batch as ``step`` but computes nothing: the host's cost of one step's call (flattening
    the state, dispatching, donating), without its work."""
    import jax

    identity = jax.jit(lambda state, batch: state, donate_argnums=0)
    state, batch = jax.tree_util.tree_map(lambda a: a.copy(), step.state), jax.device_put(step.batch)
    state = jax.block_until_ready(identity(state, batch))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state = identity(state, batch)
        times.append(time.perf_counter() - start)
    jax.block_until_ready(state)
    return float(np.median(times))


def trace_seconds(step: CompiledStep, repeats: int, directory: str | os.PathLike
                  ) -> tuple[pd.Series, float]:
    """Seconds per operation (:func:`event_seconds` of a ``jax.profiler`` trace of ``repeats``
    executions, divided by ``repeats``), keyed by HLO instruction name, and the median wall
    seconds of an execution while traced. Operations that run in parallel threads overlap in the wall time."""
    import jax

    with jax.profiler.trace(str(directory), create_perfetto_trace=True):
        times, _ = step.run(repeats)
    wall = float(np.median(times))
    traces = sorted(Path(directory).rglob("perfetto_trace.json.gz"), key=os.path.getmtime)
    if not traces:
        raise RuntimeError(f"jax.profiler wrote no perfetto_trace.json.gz under {directory}")
    with gzip.open(traces[-1]) as f:
        events = json.load(f)
    events = events["traceEvents"] if isinstance(events, dict) else events
    return event_seconds(events) / repeats, wall


def event_seconds(events: list[dict]) -> pd.Series:
    """Seconds of the complete (``"ph": "X"``) events of a Chrome/Perfetto trace, summed by the
    HLO instruction each ran (its ``args["hlo_op"]``, else its name). When the trace has a GPU
    (a ``process_name`` starting ``/device:GPU``), only that GPU's events count: its kernels are
    named by CUDA, not by HLO, and the host's launches of them carry the same ``hlo_op``."""
    gpus = {event.get("pid") for event in events
            if event.get("ph") == "M" and event.get("name") == "process_name"
            and str((event.get("args") or {}).get("name", "")).startswith("/device:GPU")}
    durations: dict[str, float] = {}
    for event in events:
        if event.get("ph") != "X" or "dur" not in event or (gpus and event.get("pid") not in gpus):
            continue
        name = (event.get("args") or {}).get("hlo_op", event["name"])
        durations[name] = durations.get(name, 0.0) + event["dur"] * 1e-6
    return pd.Series(durations, dtype="float64")


def fit_step_seconds(trainer: keras.Model, batch: tuple[np.ndarray, np.ndarray], steps: int,
                     epochs: int = 2) -> list[float]:
    """Wall seconds per step of ``trainer.fit`` over ``steps`` batches (``batch`` repeated), no
    validation, for each of ``epochs`` epochs after a first one that compiles: the host loop,
    data iterator and callbacks of ``fit`` included, as ``train`` runs it on any backend."""
    images, labels = (np.concatenate([a] * steps) for a in batch)
    timer = _EpochTimer()
    trainer.fit(images, labels, batch_size=len(batch[0]), epochs=epochs + 1, verbose=0,
                shuffle=True, callbacks=[timer])
    return [seconds / steps for seconds in timer.seconds[1:]]


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def activation_bytes(model: keras.Model, bytes_per_value: int = 4) -> int:
    """Bytes of all layer outputs of ``model`` for one image (input layers aside)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        for output in keras.tree.flatten(layer.output):
            total += int(np.prod(output.shape[1:])) * bytes_per_value
    return total


def iterator_seconds(batch: tuple[np.ndarray, np.ndarray], steps: int) -> float:
    """Median wall seconds per batch of the iterator Keras's JAX ``fit`` draws batches from
    (shuffled slices of host arrays, handed to JAX) over ``steps`` batches of ``batch``'s size."""
    _require_jax()
    import jax
    from keras.src.backend.jax.trainer import JAXEpochIterator

    images, labels = (np.concatenate([a] * steps) for a in batch)
    iterator = JAXEpochIterator(x=images, y=labels, batch_size=len(batch[0]), shuffle=True,
                                steps_per_execution=steps)
    times = []
    for _, _, batches in iterator:
        while True:
            start = time.perf_counter()
            try:
                data = next(batches)
            except StopIteration:
                break
            jax.block_until_ready(data)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def checkpoint_seconds(trainer: keras.Model, directory: str | os.PathLike, repeats: int = 3
                       ) -> float:
    """Median wall seconds of ``trainer.save_weights`` (weights and optimizer state), the work
    ``training.EpochCheckpoint`` does when it saves."""
    path = Path(directory) / "profile.weights.h5"
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        trainer.save_weights(path, overwrite=True)
        times.append(time.perf_counter() - start)
    path.unlink()
    return float(np.median(times))
