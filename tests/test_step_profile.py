"""The step profiler's reading of XLA's HLO text: shapes, instructions, bytes, FLOPs, phases."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assignment_utils.step_profile import (
    DTYPE_BYTES, classify, event_seconds, hlo_op_table, layer_of, parse_hlo_module,
    parse_instruction, phase_table, shape_bytes, step_batch)

# A training step cut down by hand to one of each kind of operation XLA's CPU compiler emits for
# a separable convolution and its BatchNorm: a depthwise convolution inside a fusion (its stack
# frame names Keras's depthwise_conv), a pointwise one outside (frame: conv), a BatchNorm fusion,
# a filter gradient that XLA rewrote into a dense convolution without a name scope, the
# name-less transpose that feeds it, and an optimizer update.
MODULE = """HloModule jit_train_step, is_scheduled=true

FileNames
1 "keras/src/backend/jax/nn.py"

FunctionNames
1 "depthwise_conv"
2 "conv"

FileLocations
1 {file_name_id=1 function_name_id=1 line=818 end_line=818 column=4 end_column=9}
2 {file_name_id=1 function_name_id=2 line=762 end_line=762 column=4 end_column=9}

StackFrames
1 {file_location_id=1 parent_frame_id=1}
2 {file_location_id=2 parent_frame_id=2}


%fused_depthwise (param_0: f32[2,4,4,3], param_1: f32[3,3,1,3]) -> f32[2,4,4,3] {
  %param_0 = f32[2,4,4,3]{3,2,1,0} parameter(0)
  %param_1 = f32[3,3,1,3]{3,2,1,0} parameter(1)
  ROOT %convolution.1 = f32[2,4,4,3]{3,2,1,0} convolution(%param_0, %param_1), window={size=3x3 pad=1_1x1_1}, dim_labels=b01f_01io->b01f, feature_group_count=3, metadata={op_name="jit(train_step)/jvp(net)/stem_sepconv/conv_general_dilated" stack_frame_id=1}
}

%fused_bn (param_0.1: f32[2,4,4,8], param_1.1: f32[8]) -> f32[2,4,4,8] {
  %param_0.1 = f32[2,4,4,8]{3,2,1,0} parameter(0)
  %param_1.1 = f32[8]{0} parameter(1)
  %broadcast.1 = f32[2,4,4,8]{3,2,1,0} broadcast(%param_1.1), dimensions={3}
  %multiply.1 = f32[2,4,4,8]{3,2,1,0} multiply(%param_0.1, %broadcast.1), metadata={op_name="jit(train_step)/jvp(net)/stem_bn/mul"}
  ROOT %add.1 = f32[2,4,4,8]{3,2,1,0} add(%multiply.1, %broadcast.1), metadata={op_name="jit(train_step)/jvp(net)/stem_bn/add"}
}

%fused_transpose (param_0.2: f32[2,4,4,3]) -> f32[4,4,2,3] {
  %param_0.2 = f32[2,4,4,3]{3,2,1,0} parameter(0)
  ROOT %transpose.1 = f32[4,4,2,3]{3,2,1,0} transpose(%param_0.2), dimensions={1,2,0,3}
}

%fused_filter_gradient (param_0.3: f32[3,4,4,2], param_1.3: f32[4,4,2,3]) -> f32[3,3,3,3] {
  %param_0.3 = f32[3,4,4,2]{3,2,1,0} parameter(0)
  %param_1.3 = f32[4,4,2,3]{3,2,1,0} parameter(1)
  ROOT %convolution.2 = f32[3,3,3,3]{3,2,1,0} convolution(%param_0.3, %param_1.3), window={size=4x4 pad=1_1x1_1}, dim_labels=b01f_01io->b01f
}

