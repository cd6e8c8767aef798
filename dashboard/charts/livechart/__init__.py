"""A Plotly chart that updates in place while training: `live_chart(figure, key=...)` (issue 16).

Streamlit 1.67's `st.plotly_chart` hashes the figure into the element id, so every changed figure
is a new element: the chart is unmounted and drawn from scratch, hover and zoom are lost and a
frame can show it blank (upstream PR #16052 is open). This is a components-v2 element instead,
mounted once per `key`; its JS (`livechart.js`, beside this file) keeps one Plotly instance and
applies each payload to it with `Plotly.react`.

Python reduces each figure to what changed since the last payload of this key in this session:
- a curve (a scatter trace whose x and y only grew) sends its new points;
- any other trace that changed (a heatmap) is sent whole, 2-D arrays as typed base64;
- a changed layout is sent whole.
Payloads carry a sequence number. A change payload applies to any figure the browser drew from
the last WINDOW payloads (Streamlit hands the JS only the newest data, so one can be skipped): a
curve's new points are those since the oldest of them, and each trace and the layout carry the
sequence number of their last whole sending (`versions`), and are sent again in the next payload.
When the JS cannot apply a payload (a remount, more skipped payloads), it asks for the whole
figure through its `resend` state; whole figures follow until the JS confirms one (`drawn`).
Only numbers and the figure's own strings reach the JS, as JSON (NaN and inf become null); the
JS writes no received text as HTML.

plotly.js is never copied into the repository: a server serves the same release's cartesian bundle
once it is in the user's cache (fetched from npm, checksum-verified: `plotlyjs`), else the installed
`plotly` package's full bundle (`plotly/package_data/plotly.min.js`). The app serves it on a route of
its own (`routes`), at an address that names plotly's version, the bundle and its digest, compressed
once per server and cached by browsers for good: a reload or a second view does not fetch it again,
nor make the server compress it again (0.13 s of a core each time for the full bundle, on the event
loop). Without that route (AppTest, a bare `streamlit run` of a script), livechart.js takes the full
bundle from Streamlit's component assets (`_register_assets`).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import gzip
import hashlib
import json
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from dashboard.charts.livechart import plotlyjs

NAME = "digit-lab.livechart"  # <manifest name>.<component>; its assets: /_stcore/bidi-components/NAME/
PLOTLY_NAME = "digit-lab.plotly"  # plotly.js, an asset-only registration livechart.js imports from
PLOTLY_PATH = "/api/digit-lab/plotly-{stamp}.min.js"  # plotly.js on the app's own route (`routes`)
FOREVER = "public, max-age=31536000, immutable"  # the route's address changes with plotly.js's bytes
CURVE_TYPES = ("scatter",)
STORE = "_livechart"  # st.session_state key: {chart key: Sent}
DEFAULT_HEIGHT = 400
WINDOW = 5  # a change payload applies on top of any of the last WINDOW payloads


@dataclass(frozen=True)
class Sent:
    """What the browser holds for one chart once it applied `payload` (sequence `seq`)."""

    seq: int
    payload: dict
    traces: tuple  # per trace: fingerprint of everything but x/y for curves, of the whole trace otherwise
    curves: tuple  # per trace: (x, y) as NumPy arrays for curves, None for other traces
    layout: str  # fingerprint of the layout and height
    config: str  # fingerprint of the Plotly config (a change sends the whole figure)
    versions: tuple  # per trace: the sequence number of the payload that last sent it whole
    layout_version: int  # the sequence number of the payload that last sent the layout
    lengths: tuple  # ((seq, curve lengths per trace, None for others), ...): the last WINDOW payloads
    stale: bool = field(default=False)  # the browser asked for the whole figure
    pending: bool = field(default=True)  # a whole figure the browser has not confirmed yet


# ----- figures to JSON-safe values --------------------------------------------------------------
def plain(value: Any) -> Any:
    """`value` as JSON-safe Python: NaN/inf -> None, 1-D arrays -> lists, numeric 2-D+ -> typed base64."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            return plain(decoded(value))
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.ndim >= 2 and value.dtype.kind in "fiu":
            return typed(value)
        return [plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


def typed(array: np.ndarray) -> dict:
    """A numeric array as plotly.js's typed-array spec (`dtype`, `bdata`, `shape`); floats as float32."""
    if array.dtype.kind == "f":
        array = array.astype("<f4")  # a map is colours; float32 keeps 7 digits for the hover
    else:
        array = array.astype(array.dtype.newbyteorder("<"))
    code = {"f": "f", "i": "i", "u": "u"}[array.dtype.kind] + str(array.dtype.itemsize)
    return {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii"),
            "shape": ",".join(str(n) for n in array.shape)}


def decoded(value: Any) -> Any:
    """A typed-array spec as Plotly 6 stores NumPy data (`{"dtype", "bdata", "shape"}`) as a NumPy
    array; anything else unchanged."""
    if not (isinstance(value, dict) and "bdata" in value and "dtype" in value):
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), np.dtype(value["dtype"]).newbyteorder("<"))
    if "shape" in value:
        array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
    return array


