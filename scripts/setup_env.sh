#!/usr/bin/env bash
# Create .venv (if needed) and install the pinned requirements and this package into it.
#   --cpu           tensorflow-cpu instead of tensorflow (same code and speed on a CPU, far smaller)
#   --all-backends  also JAX and PyTorch (CPU builds), for the cross-backend tests
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=0 backends=0
for arg in "$@"; do
  case "$arg" in
    --cpu) cpu=1 ;;
    --all-backends) backends=1 ;;
    *) echo "setup_env.sh: unknown option '$arg' (use --cpu and/or --all-backends)" >&2; exit 2 ;;
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
