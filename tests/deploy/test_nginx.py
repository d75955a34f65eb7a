"""The nginx site of deploy/nginx/farcare.conf, as shipped but for its EDIT lines, in front of
FarCare in production mode (tests/deploy/conftest.py): nginx accepts it (`nginx -t`), then serves
it on loopback with a self-signed certificate: HTTPS pages, HTTP redirected, HTTP/2, static files
from disk compressed and cached for good, the live worklist's WebSocket, and a tus upload with
chunks larger than nginx's default body limit.

Needs /usr/sbin/nginx (Debian's nginx); skipped without it unless FARCARE_REQUIRE_NGINX=1."""

from __future__ import annotations

import base64
import datetime
import getpass
import io
import ipaddress
import json
import os
import random
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tusclient.client import TusClient
from websockets.sync.client import connect

from farcare.testing.hub import free_port
from farcare.testing.production import PROJECT_DIR

from .conftest import Browser, Deployment, static_files

pytestmark = pytest.mark.long(90)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = PROJECT_DIR / "deploy" / "nginx" / "farcare.conf"
MB = 1024 * 1024


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, its own authority, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def render_site(
    *, prefix: Path, http_port: int, https_port: int, upstream_port: int, static_root: Path
) -> str:
    """The shipped site with its EDIT lines set for this machine (each must still be there)."""
    site = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "/etc/letsencrypt/live/farcare.example.org/fullchain.pem": str(prefix / "fullchain.pem"),
        "/etc/letsencrypt/live/farcare.example.org/privkey.pem": str(prefix / "privkey.pem"),
        "alias /var/lib/farcare/static/;": f"alias {static_root}/;",
        "/var/log/nginx/farcare.access.log": str(prefix / "farcare.access.log"),
    }
    for shipped, here in replacements.items():
        assert shipped in site, f"deploy/nginx/farcare.conf no longer has {shipped!r}"
        site = site.replace(shipped, here)
    # No IPv6 on every test machine's loopback.
    return "\n".join(line for line in site.splitlines() if "listen [::]" not in line)