def fingerprint(value: Any) -> str:
    """A digest of a JSON-safe value (equal values, equal digests)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def as_dict(figure: Any) -> dict:
    """A plotly `go.Figure` (or a figure dict) as a dict with `data` and `layout`.

    A dict without a template gets Plotly's default one, as a go.Figure does (under Streamlit, its
    "streamlit" template, whose colours livechart.js swaps for the theme's)."""
    figure = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else figure
    layout = dict(figure.get("layout", {}))
    if "template" not in layout:
        import plotly.io as pio

        if pio.templates.default:
            layout["template"] = default_template(pio.templates.default)[0]
    return {"data": list(figure.get("data", [])), "layout": layout}


_templates: dict[str, tuple[dict, str]] = {}  # template name -> (its JSON-safe form, its fingerprint)


def default_template(name: str) -> tuple[dict, str]:
    """Plotly's template `name` as JSON-safe values and its fingerprint, made once: the same object
    on every figure, so `update` serialises and fingerprints it once, not on every redraw."""
    if name not in _templates:
        import plotly.io as pio

        template = plain(pio.templates[name].to_plotly_json())
        _templates[name] = (template, fingerprint(template))
    return _templates[name]


def _template_print(template: Any) -> tuple[Any, str]:
    """A layout's template as JSON-safe values and its fingerprint; a `default_template`'s from its cache."""
    for known in list(_templates.values()):
        if known[0] is template:
            return known
    template = plain(template)
    return template, fingerprint(template)


