"""The registry (Django's admin site) logs people in through FarCare's own login, so that the
lockout, the second factor and the audit trail apply there as on the site: its login page is the
site's login form posting to the same service (`authenticate_user`, channel "admin"); its logout
is audited; an administrator changes their own password on the site's page, which ends their
other sessions and personal tokens."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class FarCareAdminSite(admin.AdminSite):
    site_header = gettext_lazy("FarCare registry")
    site_title = gettext_lazy("FarCare registry")

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from .views import login_page

        if request.user.is_authenticated:
            if self.has_permission(request):
                return redirect(reverse("admin:index", current_app=self.name))
            # Logged in as someone who may not use the registry: no second login form here.
            raise PermissionDenied(_("The registry is for administrators."))
        return login_page(request, channel="admin", default_next=f"{self.name}:index")

    def logout(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        from .views import logout_view

        return logout_view(request)

    def password_change(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return redirect("accounts:password_change")
