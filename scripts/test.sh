#!/usr/bin/env bash
# Install the test environment (TensorFlow on the CPU, plus JAX and PyTorch; JAX with XLA's GPU
# compiler in .venv-gpu-compiler) and run every test, the slow ones included: unit tests, training
# and resume on real CIFAR-10 images, the papermill smoke run of the notebook and nbval on the
# committed notebook. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh --cpu --all-backends --gpu-compiler
export PATH="$PWD/.venv/bin:$PATH" KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=3 MPLBACKEND=Agg
exec python -m pytest -m "slow or not slow" "$@"
