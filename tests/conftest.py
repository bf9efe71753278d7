"""Test setup: CUDA kernels run in Numba's simulator unless NUMBA_ENABLE_CUDASIM=0 is set.

To run the CUDA tests on a real GPU: ``NUMBA_ENABLE_CUDASIM=0 pytest``.
"""

import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")  # must precede any numba import
