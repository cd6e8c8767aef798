"""The Runs view: every run of this session in a table, selected runs overlaid and exported, the link.

The run history itself is dashboard/runs/history.py; the link's state is dashboard/urlstate.py. While
the Train view's run is going (and selected), the overlay follows it through a live feed, every
OVERLAY_EVERY seconds.
This file only lays out and draws.
"""

from __future__ import annotations

import functools

import streamlit as st

import data
from dashboard import export, urlstate
from dashboard.charts import lab as lab_charts
from dashboard.runs import history as runs, live, state
from dashboard.runs.feed import Chart
from dashboard.runs.state import Lab

LABEL = "Runs"
OVERLAY_EVERY = 1.0  # seconds between redraws of an overlay that shows the running Train run
TABLE_KEY, TABLE_IDS_KEY, SELECTED_KEY = "runs_table", "runs_table_ids", "runs_selected"


def render() -> None:
    """Draw the view."""
    lab = state.get()
    st.caption("Compare this session's runs, export them, share the setup as a link.")
    history_section(lab)
    st.subheader("Share", divider="gray")
    link, button = st.columns([6, 1], vertical_alignment="bottom")
    with link:
        urlstate.share()
    button.button("Refresh", key="share_refresh", help="Rebuild the link with the current α and settings.")


def _clear_history() -> None:
    runs.session_history().clear()
    st.session_state[SELECTED_KEY] = []


def history_section(lab: Lab) -> None:
    """The runs table (select rows to compare), the overlay of the selected runs, export and clear."""
    history = runs.session_history()
    if not len(history):  # no table yet: nothing to compare (and the page's first render stays lighter)
        st.caption("No finished runs yet. The Train view's runs appear here when they are replaced (Reset, new "
                   "settings, a sweep run continued), next to the current run, and so does every sweep run.")
        return
    records = [*history.runs, runs.from_trainer(lab.now, lab.dataset.name, live=True)]
    ids = [r.id for r in records]
    if st.session_state.get(TABLE_IDS_KEY) != ids:  # rows moved: select the same runs at their new places
        chosen = st.session_state.get(SELECTED_KEY, [])
        st.session_state[TABLE_KEY] = {"selection": {"rows": [ids.index(i) for i in chosen if i in ids]}}
        st.session_state[TABLE_IDS_KEY] = ids
    st.caption(f"Every run of this session: the Train view's runs as they are replaced (Reset, new settings) "
               f"and each sweep run; the last row is the Train view's current run, live. At most {runs.MAX_RUNS} "
               f"are kept. **Select rows** to overlay their curves; the legend names what differs.")
    import pandas as pd  # here, not at the top: pandas costs the app's first render ~0.5 s

    event = st.dataframe(pd.DataFrame(runs.table_rows(records)), key=TABLE_KEY, on_select="rerun",
                         selection_mode="multi-row", hide_index=True, column_config=TABLE_COLUMNS,
                         height=min(38 + 35 * len(records), 330))
    selected = [ids[r] for r in event.selection.rows if 0 <= r < len(ids)]
    st.session_state[SELECTED_KEY] = selected
    live.charts(_live_worker, overlay, key="runs_overlay", every=OVERLAY_EVERY)
    export_buttons(history, selected)


TABLE_COLUMNS = {
    "train loss": st.column_config.NumberColumn(format="%.3f"),
    "dev loss": st.column_config.NumberColumn(format="%.3f"),
    "train acc": st.column_config.NumberColumn(format="%.1f%%"),  # the rows hold percents: 85.0%, not "85%"
    "dev acc": st.column_config.NumberColumn(format="%.1f%%"),
    "iterations": st.column_config.NumberColumn(format="localized"),
}


def selected_records(history: runs.RunHistory, selected: list[int]) -> list[runs.RunRecord]:
    """The selected runs in table order, the Train view's current run measured now."""
    lab = state.get()
    return records_with(stored_records(history, selected), lab.now, lab.dataset.name, runs.LIVE_ID in selected)


def stored_records(history: runs.RunHistory, selected: list[int]) -> list[runs.RunRecord]:
    """The selected stored runs (all but the Train view's current one), in table order."""
    stored = history.get([i for i in selected if i != runs.LIVE_ID])
    stored.sort(key=lambda r: r.id)
    return stored


