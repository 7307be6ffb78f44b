import os

# Keep test runs light on a shared 2-core machine.
os.environ.setdefault("NUMBA_NUM_THREADS", "2")
