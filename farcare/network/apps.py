from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NetworkConfig(AppConfig):
    name = "farcare.network"
    label = "network"
    verbose_name = _("Network")

    def ready(self) -> None:
        # The access policy's cached referral graph follows every change of a link.
        from .selectors import connect_graph_invalidation

        connect_graph_invalidation()
