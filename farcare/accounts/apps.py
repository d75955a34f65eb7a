from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "farcare.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import signals  # noqa: F401 (connects the receivers)


class FarCareAdminConfig(admin_apps.AdminConfig):
    """The registry (Django's admin) with FarCare's login: see accounts.admin_site. Named in
    INSTALLED_APPS in place of django.contrib.admin."""

    default = False  # AccountsConfig stays this module's default

    default_site = "farcare.accounts.admin_site.FarCareAdminSite"
