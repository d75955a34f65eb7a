"""Pages of transfers (thin: services write, selectors read, `pages.py` words): the coordinator's
dispatch board, a transfer's page with its moves, the new transfer with destinations and
estimates shown before the decision, the receiving hospital's incoming list, region clocks.

Every refusal a service raises (an illegal move, an aircraft someone else took) comes back on
the page as a message in the reader's language; nothing here answers 500 to bad input. At a
station (a post's laptop) transfers are the hub's copies: the pages offer no change, say that the
hub makes them, and a change posted all the same is refused on the page (409)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any, NoReturn
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action, may_see_aggregates
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.consults.models import Consultation, EvacuationAdvice
from farcare.core.months import add_months, month_period, month_start
from farcare.core.page_forms import errors_to_form, posted_version
from farcare.core.selectors import SMALL_CELL
from farcare.network.models import Facility
from farcare.patients.models import Patient

from . import planning, region_clocks, selectors, services
from .access import may_dispatch, may_dispatch_in, may_open_transfer
from .forms import (
    AcceptForm,
    AircraftStatusForm,
    AssignForm,
    DecisionForm,
    DeclineForm,
    DestinationForm,
    HoldForm,
    NewTransferForm,
    NoteForm,
    PeriodForm,
    TreatmentForm,
)
from .models import Aircraft, AircraftStatus, Transfer, TransferCondition
from .pages import advice_view, clock_rows, comparison, ground_label, timeline_rows
from .workflow import Side, allowed_moves

# The board's buttons: the everyday moves of dispatch (ending a case is done on its page).
BOARD_MOVES = frozenset({"unassign", "dispatch", "board", "arrive", "resume"})
# Moves a plain button makes (the others need a form: accept, assign, hold).
PLAIN_MOVES = frozenset(
    {
        "unassign",
        "dispatch",
        "board",
        "arrive",
        "hand_over",
        "resume",
        "cancel",
        "treat_locally",
        "died",
    }
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _refuse(request: HttpRequest, *, record: Any, patient_uuid: Any, reason: str) -> NoReturn:
    audit_refusal(
        accessor=Accessor.from_request(request),
        message=reason,
        patient_uuid=patient_uuid,
        record=record,
        details={"page": request.path},
    )


def _message(error: ValidationError | IntegrityError) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    # The database's last word on a race the service did not catch first.
    return _("Someone changed this transfer at the same moment. Reload and try again.")


def _transfer(request: HttpRequest, transfer_uuid: UUID) -> tuple[Transfer, set[Side]]:
    """The transfer, if the user stands on a side of it and the policy lets them see its patient
    (the read audited either way)."""
    transfer = get_object_or_404(
        Transfer.objects.select_related(
            "patient",
            "patient__home_facility",
            "origin",
            "destination",
            "aircraft",
            "aircraft__base",
            "consultation",
            "requested_by",
        ),
        uuid=transfer_uuid,
    )
    sides = services.transfer_view(accessor=Accessor.from_request(request), transfer=transfer)
    return transfer, sides


def _read_only(request: HttpRequest, transfer: Transfer, sides: set[Side]) -> HttpResponse | None:
    """At a station the transfer is the hub's copy (nothing of it crosses back up): a change
    posted here is refused up front, before any form is read, on the transfer's page."""
    if not services.at_station():
        return None
    messages.error(request, services.station_read_only())
    return _detail(request, transfer, sides, status=409)


def _back(request: HttpRequest, transfer: Transfer) -> HttpResponse:
    """Back to where the button was (the board, the incoming list) or to the transfer's page."""
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(wanted)
    return redirect("evacuation:detail", transfer_uuid=transfer.uuid)


# --- the dispatch board -------------------------------------------------------------------------


def _coordinator_only(request: HttpRequest) -> User:
    user = _user(request)
    if not may_dispatch(user):
        raise PermissionDenied(_("The dispatch board is for the region's coordinators."))
    return user


