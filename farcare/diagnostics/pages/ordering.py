"""Ordering tests: the order form (from the patient's page, or in one click from a signed
conclusion's recommendation), the catalogue searched as it is typed, the order's page with its
specimens and labels, cancelling, and the list of the facility's orders."""

from __future__ import annotations

import uuid as uuid_lib
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action, decide_consult
from farcare.access.services import authorise
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .. import catalogue, selectors
from ..models import Category, DiagnosticOrder, OrderStatus, SpecimenStatus
from ..services.ordering import order_cancel, order_place
from . import words
from .common import errors_to_form, is_laboratory_of, is_orderer_of, language, load_order, user_of
from .forms import CancelForm, OrderForm
from .routes import routed_performers
from .rows import order_rows, prefetched

ORDERING_ROLES = frozenset({Role.CLINICIAN, Role.CONSULTANT})
SEARCH_LIMIT = 30


def _entry_view(entry: catalogue.CatalogueEntry, lang: str) -> dict[str, Any]:
    members = [catalogue.label(code, lang) for code in entry.members]
    return {
        "code": entry.code,
        "name": catalogue.label(entry.code, lang),
        "kind": entry.kind,
        "members": members,
        "unit": words.unit(entry.unit, lang),
        "modality": words.modality(entry.modality) if entry.modality else "",
        "body_site": words.body_site(entry.body_site) if entry.body_site else "",
    }


def catalogue_list(category: str, query: str, chosen: list[str], lang: str) -> dict[str, Any]:
    """The catalogue as the form shows it: what is chosen first (kept while another search is
    typed), then what matches the search (everything of the category when nothing is typed)."""
    category = category if category in Category.values else Category.LABORATORY
    picked = [e for e in (catalogue.entry(code) for code in chosen) if e is not None]
    if query.strip():
        found = catalogue.search(query, lang, category)
    else:
        found = list(catalogue.entries(category))
    picked_codes = {e.code for e in picked}
    rest = [e for e in found if e.code not in picked_codes][:SEARCH_LIMIT]
    return {
        "chosen": [_entry_view(e, lang) for e in picked],
        "found": [_entry_view(e, lang) for e in rest],
        "query": query.strip(),
        "category": category,
    }


def _code_choices() -> list[tuple[str, str]]:
    return [(e.code, e.code) for e in catalogue.entries()]


def _as_uuid(raw: Any) -> uuid_lib.UUID | None:
    """A consultation's id from the address or the form; anything else is no consultation."""
    try:
        return uuid_lib.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _ordering_facility(request: HttpRequest, consultation_uuid: Any) -> Facility | None:
    """Where the order is placed from: the clinician's facility; for a consultant ordering
    from a conclusion, the facility that asked (as `order_place` decides)."""
    user = user_of(request)
    wanted = _as_uuid(consultation_uuid)
    if user.role == Role.CONSULTANT and wanted:
        consultation = Consultation.objects.filter(uuid=wanted).first()
        return consultation.requesting_facility if consultation else None
    return user.facility


def _recommended_codes(text: str, lang: str) -> list[str]:
    """Catalogue entries a recommendation names (by code or by a name in any language)."""
    lowered = text.lower()
    found = []
    for entry in catalogue.entries():
        names = [n.lower() for n in entry.names.values() if len(n) > 3]
        if entry.code in text or any(name in lowered for name in names):
            found.append(entry.code)
    return found


def _from_consultation(request: HttpRequest, patient: Patient) -> dict[str, Any]:
    """What the order form takes from a signed conclusion: the case, its recommendation as the
    reason, and the tests it names."""
    raw = request.GET.get("consultation", "")
    if not raw:
        return {}
    wanted = _as_uuid(raw)
    consultation = (
        Consultation.objects.filter(uuid=wanted, patient=patient).first() if wanted else None
    )
    if consultation is None or not decide_consult(user_of(request), consultation).allowed:
        return {}
    conclusion = consultation.conclusions.order_by("-version").first()
    recommendation = (conclusion.recommendations if conclusion else "").strip()
    reason = (
        _("Recommended in the consultation's conclusion: %(text)s") % {"text": recommendation}
        if recommendation
        else ""
    )
    return {
        "consultation": consultation.uuid,
        "reason": reason[:1000],
        "codes": _recommended_codes(recommendation, language()),
    }


