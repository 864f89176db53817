#!/usr/bin/env bash
# Main job: install the pinned environment, then run the notebook through papermill with its
# defaults (50 epochs on all of CIFAR-10). The executed copy goes to output/cifar10_separable.ipynb
# and the run's files (CSV log, checkpoints, summary.json) to output/runs/notebook/.
# Extra arguments go to papermill, e.g. a short run in its own folder (a folder holding another run
# is refused):  bash scripts/run_notebook.sh -p epochs 2 -p train_subset 5000 -p output_dir runs/short
# Running it again after an interruption resumes the training from the last finished epoch.
set -euo pipefail
cd "$(dirname "$0")/.."
# tensorflow (with CUDA support) where an NVIDIA GPU is present, else the far smaller tensorflow-cpu.
if nvidia-smi -L >/dev/null 2>&1; then bash scripts/setup_env.sh; else bash scripts/setup_env.sh --cpu; fi
export PATH="$PWD/.venv/bin:$PATH" TF_CPP_MIN_LOG_LEVEL=3
python -c "
from assignment_utils.run_record import accelerator
device = accelerator()
print(f'Keras device: {device}')
if device == 'CPU':
    print('No GPU found. The default 50 epochs on all 50,000 images take about 1.5-3 hours on a 2-core CPU '
          '(measured: 103-195 s per epoch). '
          'For a short run: bash scripts/run_notebook.sh -p epochs 2 -p train_subset 5000 -p output_dir runs/short')
"
mkdir -p output
# --log-output prints every cell's output (each epoch's line) here as it comes.
exec python -m papermill notebooks/cifar10_separable.ipynb output/cifar10_separable.ipynb \
  -k python3 --cwd output --log-output --no-progress-bar "$@"
