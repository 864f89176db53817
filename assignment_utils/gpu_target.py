"""Compile for a GPU on a machine without one: XLA's GPU compiler, on the CPU, for a named card.

JAX compiles for a GPU it does not have (deviceless ahead-of-time compilation) when its CUDA
plugin is installed and the card is described to XLA (a ``GpuTargetConfigProto``: cores,
bandwidth, caches, compute capability). The result cannot run here, but its optimized HLO is
the card's: which operations XLA fuses into one kernel, which convolutions it hands to cuDNN,
and so the bytes every kernel reads and writes (``step_profile.hlo_op_table``). A lever that
changes the fusion (another layer implementation, another dtype policy) can then be measured on
a CPU in bytes, the limit of this memory-bound network; its seconds still need the card.

What differs from the card: XLA cannot autotune without the device (cuDNN's algorithms and
their scratch buffers, which the card's HLO shows as extra output bytes, and Triton tilings),
so the compile seconds are not the card's either; and the XLA version is this machine's.

It needs an environment of its own, since the CUDA plugin makes JAX try the card at every start
(``bash scripts/setup_env.sh --gpu-compiler`` makes ``.venv-gpu-compiler``), and
``JAX_PLATFORMS=cpu`` set before JAX starts::

    JAX_PLATFORMS=cpu KERAS_BACKEND=jax .venv-gpu-compiler/bin/python scripts/profile_step.py \\
        --gpu-target h100 --out results/profile/gpu_compiler/h100
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass

# What scripts/setup_env.sh --gpu-compiler installs beside JAX (the same version as jaxlib's).
PLUGIN_PACKAGES = ("jax-cuda12-plugin", "jax-cuda12-pjrt")
SETUP_COMMAND = "bash scripts/setup_env.sh --gpu-compiler"


@dataclass(frozen=True)
class GpuTarget:
    """A card as XLA's GPU compiler sees it: the device properties CUDA reports for it (the
    fields of XLA's ``GpuDeviceInfoProto``) and the cuDNN version to compile against."""

    description: str              # CUDA's device name
    core_count: int               # streaming multiprocessors
    memory_bandwidth: int         # bytes per second
    device_memory_size: int       # bytes
    l2_cache_size: int            # bytes
    clock_rate_ghz: float
    compute_capability: tuple[int, int]
    shared_memory_per_block: int = 48 * 1024
    shared_memory_per_block_optin: int = 227 * 1024
    shared_memory_per_core: int = 228 * 1024
    threads_per_core_limit: int = 2048
    registers_per_core_limit: int = 65536
    registers_per_block_limit: int = 65536
    fpus_per_core: int = 128
    cudnn_version: tuple[int, int] = (9, 8)

    def config_text(self) -> str:
        """The target as a ``GpuTargetConfigProto`` in protobuf text format, as
        ``jax.experimental.topologies.get_topology_desc(target_config=...)`` takes it."""
        major, minor = self.compute_capability
        device_info = {
            "threads_per_block_limit": 1024, "threads_per_warp": 32,
            "shared_memory_per_block": self.shared_memory_per_block,
            "shared_memory_per_core": self.shared_memory_per_core,
            "threads_per_core_limit": self.threads_per_core_limit,
            "core_count": self.core_count, "fpus_per_core": self.fpus_per_core,
            "block_dim_limit_x": 2**31 - 1, "block_dim_limit_y": 65535,
            "block_dim_limit_z": 65535, "memory_bandwidth": self.memory_bandwidth,
            "l2_cache_size": self.l2_cache_size, "clock_rate_ghz": self.clock_rate_ghz,
            "device_memory_size": self.device_memory_size,
            "shared_memory_per_block_optin": self.shared_memory_per_block_optin,
            "registers_per_core_limit": self.registers_per_core_limit,
            "registers_per_block_limit": self.registers_per_block_limit}
        lines = ["gpu_device_info {", *(f"  {key}: {value}" for key, value in device_info.items()),
                 f"  cuda_compute_capability {{ major: {major} minor: {minor} }}", "}",
                 'platform_name: "CUDA"',
                 f"dnn_version_info {{ major: {self.cudnn_version[0]} "
                 f"minor: {self.cudnn_version[1]} }}",
                 f'device_description_str: "{self.description}"']
        return "\n".join(lines) + "\n"