def curve(trace: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(x, y) of a trace that can grow point by point (a scatter with 1-D x and y of one length)."""
    if trace.get("type", "scatter") not in CURVE_TYPES or "x" not in trace or "y" not in trace:
        return None
    x, y = np.asarray(decoded(trace["x"])), np.asarray(decoded(trace["y"]))
    if x.ndim != 1 or y.ndim != 1 or len(x) != len(y):
        return None
    return x, y


def grew(old: np.ndarray, new: np.ndarray) -> bool:
    """Whether `new` is `old` with points appended (NaN equal to NaN)."""
    if len(new) < len(old) or old.dtype.kind != new.dtype.kind:
        return False
    try:
        return np.array_equal(old, new[:len(old)], equal_nan=old.dtype.kind == "f")
    except TypeError:
        return np.array_equal(old, new[:len(old)])


# ----- payloads ---------------------------------------------------------------------------------
def update(previous: Sent | None, figure: Any, *, height: int = DEFAULT_HEIGHT,
           config: dict | None = None) -> Sent:
    """The next `Sent` for this chart: `previous` itself when nothing changed, else a new payload.

    A payload is either whole (`data`, `layout`, `height`, `config`) or a change that applies to
    any figure from sequence `base` on: `extend` [[trace, start, x, y]] (the points from index
    `start`), `traces` [[trace, whole trace]] changed in this payload or the last, `versions` and
    `layout_version` (see `Sent`), and `layout` with `height` when it changed in this payload or the last.
    """
    figure = as_dict(figure)
    config = {"displaylogo": False, **(config or {})}
    template, template_print = _template_print(figure["layout"].get("template"))
    layout = plain({k: v for k, v in figure["layout"].items() if k != "template"})
    curves = tuple(curve(trace) for trace in figure["data"])
    traces = tuple(fingerprint(plain({k: v for k, v in trace.items() if k not in ("x", "y")} if xy else trace))
                   for trace, xy in zip(figure["data"], curves))
    layout_print, config_print = fingerprint([layout, height, template_print]), fingerprint(config)
    if template is not None:
        layout["template"] = template
    lengths = tuple(None if xy is None else len(xy[0]) for xy in curves)
    if previous is not None and not previous.stale and (traces, layout_print, config_print) == (
            previous.traces, previous.layout, previous.config) and all(map(same, curves, previous.curves)):
        return previous  # the same payload again: Streamlit does not even call the JS
    seq = previous.seq + 1 if previous else 1
    # Whole figures until the browser confirms one: like any payload, one can be skipped.
    if (previous is None or previous.stale or previous.pending or len(previous.traces) != len(traces)
            or previous.config != config_print):
        payload = {"seq": seq, "data": [plain(t) for t in figure["data"]], "layout": layout, "height": height,
                   "config": config}
        return Sent(seq, payload, traces, curves, layout_print, config_print, (seq,) * len(traces), seq,
                    ((seq, lengths),))
    versions, replaced = list(previous.versions), []
    for i, (trace, xy, old_xy, print_, old_print) in enumerate(
            zip(figure["data"], curves, previous.curves, traces, previous.traces)):
        if xy is not None and old_xy is not None and print_ == old_print:
            changed = not (grew(old_xy[0], xy[0]) and grew(old_xy[1], xy[1]))  # e.g. decimated anew
        else:
            changed = print_ != old_print or (xy is None) != (old_xy is None)
        if changed:
            replaced.append([i, plain(trace)])
            versions[i] = seq
    # A trace or layout that the last change payload sent whole is sent again: a page that skipped
    # that one payload still gets it (a skipped whole figure, or two payloads, cost a whole figure).
    again = "data" not in previous.payload
    replaced += [[i, plain(trace)] for i, (trace, version) in enumerate(zip(figure["data"], previous.versions))
                 if again and version == previous.seq and versions[i] != seq]
    replaced.sort(key=lambda item: item[0])
    base, at = previous.lengths[0][0], dict(previous.lengths)
    extend = []
    for i, (xy, version) in enumerate(zip(curves, versions)):
        if xy is not None and version < seq:
            start = at[max(base, version)][i]  # the points since the oldest figure this applies to
            if len(xy[0]) > start:
                extend.append([i, start, plain(xy[0][start:]), plain(xy[1][start:])])
    layout_version = seq if layout_print != previous.layout else previous.layout_version
    payload = {"seq": seq, "base": base, "extend": extend, "traces": replaced, "versions": versions,
               "layout_version": layout_version}
    if layout_version == seq or (again and previous.layout_version == previous.seq):
        payload.update(layout=layout, height=height)
    return Sent(seq, payload, traces, curves, layout_print, config_print, tuple(versions), layout_version,
                (previous.lengths + ((seq, lengths),))[-WINDOW:], pending=False)


def prepared(figure: Any, height: int | None = None) -> tuple[dict, int]:
    """A figure as `live_chart` draws it (axes making room for their labels) and its height in pixels:
    `height`, else the layout's, else DEFAULT_HEIGHT."""
    figure = as_dict(figure)
    unknown = {trace.get("type", "scatter") for trace in figure["data"]} - plotlyjs.TRACES
    if unknown:
        raise ValueError(f"a live chart draws only the cartesian bundle's traces (plotlyjs.TRACES), "
                         f"not {sorted(unknown)}")
    figure["layout"] = with_margins(figure["layout"])
    return figure, int(height or figure["layout"].get("height") or DEFAULT_HEIGHT)


def next_sent(previous: Sent | None, figure: Any, *, config: Mapping | None = None) -> Sent:
    """`update` for a figure as `live_chart` draws it (see `prepared`), at the layout's height."""
    figure, height = prepared(figure)
    return update(previous, figure, height=height, config=dict(config) if config else None)


def same(old: tuple | None, new: tuple | None) -> bool:
    """Whether two curves' (x, y) (or two non-curves: None) hold the same points."""
    if old is None or new is None:
        return old is new
    return len(old[0]) == len(new[0]) and grew(old[0], new[0]) and grew(old[1], new[1])


def stale(previous: Sent | None) -> Sent | None:
    """`previous` marked so that the next `update` sends the whole figure (the browser asked)."""
    return replace(previous, stale=True) if previous else None


def confirmed(previous: Sent | None) -> Sent | None:
    """`previous` once the browser drew a whole figure: later payloads may be changes."""
    return replace(previous, pending=False) if previous else None


# ----- Streamlit --------------------------------------------------------------------------------
def _register_assets(manager) -> None:
    """Declare the two asset folders on Streamlit's component manager, as its manifest scanner would.

    Streamlit 1.67 serves a v2 component's files only from an `asset_dir` declared in a
    `[tool.streamlit.component]` manifest, which its scanner (`manifest_scanner.py`) finds in a
    `pyproject.toml` next to an import package named after the distribution (`digit_lab`: we have
    none), and an `asset_dir` must lie inside that package: plotly.js would have to be copied
    in. So we hand the manager the `ComponentManifest` the scanner would build, once per runtime
    (each AppTest has its own): `digit-lab.livechart` -> this folder, `digit-lab.plotly` ->
    the installed plotly's `package_data`. Both are then served under the app's base URL.
    """
    import plotly
    from streamlit.components.v2.manifest_scanner import ComponentConfig, ComponentManifest

    name, component = NAME.split(".")
    here = Path(__file__).resolve().parent
    manager.register_from_manifest(ComponentManifest(name, "1", [ComponentConfig(component, here.name)]),
                                   here.parent)
    manager.register_from_manifest(
        ComponentManifest(name, "1", [ComponentConfig(PLOTLY_NAME.split(".")[1], "package_data")]),
        Path(plotly.__file__).resolve().parent)


def plotly_js() -> tuple[str, bytes]:
    """The plotly.js that pages opened now load (`plotlyjs.chosen`: the cartesian bundle once it is cached,
    else the plotly package's): (its stamp, "<plotly version>-<kind>-<digest>", and its bytes)."""
    import plotly

    kind, raw = plotlyjs.chosen()
    if kind not in _stamped:  # one digest per bundle and process
        _stamped[kind] = (f"{plotly.__version__}-{kind}-{hashlib.blake2b(raw, digest_size=6).hexdigest()}", raw)
    return _stamped[kind]


_stamped: dict[str, tuple[str, bytes]] = {}  # bundle kind -> (stamp, bytes): each bundle this process named
_gzipped: dict[str, bytes] = {}  # stamp -> the bundle gzipped (the full bundle: 1.5 MB; the cartesian one: 0.5 MB)
_plotly_routes: list = []  # the plotly.js route made for this process's server (empty: none, as under AppTest)


def routes(base_url_path: str = "") -> list:
    """The Starlette route that serves plotly.js for `st.App(routes=...)` (dashboard/app.py): at an address
    with the bundle's stamp, gzipped when the browser takes it, cached for good (`FOREVER`). It serves every
    bundle this process has named (a page opened before the cartesian bundle arrived keeps the full one)."""
    import anyio
    from starlette.responses import Response
    from starlette.routing import Route

    def gzipped(stamp: str, raw: bytes) -> bytes:
        if stamp not in _gzipped:
            _gzipped[stamp] = gzip.compress(raw, 6)
        return _gzipped[stamp]

    async def serve(request) -> Response:
        stamp = request.path_params["stamp"]
        raw = {named: raw for named, raw in _stamped.values()}.get(stamp)
        if raw is None:
            return Response(status_code=404)
        tag = f'"{stamp}"'
        headers = {"Cache-Control": FOREVER, "ETag": tag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = await anyio.to_thread.run_sync(gzipped, stamp, raw)  # the first time: 0.13 s, off the event loop
            headers["Content-Encoding"] = "gzip"
        else:
            body = raw
        return Response(body, media_type="application/javascript", headers=headers)

    plotly_js()  # the bundle named now is served from the start
    made = [Route(base_path(base_url_path) + PLOTLY_PATH.format(stamp="{stamp}"), serve, methods=["GET"])]
    _plotly_routes[:] = made
    return made


def plotly_url(base_url_path: str = "") -> str | None:
    """Where a page opened now loads plotly.js from: the app's own route, or None without it (livechart.js
    then takes Streamlit's component asset)."""
    if not _plotly_routes:
        return None
    return base_path(base_url_path) + PLOTLY_PATH.format(stamp=plotly_js()[0])


_mounters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # component manager -> mount callable
_served: weakref.WeakSet = weakref.WeakSet()  # component managers that serve our assets


def serve_assets() -> None:
    """Have the running Streamlit runtime serve livechart.js and plotly.js (once per runtime)."""
    from streamlit.runtime import Runtime

    manager = Runtime.instance().bidi_component_registry
    if manager not in _served:
        _register_assets(manager)
        _served.add(manager)


@contextlib.asynccontextmanager
async def lifespan(_app):
    """`st.App(lifespan=...)`: the assets are served from the server's start, before any page ran,
    so that the page can fetch plotly.js while Streamlit boots (`Preload`); a missing cartesian bundle
    is fetched in the background, for the pages opened once it is in (`plotlyjs.fetch_later`)."""
    serve_assets()
    plotlyjs.fetch_later()
    yield


def base_path(base_url_path: str) -> str:
    """Streamlit's `server.baseUrlPath` as an absolute path prefix: "" or "/lab/app"."""
    return "/" + base_url_path.strip("/") if base_url_path.strip("/") else ""


class Preload:
    """ASGI middleware: the app's HTML page loads plotly.js (and preloads livechart.js) from its <head>.

    Without it the browser learns of plotly.js only when the first live chart mounts, after
    Streamlit's own bundle booted and the script's first run arrived, then fetches and runs
    4.8 MB: the first chart came ~0.9 s after a bare `st.plotly_chart` app's (whose plotly chunk
    is as large). Loaded from the page's head, the two overlap. plotly.js is a UMD bundle that
    sets window.Plotly; as a module script (marked `data-livechart-plotly`) it is the very module
    livechart.js imports later (one URL, one module, even if the server switched bundles since).
    Only HTML answers to GET requests are touched (asked uncompressed, ~5 KB).
    """

    def __init__(self, app, base_url_path: str = ""):
        self.app, self.base_url_path = app, base_url_path

    def tag(self) -> bytes:
        """The head's tags for a page opened now (the bundle can change while the server runs: `plotlyjs`)."""
        assets = f"{base_path(self.base_url_path)}/_stcore/bidi-components"
        plotly = plotly_url(self.base_url_path) or f"{assets}/{PLOTLY_NAME}/plotly.min.js"
        return (f'<script type="module" async src="{plotly}" data-livechart-plotly></script>'  # livechart.js imports it
                f'<link rel="modulepreload" href="{assets}/{NAME}/livechart.js">').encode()

    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        if scope["type"] != "http" or scope["method"] != "GET" or b"text/html" not in headers.get(b"accept", b""):
            await self.app(scope, receive, send)
            return
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        start, body = None, []

        async def sending(message):
            nonlocal start
            if message["type"] == "http.response.start":
                kind = dict(message.get("headers") or []).get(b"content-type", b"")
                if not kind.startswith(b"text/html"):
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body).replace(b"</head>", self.tag() + b"</head>", 1)
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            await send({**start, "headers": headers + [(b"content-length", str(len(page)).encode())]})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, sending)


