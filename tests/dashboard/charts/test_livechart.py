"""dashboard.charts.livechart: payloads reduced to what changed, sequence numbers and resends, asset serving,
and the element as AppTest sees it."""

import gzip
import json
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard.charts import livechart
from dashboard.charts.livechart import confirmed, decoded, plotlyjs, stale, update
from tests.dashboard.conftest import decode

APP = Path(__file__).resolve().parents[1] / "apps" / "livechart_app.py"


def figure(n: int, map_step: int = 0, title: str = "loss") -> go.Figure:
    """Two curves of n points and a 4x5 map, as the views build them."""
    t = np.arange(n)
    fig = go.Figure()
    fig.add_scatter(x=t, y=np.linspace(2.3, 0.1, 100)[:n], name="train")
    fig.add_scatter(x=t, y=np.exp(-t / 10.0), name="dev")
    fig.add_heatmap(z=np.arange(20, dtype=np.float64).reshape(4, 5) + map_step, xaxis="x2", yaxis="y2")
    fig.update_layout(title=title)
    return fig


def wire(payload: dict) -> dict:
    """The payload as the browser parses it (strict JSON: NaN would not parse)."""
    return json.loads(json.dumps(payload, allow_nan=False))


def test_first_payload_is_the_whole_figure():
    """The first call sends every trace and the layout, with sequence 1."""
    sent = confirmed(update(None, figure(5)))
    payload = wire(sent.payload)
    assert payload["seq"] == 1 and "base" not in payload
    assert [trace["type"] for trace in payload["data"]] == ["scatter", "scatter", "heatmap"]
    assert payload["data"][0]["x"] == [0, 1, 2, 3, 4]
    assert payload["layout"]["title"]["text"] == "loss"
    assert payload["height"] == 400


def test_grown_curves_send_only_their_new_points():
    """Two more points on each curve: a change on top of the last payload with just those points."""
    first = confirmed(update(None, figure(5)))
    second = update(first, figure(7))
    payload = wire(second.payload)
    assert (payload["seq"], payload["base"]) == (2, 1)
    assert payload["extend"] == [[0, 5, [5, 6], pytest.approx(list(np.linspace(2.3, 0.1, 100)[5:7]))],
                                 [1, 5, [5, 6], pytest.approx(list(np.exp(-np.arange(5, 7) / 10.0)))]]
    assert payload["traces"] == [] and "layout" not in payload and "data" not in payload
    assert payload["versions"] == [1, 1, 1] and payload["layout_version"] == 1


def test_change_applies_on_top_of_any_of_the_last_payloads():
    """A change carries the curves' points since the oldest of the last WINDOW payloads (a browser that
    missed some can still apply it), a map only when it changed, and the versions to check."""
    sent = confirmed(update(None, figure(5)))
    for n in range(6, 6 + livechart.WINDOW + 1):  # payloads 2..WINDOW+2, the map changes at payload 3
        sent = update(sent, figure(n, map_step=int(n >= 7)))
    payload = wire(sent.payload)
    assert payload["seq"] == livechart.WINDOW + 2 and payload["base"] == 2  # the last WINDOW payloads
    n = 5 + livechart.WINDOW + 1
    assert [(i, start, x) for i, start, x, _ in payload["extend"]] == [(0, 6, list(range(6, n))),
                                                                        (1, 6, list(range(6, n)))]
    assert payload["traces"] == [] and payload["versions"] == [1, 1, 3]


def test_map_and_layout_are_sent_again_in_the_next_payload():
    """A map and a layout that changed in one payload travel again in the next (for a page that skipped
    it), not in the one after."""
    sent = update(confirmed(update(None, figure(5))), figure(6, map_step=1, title="part 1"))
    third = wire((sent := update(sent, figure(7, map_step=1, title="part 1"))).payload)
    fourth = wire(update(sent, figure(8, map_step=1, title="part 1")).payload)
    assert [i for i, _ in third["traces"]] == [2] and third["layout"]["title"]["text"] == "part 1"
    assert third["versions"] == [1, 1, 2] and third["layout_version"] == 2
    assert fourth["traces"] == [] and "layout" not in fourth


