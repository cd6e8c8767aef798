"""Fixtures shared by the data tests: small MNIST-format files and a local HTTP mirror serving them."""

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from data.download import DATASETS

SMALL_ROWS = {"train": 30, "t10k": 10}  # images per split in the small MNIST


def idx_gz(values: np.ndarray, magic: int) -> bytes:
    """A gzipped IDX file of uint8 `values` (labels (n,) or images (n, 28, 28))."""
    header = b"".join(v.to_bytes(4, "big") for v in (magic, *values.shape))
    return gzip.compress(header + values.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def small_mnist(tmp_path_factory, monkeypatch):
    """A folder with MNIST's four file names holding 30 train and 10 test digits; the download
    table (DATASETS["mnist"]["files"]) is patched to their checksums and sizes for the test."""
    folder = tmp_path_factory.mktemp("small-mnist")
    rng = np.random.default_rng(0)
    files = {}
    for split, n in SMALL_ROWS.items():
        for kind, magic, values in (("images", 2051, rng.integers(0, 256, (n, 28, 28))),
                                    ("labels", 2049, np.arange(n) % 10)):
            name = f"{split}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz"
            content = idx_gz(values, magic)
            (folder / name).write_bytes(content)
            files[name] = {"md5": hashlib.md5(content).hexdigest(), "bytes": len(content)}
    assert set(files) == set(DATASETS["mnist"]["files"])  # the real table's file names
    monkeypatch.setitem(DATASETS["mnist"], "files", files)
    return folder

class _MirrorHandler(BaseHTTPRequestHandler):
    """Serves /<mode>/<file> from the server's root; mode picks a good or a failing answer."""

    def do_GET(self):
        self.server.requests.append(self.path)
        mode, _, filename = self.path.strip("/").partition("/")
        path = self.server.root / filename
        if mode == "missing" or not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        if mode == "corrupt":
            body = bytes([body[0] ^ 0xFF]) + body[1:]  # same length, wrong bytes
        if mode == "slow":
            threading.Event().wait(self.server.slow_seconds)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # "drop": promise the whole file, send half, then the connection closes (HTTP/1.0).
        self.wfile.write(body[: len(body) // 2] if mode == "drop" else body)

    def log_message(self, *args):
        pass  # keep test output clean


class _MirrorServer(ThreadingHTTPServer):
    """A local mirror that records the paths requested."""

    daemon_threads = True
    block_on_close = False  # do not wait for a deliberately slow handler at teardown

    def handle_error(self, request, client_address):
        pass  # clients that time out or hang up early are part of the tests


@pytest.fixture
def mirror(small_mnist):
    """A local HTTP mirror on 127.0.0.1 serving the small MNIST files; shut down afterwards."""
    server = _MirrorServer(("127.0.0.1", 0), _MirrorHandler)
    server.root, server.requests, server.slow_seconds = small_mnist, [], 1.0
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval makes shutdown() return quickly at teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
