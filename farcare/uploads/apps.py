from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class UploadsConfig(AppConfig):
    name = "farcare.uploads"
    label = "uploads"
    verbose_name = _("Resumable uploads")

    def ready(self) -> None:
        # The purposes FarCare itself offers register themselves on import.
        from . import purposes  # noqa: F401
