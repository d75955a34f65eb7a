from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FhirConfig(AppConfig):
    name = "farcare.fhir"
    label = "fhir"
    verbose_name = _("FHIR API")

    def ready(self) -> None:
        from farcare.accounts.signals import password_changed

        from . import auth, oauth, versioning

        versioning.connect()
        auth.register_resolver()
        # A changed password ends the user's personal tokens (accounts never imports fhir).
        password_changed.connect(oauth.revoke_on_password_change, dispatch_uid="fhir-tokens")
