"""Pytest setup.

The MPI suites under tests/mpi run only through mpiexec (see test_mpi_suites.py).
BLAS runs single-threaded: the machines are small and shared, and threaded
BLAS on short vectors only adds contention.
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

collect_ignore = ["mpi"]