def test_curve_sent_whole_in_the_window_extends_from_that_payload():
    """A curve sent whole at payload 3 extends, in later payloads, from its length at payload 3."""
    sent = update(confirmed(update(None, figure(5))), figure(6))
    fig = figure(7)
    fig.data[0].y = np.linspace(0, 1, 7)  # new values: sent whole at payload 3
    sent = update(sent, fig)
    fig = figure(9)
    fig.data[0].y = np.linspace(0, 1, 7).tolist() + [2.0, 3.0]
    payload = wire(update(sent, fig).payload)
    assert payload["versions"][0] == 3 and payload["extend"][0][:3] == [0, 7, [7, 8]]
    assert payload["extend"][1][:2] == [1, 5]  # the other curve: since payload 1, the oldest


def test_unchanged_figure_sends_the_same_payload():
    """Nothing changed: the same Sent (same payload and sequence), so Streamlit does not call the JS."""
    first = confirmed(update(None, figure(5)))
    assert update(first, figure(5)) is first


def test_changed_map_is_sent_whole_as_float32():
    """A heatmap that changed travels whole, its 2-D z as plotly.js's typed base64 in float32."""
    first = confirmed(update(None, figure(5)))
    payload = wire(update(first, figure(5, map_step=1)).payload)
    assert payload["extend"] == [] and [i for i, _ in payload["traces"]] == [2]
    z = payload["traces"][0][1]["z"]
    assert z["dtype"] == "f4" and z["shape"] == "4,5"
    np.testing.assert_array_equal(decode(z), np.arange(20, dtype=np.float32).reshape(4, 5) + 1)


def test_changed_layout_is_sent():
    """A new title sends the layout (and the height), and nothing else."""
    first = confirmed(update(None, figure(5)))
    payload = wire(update(first, figure(5, title="loss (smoothed)")).payload)
    assert payload["layout"]["title"]["text"] == "loss (smoothed)"
    assert payload["extend"] == [] and payload["traces"] == []


def test_curve_that_did_not_only_grow_is_sent_whole():
    """A curve whose earlier points changed (decimated anew) is replaced whole, not extended."""
    first = confirmed(update(None, figure(5)))
    fig = figure(6)
    fig.data[0].y = np.linspace(2.3, 0.1, 100)[10:16]
    payload = wire(update(first, fig).payload)
    assert [i for i, _ in payload["traces"]] == [0]
    assert payload["traces"][0][1]["y"] == pytest.approx(list(np.linspace(2.3, 0.1, 100)[10:16]))
    assert [i for i, *_ in payload["extend"]] == [1]


def test_restyled_curve_is_sent_whole():
    """A curve whose style changed (not its points) is replaced whole."""
    first = confirmed(update(None, figure(5)))
    fig = figure(5)
    fig.data[1].line.dash = "dot"
    payload = wire(update(first, fig).payload)
    assert [i for i, _ in payload["traces"]] == [1] and payload["traces"][0][1]["line"]["dash"] == "dot"


def test_resend_after_a_gap_sends_the_whole_figure_with_a_new_sequence():
    """When the browser asks (stale), the next payload is whole, with a sequence higher than any sent."""
    sent = update(confirmed(update(None, figure(5))), figure(6))
    again = update(stale(sent), figure(6))
    payload = wire(again.payload)
    assert payload["seq"] == 3 and "data" in payload and len(payload["data"][0]["x"]) == 6
    assert not again.stale
    assert wire(update(confirmed(again), figure(7)).payload)["base"] == 3


def test_whole_figures_until_the_browser_confirms_one():
    """A whole figure can be skipped too: changes follow only once the browser confirmed drawing one."""
    sent = update(None, figure(5))
    sent = update(sent, figure(6))
    assert "data" in sent.payload and sent.payload["seq"] == 2
    assert update(sent, figure(6)) is sent  # unchanged: the same payload, confirmed or not
    payload = wire(update(confirmed(sent), figure(7)).payload)
    assert (payload["seq"], payload["base"]) == (3, 2) and "data" not in payload


