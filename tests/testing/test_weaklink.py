"""The weak-link proxy behaves like a satellite hop: bandwidth, latency, and cuts."""

import http.server
import threading
import time
import urllib.request

import pytest

from farcare.testing.weaklink import WeakLink

pytestmark = pytest.mark.weaklink

PAYLOAD = b"x" * 16_000  # 128 kbit


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args):
        pass


@pytest.fixture
def origin():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def fetch(port, timeout=30):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=timeout) as response:
        return response.read()


def test_a_64_kbit_link_takes_the_time_the_bytes_need(origin):
    with WeakLink("127.0.0.1", origin, rate_bps=64_000, rtt_ms=0) as link:
        started = time.monotonic()
        body = fetch(link.port)
        elapsed = time.monotonic() - started
    assert body == PAYLOAD
    # 16,000 bytes at 64 kbit/s need 2 s; the link may not be faster than its rate
    assert elapsed >= 1.9
    assert link.counters.down >= len(PAYLOAD)


def test_the_round_trip_is_added(origin):
    with WeakLink("127.0.0.1", origin, rate_bps=10_000_000, rtt_ms=600) as link:
        started = time.monotonic()
        fetch(link.port)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.6  # one request and its answer: a whole round trip at least


def test_a_cut_drops_the_transfer_in_the_middle(origin):
    with WeakLink("127.0.0.1", origin, rate_bps=64_000, rtt_ms=0) as link:
        link.cut_after(6_000)
        with pytest.raises(Exception):  # noqa: B017 - urllib raises several kinds on a cut
            body = fetch(link.port)
            assert len(body) == len(PAYLOAD)  # never reached: the body is incomplete
        assert link.counters.cuts == 1
        assert link.counters.down < len(PAYLOAD)
        # the link comes back: the next connection works
        assert fetch(link.port) == PAYLOAD


def test_it_refuses_to_reach_beyond_loopback():
    with pytest.raises(ValueError, match="loopback"):
        WeakLink("10.0.0.1", 80)
