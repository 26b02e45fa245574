#!/usr/bin/env bash
# Set up everything on a fresh machine and run the whole test suite:
#   the project in .venv (tools/install.sh), a local single-node Slurm when run
#   as root on Debian (slurm/local/, needed by the Slurm workflow tests), then pytest.
# Extra arguments go to pytest, e.g.  bash tools/run-tests.sh -k column
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  bash slurm/local/install.sh
  bash slurm/local/start.sh
else
  echo "run-tests: not root on Debian: no local Slurm is started; the Slurm tests need one (see README)" >&2
fi
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
. .venv/bin/activate
exec python -m pytest "$@"
