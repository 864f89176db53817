#!/usr/bin/env bash
# Create .venv (if needed) and install the pinned requirements and this package into it.
#   --cpu           tensorflow-cpu instead of tensorflow (same code and speed on a CPU, far smaller)
#   --all-backends  also JAX and PyTorch (CPU builds), for the cross-backend tests
#   --gpu-compiler  also .venv-gpu-compiler: JAX with its CUDA plugin, to compile for a GPU on a
#                   machine without one (assignment_utils/gpu_target.py); an environment of its
#                   own, since with the plugin JAX looks for a card at every start
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=0 backends=0 gpu_compiler=0
for arg in "$@"; do
  case "$arg" in
    --cpu) cpu=1 ;;
    --all-backends) backends=1 ;;
    --gpu-compiler) gpu_compiler=1 ;;
    *) echo "setup_env.sh: unknown option '$arg' (use --cpu, --all-backends, --gpu-compiler)" >&2
       exit 2 ;;
  esac
done
[ -x .venv/bin/python ] || python3 -m venv .venv
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
if [ "$cpu" = 1 ]; then sed 's/^tensorflow==/tensorflow-cpu==/' requirements.txt > "$requirements"; other=tensorflow
else cp requirements.txt "$requirements"; other=tensorflow-cpu; fi
# Both distributions install the same `tensorflow` package: keep only the one asked for.
if .venv/bin/python -m pip show -q "$other" >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -y -q "$other"
fi
if [ "$backends" = 1 ]; then cat requirements-backends.txt >> "$requirements"; fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" 2> >(grep -v "is ignored: it is neither" >&2)
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
if [ "$gpu_compiler" = 1 ]; then
  # Keras, NumPy, pandas and JAX at the versions pinned above; the CUDA plugin at jaxlib's.
  [ -x .venv-gpu-compiler/bin/python ] || python3 -m venv .venv-gpu-compiler
  jaxlib=$(sed -n 's/^jaxlib==//p' requirements-backends.txt)
  { grep -E '^(keras|numpy|pandas)==' requirements.txt
    grep -E '^(jax|jaxlib)==' requirements-backends.txt
    printf 'jax-cuda12-plugin==%s\njax-cuda12-pjrt==%s\n' "$jaxlib" "$jaxlib"; } > "$requirements"
  .venv-gpu-compiler/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements" 2> >(grep -v "is ignored: it is neither" >&2)
fi