def test_added_trace_sends_the_whole_figure():
    """A figure with another trace is sent whole."""
    first = confirmed(update(None, figure(5)))
    fig = figure(5)
    fig.add_scatter(x=[0, 1], y=[1, 2], name="lr change")
    payload = wire(update(first, fig).payload)
    assert payload["seq"] == 2 and [trace["name"] for trace in payload["data"][::3]] == ["train", "lr change"]


def test_changed_config_sends_the_whole_figure():
    """A new Plotly config is sent with a whole figure."""
    first = confirmed(update(None, figure(5)))
    payload = update(first, figure(5), config={"displayModeBar": False}).payload
    assert "data" in payload and payload["config"]["displayModeBar"] is False


def test_non_finite_numbers_become_null():
    """NaN and inf (a diverged loss) are sent as null: Streamlit's json.dumps would write bare NaN."""
    fig = figure(3)
    fig.data[0].y = [1.0, float("nan"), float("inf")]
    payload = wire(update(None, fig).payload)
    assert payload["data"][0]["y"] == [1.0, None, None]


def test_figure_dict_is_accepted():
    """A plain figure dict gives the same payload as the go.Figure it came from."""
    fig = figure(4)
    assert update(None, fig.to_dict()).payload == update(None, fig).payload


def test_a_dict_without_a_template_gets_the_default_one_as_a_figure_does():
    """The live curves are built as dicts (`curves_spec`): their payload is the go.Figure's, template
    and all, and the template is worked out once per process, not on every redraw."""
    from dashboard.charts import figures as charts

    x = np.arange(0, 3000, 10.0)
    args = (x, np.exp(-x / 1000), 1.1 * np.exp(-x / 1000), [(0, 0.1), (1500, 0.5)], "loss", None)
    spec, fig = charts.curves_spec(*args, width=470), charts.curves_figure(*args, width=470)
    sent = update(None, livechart.prepared(spec)[0])
    assert wire(sent.payload) == wire(update(None, livechart.prepared(fig)[0]).payload)
    assert sent.payload["layout"]["template"] == wire(fig.layout.template.to_plotly_json())
    assert livechart.as_dict(spec)["layout"]["template"] is livechart.as_dict(spec)["layout"]["template"]


def test_the_weight_maps_built_as_dicts_send_what_their_figures_send():
    """The Train view's live W1 tiles and W2 map are built as dicts too (`layer_spec`, `output_spec`; a
    go.Figure took 6-10 ms of the GIL a second to build and send): the payload is the figure's."""
    from dashboard.charts import grad

    rng = np.random.default_rng(0)
    W1, W2, dead = rng.normal(size=(10, 784)), rng.normal(size=(10, 10)), np.arange(10) == 3
    for spec, fig in ((grad.layer_spec(W1, "ΔW1", dead, 0, None, 300), grad.layer_figure(W1, "ΔW1", dead, 0, None, 300)),
                      (grad.output_spec(W2, "dW1", 300), grad.output_figure(W2, "dW1", 300))):
        sent = update(None, livechart.prepared(spec)[0])
        assert wire(sent.payload) == wire(update(None, livechart.prepared(fig)[0]).payload)


def test_decoded_reads_plotly_typed_arrays():
    """Plotly 6's typed-array spec is read back into the array it encodes."""
    z = np.arange(6, dtype=np.int16).reshape(2, 3)
    np.testing.assert_array_equal(decoded(livechart.typed(z)), z)


def test_assets_are_served_from_the_package_and_plotly():
    """livechart.js resolves in this package's folder, plotly.min.js in the installed plotly package."""
    import plotly
    from streamlit.components.v2.component_manager import BidiComponentManager

    manager = BidiComponentManager()
    livechart._register_assets(manager)
    assert Path(manager.get_component_path(livechart.NAME)) == Path(livechart.__file__).resolve().parent
    plotly_dir = Path(manager.get_component_path(livechart.PLOTLY_NAME))
    assert plotly_dir == Path(plotly.__file__).resolve().parent / "package_data"
    assert (plotly_dir / "plotly.min.js").is_file()
    definition = manager.build_definition_with_validation(component_key=livechart.NAME, html=None, css=None,
                                                          js="livechart.js")
    assert definition.js_url == "livechart.js" and manager.get(livechart.PLOTLY_NAME) is not None