def _mounter():
    """The component's mount callable for the running Streamlit runtime, or None without one."""
    import streamlit as st
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None  # a bare `python script.py`: Streamlit draws nothing anyway
    manager = Runtime.instance().bidi_component_registry
    if manager not in _mounters:
        serve_assets()
        # isolate_styles=False: in a shadow root Plotly's injected CSS never reaches its hover layer.
        _mounters[manager] = st.components.v2.component(NAME, js="livechart.js", isolate_styles=False)
    return _mounters[manager]


def _ask_resend(key: str) -> None:
    """The browser missed a payload of chart `key`: send the whole figure on this run."""
    import streamlit as st

    store = st.session_state.get(STORE, {})
    store[key] = stale(store.get(key))


def _confirm(key: str) -> None:
    """The browser drew a whole figure of chart `key`: changes may follow."""
    import streamlit as st

    store = st.session_state.get(STORE, {})
    store[key] = confirmed(store.get(key))


def live_chart(figure: Any, *, key: str, height: int | None = None, config: dict | None = None,
               on_click: Callable[[float, float], None] | None = None, feed: str | None = None,
               static: bool = False) -> None:
    """Draw a plotly figure (a `go.Figure` or dict) that later calls with the same `key` update in place.

    Like `st.plotly_chart(figure, key=key)`; `height` defaults to the layout's height or 400 px,
    `config` is Plotly's config (e.g. `{"displayModeBar": False}`). `on_click(x, y)` is called (as a
    callback, before the rerun) with the data coordinates of a clicked point. `feed`: the URL of a
    live feed (dashboard/runs/feed.py) that carries this chart's later figures under `key`; the
    figure is then sent whole, and the browser draws the feed's events on top of it. `static`: a
    chart that only a rerun changes (the Math and Inside-a-digit views): a changed figure is sent
    whole, an unchanged one not at all, and the browser sends no word back (a confirmation would cost
    the page a rerun). The views draw such charts here rather than with `st.plotly_chart`, which
    loads Streamlit's own 4.7 MB copy of plotly.js: about 1.4 s of a core the first time a page
    shows one, beside the copy the live charts already run.
    """
    import streamlit as st

    mount = _mounter()
    if mount is None:
        return
    figure, height = prepared(figure, height)
    store = st.session_state.setdefault(STORE, {})
    previous = stale(store.get(key)) if feed else store.get(key)  # the feed moves the chart on: whole again
    sent = store[key] = update(previous, figure, height=height, config=config)
    clicks = {} if on_click is None else {"on_click_change": functools.partial(_clicked, key, on_click)}
    plotly = plotly_url(st.get_option("server.baseUrlPath") or "")
    data = {**sent.payload, **({"clicks": True} if on_click else {}), **({"feed": feed, "name": key} if feed else {}),
            **({"static": True} if static else {}), **({"plotly": plotly} if plotly else {})}
    mount(key=key, data=data, height=height, on_resend_change=functools.partial(_ask_resend, key),
          on_drawn_change=functools.partial(_confirm, key), **clicks)