def _live_worker():
    """The Train view's run's worker when its row is selected (the overlay then follows it), else None."""
    return state.get().worker if runs.LIVE_ID in st.session_state.get(SELECTED_KEY, []) else None


def overlay() -> None:
    """The selected runs' loss and accuracy curves on two charts; with the running Train run among them,
    they follow it through a live feed, every OVERLAY_EVERY seconds (`live.charts`)."""
    selected = st.session_state.get(SELECTED_KEY, [])
    stored, with_live = stored_records(runs.session_history(), selected), runs.LIVE_ID in selected
    if not stored and not with_live:
        st.info("Select one or more rows above to overlay their curves.")
        return
    lab = state.get()
    build = functools.partial(overlay_figure, stored, lab.dataset.name, with_live)
    built = {f"overlay_{name}": Chart(functools.partial(build, metric, name), every=OVERLAY_EVERY,
                                      config=live.CHART_CONFIG)
             for metric, name in (("loss", "loss"), ("accuracy", "acc"))}
    url = live.feed("runs", _live_worker, built)
    for col, (key, chart) in zip(st.columns(2), built.items()):
        with col:
            live.chart(chart.build(lab.snapshot), key=key, config=chart.config, feed=url)
    records = records_with(stored, lab.now, lab.dataset.name, with_live)
    keys = runs.differing(records)
    if len(records) > 1:
        st.caption("Differs between these runs: " + (", ".join(runs.SETTING_NAMES[k] for k in keys) or "nothing "
                                                      "(same settings: told apart by run number)") + ".")


def records_with(stored: list[runs.RunRecord], now, data_name: str, with_live: bool) -> list[runs.RunRecord]:
    """The stored runs, then the Train view's run as `now` (a snapshot's view) shows it, if selected."""
    return stored + ([runs.from_trainer(now, data_name, live=True)] if with_live else [])


def overlay_figure(stored: list[runs.RunRecord], data_name: str, with_live: bool, metric: str, name: str, snapshot):
    """One metric of the selected runs, the Train view's run as in `snapshot` (of its worker)."""
    records = records_with(stored, snapshot.view, data_name, with_live)
    x = [r.column("iteration") for r in records]
    return lab_charts.overlay_figure(runs.legend_labels(records), x, [r.column(f"train_{name}") for r in records],
                                     [r.column(f"dev_{name}") for r in records], metric)


def export_buttons(history: runs.RunHistory, selected: list[int]) -> None:
    """Selected runs as CSV and JSON (made at click time), one run's weights, and Clear history."""
    cols = st.columns([1, 1, 1.3, 1, 2])
    none = not selected

    def records():
        return selected_records(history, selected)

    cols[0].download_button("Selected as CSV", data=lambda: runs.metrics_csv(records()), file_name="digit-lab-runs.csv",
                            mime="text/csv", on_click="ignore", key="runs_csv", disabled=none, width="stretch")
    cols[1].download_button("Selected as JSON", data=lambda: runs.metrics_json(records()),
                            file_name="digit-lab-runs.json", mime="application/json", on_click="ignore",
                            key="runs_json", disabled=none, width="stretch")
    weights = one_run_weights(history, selected)
    cols[2].download_button("Weights .npz", data=weights or b"", file_name="digit-lab-run-weights.npz",
                            mime="application/octet-stream", on_click="ignore", key="runs_weights",
                            disabled=weights is None, width="stretch",
                            help="Select exactly one run whose weights were kept (the newest runs keep theirs).")
    cols[3].button("Clear history", key="runs_clear", on_click=_clear_history, width="stretch",
                   disabled=not len(history))


def one_run_weights(history: runs.RunHistory, selected: list[int]):
    """A callable making the .npz of the one selected run, or None if not exactly one with weights is selected."""
    if len(selected) != 1:
        return None
    if selected[0] == runs.LIVE_ID:
        lab = state.get()
        return lambda: export.weights_npz(lab.now, lab.dataset.name)
    found = history.get(selected)
    if not found or found[0].weights is None:
        return None
    record = found[0]
    meta = {**record.config, "iteration": record.iterations, "data": record.data, "run": runs.run_name(record),
            "saved_by": "digit-lab dashboard (LR lab)"}
    return lambda: data.weights_bytes(record.weights, meta)



if __name__ == "__main__":  # run as a page by st.navigation (dashboard/app.py)
    render()
