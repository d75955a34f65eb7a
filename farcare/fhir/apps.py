from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FhirConfig(AppConfig):
    name = "farcare.fhir"
    label = "fhir"
    verbose_name = _("FHIR API")

    def ready(self) -> None:
        from . import versioning

        versioning.connect()
