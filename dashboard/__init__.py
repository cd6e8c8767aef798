"""digit-lab's front ends: the Streamlit dashboard (app.py, views/) and the command line (cli.py).

Both set their compute threads at run time with `dashboard.threads.configure_threads` (BLAS pinned
to one thread with threadpoolctl, the compute pool sized), so nothing here depends on the
environment a host or an earlier import left behind.
"""