def main_config(prefix: Path) -> str:
    """A minimal nginx.conf around the site: everything nginx writes stays in the prefix."""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / 'temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would run as nobody, who cannot read the test's folders.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
{temp}
    include {prefix / "farcare.conf"};
}}
"""


@dataclass
class Nginx:
    prefix: Path
    config: Path
    certificate: Path
    http_port: int
    https_port: int

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


@pytest.fixture(scope="module")
def configured(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Nginx:
    if not Path(NGINX).exists():
        if os.environ.get("FARCARE_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is not installed (FARCARE_REQUIRE_NGINX=1)")
        pytest.skip("nginx is not installed")
    prefix = tmp_path_factory.mktemp("nginx")
    (prefix / "temp").mkdir()
    certificate, _ = self_signed_certificate(prefix)
    http_port, https_port = free_port(), free_port()
    (prefix / "farcare.conf").write_text(
        render_site(
            prefix=prefix,
            http_port=http_port,
            https_port=https_port,
            upstream_port=deployment.server.port,
            static_root=Path(deployment.server.env["FARCARE_STATIC_ROOT"]),
        )
    )
    config = prefix / "nginx.conf"
    config.write_text(main_config(prefix))
    return Nginx(prefix, config, certificate, http_port, https_port)


@pytest.fixture(scope="module")
def nginx(configured: Nginx) -> Iterator[Nginx]:
    process = subprocess.Popen(
        [NGINX, "-p", str(configured.prefix), "-c", str(configured.config), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # A wait for readiness, not a timed assertion: with the whole suite on two cores the
        # deployment behind nginx may take seconds to answer its first request.
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(
                    f"{configured.https}/health", verify=str(configured.certificate), timeout=10
                )
                break
            except (requests.ConnectionError, requests.Timeout):
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "nginx did not answer within 90 s"
                time.sleep(0.1)
        yield configured
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        process.wait(timeout=15)


def test_nginx_accepts_the_site(configured: Nginx):
    result = subprocess.run(
        [NGINX, "-t", "-p", str(configured.prefix), "-c", str(configured.config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_pages_come_over_https_and_http_is_redirected(nginx: Nginx):
    browser = Browser(nginx.https)
    browser.headers.pop("X-Forwarded-Proto")  # nginx sets it
    browser.verify = str(nginx.certificate)
    response = browser.get_page("/accounts/login/")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")

    plain = requests.get(
        f"http://127.0.0.1:{nginx.http_port}/consultations/?status=open",
        allow_redirects=False,
        timeout=30,
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://127.0.0.1/consultations/?status=open"


def test_http2_is_offered(nginx: Nginx):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("no curl to speak HTTP/2")
    result = subprocess.run(
        [
            *(curl, "--http2", "--cacert", str(nginx.certificate), "-sS", "-o", "/dev/null"),
            *("-w", "%{http_version}", f"{nginx.https}/health"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout == "2", result.stderr


def test_static_files_are_served_from_disk_compressed_and_cached(
    nginx: Nginx, deployment: Deployment
):
    root = Path(deployment.server.env["FARCARE_STATIC_ROOT"])
    files = static_files(root)
    plain, hashed = next((p, h) for p, h in files.items() if p.endswith(".css"))
    response = requests.get(
        f"{nginx.https}/static/{hashed}",
        headers={"Accept-Encoding": "gzip"},
        verify=str(nginx.certificate),
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.text == (root / hashed).read_text()
    # From disk, not through FarCare (whose every answer carries its Content-Security-Policy).
    assert "Content-Security-Policy" not in response.headers

    unhashed = requests.get(
        f"{nginx.https}/static/{plain}", verify=str(nginx.certificate), timeout=30
    )
    assert unhashed.status_code == 200
    assert unhashed.headers["Cache-Control"] == "public, max-age=3600"


def test_the_live_worklist_websocket_passes_through(nginx: Nginx, deployment: Deployment):
    consultation, consultant = deployment.open_case()
    consultant_browser = Browser(nginx.https)
    consultant_browser.verify = str(nginx.certificate)
    consultant_browser.log_in(consultant)
    tls = ssl.create_default_context(cafile=str(nginx.certificate))
    with connect(
        f"wss://127.0.0.1:{nginx.https_port}/ws/worklist/",
        ssl=tls,
        origin=nginx.https,  # type: ignore[arg-type]
        additional_headers={"Cookie": consultant_browser.session_cookie},
        open_timeout=30,
    ) as worklist:
        feldsher = Browser(nginx.https)
        feldsher.verify = str(nginx.certificate)
        feldsher.log_in("feldsher")
        response = feldsher.post_form(
            f"/consultations/{consultation}/message/",
            {"body": "Blood pressure 90/60 now."},
            form_page=f"/consultations/{consultation}/",
        )
        assert response.status_code == 302, response.text[:2000]
        assert json.loads(worklist.recv(timeout=30)) == {"changed": consultation}


def test_a_resumable_upload_with_large_chunks_passes(
    nginx: Nginx, deployment: Deployment, monkeypatch: pytest.MonkeyPatch
):
    """Chunks of 4 MB: four times nginx's default body limit of 1 MB."""
    # tusclient verifies certificates against requests' bundle only (it takes no path).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(nginx.certificate))
    consultation, consultant = deployment.open_case()
    data = b"%PDF-1.4\n" + random.Random(23).randbytes(9 * MB)
    token = deployment.server.user_token("feldsher")
    client = TusClient(f"{nginx.https}/uploads/", headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=4 * MB,
        metadata={
            "purpose": "consult-attachment",
            "consultation": consultation,
            "filename": "ct-report.pdf",
        },
        upload_checksum=True,
    )
    uploader.upload()
    assert uploader.offset == len(data)
    result = uploader.request.response_headers["farcare-upload-result"]
    reader = deployment.server.user_token(consultant, "user/*.read")
    response = requests.get(
        f"{nginx.https}/fhir/Binary/{result}",
        headers={"Authorization": f"Bearer {reader}", "Accept": "application/fhir+json"},
        verify=str(nginx.certificate),
        timeout=60,
    )
    assert response.status_code == 200, response.text[:2000]
    assert base64.b64decode(response.json()["data"]) == data
