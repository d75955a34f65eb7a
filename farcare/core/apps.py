from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "farcare.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        # Every database connection reports lock timeouts to the request it serves.
        from . import contention  # noqa: F401
