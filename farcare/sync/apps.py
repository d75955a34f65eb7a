from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SyncConfig(AppConfig):
    name = "farcare.sync"
    label = "sync"
    verbose_name = _("Station sync")

    def ready(self) -> None:
        from farcare.core.bearer import register
        from farcare.core.ports import install_replication, install_station_pages

        from .hub import station_credential
        from .port import StationReplication, StationSidePages

        register("station", station_credential)
        # The domain announces its writes; at a station they also wait in the outbox.
        install_replication(StationReplication())
        install_station_pages(StationSidePages())