# The two cards the project's GPU machine lends: the same GH100 chip (132 multiprocessors at up
# to 1.98 GHz, compute capability 9.0, 50 MiB of L2) with other memory. Data-sheet figures
# (H100 SXM5: 80 GB at 3.35 TB/s; H200: 141 GB at 4.8 TB/s), not read off the cards.
GPU_TARGETS = {
    "h100": GpuTarget("NVIDIA H100 80GB HBM3", core_count=132, memory_bandwidth=3_350 * 10**9,
                      device_memory_size=80 * 10**9, l2_cache_size=50 * 2**20,
                      clock_rate_ghz=1.98, compute_capability=(9, 0)),
    "h200": GpuTarget("NVIDIA H200", core_count=132, memory_bandwidth=4_800 * 10**9,
                      device_memory_size=141 * 10**9, l2_cache_size=50 * 2**20,
                      clock_rate_ghz=1.98, compute_capability=(9, 0)),
}


def gpu_target(name: str) -> GpuTarget:
    """The target called ``name`` (a key of ``GPU_TARGETS``)."""
    if name not in GPU_TARGETS:
        raise ValueError(f"unknown GPU target {name!r}: choose one of {tuple(GPU_TARGETS)}")
    return GPU_TARGETS[name]


def cuda_plugin_installed() -> bool:
    """Whether JAX's CUDA plugin (``jax_plugins.xla_cuda12``) can be imported here."""
    return (importlib.util.find_spec("jax_plugins") is not None
            and importlib.util.find_spec("jax_plugins.xla_cuda12") is not None)


@functools.lru_cache(maxsize=None)
def target_sharding(name: str):
    """A ``jax.sharding.NamedSharding`` on the one card ``name`` describes: arguments given it
    (as ``jax.ShapeDtypeStruct``, :func:`abstract_like`) make ``jax.jit(f).lower(...)
    .compile()`` compile ``f`` for that card. Made once per card and process. Refused, saying
    what to do, without JAX's CUDA plugin or where JAX may use a GPU (``JAX_PLATFORMS`` must be
    ``cpu``)."""
    target = gpu_target(name)
    if not cuda_plugin_installed():
        raise RuntimeError(f"XLA's GPU compiler is not installed in this environment: make one "
                           f"with it ({SETUP_COMMAND}, which installs "
                           f"{' and '.join(PLUGIN_PACKAGES)}) and run with its Python")
    import jax
    from jax.experimental import topologies

    if jax.config.jax_platforms != "cpu":
        raise RuntimeError(f"compiling for a GPU without one needs JAX_PLATFORMS=cpu set before "
                           f"JAX starts (it is {jax.config.jax_platforms!r}): without it the CUDA "
                           f"plugin looks for a card and fails")
    topology = topologies.get_topology_desc(platform="cuda", target_config=target.config_text(),
                                            topology="1x1x1")
    mesh = topologies.make_mesh(topology, (1,), ("device",))
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())


def abstract_like(tree, sharding):
    """Every array of ``tree`` as a ``jax.ShapeDtypeStruct`` of its shape and dtype placed by
    ``sharding``: what ``lower`` needs to compile for a card that is not here."""
    import jax
    import numpy as np

    def one(array):
        array = array if hasattr(array, "dtype") and hasattr(array, "shape") else np.asarray(array)
        return jax.ShapeDtypeStruct(array.shape, array.dtype, sharding=sharding)

    return jax.tree_util.tree_map(one, tree)
