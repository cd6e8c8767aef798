"""digit-lab dashboard: train a from-scratch NumPy network on digits, live, and steer it.

Run with `streamlit run dashboard/app.py`. This entry file runs on every rerun: it checks the
link, draws the shared sidebar (data and settings, views/sidebar.py), makes the session's run
match it (`dashboard/runs/state.py`), then runs the one view that is open. Each view is a page file
under dashboard/views/ with its own URL path (`/notebook`, `/lab`, ...), listed in PAGES; only
the open one runs (`st.navigation`). The session's run is saved under the URL's `?run=` id and
restored from it (dashboard/runs/session.py). Runs train on the server (dashboard/runs/worker.py): pages
send commands and draw the workers' snapshots; the charts of a training run follow it through a feed
pushed by a route of this app's own (dashboard/runs/feed.py), and plotly.js comes from another, cached
by browsers (dashboard/charts/livechart), hence `app = st.App(...)` below.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard import threads, urlstate
from dashboard.runs import alpha, feed, session, state
from dashboard.views import sidebar

VIEWS = Path(__file__).parent / "views"
# (file, title, URL path, icon); the first is the default page, served at the app's root URL.
PAGES = (("train.py", "Train", "train", ":material/monitoring:"),
         ("notebook.py", "Notebook vs corrected", "notebook", ":material/compare:"),
         ("math_view.py", "Math", "math", ":material/function:"),
         ("digit.py", "Inside a digit", "digit", ":material/draw:"),
         ("sweep.py", "LR lab", "lab", ":material/science:"),
         ("history.py", "Runs", "runs", ":material/table_rows:"))
# Less empty space above the views and in the sidebar header: the live view needs the height.
CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 4rem; padding-bottom: 1rem; }  /* below the navigation bar */
@media (max-width: 1200px) {  /* a narrow window (half a screen) gives the views the 5rem sides of the wide layout */
  [data-testid="stMainBlockContainer"] { padding-left: 1.5rem; padding-right: 1.5rem; }
}
[data-testid="stSidebarHeader"] { height: 1rem; min-height: 1rem; padding: 0; }
[data-testid="stSidebarUserContent"] { padding-top: 0.5rem; }
[data-testid="stMetricValue"] { font-size: 1.55rem; }
[data-testid="stCheckbox"] [data-testid="stMarkdownContainer"] * { white-space: normal; }  /* a label wraps, not cut */
</style>"""
# Rows of columns that wrap onto new lines in a narrow window rather than shrink below what they show: the
# key of the container each row is drawn in -> its columns' least widths in pixels (one for all, or one each).
WRAPPING_ROWS = {
    "train_charts": (200,),  # the curves, and the weights below them in a narrow window
    "train_mistakes": (200, 380),  # the gallery's 8 labels a row
    "digit_image": (150,),  # "Input x: dev image 0" over its image; the explanation goes below
    "math_eq_*": (340,),  # each Math equation whole, its tensor below it when narrow ("*": keys that start so)
}


def wrapping_css(rows: dict[str, tuple[int, ...]] = WRAPPING_ROWS) -> str:
    """Min-width rules for the columns of each row in `rows` (Streamlit 1.67's DOM: the keyed container >
    a layout wrapper > the row > its columns; the row already wraps, but its columns shrink to nothing first)."""
    rules, path = [], '> [data-testid="stLayoutWrapper"] > [data-testid="stHorizontalBlock"] > [data-testid="stColumn"]'
    for key, widths in rows.items():
        container = f'[class*="st-key-{key[:-1]}"]' if key.endswith("*") else f".st-key-{key}"
        column = f"{container} {path}"
        if len(widths) == 1:
            rules.append(f"{column} {{ min-width: {widths[0]}px; }}")
        else:
            rules += [f"{column}:nth-child({i}) {{ min-width: {w}px; }}" for i, w in enumerate(widths, 1)]
    return "<style>\n" + "\n".join(rules) + "\n</style>"


PAGE_CSS = CSS + wrapping_css()  # made once, sent by every run of the page


def pages() -> list[st.Page]:
    """The views as pages, the Train view first (the default)."""
    return [st.Page(VIEWS / file, title=title, url_path=path, icon=icon, default=i == 0)
            for i, (file, title, path, icon) in enumerate(PAGES)]


@st.cache_resource(show_spinner=False)
def compute_threads() -> str | None:
    """Once per server process: BLAS pinned to one thread at run time and the compute pool sized
    (`dashboard.threads`, whatever the host put in OPENBLAS_NUM_THREADS); a sentence if the setting is bad."""
    try:
        threads.configure_threads()
        return None
    except ValueError as error:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        threads.configure_threads(cores)
        return f"{error}; using every core."


def main() -> None:
    """Lay out one full run of the page: link, sidebar, run, then the open view."""
    st.set_page_config(page_title="digit-lab", page_icon="🔢", layout="wide", initial_sidebar_state="expanded")
    page = st.navigation(pages(), position="top")
    st.html(PAGE_CSS)
    threads_notice = compute_threads()  # before the sidebar builds the first Trainer
    if threads_notice:
        st.warning(threads_notice)
    session.owner_cookie()  # this browser's proof that it made its runs (never in the link)
    session.restore()  # the link's ?run= comes back first: it sets the sidebar's settings and α
    alpha.init(urlstate.check_link())  # before the sidebar's bound widgets drop bad URL values silently
    urlstate.show_link_notices()
    session.show_notice()
    lab = sidebar.render()
    urlstate.sync_link()
    if lab.notice:
        st.toast(lab.notice)
        lab.notice = None
    # Kept before the view draws it (the saver thread saves it at once when anything changed, off this
    # thread), so that what a person sees is safe moments later; again after the view, for what it changed.
    session.keep(lab)
    session.show_store_problem()  # a replica that cannot reach the run store says so (and trains on)
    page.run()
    session.keep(state.get())


if __name__ == "__main__":  # a script run: Streamlit runs this file as __main__ on every rerun
    main()
else:  # `streamlit run dashboard/app.py` imports it first and serves this app: Streamlit plus our feed route
    from starlette.middleware import Middleware

    from dashboard.charts import livechart

    BASE = st.get_option("server.baseUrlPath") or ""
    app = st.App(__file__, routes=[*feed.routes(BASE), *livechart.routes(BASE)], lifespan=livechart.lifespan,
                 middleware=[Middleware(livechart.Preload, base_url_path=BASE)])
