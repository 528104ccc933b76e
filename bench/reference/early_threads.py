"""Thread settings that must happen before numpy is imported (shared by knn_tsne.py and anomaly_oneclass.py).

With threadpoolctl (Debian's python3-sklearn depends on it) the scripts limit the BLAS/OpenMP pools later, at run
time; without it, OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are set here from --threads. Import this module before
numpy; it imports nothing heavy itself.
"""
import os
import sys


def _threads_argument():
    """The value of --threads N or --threads=N on the command line, or None."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


try:
    import threadpoolctl  # noqa: F401
    HAVE_TPC = True
except ImportError:
    HAVE_TPC = False
    _t = _threads_argument()
    if _t:
        for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(_v, _t)
