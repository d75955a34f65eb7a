"""What every diagnostics page needs: the user, the reader's language, a service's refusal put
on a form, and a refusal of a role or a facility that is audited like a refused record."""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor, audit_refusal
from farcare.core.page_forms import errors_to_form as errors_to_form  # for the pages
from farcare.core.values import reader_language

from ..models import DiagnosticOrder, DiagnosticReport
from ..sides import order_sides
from ..workflow import Side


def user_of(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def language() -> str:
    return reader_language(get_language())


def refuse(request: HttpRequest, *, record: Any, patient_uuid: Any, reason: str) -> NoReturn:
    """A page this user's role or facility may not use: audited as a refusal, then 403."""
    audit_refusal(
        accessor=Accessor.from_request(request),
        message=reason,
        patient_uuid=patient_uuid,
        record=record,
        details={"page": request.path},
    )


def is_laboratory_of(user: User, order: DiagnosticOrder) -> bool:
    """Staff of the laboratory (or diagnostic centre) that performs the order."""
    return Side.LABORATORY in order_sides(user, order) and user.role == Role.LABORATORY


def is_orderer_of(user: User, order: DiagnosticOrder) -> bool:
    """The orderer, or a clinician of the ordering facility."""
    return Side.ORDERER in order_sides(user, order)


def staff_only(request: HttpRequest) -> None:
    """These pages are for staff; a person reads their own results under "My results", where
    only released reports show."""
    if user_of(request).role == Role.PATIENT:
        raise PermissionDenied(_("Your own results are on the page “My results”."))


PERFORMING_ROLES = (Role.LABORATORY, Role.RADIOLOGIST)


def performer_only(request: HttpRequest, *, record: Any, performer_id: int | None) -> None:
    """Laboratory and radiology staff open only what their own facility performs (or reads);
    anything else is refused (audited, 403)."""
    user = user_of(request)
    if user.role in PERFORMING_ROLES and (
        user.facility_id is None or user.facility_id != performer_id
    ):
        refuse(
            request,
            record=record,
            patient_uuid=record.patient.uuid,
            reason=_("Only the facility that performs this work may open it."),
        )


def load_order(request: HttpRequest, order_uuid: Any) -> DiagnosticOrder:
    """The order, if the policy lets this user see its patient (audited either way)."""
    staff_only(request)
    order = get_object_or_404(
        DiagnosticOrder.objects.select_related(
            "patient", "orderer", "ordering_facility", "performer", "consultation"
        ),
        uuid=order_uuid,
    )
    performer_only(request, record=order, performer_id=order.performer_id)
    authorise(
        accessor=Accessor.from_request(request),
        patient=order.patient,
        action=Action.VIEW,
        record=order,
    )
    return order


def laboratory_order(request: HttpRequest, order_uuid: Any) -> DiagnosticOrder:
    """An order this user's laboratory performs; anyone else is refused (audited, 403)."""
    order = load_order(request, order_uuid)
    if not is_laboratory_of(user_of(request), order):
        refuse(
            request,
            record=order,
            patient_uuid=order.patient.uuid,
            reason=_("Only the laboratory that performs this order works on it."),
        )
    return order


def load_report(request: HttpRequest, report_uuid: Any) -> DiagnosticReport:
    staff_only(request)
    report = get_object_or_404(
        DiagnosticReport.objects.select_related(
            "patient", "order", "order__orderer", "performer", "author", "reviewed_by"
        ),
        uuid=report_uuid,
    )
    performer_only(request, record=report, performer_id=report.performer_id)
    authorise(
        accessor=Accessor.from_request(request),
        patient=report.patient,
        action=Action.VIEW,
        record=report,
    )
    return report
