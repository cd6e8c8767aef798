"""digit-lab dashboard: train a from-scratch NumPy network on digits, live, and steer it.

Run with `streamlit run dashboard/app.py`. This file only lays the page out: the sidebar decides
the data and settings (views/sidebar.py), `dashboard/state.py` holds the session's run, and each
tab is a view module with a `render()`, listed in TABS.
"""

from __future__ import annotations

import streamlit as st

from dashboard import settings, state
from dashboard.views import digit, math_view, notebook, sidebar, train
from dashboard.views import lab as lab_view

TABS = {"Train": train.render, notebook.LABEL: notebook.render, math_view.LABEL: math_view.render,
        digit.LABEL: digit.render, lab_view.LABEL: lab_view.render}
# Less empty space above the tabs and in the sidebar header: the live view needs the height.
CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 1.5rem; padding-bottom: 1rem; }
[data-testid="stSidebarHeader"] { height: 1rem; min-height: 1rem; padding: 0; }
[data-testid="stSidebarUserContent"] { padding-top: 0.5rem; }
[data-testid="stMetricValue"] { font-size: 1.55rem; }
</style>"""


def init_lr() -> None:
    """Give the α widgets their first value once per session (a link's `?lr=` was applied by check_link)."""
    st.session_state.setdefault("lr", settings.DEFAULTS["lr"])  # plain state shown by the α widgets


def main() -> None:
    """Lay out one full run of the page."""
    st.set_page_config(page_title="digit-lab", page_icon="🔢", layout="wide", initial_sidebar_state="expanded")
    st.html(CSS)
    lab_view.check_link()  # before the sidebar's bound widgets drop bad URL values silently
    init_lr()
    lab = state.get()
    with st.sidebar:
        st.markdown("### digit-lab")
        st.caption("A 784 → h → 10 network written in NumPy, trained live. Change anything, watch it learn.")
        st.subheader("Data", divider="gray")
        request = sidebar.choose_data(lab)
        data_slot = st.container()
        st.subheader("Model and training", divider="gray")
        settings.render(lab.trainer.m if lab else None)
    lab = sidebar.apply(lab, request)
    with data_slot:
        sidebar.show_data(lab)
    with st.sidebar:
        if lab.settings_error:
            st.error(lab.settings_error)
        st.subheader("Weights and metrics", divider="gray")
        sidebar.export_panel(lab)
    if lab.notice:
        st.toast(lab.notice)
        lab.notice = None
    # Every tab's view runs on each full rerun. Stateful tabs (on_change="rerun" or bound to the
    # URL) would run only the open one, but in Streamlit 1.67 a live fragment inside such a tab
    # leaves a stale copy of its charts in the page on every tick (tests/dashboard/test_lab_browser.py).
    views = st.tabs(list(TABS), key="view")
    for tab, render in zip(views, TABS.values()):
        with tab:
            render()


main()
