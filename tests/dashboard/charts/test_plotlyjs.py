"""Which plotly.js the live charts load: the cartesian bundle fetched from an npm registry (here a local one
serving a small stand-in tarball), checked and cached, or the plotly package's full bundle."""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboard import cli
from dashboard.charts import livechart
from dashboard.charts.livechart import plotlyjs
from data import DownloadError

STAND_IN = b"/**\n* plotly.js (cartesian - minified) v4.1.1\n*/\nwindow.Plotly = {};\n"


def tarball(js: bytes) -> bytes:
    """An npm tarball holding `js` where the cartesian package keeps its bundle."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, content in ((plotlyjs.PARTIAL["member"], js), ("package/package.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """A local registry serving the stand-in tarball at npm's address for it; PARTIAL pinned to its checksums."""
    body = tarball(STAND_IN)
    name, version = plotlyjs.PARTIAL["name"], plotlyjs.PARTIAL["version"]
    folder = tmp_path / "registry" / name / "-"
    folder.mkdir(parents=True)
    (folder / f"{name}-{version}.tgz").write_bytes(body)
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
    monkeypatch.setitem(plotlyjs.PARTIAL, "integrity", integrity)
    monkeypatch.setitem(plotlyjs.PARTIAL, "sha256", hashlib.sha256(STAND_IN).hexdigest())
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path / "registry")))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_fetched_bundle_is_kept_whole_and_served(registry, tmp_path):
    """The tarball checked, its bundle lands in the cache (no partial file left) and is the one pages load."""
    cache = tmp_path / "cache"
    path = plotlyjs.fetch(cache, registry=registry)
    assert path == plotlyjs.path(cache) and path.read_bytes() == STAND_IN
    assert [p.name for p in cache.iterdir()] == [path.name]
    assert plotlyjs.cached(cache) == STAND_IN
    assert plotlyjs.bundle(cache) == ("cartesian", STAND_IN)


def test_a_tarball_that_is_not_the_published_one_is_refused(registry, tmp_path, monkeypatch):
    """Another checksum than npm's: one sentence, and nothing in the cache."""
    monkeypatch.setitem(plotlyjs.PARTIAL, "integrity", "sha512-" + base64.b64encode(bytes(64)).decode())
    with pytest.raises(DownloadError, match="its checksum differs"):
        plotlyjs.fetch(tmp_path / "cache", registry=registry)
    assert not (tmp_path / "cache").exists()


def test_an_unreachable_registry_says_so(tmp_path):
    with pytest.raises(DownloadError, match="could not fetch http://127.0.0.1:9/"):
        plotlyjs.fetch(tmp_path / "cache", registry="http://127.0.0.1:9", timeout=5)


def test_a_damaged_or_foreign_bundle_is_not_used(registry, tmp_path, monkeypatch):
    """A cached file with other bytes, or a plotly package of another plotly.js release: the full bundle serves."""
    cache = tmp_path / "cache"
    plotlyjs.fetch(cache, registry=registry)
    assert plotlyjs.bundle(cache)[0] == "cartesian"
    monkeypatch.setattr(plotlyjs, "full", lambda: b"/**\n* plotly.js v3.0.1\n*/")
    assert plotlyjs.bundle(cache) == ("full", b"/**\n* plotly.js v3.0.1\n*/")
    monkeypatch.undo()
    plotlyjs.path(cache).write_bytes(STAND_IN + b" ")
    assert plotlyjs.cached(cache) is None and plotlyjs.bundle(cache) == ("full", plotlyjs.full())


def test_the_release_is_read_from_the_bundles_header():
    assert plotlyjs.version_of(plotlyjs.full()) is not None
    assert plotlyjs.version_of(STAND_IN) == "4.1.1"
    assert plotlyjs.version_of(b"/** plotly.js v4.10.2 */") == "4.10.2"
    assert plotlyjs.version_of(b"console.log(1)") is None


def test_a_servers_start_fetches_the_bundle_in_the_background(registry, tmp_path, monkeypatch):
    """Missing, it is fetched into the user's cache folder and pages opened from then on load it; there, or with
    the registry set empty, nothing starts."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(plotlyjs, "full", lambda: STAND_IN.replace(b"cartesian", b"full"))  # the pinned release
    monkeypatch.setattr(plotlyjs, "_chosen", None)
    monkeypatch.setenv(plotlyjs.REGISTRY_ENV, "")
    assert plotlyjs.fetch_later() is None
    monkeypatch.setenv(plotlyjs.REGISTRY_ENV, registry)
    assert plotlyjs.chosen()[0] == "full"
    thread = plotlyjs.fetch_later()
    thread.join(timeout=30)
    assert plotlyjs.cached() == STAND_IN and plotlyjs.path().is_relative_to(tmp_path / "xdg")
    assert plotlyjs.chosen() == ("cartesian", STAND_IN)
    assert plotlyjs.fetch_later() is None


def test_the_cli_fetches_it_or_says_why_not(registry, tmp_path, monkeypatch, capsys):
    """`digit-lab download plotly-js`: the path on success; offline, one line and exit code 2."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(plotlyjs.REGISTRY_ENV, registry)
    assert cli.main(["download", "plotly-js"]) == 0
    assert str(plotlyjs.path()) in capsys.readouterr().out and plotlyjs.cached() == STAND_IN
    monkeypatch.setenv(plotlyjs.REGISTRY_ENV, "http://127.0.0.1:9")
    assert cli.main(["download", "plotly-js"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("digit-lab: could not fetch") and err.count("\n") == 1


def test_a_live_chart_draws_only_the_cartesian_bundles_traces():
    """A trace the cartesian bundle lacks (a 3-D scatter) is refused in Python, not drawn blank by the browser."""
    with pytest.raises(ValueError, match="scatter3d"):
        livechart.prepared({"data": [{"type": "scatter"}, {"type": "scatter3d"}], "layout": {}})
    figure, _ = livechart.prepared({"data": [{"type": t} for t in ("bar", "heatmap", "contour")], "layout": {}})
    assert [t["type"] for t in figure["data"]] == ["bar", "heatmap", "contour"]
