from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SyncConfig(AppConfig):
    name = "farcare.sync"
    label = "sync"
    verbose_name = _("Station sync")

    def ready(self) -> None:
        from farcare.core.bearer import register

        from .hub import station_credential

        register("station", station_credential)
