from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultsConfig(AppConfig):
    name = "farcare.consults"
    label = "consults"
    verbose_name = _("Consults")