ENTRY %main.1 (images: f32[2,4,4,3], depthwise: f32[3,3,1,3], pointwise: f32[1,1,3,8], gamma: f32[8], activations: f32[3,4,4,2]) -> (f32[2,4,4,8], f32[3,3,1,3]) {
  %images = f32[2,4,4,3]{3,2,1,0} parameter(0), metadata={op_name="data[0]"}
  %depthwise = f32[3,3,1,3]{3,2,1,0} parameter(1), metadata={op_name="state[0][0]"}
  %pointwise = f32[1,1,3,8]{3,2,1,0} parameter(2), metadata={op_name="state[0][1]"}
  %gamma = f32[8]{0} parameter(3), metadata={op_name="state[0][2]"}
  %activations = f32[3,4,4,2]{3,2,1,0} parameter(4)
  %ynn_fusion = f32[2,4,4,3]{3,2,1,0} fusion(%images, %depthwise), kind=kCustom, calls=%fused_depthwise, metadata={op_name="jit(train_step)/jvp(net)/stem_sepconv/conv_general_dilated" stack_frame_id=1}, backend_config={"fusion_config":{"kind":"__ynn_fusion"}}
  %convolution.3 = f32[2,4,4,8]{3,2,1,0} convolution(%ynn_fusion, %pointwise), window={size=1x1}, dim_labels=b01f_01io->b01f, metadata={op_name="jit(train_step)/jvp(net)/stem_sepconv/conv_general_dilated" stack_frame_id=2}
  %bn_fusion = f32[2,4,4,8]{3,2,1,0} fusion(%convolution.3, %gamma), kind=kLoop, calls=%fused_bn, metadata={op_name="jit(train_step)/jvp(net)/stem_bn/add"}
  %transpose_fusion = f32[4,4,2,3]{3,2,1,0} fusion(%ynn_fusion), kind=kLoop, calls=%fused_transpose
  %bitcast.1 = f32[4,4,2,3]{3,2,1,0} bitcast(%transpose_fusion)
  %filter_fusion = f32[3,3,3,3]{3,2,1,0} fusion(%activations, %bitcast.1), kind=kCustom, calls=%fused_filter_gradient
  %update = f32[3,3,1,3]{3,2,1,0} subtract(%depthwise, %depthwise), metadata={op_name="jit(train_step)/sgd/sub"}
  ROOT %tuple.1 = (f32[2,4,4,8]{3,2,1,0}, f32[3,3,1,3]{3,2,1,0}) tuple(%bn_fusion, %update)
}
"""


def test_shape_bytes_by_hand():
    assert shape_bytes("f32[250,32,32,48]{3,2,1,0}") == 250 * 32 * 32 * 48 * 4
    assert shape_bytes("(f32[2]{0}, s32[], pred[3])") == 8 + 4 + 3
    assert shape_bytes("bf16[4,4]{1,0:T(8,128)(2,1)}") == 32
    assert shape_bytes("f32[]") == 4
    with pytest.raises(ValueError, match="unknown XLA element type 'q9'"):
        shape_bytes("q9[2]")


@given(st.sampled_from(sorted(DTYPE_BYTES)),
       st.lists(st.integers(0, 300), max_size=4),
       st.lists(st.integers(1, 50), max_size=3))
def test_shape_bytes_counts_every_element(dtype, dims, other):
    shape = f"{dtype}[{','.join(map(str, dims))}]{{{','.join(map(str, range(len(dims))))}}}"
    expected = DTYPE_BYTES[dtype] * int(np.prod(dims or [1]))
    assert shape_bytes(shape) == expected
    second = f"f32[{','.join(map(str, other))}]"
    assert shape_bytes(f"({shape}, {second})") == expected + 4 * int(np.prod(other or [1]))


def test_parse_instruction_reads_shape_opcode_operands_and_metadata():
    line = ('  %wrapped = (f32[2,3]{1,0}, s32[2]{0}) fusion(%a.1, %b, /*index=2*/%c), kind=kLoop, '
            'calls=%fused_computation.7, metadata={op_name="jit(step)/jvp(net)/stem_bn/add" '
            'stack_frame_id=42}')
    instruction = parse_instruction(line)
    assert (instruction.name, instruction.opcode) == ("wrapped", "fusion")
    assert instruction.shape == "(f32[2,3]{1,0}, s32[2]{0})"
    assert instruction.operands == ("a.1", "b", "c")
    assert instruction.called == ["fused_computation.7"]
    assert instruction.op_name == "jit(step)/jvp(net)/stem_bn/add"
    assert instruction.stack_frame == 42
    assert parse_instruction("ENTRY %main.1 (a: f32[2]) -> f32[2] {") is None
    constant = parse_instruction("  %constant.3 = u32[4]{0} constant({13, 15, 26, 6})")
    assert constant.opcode == "constant" and constant.operands == ()


def test_a_text_without_entry_is_refused():
    with pytest.raises(ValueError, match="no ENTRY computation"):
        parse_hlo_module("HloModule m\n")


def test_op_table_bytes_flops_and_phases_by_hand():
    module = parse_hlo_module(MODULE)
    assert module.frame_functions == {1: "depthwise_conv", 2: "conv"}
    table = hlo_op_table(MODULE).set_index("name")
    # Parameters, the bitcast and the tuple move nothing of their own.
    assert list(table.index) == ["ynn_fusion", "convolution.3", "bn_fusion", "transpose_fusion",
                                 "filter_fusion", "update"]
    images, depthwise, pointwise, gamma = 2 * 4 * 4 * 3 * 4, 9 * 3 * 4, 3 * 8 * 4, 8 * 4
    dw_out, pw_out, activations, filters = 2 * 4 * 4 * 3 * 4, 2 * 4 * 4 * 8 * 4, 3 * 4 * 4 * 2 * 4, 81 * 4
    assert table.loc["ynn_fusion", "bytes"] == images + depthwise + dw_out
    assert table.loc["convolution.3", "bytes"] == dw_out + pointwise + pw_out
    assert table.loc["bn_fusion", "bytes"] == pw_out + gamma + pw_out
    assert table.loc["filter_fusion", "bytes"] == activations + dw_out + filters
    # 2 x outputs x window taps x kernel input features (1 per group for a depthwise kernel).
    assert table.loc["ynn_fusion", "flops"] == 2 * 96 * 9 * 1
    assert table.loc["convolution.3", "flops"] == 2 * 256 * 1 * 3
    assert table.loc["filter_fusion", "flops"] == 2 * 81 * 16 * 2
    assert table.loc["bn_fusion", "flops"] == 2 * 256 and table.loc["bn_fusion", "matmul_flops"] == 0
    expected = {"ynn_fusion": ("depthwise conv", "forward", "name"),
                "convolution.3": ("pointwise conv", "forward", "name"),
                "bn_fusion": ("batchnorm", "forward", "name"),
                "filter_fusion": ("depthwise conv", "backward", "name"),
                "transpose_fusion": ("depthwise conv", "backward", "users"),
                "update": ("optimizer update", "update", "name")}
    for name, row in expected.items():
        assert tuple(table.loc[name, ["phase", "pass", "attributed"]]) == row, name
    assert table.loc["bn_fusion", "layer"] == "stem_bn"


def test_phase_table_sums_and_shares():
    ops = hlo_op_table(MODULE)
    seconds = {"ynn_fusion": 3.0, "filter_fusion": 1.0}
    phases = phase_table(ops, seconds=pd.Series(seconds))
    total = phases[phases.phase == "total"].iloc[0]
    assert total.bytes == ops.bytes.sum() and total.seconds == 4.0 and total.operations == 6
    depthwise = phases[(phases.phase == "depthwise conv") & (phases["pass"] == "backward")].iloc[0]
    assert depthwise.operations == 2 and depthwise.seconds == 1.0
    assert depthwise.bytes_share == pytest.approx(depthwise.bytes / ops.bytes.sum())
    assert list(phases.phase[:2]) == ["depthwise conv", "depthwise conv"]


@pytest.mark.parametrize("op_name, function, phase", [
    ("jit(train_step)/transpose(jvp(separable_net))/stage1_res_a_bn/mul", "", ("batchnorm", "backward")),
    ("jit(train_step)/jvp(separable_net)/stage2_add/add", "", ("relu and add", "forward")),
    ("jit(train_step)/jvp(cifar_augment)/jit(_where)/select_n", "", ("augmentation", "forward")),
    ("jit(train_step)/sgd/sub", "", ("optimizer update", "update")),
    ("jit(train_step)/sgd_1/CosineDecay/min", "", ("optimizer update", "update")),
    ("jit(train_step)/jvp(separable_net)/convert_element_type", "", ("dtype casts", "forward")),
    ("jit(train_step)/jvp(separable_net)/stage3_pool/reduce_window_max", "", ("pooling and dropout", "forward")),
    ("jit(train_step)/transpose(jvp(separable_net))/stem_sepconv/conv_general_dilated", "conv",
     ("pointwise conv", "backward")),
    ("jit(train_step)/jvp(separable_net)/stem_sepconv/conv_general_dilated", "depthwise_conv",
     ("depthwise conv", "forward")),
    # ShiftedSeparableConv2D's two halves, by their name scopes (functions of keras.ops).
    ("jit(train_step)/transpose(jvp(separable_net))/stage1_res_b_sepconv/depthwise_conv/pad",
     "pad", ("depthwise conv", "backward")),
    ("jit(train_step)/jvp(separable_net)/classifier/pointwise_conv/dot_general", "matmul",
     ("pointwise conv", "forward")),
    ("jit(train_step)/copy", "", ("other", "other")),
])
def test_classify(op_name, function, phase):
    assert classify(op_name, function, has_convolution=False) == phase


def test_layer_of():
    assert layer_of("jit(train_step)/transpose(jvp(separable_net))/stage1_res_a_bn/mul") == \
        "stage1_res_a_bn"
    assert layer_of("jit(train_step)/sgd/sub") == ""


def test_step_batch_repeats_images_and_one_hot_labels():
    images = np.arange(3 * 2 * 2 * 3, dtype="uint8").reshape(3, 2, 2, 3)
    x, y = step_batch(images, np.array([2, 0, 1]), 5)
    assert x.shape == (5, 2, 2, 3) and (x[3] == images[0]).all() and x.dtype == np.uint8
    assert y.dtype == np.float32 and y.argmax(1).tolist() == [2, 0, 1, 2, 0]
    with pytest.raises(ValueError, match="as many labels as images"):
        step_batch(images, np.array([1]), 2)


def test_event_seconds_on_the_cpu_keys_by_hlo_op_and_sums():
    """A CPU trace (no GPU process): every complete event counts, by its hlo_op or its name."""
    events = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/host:CPU"}},
        {"ph": "X", "name": "fusion.3", "pid": 1, "dur": 250, "args": {"hlo_op": "fusion.3"}},
        {"ph": "X", "name": "fusion.3", "pid": 1, "dur": 750, "args": {"hlo_op": "fusion.3"}},
        {"ph": "X", "name": "convolution.1", "pid": 1, "dur": 2000},
        {"ph": "i", "name": "fusion.3", "pid": 1},                      # an instant: no time
        {"ph": "X", "name": "no duration", "pid": 1},
    ]
    seconds = event_seconds(events)
    assert seconds.to_dict() == pytest.approx({"fusion.3": 0.001, "convolution.1": 0.002})


def test_event_seconds_on_a_gpu_counts_the_kernels_by_their_hlo_op():
    """A GPU trace: kernels are named by CUDA and keyed by their hlo_op; the host's launch events
    of the same operation, and host-only events, are not counted again."""
    events = [
        {"ph": "M", "name": "process_name", "pid": 7, "args": {"name": "/device:GPU:0"}},
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "/host:CPU"}},
        {"ph": "X", "name": "loop_add_fusion_2", "pid": 7, "dur": 40,
         "args": {"hlo_op": "loop_add_fusion.2"}},
        {"ph": "X", "name": "sm90_xmma_fprop_implicit_gemm", "pid": 7, "dur": 60,
         "args": {"hlo_op": "convolution.5"}},
        {"ph": "X", "name": "sm90_xmma_fprop_implicit_gemm", "pid": 7, "dur": 60,
         "args": {"hlo_op": "convolution.5"}},
        {"ph": "X", "name": "Thunk", "pid": 1, "dur": 500, "args": {"hlo_op": "convolution.5"}},
        {"ph": "X", "name": "ExecuteHelper", "pid": 1, "dur": 900},
    ]
    seconds = event_seconds(events)
    assert seconds.to_dict() == pytest.approx({"loop_add_fusion.2": 40e-6,
                                               "convolution.5": 120e-6})
    assert event_seconds([]).empty


def test_bytes_agree_with_xla_cost_analysis():
    """On a real compiled module (a depthwise convolution's gradients), the table's bytes add up
    to XLA's own count, and the dense filter gradient XLA makes is the depthwise backward pass."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def loss(x, w):
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", feature_group_count=4,
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.maximum(y, 0).sum()

    compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(
        jnp.ones((8, 16, 16, 4)), jnp.ones((3, 3, 1, 4))).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    table = hlo_op_table(compiled.as_text())
    assert table.bytes.sum() == pytest.approx(cost["bytes accessed"], rel=0.01)
    dense = table[table.kernels.str.contains("groups=1")]
    if len(dense):  # how XLA writes the filter gradient depends on its version
        assert set(dense.phase) == {"depthwise conv"} and set(dense["pass"]) == {"backward"}


PATCHES = sorted((Path(__file__).resolve().parents[1] / "results" / "profile").glob("*.patch"))


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_proposed_patches_still_apply(patch):
    """results/profile/README.md lists these for the next GPU session: they must apply to the
    code as it is (``git apply --check`` changes nothing)."""
    result = subprocess.run(["git", "apply", "--check", str(patch)], cwd=patch.parents[2],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{patch.name} no longer applies: {result.stderr}"
