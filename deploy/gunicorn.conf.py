"""gunicorn's settings for FarCare in production:

    gunicorn -c deploy/gunicorn.conf.py farcare.asgi:application

with DJANGO_SETTINGS_MODULE=farcare.settings.production. Several processes, each an asyncio
loop (uvicorn) running Django's ASGI application and the live worklists' WebSockets; gunicorn
only starts them, restarts one that dies or has served its share of requests, and reloads them
all on SIGHUP without dropping the listening socket. Everything an operator tunes comes from
FARCARE_* variables (deploy/farcare.env.example)."""

from __future__ import annotations

import os

# uvicorn inside gunicorn: HTTP/1.1 keep-alive, WebSockets, httptools and uvloop where installed.
worker_class = "uvicorn_worker.UvicornWorker"


def _default_workers() -> int:
    """Two per core: Django runs a worker's synchronous views one at a time on one thread, so a
    second process per core keeps the core busy while the first waits on PostgreSQL. Never
    fewer than 2 (one worker restarting must not stop the site), never more than 8 by default:
    each holds its own pool of database connections (FARCARE_DB_POOL_MAX), and 8 x 8 leaves room
    in PostgreSQL's default 100 for the workers, psql and a migration."""
    return max(2, min(2 * (os.cpu_count() or 1), 8))


workers = int(os.environ.get("FARCARE_WEB_WORKERS") or _default_workers())

# A TCP address ("127.0.0.1:8000": nginx on the same host) or a unix socket
# ("unix:/run/farcare/web.sock"); several separated by commas.
bind = [
    address.strip()
    for address in os.environ.get("FARCARE_BIND", "127.0.0.1:8000").split(",")
    if address.strip()
]

# Behind a satellite link a new connection costs a round trip (~600 ms) before the first byte:
# nginx keeps its upstream connections open, and so do the workers, for 75 s (as `make run`).
keepalive = int(os.environ.get("FARCARE_KEEPALIVE_SECONDS", "75"))

# `timeout` is not a limit on a request here: an asyncio worker tells the master it is alive from
# its event loop, and one silent this long is hung and gets killed. A tus chunk crawling over a
# 64 kbit/s link or a FHIR bundle of 1,000 entries keeps the loop alive; their time limits are
# nginx's (proxy_read_timeout, client_body_timeout).
timeout = int(os.environ.get("FARCARE_WORKER_TIMEOUT_SECONDS", "60"))
# On SIGTERM (systemctl stop) or SIGHUP (reload) a worker stops accepting and finishes what it
# is serving for up to this long: a bundle's transaction commits or rolls back whole, an upload
# chunk is acknowledged or resumed by its client from the last acknowledged offset (tus).
graceful_timeout = int(os.environ.get("FARCARE_GRACEFUL_TIMEOUT_SECONDS", "120"))

# A worker is replaced after this many requests (with jitter, so they are not all replaced at
# once): a slow leak in a library never grows without bound. 0 turns it off. Not too few: a new
# worker imports Django again (a second or two of CPU), and at several hundred FHIR reads a
# second 5,000 requests would cost that every few seconds.
max_requests = int(os.environ.get("FARCARE_MAX_REQUESTS", "100000"))
max_requests_jitter = int(os.environ.get("FARCARE_MAX_REQUESTS_JITTER", "10000"))

# The application is imported in each worker, after the fork: no database connection, Redis
# connection or pool is made in the master and shared by the children.
preload_app = False

# X-Forwarded-For and X-Forwarded-Proto are believed from these addresses only (nginx on this
# host). On a unix socket there is no address to check: the socket's file permissions decide who
# connects, so the headers are believed.
_unix_only = all(address.startswith("unix:") for address in bind)
forwarded_allow_ips = os.environ.get(
    "FARCARE_FORWARDED_ALLOW_IPS", "*" if _unix_only else "127.0.0.1,::1"
)

# Logs to stdout/stderr, which systemd's journal keeps. The access log lines are uvicorn's
# (client as forwarded by nginx, request line, status); nginx's access log has the timings.
accesslog = os.environ.get("FARCARE_ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("FARCARE_LOG_LEVEL", "info").lower()
# Shown in ps and top: which process is which.
proc_name = "farcare-web"