def test_app_sends_the_figure_then_only_new_points():
    """In AppTest the chart is an UnknownElement whose proto.json holds whole figures, then (confirmed) new points."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    [element] = at.get("bidi_component")
    assert type(element).__name__ == "UnknownElement"
    assert element.proto.component_name == livechart.NAME and element.proto.js_source_path == "livechart.js"
    first = json.loads(element.proto.json)
    assert len(first["data"][0]["x"]) == 21 and first["data"][2]["z"]["dtype"] == "f4"

    at.run()  # a full rerun runs the fragment once more: no browser confirmed the figure, so whole again
    [element] = at.get("bidi_component")
    second = json.loads(element.proto.json)
    assert second["seq"] == first["seq"] + 1 and len(second["data"][0]["x"]) == 22

    store = at.session_state[livechart.STORE]  # what the browser's `drawn` state does
    store["chart"] = confirmed(store["chart"])
    at.run()
    [element] = at.get("bidi_component")
    third = json.loads(element.proto.json)
    assert (third["seq"], third["base"]) == (second["seq"] + 1, second["seq"])
    assert [(i, x) for i, _, x, _ in third["extend"]] == [(0, [22]), (1, [22])]
    assert [i for i, _ in third["traces"]] == [2]


def test_a_click_hands_its_point_to_the_callback_and_nothing_else(monkeypatch):
    """A reported click calls on_click(x, y) with numbers; a missing or non-numeric point calls nothing."""
    import types

    import streamlit as st

    got = []
    for report in ({"x": 4, "y": 9.0}, None, {"x": "<b>", "y": 1}):
        monkeypatch.setattr(st, "session_state", {"chart": types.SimpleNamespace(click=report)})
        livechart._clicked("chart", lambda x, y: got.append((x, y)))
    assert got == [(4.0, 9.0)]


def test_axes_make_room_for_their_labels_unless_told_otherwise():
    """Every axis gets automargin (a narrow chart would clip its tick labels); an explicit setting is kept."""
    layout = livechart.with_margins({"xaxis": {"title": {"text": "iteration"}}, "yaxis2": {"automargin": False}})
    assert layout["xaxis"] == {"automargin": True, "title": {"text": "iteration"}}
    assert layout["yaxis2"]["automargin"] is False and layout["yaxis"] == {"automargin": True}


# ----- the page loads plotly.js from its head ------------------------------------------------------
def serve_through_preload(content_type: bytes, body: bytes, accept: bytes = b"text/html", method: str = "GET",
                          base: str = ""):
    """What `Preload` sends for one request to an app answering `body`, and the request headers the app saw."""
    import asyncio

    seen, sent = {}, []

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
        half = len(body) // 2
        await send({"type": "http.response.body", "body": body[:half], "more_body": True})
        await send({"type": "http.response.body", "body": body[half:]})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/",
             "headers": [(b"accept", accept), (b"accept-encoding", b"gzip")]}
    asyncio.run(livechart.Preload(app, base_url_path=base)(scope, None, send))
    return sent, seen["headers"]


def test_the_html_page_loads_plotly_and_livechart_from_its_head():
    sent, headers = serve_through_preload(b"text/html; charset=utf-8", b"<html><head><title>x</title></head></html>",
                                          base="lab/app")
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert b'<script type="module" async src="/lab/app/_stcore/bidi-components/digit-lab.plotly/plotly.min.js" data-livechart-plotly>' in body
    assert b'<link rel="modulepreload" href="/lab/app/_stcore/bidi-components/digit-lab.livechart/livechart.js">' in body
    assert body.index(b"plotly.min.js") < body.index(b"</head>")
    assert dict(sent[0]["headers"])[b"content-length"] == str(len(body)).encode()
    assert b"accept-encoding" not in headers  # asked uncompressed, so that it can be edited


def test_other_answers_pass_through_untouched():
    script = b"console.log('</head>')"
    for kind, accept, method in ((b"application/javascript", b"*/*", "GET"), (b"text/html", b"*/*", "GET"),
                                 (b"text/html", b"text/html", "HEAD")):
        sent, headers = serve_through_preload(kind, script, accept=accept, method=method)
        assert b"".join(m.get("body", b"") for m in sent[1:]) == script
        assert headers[b"accept-encoding"] == b"gzip"


# ----- plotly.js on the app's own route, cached for good ------------------------------------------------
def get(app, path: str, headers: dict) -> tuple[int, dict, bytes]:
    """One GET request to an ASGI app: (status, response headers, body)."""
    import asyncio

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "scheme": "http", "server": ("127.0.0.1", 80), "http_version": "1.1",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return (start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent[1:]))


@pytest.fixture
def plotly_route(monkeypatch):
    """A Starlette app serving only livechart's plotly.js route under /lab/app."""
    from starlette.applications import Starlette

    monkeypatch.setattr(livechart, "_plotly_routes", [])  # this process's server, for this test only
    return Starlette(routes=livechart.routes("lab/app"))


