"""digit-lab's front ends: the Streamlit dashboard (app.py, views/) and the command line (cli.py).

Importing this package caps BLAS at one thread unless the user chose otherwise. The network's
matrix products are small (h = 10 rows), and OpenBLAS threads spin-wait for each other: on two
cores shared with a browser, two threads made full-batch steps up to 7x slower than one
(measured with tests/bench.py). The variable only works if set before NumPy is first loaded,
which is why it is here, ahead of every module that imports NumPy.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
