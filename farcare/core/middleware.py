"""Security headers on every response: a strict Content-Security-Policy and a Permissions-Policy.

The pages need nothing inline: one stylesheet, HTMX and a small script of our own, all from
/static/ (the login page carries the stylesheet and a small script inline, allowed by their
hashes alone); HTMX is told not to inject its indicator style (a meta tag in base.html); the
live worklists open a WebSocket to this very host. So scripts and styles come from 'self' only,
and a script that found its way into a page (a name typed into a record, an upload's file name)
does not run. Our own middleware rather than django-csp: the policy is one line, and its
WebSocket source names the request's host, which a static setting cannot."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

from .inline_assets import inline_script_sources, inline_style_sources


def content_security_policy(request: HttpRequest) -> str:
    try:
        host = request.get_host()
    except DisallowedHost:
        host = ""
    # 'self' covers ws:/wss: to the same host in CSP Level 3 browsers; named for older ones.
    sockets = f" ws://{host} wss://{host}" if host else ""
    directives = {
        **settings.FARCARE_CSP,
        "connect-src": f"{settings.FARCARE_CSP['connect-src']}{sockets}",
        # The login page's stylesheet, inline to spare a round trip: only that exact text.
        "style-src": f"{settings.FARCARE_CSP['style-src']} {inline_style_sources()}",
        # Its script that fetches the next pages' files once it has loaded: that text only.
        "script-src": f"{settings.FARCARE_CSP['script-src']} {inline_script_sources()}",
    }
    return "; ".join(f"{name} {sources}" for name, sources in directives.items())


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy unless a view set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(request)
        if "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.FARCARE_PERMISSIONS_POLICY
        return response
