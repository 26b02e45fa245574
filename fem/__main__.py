import os

# One BLAS thread per MPI rank: threaded dot products on small vectors oversubscribe
# the cores the ranks already use and run ~50x slower.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from fem.cli import main  # noqa: E402  (after the thread settings, before numpy loads)

raise SystemExit(main())
