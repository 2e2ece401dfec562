"""Session-wide test settings."""

import os

# One BLAS/torch thread per test process: pytest-xdist already runs one process per core, and oversubscribed
# threads make small SVDs 100x slower on a loaded 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
