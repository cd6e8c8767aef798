"""The live fragment: a tick that finds the run changed under it reruns the whole page; otherwise it draws."""

import pytest
from streamlit.testing.v1 import AppTest


def page(drawn_active: bool, found_active: bool):
    """A page whose live fragment's run is `drawn_active` when the full run draws the buttons and
    `found_active` when the tick looks at it (on the first run only; later runs agree)."""
    import streamlit as st

    from dashboard.runs import live

    first = "runs" not in st.session_state
    st.session_state["runs"] = st.session_state.get("runs", 0) + 1

    class Snapshot:
        def __init__(self, active):
            self.active = active

    class Worker:
        """Stands in for dashboard.runs.worker.Worker: a snapshot, and `seen`."""
        looks = 0

        @property
        def snapshot(self):
            Worker.looks += 1
            return Snapshot(drawn_active if Worker.looks == 1 or not first else found_active)

        def seen(self):
            pass

    worker = st.session_state.setdefault("worker", Worker())
    live.fragment(lambda: worker, lambda: st.session_state.__setitem__("drawn", st.session_state["runs"]),
                  key="live")


@pytest.mark.parametrize("drawn_active, found_active", [(False, True), (True, False)])
def test_a_tick_that_finds_the_run_changed_reruns_the_page(drawn_active, found_active):
    """Start folded into a fragment's rerun (its callback ran, only the fragment would redraw), or a run that
    stopped by itself: the tick reruns the whole page instead of drawing, and the rerun draws."""
    at = AppTest.from_function(page, args=(drawn_active, found_active)).run()
    assert not at.exception
    assert at.session_state["runs"] == 2 and at.session_state["drawn"] == 2


def test_a_tick_that_finds_the_run_as_drawn_just_draws():
    """No change under the fragment: one run, and the tick draws."""
    at = AppTest.from_function(page, args=(True, True)).run()
    assert not at.exception
    assert at.session_state["runs"] == 1 and at.session_state["drawn"] == 1


def chart_page():
    """A page drawing one run chart with no feed (the run paused)."""
    from dashboard.runs import live

    live.chart({"data": [{"type": "scatter", "x": [0, 1], "y": [2.0, 1.0]}], "layout": {}}, key="loss", feed=None)


@pytest.mark.parametrize("served", [True, False])
def test_a_paused_run_chart_asks_no_confirmation_where_feeds_are_served(monkeypatch, served):
    """With feeds served a run chart changes only by its feed or a rerun: it is drawn static (the browser
    sends no word back). Without feeds its fragment ticks and sends new points on top of a confirmed figure."""
    import json

    from dashboard.charts import livechart
    from dashboard.runs import feed

    monkeypatch.setattr(feed, "_routes", ["served"] if served else [])
    at = AppTest.from_function(chart_page).run()
    assert not at.exception
    [element] = [e for e in at.get("bidi_component") if e.proto.component_name == livechart.NAME]
    data = json.loads(element.proto.json)
    assert "data" in data and data.get("static", False) is served
