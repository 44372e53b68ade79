"""A local webhook endpoint on 127.0.0.1 for the tests of webhooks, endpoints, test events and jobs: it records every
request (path, headers, body) and answers `status`; `signed_with(request, key)` checks a signature."""
import hashlib
import hmac
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """`with WebhookReceiver() as r:` → r.url, r.received, r.status (200 unless changed; 503 to the
    first `failures` requests).

    Its loop checks for shutdown every POLL_SECONDS, so leaving the `with` block costs a few
    milliseconds."""

    POLL_SECONDS = 0.05

    def __init__(self, path="/hooks/township", failures=0):
        self.received = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(503 if len(receiver.received) <= failures else receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": self.POLL_SECONDS},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def signed_with(request, key):
    """Whether a received request's X-Signature is the HMAC-SHA256 of its body keyed by `key`."""
    expected = "sha256=" + hmac.new(key.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(request["headers"].get("X-Signature", ""), expected)


def refused_url():
    """A local URL where nobody listens (a port taken and released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/hooks"
