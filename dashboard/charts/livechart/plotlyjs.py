"""Which plotly.js the live charts load: the `plotly` package's full bundle, or the same release's cartesian one.

The live charts draw only scatter, bar, heatmap and contour traces, all in plotly.js's cartesian
partial bundle (`TRACES`). A browser runs that 1.5 MB bundle in about a third of the full bundle's
time (0.26 against 0.76 s of its main thread, the page's first chart about 0.6 s sooner in a
fresh browser), and nothing else draws on the page until it has run. The `plotly` package ships
only the full bundle (4.8 MB) and we commit no copy of plotly.js, so the partial one is fetched
once from the npm registry, the same release as the installed plotly.js (`PARTIAL`, its tarball
checked against the integrity npm publishes), and kept in the user's cache folder. A server uses
it when it finds it there; one that does not fetches it in the background at start (`fetch_later`)
and pages opened once it is in load it (`chosen`); `digit-lab download plotly-js` fetches it at
once. Without it (offline, another plotly.js release, or `DIGIT_LAB_NPM_REGISTRY` set empty) the
full bundle serves.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import re
import sys
import tarfile
import threading
import urllib.request
from pathlib import Path

from data import DownloadError

PARTIAL = {  # npm's plotly.js-cartesian-dist-min of the installed plotly (7.1)'s plotly.js
    "name": "plotly.js-cartesian-dist-min",
    "version": "4.1.1",
    "member": "package/plotly-cartesian.min.js",
    "integrity": "sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg==",
    "sha256": "79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a",  # of the member
}
# The trace types the cartesian bundle holds (its README); `live_chart` draws no other.
TRACES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image",
                    "pie", "scatter", "scatterternary", "violin"})
REGISTRY = "https://registry.npmjs.org"
REGISTRY_ENV = "DIGIT_LAB_NPM_REGISTRY"  # another registry (a mirror); empty: never fetch
MAX_BYTES = 20_000_000  # a tarball larger than this is not the one we want


def folder() -> Path:
    """Where the fetched bundle is kept: the user's cache folder (not $DIGIT_LAB_DATA: it is no dataset)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "digit-lab" / "plotly.js"


def path(where: Path | None = None) -> Path:
    """The cartesian bundle's file in `where` (default: `folder()`)."""
    return (where or folder()) / f"plotly-cartesian-{PARTIAL['version']}.min.js"


@functools.cache
def full() -> bytes:
    """The plotly package's plotly.js (the full bundle), read once per process."""
    import plotly

    return (Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js").read_bytes()


def version_of(js: bytes) -> str | None:
    """The release a plotly.js bundle names in its header comment ("plotly.js v4.1.1"), or None."""
    found = re.search(rb"plotly\.js (?:\([^)]*\) )?v(\d+\.\d+\.\d+)", js[:400])
    return found.group(1).decode() if found else None


def cached(where: Path | None = None) -> bytes | None:
    """The fetched cartesian bundle, if it is in the cache whole (its sha256 as pinned), else None."""
    try:
        js = path(where).read_bytes()
    except OSError:
        return None
    return js if hashlib.sha256(js).hexdigest() == PARTIAL["sha256"] else None


def bundle(where: Path | None = None) -> tuple[str, bytes]:
    """("cartesian" or "full", the bytes) that this server's pages load: the cached cartesian bundle when it is
    the installed plotly.js's release, else the full one."""
    installed = full()
    partial = cached(where) if version_of(installed) == PARTIAL["version"] else None
    return ("cartesian", partial) if partial is not None else ("full", installed)


def fetch(where: Path | None = None, registry: str | None = None, timeout: float = 30) -> Path:
    """Fetch the cartesian bundle's tarball from the npm registry, check it and keep its bundle; return its path.

    Raises: DownloadError, in one sentence, when it cannot be fetched or is not the published file.
    """
    registry = (registry if registry is not None else os.environ.get(REGISTRY_ENV, REGISTRY)).rstrip("/")
    name, version = PARTIAL["name"], PARTIAL["version"]
    url = f"{registry}/{name}/-/{name}-{version}.tgz"
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "digit-lab"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
    except (OSError, ValueError) as error:  # URLError and timeouts are OSErrors; ValueError: a bad URL
        raise DownloadError(f"could not fetch {url}: {getattr(error, 'reason', None) or error}") from None
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
    if len(body) > MAX_BYTES or integrity != PARTIAL["integrity"]:
        raise DownloadError(f"{url} is not the published {name} {version} (its checksum differs)")
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        js = tar.extractfile(PARTIAL["member"]).read()  # the integrity above vouches for the tarball
    target = path(where)
    partial = target.with_name(target.name + f".{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(js)
        os.replace(partial, target)  # the cache only ever holds a whole file
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"could not write {target}: {error.strerror or error}") from None
    return target


def fetch_later() -> threading.Thread | None:
    """At a server's start: fetch the cartesian bundle in the background if it is missing and would be used
    (the installed release, a registry set); pages opened once it is in load it (`adopt`). Returns the
    thread, or None."""
    if os.environ.get(REGISTRY_ENV, REGISTRY) == "" or chosen()[0] == "cartesian":
        return None  # no registry, or the cached bundle already serves
    if version_of(full()) != PARTIAL["version"]:
        return None  # another plotly.js release: the cartesian bundle would not be used

    def run() -> None:
        try:
            where = fetch()
            adopt()
            print(f"digit-lab: fetched plotly.js's cartesian bundle into {where}; pages opened from now on load it "
                  "(1.5 MB instead of 4.8).", flush=True)
        except DownloadError as error:
            print(f"digit-lab: pages load the full plotly.js (4.8 MB): {error}", file=sys.stderr, flush=True)

    thread = threading.Thread(target=run, name="digit-lab plotly.js fetch", daemon=True)
    thread.start()
    return thread


_lock = threading.Lock()
_chosen: tuple[str, bytes] | None = None  # what pages opened now load; the cartesian bundle once adopted


def chosen() -> tuple[str, bytes]:
    """`bundle()` as this process decided it: once on the first call, again when a fetch brought the cartesian
    bundle (`adopt`). A page keeps what its head named (livechart.js imports that one)."""
    global _chosen
    with _lock:
        if _chosen is None:
            _chosen = bundle()
        return _chosen


def adopt() -> None:
    """Pages opened from now on load the cartesian bundle if it is now cached (after `fetch`)."""
    global _chosen
    with _lock:
        _chosen = bundle()
