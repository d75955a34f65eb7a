from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Hl7Config(AppConfig):
    name = "farcare.hl7"
    verbose_name = _("HL7 v2 interface")

    def ready(self) -> None:
        # Orders out: the diagnostics domain does not know this delivery layer, so the layer
        # listens for an order being saved (farcare/hl7/orders_out.py). A signal, not a port:
        # the queue row must be written in the order's own transaction, which post_save is in.
        from django.db.models.signals import post_save

        from farcare.diagnostics.models import DiagnosticOrder

        from .orders_out import order_saved

        post_save.connect(order_saved, sender=DiagnosticOrder, dispatch_uid="hl7-orders-out")
