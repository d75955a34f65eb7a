from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LearningConfig(AppConfig):
    name = "farcare.learning"
    verbose_name = _("Learning and certificates")
