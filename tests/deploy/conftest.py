"""FarCare in production mode, as an operator runs it: gunicorn with two uvicorn workers,
`farcare.settings.production`, PostgreSQL, Redis, files on S3 (a moto server on loopback), the
static files collected. Made once per test run (about a minute: migrations, the demo network,
collectstatic) and shared by tests/deploy.

Needs PostgreSQL and Redis on 127.0.0.1 (as CI starts them); skipped without them unless
FARCARE_REQUIRE_DEPLOY=1."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from farcare.testing.hub import free_port
from farcare.testing.production import (
    FORWARDED,
    ProductionServer,
    recreate_postgres_database,
    running_production,
)

PASSWORD = "farcare-demo"
BUCKET = "farcare-deploy-test"
# This helper's own PostgreSQL database and Redis database (tests/deploy only).
DATABASE_URL = os.environ.get(
    "FARCARE_DEPLOY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/deploy_db"
)
REDIS_URL = os.environ.get("FARCARE_DEPLOY_REDIS_URL", "redis://127.0.0.1:6379/3")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("FARCARE_REQUIRE_DEPLOY") == "1":
        pytest.fail(f"{reason} (FARCARE_REQUIRE_DEPLOY=1)")
    pytest.skip(reason)


@dataclass
class Deployment:
    server: ProductionServer
    s3: Any  # boto3's S3 client, on the moto server
    bucket: str

    @property
    def url(self) -> str:
        return self.server.url

    def bucket_keys(self) -> set[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket)
        return {item["Key"] for item in listed.get("Contents", [])}

    def open_case(self) -> tuple[str, str]:
        """The demo's open request of `feldsher`, and the consultant it is assigned to."""
        found = self.server.python(
            "from farcare.consults.models import Consultation\n"
            "case = Consultation.objects.filter(requester__username='feldsher',"
            " status='requested').order_by('pk').first()\n"
            "print(case.uuid, case.assignments.get(ended_at__isnull=True).consultant.username)"
        )
        consultation, consultant = found.split()
        return consultation, consultant


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require(_reachable("127.0.0.1", 5432), "no PostgreSQL on 127.0.0.1:5432")
    require(_reachable("127.0.0.1", 6379), "no Redis on 127.0.0.1:6379")
    from moto.server import ThreadedMotoServer

    # Two parallel test processes each get their own database and key prefixes.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    database_url = f"{DATABASE_URL}_{worker}" if worker else DATABASE_URL
    recreate_postgres_database(database_url)
    prefix = f"deploy-{secrets.token_hex(4)}"

    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    keys = {"aws_access_key_id": "deploy-test", "aws_secret_access_key": "deploy-test-secret"}
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
    s3.create_bucket(Bucket=BUCKET)
    env = {
        "FARCARE_REDIS_URL": REDIS_URL,
        "FARCARE_CACHE_PREFIX": prefix,
        "FARCARE_CHANNELS_PREFIX": prefix,
        "FARCARE_STORAGE": "s3",
        "FARCARE_S3_BUCKET": BUCKET,
        "FARCARE_S3_ENDPOINT_URL": endpoint,
        "FARCARE_S3_REGION": "us-east-1",
        "FARCARE_S3_ACCESS_KEY": keys["aws_access_key_id"],
        "FARCARE_S3_SECRET_KEY": keys["aws_secret_access_key"],
    }
    try:
        with running_production(
            tmp_path_factory.mktemp("production"), database_url=database_url, workers=2, env=env
        ) as server:
            yield Deployment(server=server, s3=s3, bucket=BUCKET)
    finally:
        moto.stop()


class Browser(requests.Session):
    """A browser that reaches the workers as through nginx: every request says it came over
    HTTPS (X-Forwarded-Proto), so the production settings' secure cookies travel over the
    loopback's plain HTTP too, and forms carry their CSRF token and a same-origin Referer."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.headers.update(FORWARDED)
        self.headers["Referer"] = self.base_url.replace("http://", "https://") + "/"

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # Per request: requests lets REQUESTS_CA_BUNDLE win over the session's own `verify`.
        kwargs.setdefault("verify", self.verify)
        response = super().request(*args, **kwargs)
        # Secure cookies, sent back over the loopback's plain HTTP as nginx would over TLS.
        for cookie in self.cookies:
            cookie.secure = False
        return response

    def get_page(self, path: str, **kwargs: Any) -> requests.Response:
        return self.get(f"{self.base_url}{path}", allow_redirects=False, timeout=30, **kwargs)

    def post_form(
        self, path: str, data: dict[str, str], *, form_page: str | None = None
    ) -> requests.Response:
        """POST a form as from its page (`form_page`, else `path` itself), with the CSRF token
        the page set."""
        page = self.get_page(form_page or path)
        assert page.status_code == 200, page.status_code
        fields = {"csrfmiddlewaretoken": self.cookies.get("csrftoken", ""), **data}
        return self.post(f"{self.base_url}{path}", data=fields, allow_redirects=False, timeout=30)

    def log_in(self, username: str) -> None:
        response = self.post_form("/accounts/login/", {"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.text[:2000]

    @property
    def session_cookie(self) -> str:
        return "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)


@pytest.fixture
def browser(deployment: Deployment) -> Browser:
    return Browser(deployment.url)


def static_files(root: Path) -> dict[str, str]:
    """The collected static files: plain name → fingerprinted name (staticfiles.json)."""
    import json

    manifest = json.loads((root / "staticfiles.json").read_text())
    return dict(manifest["paths"])
