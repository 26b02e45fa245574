#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the
# project with its test and workflow extras. Idempotent; safe to rerun.
#   PYTHON=python3.11 bash tools/install.sh
# On a cluster, build mpi4py against the system MPI instead of the PyPI mpich:
#   SYSTEM_MPI=1 bash tools/install.sh   (then mpi4py is compiled with the mpicc on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch first: a bare 'torch' requirement would pull the multi-GB CUDA build.
if ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" ${TORCH_INDEX:+--index-url "$TORCH_INDEX"}
fi
if [ "${SYSTEM_MPI:-0}" = 1 ]; then
  python -m pip install -q --no-binary=mpi4py mpi4py
  python -m pip install -q -e ".[workflow]" pytest pytest-timeout
else
  python -m pip install -q -e ".[dev]"
fi
python -c "import mpi4py, h5py, gmsh, torch; print('installed: torch', torch.__version__, '| h5py', h5py.__version__)"
