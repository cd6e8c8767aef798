"""Fixtures shared by the data tests: the shared MNIST folder and a local HTTP mirror."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

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
def mirror(shared_mnist):
    """A local HTTP mirror on 127.0.0.1 serving the shared MNIST files; shut down afterwards."""
    server = _MirrorServer(("127.0.0.1", 0), _MirrorHandler)
    server.root, server.requests, server.slow_seconds = shared_mnist, [], 1.0
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval makes shutdown() return quickly at teardown.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
