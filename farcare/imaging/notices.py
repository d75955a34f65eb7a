"""Who is told what about a study: the reading facility's radiologists when a study arrives on
their worklist (urgent for stat and asap), and whoever asked for the study when its report is
signed. As for consultations and results, no message names the patient: the modality, the body
site, the facility and the priority tell a reader what waits, the page tells them whose it is.

Both run after the transaction that made the study or signed the report commits
(`on_commit(..., robust=True)`): a rolled-back study tells nobody, and a failure to notify
never undoes the study or the signature (it is logged)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import Role, User
from farcare.notifications.services import notify

from .models import ImagingStudy

logger = logging.getLogger(__name__)

__all__ = ["after_report_signed", "after_study_arrived", "radiologists_of", "report_readers"]

URGENT_PRIORITIES = frozenset({"stat", "asap"})
PRIORITY_WORDS = {
    "stat": _("immediately (stat)"),
    "asap": _("as soon as possible"),
    "urgent": _("urgent"),
    "routine": _("routine"),
}


def radiologists_of(study: ImagingStudy) -> list[User]:
    if study.reading_facility_id is None:
        return []
    return list(
        User.objects.filter(
            role=Role.RADIOLOGIST, is_active=True, facility_id=study.reading_facility_id
        ).order_by("pk")
    )


def report_readers(study: ImagingStudy) -> list[User]:
    """Who asked for the study: the orderer; for a study without an order (a file attached to
    a consultation, images added at a district hospital), the clinicians of the facility that
    made it."""
    if study.order_id is not None and study.order is not None:
        orderer = study.order.orderer
        return [orderer] if orderer.is_active else []
    return list(
        User.objects.filter(
            role=Role.CLINICIAN, is_active=True, facility_id=study.facility_id
        ).order_by("pk")
    )


def _what(study: ImagingStudy) -> str:
    return " ".join(part for part in (study.modality, study.body_site) if part)


def study_arrived(study_pk: int) -> list[User]:
    study = (
        ImagingStudy.objects.select_related("facility", "reading_facility")
        .filter(pk=study_pk)
        .first()
    )
    if study is None:
        return []
    told = radiologists_of(study)
    for radiologist in told:
        notify(
            recipient=radiologist,
            event="imaging.study_waiting",
            subject=_("A %(what)s study to read (%(priority)s)"),
            body=_("A %(what)s study from %(facility)s is on your reading worklist."),
            params={
                "what": _what(study),
                "facility": study.facility.name,
                "priority": PRIORITY_WORDS.get(study.priority, study.priority),
            },
            link=reverse("imaging:study", args=[study.uuid]),
            urgent=study.priority in URGENT_PRIORITIES,
        )
    return told


def report_signed(study_pk: int) -> list[User]:
    study = (
        ImagingStudy.objects.select_related("order__orderer", "report", "reading_facility")
        .filter(pk=study_pk)
        .first()
    )
    if study is None or study.report is None:
        return []
    told = report_readers(study)
    number = study.order.placer_number if study.order is not None else ""
    for reader in told:
        notify(
            recipient=reader,
            event="imaging.report_signed",
            subject=_("Imaging report signed: %(what)s %(number)s"),
            body=_("The radiologist of %(facility)s signed the report of the %(what)s study."),
            params={
                "what": _what(study),
                "number": number,
                "facility": study.reading_facility.name if study.reading_facility else "",
            },
            link=reverse("diagnostics:report", args=[study.report.uuid]),
            urgent=False,
        )
    return told


def _robust(function: Callable[[int], object], study_pk: int) -> None:
    try:
        function(study_pk)
    except Exception:  # a notice must never undo what it tells about
        logger.exception("imaging notice %s for study %s failed", function, study_pk)


def after_study_arrived(study: ImagingStudy) -> None:
    transaction.on_commit(partial(_robust, study_arrived, study.pk), robust=True)


def after_report_signed(study: ImagingStudy) -> None:
    transaction.on_commit(partial(_robust, report_signed, study.pk), robust=True)
