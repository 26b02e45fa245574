"""Run every MPI test module under 1, 2 and 3 ranks (3 gives uneven partitions)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MPI_DIR = Path(__file__).parent / "mpi"
SUITES = sorted(p.name for p in MPI_DIR.glob("test_*.py"))


def mpiexec() -> str:
    exe = shutil.which("mpiexec", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        raise RuntimeError("mpiexec not found: install the 'mpich' extra or a system MPI")
    return exe


@pytest.mark.parametrize("ranks", [1, 2, 3])
@pytest.mark.parametrize("suite", SUITES)
def test_mpi_suite(suite: str, ranks: int) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "pytest", "-q", "-x",
           "-p", "no:cacheprovider", str(MPI_DIR / suite)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"{suite} failed on {ranks} ranks:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