@login_required
def board(request: HttpRequest) -> HttpResponse:
    user = _coordinator_only(request)
    data = selectors.board(user)
    shown = [str(uuid) for uuid in data.patients]
    if shown:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"page": "dispatch board"},
            patients=shown,
        )
    read_only = services.at_station()
    # The board shows every base (what the neighbours have in the air), but a coordinator
    # assigns only the aircraft of the regions they dispatch in.
    available = [
        a
        for group in data.bases
        if may_dispatch_in(user, group.base.region)
        for a in group.aircraft
        if a.status == "available"
    ]
    rows = [
        {
            "row": row,
            "t": row.transfer,
            "elapsed": row.clock.elapsed_minutes * 60,
            "held": row.clock.held_minutes * 60,
            "moves": []
            if read_only
            else [
                m for m in allowed_moves(row.transfer, {Side.COORDINATOR}) if m.event in BOARD_MOVES
            ],
            "may_assign": row.transfer.status == "accepted" and not read_only,
        }
        for row in data.transfers
    ]
    return render(
        request,
        "evacuation/board.html",
        {
            "board": data,
            "rows": rows,
            "statuses": AircraftStatus.choices,
            "available": available,
            "status_form": AircraftStatusForm(),
            "ground_modes": [(m, ground_label(m)) for m in ("road", "winter_road", "river")],
            "read_only": read_only,
        },
    )


