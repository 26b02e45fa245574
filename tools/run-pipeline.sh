#!/usr/bin/env bash
# Set up everything on a fresh machine and run the main job: the default
# pipeline on the embedded tiny configuration (config/config.yaml), 2 cores,
# MPI included. Extra arguments go to snakemake, e.g. --configfile config/benchmark.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
# the rules call python, mpiexec and torchrun by name: take them from the venv
. .venv/bin/activate
exec snakemake --cores 2 "$@"
