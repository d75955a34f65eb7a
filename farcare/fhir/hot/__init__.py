"""The FHIR hot path: `GET /fhir/<Type>/<id>` answered in the worker's event loop, on the
worker's own async PostgreSQL connections, without Django's request cycle.

Django answers a read in about 4 ms of Python on this machine (its request, the URL resolver,
the thread a sync view runs in, the ORM hydrating the token's user and the version) for about
0.5 ms of SQL. With two workers on two cores that is ~250 reads a second; the issue asks for a
thousand. The hot path runs the same three statements the lean read runs (the token, the stored
version with the access policy's answer beside it, the audit record), precompiled, and builds the
answer through the lean chain's response middleware, so the answer is the one Django gives.

It only ever serves the ordinary case: a live token allowed to read, a reader at home in Russia
whose compiled read query this process already holds (Django's lean path compiles it, so a
reader's first read goes through Django), a current stored version in the reader's normal scope,
not break-glass, not stale, not deleted, and a request with nothing unusual (no query, JSON
accepted, no HTTPS redirect due). Anything else — and any error before the answer is sent —
goes to Django's path untouched, which refuses, audits, renders or answers 503 as it always
did. PostgreSQL only: on SQLite (`make run`) every request goes through Django."""