@login_required
@require_POST
def aircraft_status(request: HttpRequest, aircraft_uuid: UUID) -> HttpResponse:
    _coordinator_only(request)
    aircraft = get_object_or_404(Aircraft.objects.select_related("base"), uuid=aircraft_uuid)
    if services.at_station():
        messages.error(request, services.station_read_only())
        return redirect("evacuation:board")
    form = AircraftStatusForm(request.POST)
    if not form.is_valid():
        # Every reason is said (a note too long, a bad version), not only a missing status.
        reasons = [str(e) for errors in form.errors.values() for e in errors]
        messages.error(request, " ".join([_("Choose the aircraft's availability."), *reasons]))
        return redirect("evacuation:board")
    try:
        services.aircraft_set_status(
            accessor=Accessor.from_request(request),
            aircraft=aircraft,
            status=form.cleaned_data["status"],
            note=form.cleaned_data["note"],
            expected_version=form.cleaned_data.get("version"),
        )
    except (ValidationError, IntegrityError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(
            request, _("%(aircraft)s: availability changed.") % {"aircraft": aircraft.registration}
        )
    return redirect("evacuation:board")


# --- one transfer ---------------------------------------------------------------------------------


def _detail(
    request: HttpRequest, transfer: Transfer, sides: set[Side], status: int = 200, **forms: Any
) -> HttpResponse:
    user = _user(request)
    events = list(selectors.timeline(transfer))
    read_only = services.at_station()
    # At a station nobody acts on the copy: no move, no form (the page says where it is done).
    acting = set() if read_only else sides
    moves = allowed_moves(transfer, acting)
    candidates: list[Any] = []
    if Side.COORDINATOR in acting and transfer.status == "requested":
        try:
            candidates = planning.candidate_destinations(transfer.origin, transfer.condition)
        except ValidationError:
            candidates = []
    context: dict[str, Any] = {
        "t": transfer,
        "sides": {str(s) for s in sides},
        "moves": [m for m in moves if m.event in PLAIN_MOVES],
        "may_accept": any(m.event == "accept" for m in moves),
        "may_decline": Side.RECEIVER in acting and transfer.status == "requested",
        "may_assign": any(m.event == "assign" for m in moves),
        "may_hold": any(m.event == "hold" for m in moves),
        "may_treat": bool(acting & {Side.SENDER, Side.COORDINATOR}) and not transfer.is_final,
        "may_decide": bool(acting & {Side.SENDER, Side.COORDINATOR}) and not transfer.is_final,
        "read_only": read_only,
        "advice": advice_view(transfer.advice),
        "compare": comparison(transfer),
        "clocks": [(label, moment) for label, moment in clock_rows(transfer) if moment],
        "timeline": timeline_rows(events),
        "treatments": list(transfer.treatments.select_related("by")),
        "candidates": candidates,
        "available": _assignable(user) if Side.COORDINATOR in acting else [],
        "ground_modes": [(m, ground_label(m)) for m in ("road", "winter_road", "river")],
        "ground_label": ground_label(transfer.ground_mode) if transfer.ground_mode else "",
        "accept_form": forms.get("accept_form") or AcceptForm(),
        "decline_form": forms.get("decline_form") or DeclineForm(),
        "hold_form": forms.get("hold_form") or HoldForm(),
        "decision_form": forms.get("decision_form")
        or DecisionForm(
            initial={"choice": transfer.decision_choice, "note": transfer.decision_note}
        ),
        "treatment_form": forms.get("treatment_form")
        or TreatmentForm(initial={"given_at": timezone.localtime().replace(second=0)}),
        "error_form": next(iter(forms.values()), None),
        "viewer": user,
    }
    return render(request, "evacuation/detail.html", context, status=status)


def _assignable(user: User) -> list[Aircraft]:
    """The available aircraft of the bases in the regions this coordinator dispatches in (a
    coordinator of the destination's region is on the transfer's side, but not on the other
    region's aircraft)."""
    aircraft = Aircraft.objects.filter(status=AircraftStatus.AVAILABLE).select_related("base")
    return [
        a
        for a in aircraft.order_by("base__region", "registration")
        if may_dispatch_in(user, a.base.region)
    ][:50]


@login_required
def detail(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    transfer, sides = _transfer(request, transfer_uuid)
    return _detail(request, transfer, sides)


@login_required
@require_POST
def move(request: HttpRequest, transfer_uuid: UUID, event: str) -> HttpResponse:
    transfer, sides = _transfer(request, transfer_uuid)
    if refused := _read_only(request, transfer, sides):
        return refused
    if event not in PLAIN_MOVES:
        messages.error(request, _("Unknown action."))
        return _back(request, transfer)
    form = NoteForm(request.POST)
    if not form.is_valid():
        # A note that cannot be kept (too long, a NUL) refuses the move: made without it, the
        # timeline would lose what the person meant to say about it.
        if request.POST.get("next"):
            messages.error(request, " ".join(str(e) for e in form.errors.get("note", [])))
            return _back(request, transfer)
        return _detail(request, transfer, sides, status=422, note_form=form)
    try:
        services.transfer_move(
            accessor=Accessor.from_request(request),
            transfer=transfer,
            event=event,
            note=form.cleaned_data["note"],
            expected_version=posted_version(request),
        )
    except (ValidationError, IntegrityError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, _("Done: %(step)s.") % {"step": _step(event)})
    return _back(request, transfer)


def _step(event: str) -> str:
    from .pages import event_label

    return str(event_label(event))


@login_required
@require_POST
def accept(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    transfer, sides = _transfer(request, transfer_uuid)
    if refused := _read_only(request, transfer, sides):
        return refused
    form = AcceptForm(request.POST)
    if form.is_valid():
        try:
            services.transfer_move(
                accessor=Accessor.from_request(request),
                transfer=transfer,
                event="accept",
                bed_note=form.cleaned_data["bed_note"],
                expected_version=posted_version(request),
            )
        except (ValidationError, IntegrityError) as error:
            messages.error(request, _message(error))
        else:
            messages.success(request, _("The bed is confirmed."))
        return _back(request, transfer)
    if request.POST.get("next"):
        messages.error(request, " ".join(str(e) for e in form.errors.get("bed_note", [])))
        return _back(request, transfer)
    return _detail(request, transfer, sides, status=422, accept_form=form)


@login_required
@require_POST
def decline(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    transfer, sides = _transfer(request, transfer_uuid)
    if refused := _read_only(request, transfer, sides):
        return refused
    form = DeclineForm(request.POST)
    if form.is_valid():
        try:
            services.transfer_decline(
                accessor=Accessor.from_request(request),
                transfer=transfer,
                reason=form.cleaned_data["reason"],
            )
        except (ValidationError, IntegrityError) as error:
            messages.error(request, _message(error))
            return _back(request, transfer)
        messages.success(
            request, _("The bed is declined; the coordinator is looking for another hospital.")
        )
        # The transfer is no longer this hospital's to see: back to the incoming list.
        return redirect("evacuation:incoming")
    if request.POST.get("next"):
        messages.error(request, " ".join(str(e) for e in form.errors.get("reason", [])))
        return _back(request, transfer)
    return _detail(request, transfer, sides, status=422, decline_form=form)


@login_required
@require_POST
def assign(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    transfer, sides = _transfer(request, transfer_uuid)
    if refused := _read_only(request, transfer, sides):
        return refused
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, " ".join(str(e) for e in form.non_field_errors()) or _("Choose an aircraft.")
        )
        return _back(request, transfer)
    details: dict[str, Any] = {}
    if form.cleaned_data["aircraft"]:
        aircraft = Aircraft.objects.filter(uuid=form.cleaned_data["aircraft"]).first()
        if aircraft is None:
            messages.error(request, _("This aircraft is not on the board any more."))
            return _back(request, transfer)
        details["aircraft"] = aircraft
    else:
        details["ground_mode"] = form.cleaned_data["ground_mode"]
    try:
        services.transfer_move(
            accessor=Accessor.from_request(request),
            transfer=transfer,
            event="assign",
            expected_version=posted_version(request),
            **details,
        )
    except (ValidationError, IntegrityError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, _("Transport assigned."))
    return _back(request, transfer)


def _form_post(
    request: HttpRequest,
    transfer_uuid: UUID,
    form_class: type[BaseForm],
    slot: str,
    run: Callable[[Accessor, Transfer, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """One form of the transfer page: refused at a station, kept only when valid and accepted by
    the service, else the page again (422) with the form's errors where they were typed."""
    transfer, sides = _transfer(request, transfer_uuid)
    if refused := _read_only(request, transfer, sides):
        return refused
    form = form_class(request.POST)
    if form.is_valid():
        try:
            run(Accessor.from_request(request), transfer, form.cleaned_data)
        except ValidationError as error:
            errors_to_form(form, error)
        except IntegrityError as error:
            form.add_error(None, _message(error))
        else:
            messages.success(request, done)
            return _back(request, transfer)
    return _detail(request, transfer, sides, status=422, **{slot: form})


@login_required
@require_POST
def hold(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    def run(accessor: Accessor, transfer: Transfer, data: dict[str, Any]) -> object:
        return services.transfer_move(
            accessor=accessor,
            transfer=transfer,
            event="hold",
            note=data["reason"],
            reason=data["reason"],
            expected_until=data["expected_until"],
            expected_version=posted_version(request),
        )

    done = _("The transfer is held.")
    return _form_post(request, transfer_uuid, HoldForm, "hold_form", run, done)


@login_required
@require_POST
def decision(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    def run(accessor: Accessor, transfer: Transfer, data: dict[str, Any]) -> object:
        return services.transfer_record_decision(
            accessor=accessor, transfer=transfer, choice=data["choice"], note=data["note"]
        )

    return _form_post(
        request, transfer_uuid, DecisionForm, "decision_form", run, _("Your decision is recorded.")
    )


@login_required
@require_POST
def treatment(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    def run(accessor: Accessor, transfer: Transfer, data: dict[str, Any]) -> object:
        return services.treatment_add(
            accessor=accessor,
            transfer=transfer,
            given_at=data["given_at"],
            description=data["description"],
        )

    done = _("The treatment is recorded.")
    return _form_post(request, transfer_uuid, TreatmentForm, "treatment_form", run, done)


@login_required
@require_POST
def destination(request: HttpRequest, transfer_uuid: UUID) -> HttpResponse:
    transfer, sides = _transfer(request, transfer_uuid)
    if refused := _read_only(request, transfer, sides):
        return refused
    form = DestinationForm(request.POST)
    facility = (
        Facility.objects.filter(uuid=form.cleaned_data["destination"]).first()
        if form.is_valid()
        else None
    )
    if facility is None:
        messages.error(request, _("Choose a hospital."))
        return _back(request, transfer)
    try:
        services.transfer_set_destination(
            accessor=Accessor.from_request(request),
            transfer=transfer,
            destination=facility,
            expected_version=posted_version(request),
        )
    except (ValidationError, IntegrityError) as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, _("The destination is chosen."))
    return _back(request, transfer)


# --- a new transfer ------------------------------------------------------------------------------


def _source(request: HttpRequest) -> tuple[Patient, Consultation | None]:
    """The patient (and consultation) the new transfer is for, from ?consultation= or ?patient=."""
    params = request.POST if request.method == "POST" else request.GET
    try:
        if params.get("consultation"):
            consultation = get_object_or_404(
                Consultation.objects.select_related("patient", "requesting_facility"),
                uuid=UUID(params["consultation"]),
            )
            return consultation.patient, consultation
        if params.get("patient"):
            patient = get_object_or_404(
                Patient.objects.select_related("home_facility"), uuid=UUID(params["patient"])
            )
            return patient, None
    except ValueError as error:
        raise Http404(_("No such patient or consultation.")) from error
    raise Http404(_("Open a transfer from a patient's page or a consultation's conclusion."))


def _conclusion(consultation: Consultation | None) -> Any:
    if consultation is None:
        return None
    return (
        consultation.conclusions.order_by("-version")
        .select_related("evacuation_destination")
        .first()
    )


def _origin(patient: Patient, consultation: Consultation | None) -> Facility:
    if consultation is not None and consultation.requesting_facility_id:
        return consultation.requesting_facility
    return patient.home_facility


def _condition(request: HttpRequest) -> str:
    params = request.POST if request.method == "POST" else request.GET
    wanted = params.get("condition", "")
    return wanted if wanted in TransferCondition.values else TransferCondition.EMERGENCY


@login_required
def new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    patient, consultation = _source(request)
    accessor = Accessor.from_request(request)
    if not may_open_transfer(user, patient):
        _refuse(
            request,
            record=consultation or patient,
            patient_uuid=patient.uuid,
            reason=_("You may not open a transfer for this patient."),
        )
    authorise(
        accessor=accessor,
        patient=patient,
        action=Action.VIEW,
        record=consultation or patient,
        details={"page": "new transfer"},
    )
    conclusion = _conclusion(consultation)
    origin = _origin(patient, consultation)
    condition = _condition(request)
    try:
        candidates = planning.candidate_destinations(origin, condition)
    except ValidationError as error:
        candidates = []
        messages.error(request, " ".join(error.messages))
    destinations = [option.facility for option in candidates]
    suggested = getattr(conclusion, "evacuation_destination", None)
    if suggested is not None and suggested not in destinations:
        destinations.append(suggested)
    initial: dict[str, Any] = {
        "condition": condition,
        "first_contact_at": timezone.localtime().replace(second=0, microsecond=0),
    }
    if suggested is not None:
        initial["destination"] = str(suggested.uuid)
    if conclusion is not None:
        initial["reason"] = conclusion.recommendations[:4000]
    read_only = services.at_station()
    form = NewTransferForm(
        request.POST if request.method == "POST" and not read_only else None,
        destinations=destinations,
        initial=initial,
    )
    status = 200
    if request.method == "POST" and read_only:
        # A request made here would never reach the hub: refused before the form is read.
        messages.error(request, services.station_read_only())
        status = 409
    elif request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                transfer = services.transfer_open(
                    accessor=accessor,
                    patient=patient,
                    origin=origin,
                    condition=data["condition"],
                    reason=data["reason"],
                    first_contact_at=data["first_contact_at"],
                    onset_at=data["onset_at"],
                    consultation=consultation,
                    conclusion=conclusion,
                    destination=form.chosen_destination(),
                    decision_choice=data["decision_choice"],
                    decision_note=data["decision_note"],
                )
            except ValidationError as error:
                errors_to_form(form, error)
            except IntegrityError:
                form.add_error(
                    None, _("This patient already has an open transfer. Open it instead.")
                )
            else:
                messages.success(request, _("The transfer is requested."))
                return redirect("evacuation:detail", transfer_uuid=transfer.uuid)
        status = 422
    open_transfer = (
        Transfer.objects.filter(patient=patient)
        .exclude(status__in=["handed_over", "cancelled", "treated_locally", "died"])
        .first()
    )
    return render(
        request,
        "evacuation/new.html",
        {
            "patient": patient,
            "consultation": consultation,
            "conclusion": conclusion,
            "advised": conclusion is not None and conclusion.evacuation != EvacuationAdvice.NONE,
            "origin": origin,
            "form": form,
            "condition": condition,
            "conditions": TransferCondition.choices,
            "candidates": [(option, advice_view(_advice_of(option))) for option in candidates],
            "open_transfer": open_transfer,
            "read_only": read_only,
        },
        status=status,
    )


def _advice_of(option: Any) -> dict[str, Any] | None:
    advice = getattr(option, "advice", None)
    if advice is None or isinstance(advice, dict):
        return advice
    from dataclasses import asdict, is_dataclass

    return asdict(advice) if is_dataclass(advice) and not isinstance(advice, type) else None


# --- the receiving hospital ----------------------------------------------------------------


@login_required
def incoming(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.role != Role.CLINICIAN or user.facility_id is None:
        raise PermissionDenied(_("The incoming list is for the receiving hospital's clinicians."))
    rows = list(selectors.incoming(user))
    shown = [str(t.patient.uuid) for t in rows]
    if shown:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"page": "incoming transfers"},
            patients=shown,
        )
    return render(
        request,
        "evacuation/incoming.html",
        {
            "transfers": rows,
            "accept_form": AcceptForm(),
            "decline_form": DeclineForm(),
            "read_only": services.at_station(),
        },
    )


# --- region clocks --------------------------------------------------------------------------------


@login_required
def clocks(request: HttpRequest) -> HttpResponse:
    """Aggregates only: no patient is named, so nothing is disclosed on a patient's record. The
    period is whole calendar months in UTC (the page says so); a row of fewer than SMALL_CELL
    transfers is exact only for the coordinator of its region (region_clocks.ShownClocks)."""
    user = _user(request)
    if not may_see_aggregates(user):
        raise PermissionDenied(_("Region clocks are for coordinators and analysts."))
    this_month = month_start(timezone.now().astimezone(UTC).date())
    first = add_months(this_month, -2)  # this month and the two before
    form = PeriodForm(request.GET or None, initial={"start": first, "end": this_month})
    invalid = bool(request.GET) and not form.is_valid()
    if request.GET and not invalid:
        first, last = form.cleaned_data["start"], form.cleaned_data["end"]
    else:
        last = this_month
    start, end = month_period(first, last)
    regions = None
    if user.role == Role.COORDINATOR and user.facility_id is not None:
        regions = [user.facility.region]  # type: ignore[union-attr]
    summaries = region_clocks.region_clocks(
        start=start, end=end, now=timezone.now(), regions=regions
    )
    shown = region_clocks.shown_clocks(
        summaries,
        exact_regions=[row.region for row in summaries if may_dispatch_in(user, row.region)],
    )
    return render(
        request,
        "evacuation/clocks.html",
        {
            "summaries": shown,
            "form": form,
            "first": first,
            "last": last,
            "small_cell": SMALL_CELL,
        },
        status=422 if invalid else 200,
    )
