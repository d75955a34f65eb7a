"""Teaching cases: a closed consultation turned, in one step, into a de-identified case that a
trainer reviews, the clinicians who made it are asked about, and a session presents."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasebookConfig(AppConfig):
    name = "farcare.casebook"
    verbose_name = _("Teaching cases")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (a refusal of teaching use withdraws cases)
