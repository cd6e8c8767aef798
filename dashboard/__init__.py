"""digit-lab's front ends: the Streamlit dashboard and the command line (cli.py).

The dashboard's entry, app.py, routes to one page file per view (views/); the runs those views
watch train on the server (runs/), and what they draw is built in charts/.

Both set their compute threads at run time with `dashboard.threads.configure_threads` (BLAS pinned
to one thread with threadpoolctl, the compute pool sized), so nothing here depends on the
environment a host or an earlier import left behind.
"""