def test_plotly_is_served_cached_for_good(plotly_route):
    """The route's address names plotly's version and the bundle (the cached cartesian one, else the package's);
    its answer is that file, gzipped when taken, with headers that let a browser keep it for good; a browser
    that holds it gets a 304."""
    import plotly

    kind, package = plotlyjs.chosen()
    url = livechart.plotly_url("lab/app")
    assert url.startswith(f"/lab/app/api/digit-lab/plotly-{plotly.__version__}-{kind}-") and url.endswith(".min.js")
    if kind == "full":
        assert package == (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    status, headers, body = get(plotly_route, url, {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and headers["content-encoding"] == "gzip" and gzip.decompress(body) == package
    assert "immutable" in headers["cache-control"] and "max-age=31536000" in headers["cache-control"]
    assert headers["content-type"].startswith("application/javascript")
    status, plain, body = get(plotly_route, url, {})
    assert status == 200 and "content-encoding" not in plain and body == package
    status, _, body = get(plotly_route, url, {"If-None-Match": headers["etag"]})
    assert status == 304 and not body
    assert get(plotly_route, url.replace("plotly-", "plotly-0"), {})[0] == 404


def test_with_the_route_the_head_and_the_charts_load_plotly_from_it(plotly_route):
    """The page's head and every live chart name the same plotly.js address (one module for the page)."""
    from streamlit.testing.v1 import AppTest

    url = livechart.plotly_url("")
    sent, _ = serve_through_preload(b"text/html", b"<html><head></head></html>")
    head = b"".join(m.get("body", b"") for m in sent[1:])
    assert f'<script type="module" async src="{url}" data-livechart-plotly>'.encode() in head
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    [element] = at.get("bidi_component")
    assert json.loads(element.proto.json)["plotly"] == url


def test_pages_opened_once_the_cartesian_bundle_arrived_load_it(plotly_route, monkeypatch):
    """A server that fetched the cartesian bundle while it ran names it to the pages opened from then on (in
    the head and the charts' data); a page opened before keeps the full bundle, still served."""
    monkeypatch.setattr(livechart, "_stamped", {})
    monkeypatch.setattr(livechart, "_gzipped", {})
    monkeypatch.setattr(plotlyjs, "_chosen", None)
    monkeypatch.setattr(plotlyjs, "bundle", lambda where=None: ("full", b"full js"))
    before = livechart.plotly_url("lab/app")
    monkeypatch.setattr(plotlyjs, "bundle", lambda where=None: ("cartesian", b"cartesian js"))
    assert livechart.plotly_url("lab/app") == before  # decided until a fetch brings the bundle
    plotlyjs.adopt()
    after = livechart.plotly_url("lab/app")
    assert "-full-" in before and "-cartesian-" in after
    sent, _ = serve_through_preload(b"text/html", b"<html><head></head></html>", base="lab/app")
    assert f'src="{after}" data-livechart-plotly'.encode() in b"".join(m.get("body", b"") for m in sent[1:])
    assert get(plotly_route, after, {})[2] == b"cartesian js"
    assert get(plotly_route, before, {})[2] == b"full js"


def test_without_the_route_charts_name_no_plotly_address():
    """Without the app's route (a bare script, AppTest) livechart.js takes Streamlit's component asset."""
    from streamlit.testing.v1 import AppTest

    assert livechart.plotly_url("") is None
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    [element] = at.get("bidi_component")
    assert "plotly" not in json.loads(element.proto.json)