def status_payload(cells: list[tuple], note: str | None = None) -> dict:
    """A status row for `live_status`: cells of (label, value), or (label, value, delta or None, tone: "good"
    or "bad"), and an optional warning line under them. Text only: the JS writes every string as text,
    never as HTML."""
    return {"status": [[str(label), str(value), None if delta is None else str(delta), tone]
                       for label, value, delta, tone in ((*cell, None, None)[:4] for cell in cells)],
            "note": None if note is None else str(note)}


def live_status(payload: dict, *, key: str, feed: str | None = None) -> None:
    """Draw a status row (`status_payload`): labelled figures that a feed's events redraw in place.

    A figure that changes while training (the iteration, the accuracies) is text, not a chart, but it
    follows the run the same way as the charts: through the feed at `feed` under `key`, with no rerun.
    When that feed ends (the run stopped) the row asks for a rerun (its `ended` state), of the whole page
    when the row is drawn outside any fragment (`dashboard.runs.live.row`).
    """
    mount = _mounter()
    if mount is None:
        return
    data = {**payload, **({"feed": feed, "name": key} if feed else {})}
    mount(key=key, data=data, on_resend_change=_nothing, on_ended_change=_nothing)


def _nothing() -> None:
    """A state callback with nothing to do: the rerun its change causes is the point."""


def with_margins(layout: dict) -> dict:
    """The layout with every axis making room for its tick labels and title (`automargin`), as
    st.plotly_chart's theme does: without it a narrow chart clips its y tick labels."""
    axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))] or []
    layout = {**layout, **{k: {"automargin": True, **(layout[k] or {})} for k in axes}}
    for name in ("xaxis", "yaxis"):
        layout.setdefault(name, {"automargin": True})
    return layout


def _clicked(key: str, on_click: Callable[[float, float], None]) -> None:
    """The browser reported a click on chart `key`: hand its point to `on_click` (numbers only)."""
    import streamlit as st

    point = getattr(st.session_state.get(key), "click", None)
    if isinstance(point, dict) and all(isinstance(point.get(k), (int, float)) for k in ("x", "y")):
        on_click(float(point["x"]), float(point["y"]))