@login_required
def order_new(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    patient = get_object_or_404(Patient, uuid=patient_uuid)
    user = user_of(request)
    if user.role not in ORDERING_ROLES:
        raise PermissionDenied(_("Only a clinician or a consultant orders tests."))
    accessor = Accessor.from_request(request)
    authorise(accessor=accessor, patient=patient, action=Action.VIEW)
    lang = language()
    initial: dict[str, Any] = (
        _from_consultation(request, patient) if request.method != "POST" else {}
    )
    if request.GET.get("codes"):
        initial["codes"] = [c for c in request.GET["codes"].split(",") if catalogue.entry(c)]
    if request.GET.get("category") in Category.values:
        initial["category"] = request.GET["category"]
    data = request.POST if request.method == "POST" else None
    posted: dict[str, Any] = data.dict() if data is not None else {}
    category = str(posted.get("category") or initial.get("category") or Category.LABORATORY)
    if category not in Category.values:
        category = Category.LABORATORY
    ordering = _ordering_facility(
        request, posted.get("consultation") or initial.get("consultation")
    )
    performers = routed_performers(ordering, category) if ordering else []
    form = OrderForm(
        data,
        initial=initial,
        codes=_code_choices(),
        performers=[(str(f.uuid), f.name) for f in performers],
    )
    if data is not None and form.is_valid():
        chosen = form.cleaned_data["performer"]
        performer = next((f for f in performers if str(f.uuid) == chosen), None)
        consultation = None
        if form.cleaned_data["consultation"]:
            consultation = Consultation.objects.filter(
                uuid=form.cleaned_data["consultation"], patient=patient
            ).first()
        try:
            order = order_place(
                accessor=accessor,
                patient=patient,
                category=form.cleaned_data["category"],
                codes=list(form.cleaned_data["codes"]),
                reason=form.cleaned_data["reason"],
                priority=form.cleaned_data["priority"],
                client_token=form.cleaned_data["client_token"],
                consultation=consultation,
                performer=performer,
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(
                request,
                _("The order %(number)s is placed.") % {"number": order.placer_number},
            )
            return redirect("diagnostics:order", order_uuid=order.uuid)
    chosen = [str(c) for c in (form["codes"].value() or [])]
    return render(
        request,
        "diagnostics/order_new.html",
        {
            "form": form,
            "patient": patient,
            "catalogue": catalogue_list(category, "", chosen, lang),
            "consultation_uuid": form["consultation"].value() or "",
        },
        status=422 if form.is_bound and form.errors else 200,
    )


@login_required
def catalogue_search(request: HttpRequest) -> HttpResponse:
    """The catalogue's list for the order form, as the search is typed (HTMX fragment)."""
    chosen = request.GET.getlist("codes")
    category = request.GET.get("category", "")
    listing = catalogue_list(category, request.GET.get("q", "")[:80], chosen, language())
    context: dict[str, Any] = {"catalogue": listing}
    if request.GET.get("performer_too"):
        # The category changed: the routed performers are those of the new category.
        ordering = _ordering_facility(request, request.GET.get("consultation"))
        performers = routed_performers(ordering, listing["category"]) if ordering else []
        context["form"] = OrderForm(
            codes=[], performers=[(str(f.uuid), f.name) for f in performers]
        )
        context["oob"] = True
    return render(request, "diagnostics/_catalogue.html", context)


def _order_context(request: HttpRequest, order: DiagnosticOrder, **forms: Any) -> dict[str, Any]:
    user = user_of(request)
    specimens = words.with_kind_shown(
        list(order.specimens.select_related("collected_by", "received_by"))
    )
    reports = list(order.reports.prefetch_related("observations"))
    is_orderer_side = is_orderer_of(user, order)
    return {
        "order": order,
        "patient": order.patient,
        "tests": list(order.tests.all()),
        "specimens": specimens,
        "reports": reports,
        "may_collect": is_orderer_side and user.role == Role.CLINICIAN,
        "may_cancel": order.orderer_id == user.pk and order.status == OrderStatus.ACTIVE,
        "is_laboratory": is_laboratory_of(user, order),
        "cancel_form": forms.get("cancel_form") or CancelForm(initial={"version": order.version}),
        "now_local": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "awaiting": SpecimenStatus.AWAITING,
        "collected": SpecimenStatus.COLLECTED,
    }


@login_required
def order_detail(request: HttpRequest, order_uuid: str) -> HttpResponse:
    order = load_order(request, order_uuid)
    return render(request, "diagnostics/order.html", _order_context(request, order))


@login_required
def order_labels(request: HttpRequest, order_uuid: str) -> HttpResponse:
    """The tubes' labels to print: the label's code large, the patient, the test, the order."""
    order = load_order(request, order_uuid)
    return render(
        request,
        "diagnostics/labels.html",
        {
            "order": order,
            "specimens": words.with_kind_shown(list(order.specimens.all())),
            "tests": list(order.tests.all()),
        },
    )


@login_required
@require_POST
def order_cancel_view(request: HttpRequest, order_uuid: str) -> HttpResponse:
    order = load_order(request, order_uuid)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            order_cancel(
                accessor=Accessor.from_request(request),
                order=order,
                reason=form.cleaned_data["reason"],
                version=form.cleaned_data["version"],
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, _("The order is cancelled."))
            return redirect("diagnostics:order", order_uuid=order.uuid)
    order.refresh_from_db()
    context = _order_context(request, order, cancel_form=form)
    return render(request, "diagnostics/order.html", context, status=422)


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    """The orders of the user (a clinician: their facility's), newest first, with results."""
    user = user_of(request)
    if user.role == Role.LABORATORY:
        return redirect("diagnostics:worklist")
    rows = order_rows(prefetched(selectors.orders_placed(user)), timezone.localdate())
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.SEARCH,
        details={"list": "diagnostic orders", "shown": [str(r.order.uuid) for r in rows]},
        patients=[r.order.patient.uuid for r in rows],
    )
    template = (
        "diagnostics/_orders.html"
        if request.headers.get("HX-Request")
        else "diagnostics/orders.html"
    )
    return render(request, template, {"rows": rows})
