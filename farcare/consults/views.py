from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action, decide_consult
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.clinical import icd10
from farcare.clinical.news2 import news2_score
from farcare.clinical.vitals import parse_vitals
from farcare.core.page_forms import errors_to_form
from farcare.core.ports import replication, station_pages
from farcare.imaging.errors import ImagingError
from farcare.imaging.metadata import STRIPPABLE, strip_metadata
from farcare.patients.models import Patient

from . import drafts, selectors, services
from .attachments import (
    attachment_request_original,
    attachment_viewed,
    dicom_for_abroad,
    dicom_pixels_shareable,
)
from .board import coordinator_filtered_board
from .case_rows import case_rows, patient_uuids
from .conclusions import conclusion_verification
from .diagnosis_lookup import lookup
from .earlier import earlier_conclusions
from .forms import (
    VITAL_FIELD_ORDER,
    AcknowledgeForm,
    ConclusionForm,
    MessageForm,
    ReasonForm,
    RefusalForm,
    RequestForm,
)
from .models import Attachment, Consultation, ConsultForm, Status
from .pdf import render_conclusion
from .refusal import refusal_for
from .request_rules import preselected_form
from .workflow import Side, allowed_moves


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    kind, consultations = selectors.worklist_for(user)
    board = None
    if kind == "board":
        # Narrowed by the filters of the query, with counts beside each (consults.board).
        board = coordinator_filtered_board(user, request.GET.dict(), timezone.now())
        consultations = board.consultations
    # Each row names its patient (the pseudonym abroad), so the record links every one shown.
    rows = case_rows(consultations, viewer=user, today=timezone.localdate(), now=timezone.now())
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.SEARCH,
        details={
            "worklist": kind,
            "shown": [str(row.c.uuid) for row in rows][:200],
            **({"filters": board.chosen} if board and board.chosen else {}),
        },
        patients=patient_uuids(rows),
    )
    template = (
        "consults/_worklist.html" if request.headers.get("HX-Request") else "consults/worklist.html"
    )
    return render(request, template, {"kind": kind, "rows": rows, "board": board})


@login_required
def new_request(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    patient = get_object_or_404(Patient, uuid=patient_uuid)
    user = _user(request)
    if user.role != Role.CLINICIAN:
        raise PermissionDenied(_("Only a requesting clinician asks for a consultation."))
    accessor = Accessor.from_request(request)
    authorise(accessor=accessor, patient=patient, action=Action.UPDATE)
    language = (get_language() or "ru")[:2]
    # A draft (autosaved as it was typed, or saved) comes back on the form when it is opened.
    restored = None
    if request.method != "POST":
        restored = drafts.draft_to_restore(user, patient, request.GET.dict())
    form = RequestForm(
        request.POST or None,
        request.FILES or None,
        language=language,
        submitting="save_draft" not in request.POST,
        initial=drafts.initial_of(restored, language) if restored else None,
    )
    if request.method == "POST" and form.is_valid():
        data = services.RequestData(
            specialty=form.cleaned_data["specialty"],
            form=form.cleaned_data["form"],
            mode=form.cleaned_data["mode"],
            language=form.cleaned_data["request_language"],
            question=form.cleaned_data["question"],
            summary=form.cleaned_data["summary"],
            vitals=form.vitals,
            consilium_size=form.cleaned_data.get("consilium_size"),
            files=form.uploads(),
            vitals_missing=form.cleaned_data.get("vitals_missing") or "",
            vitals_missing_note=form.cleaned_data.get("vitals_missing_note") or "",
        )
        token = form.cleaned_data["client_token"]
        try:
            if "save_draft" in request.POST:
                consultation = services.consult_save_draft(
                    accessor=accessor, patient=patient, client_token=token, data=data
                )
                messages.success(request, _("The draft is saved."))
            else:
                consultation = services.consult_submit(
                    accessor=accessor, patient=patient, client_token=token, data=data
                )
                messages.success(request, _("The request is sent."))
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            return redirect("consults:detail", consultation_uuid=consultation.uuid)
    return render(
        request,
        "consults/new.html",
        {
            "form": form,
            "patient": patient,
            "restored": restored,
            **_news2_context(
                form.vitals if form.is_bound else drafts.parsed_vitals(restored) if restored else {}
            ),
        },
    )


@login_required
def consilium_size(request: HttpRequest) -> HttpResponse:
    """The request form's consilium size field for the chosen mode: the field for a consilium,
    nothing otherwise (HTMX swaps it in as the mode changes)."""
    form = RequestForm(initial={"mode": request.GET.get("mode", "")})
    return render(request, "consults/_consilium_size.html", {"form": form})


def _news2_context(vitals: dict[str, Any], errors: dict[str, str] | None = None) -> dict[str, Any]:
    """The NEWS2 box: the score of what was typed, and the form it suggests, in words."""
    result = None
    if vitals:
        try:
            result = news2_score(vitals)
        except ValueError:
            result = None
    return {
        "news2": result,
        "suggested": ConsultForm(str(result.suggested_form)).label if result else "",
        "preselect": preselected_form(result),
        "vital_errors": errors or {},
    }


@login_required
@require_POST
def news2_preview(request: HttpRequest) -> HttpResponse:
    """The NEWS2 box of the request form, recomputed as the vitals are typed (HTMX)."""
    raw = {key: request.POST.get(f"vital_{key}", "") for key in VITAL_FIELD_ORDER}
    if raw.get("on_oxygen") in ("air", "oxygen"):
        raw["on_oxygen"] = "true" if raw["on_oxygen"] == "oxygen" else "false"
    values, errors = parse_vitals(raw, get_language() or "ru")
    return render(request, "consults/_news2.html", _news2_context(values, errors))


def _case(request: HttpRequest, consultation_uuid: str) -> tuple[Consultation, Any]:
    consultation = get_object_or_404(
        Consultation.objects.select_related(
            "patient", "specialty", "requesting_facility", "routed_facility", "requester"
        ),
        uuid=consultation_uuid,
    )
    view = decide_consult(_user(request), consultation)
    accessor = Accessor.from_request(request)
    if not view.allowed:
        # Not a side of this case; staff who reach the patient's record may still read it.
        # Otherwise a 403, audited like any refused record.
        authorise(
            accessor=accessor,
            patient=consultation.patient,
            action=Action.VIEW,
            record=consultation,
        )
        return consultation, view
    audit_record(
        accessor=accessor,
        action=AuditAction.VIEW,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details={"pseudonymised": True} if view.pseudonymised else None,
    )
    return consultation, view


@login_required
def detail(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    consultation, view = _case(request, consultation_uuid)
    return render(request, "consults/detail.html", _detail_context(request, consultation, view))


def _detail_context(
    request: HttpRequest, consultation: Consultation, view: Any, **forms: Any
) -> dict[str, Any]:
    conclusions = list(
        consultation.conclusions.select_related(
            "author", "signature", "evacuation_destination"
        ).order_by("-version")
    )
    language = (get_language() or "ru")[:2]
    checked = []
    for conclusion in conclusions:
        result = conclusion_verification(conclusion)
        labels = [
            (entry["code"], icd10.label(entry["code"], language)) for entry in conclusion.diagnoses
        ]
        checked.append({"conclusion": conclusion, "verification": result, "labels": labels})
    sides = set(view.sides)
    version = consultation.version
    refusal = refusal_for(consultation, sides)
    conclusion_form = forms.get("conclusion_form") or ConclusionForm(
        initial={"version": version}, emergency=consultation.form == ConsultForm.EMERGENCY
    )
    files = selectors.case_files(consultation, view)
    # At a station the hub routes, keeps the clock and holds the thread: the page says what the
    # hub last told the post, merged with what the post wrote since.
    facts, thread, station_case = station_pages().case(
        consultation, selectors.case_facts(consultation), selectors.case_thread(consultation, files)
    )
    return {
        "c": consultation,
        "view": view,
        "patient": selectors.case_patient(consultation, view, timezone.localdate()),
        "sides": sides,
        "moves": allowed_moves(consultation, sides),
        "facts": facts,
        "risk": facts.risk(),
        "left": facts.left(),
        "vitals": selectors.vital_rows(consultation, language),
        "files": files,
        "timeline": consultation.transitions.select_related("actor"),
        "thread": thread,
        "conclusions": checked,
        "acknowledgement": getattr(consultation, "acknowledgement", None),
        "message_form": forms.get("message_form") or MessageForm(initial={"version": version}),
        "reason_form": forms.get("reason_form") or ReasonForm(initial={"version": version}),
        "refusal": refusal,
        "refusal_form": forms.get("refusal_form")
        or RefusalForm(refusal=refusal, initial={"version": version}),
        "conclusion_form": conclusion_form,
        # Each code of the diagnoses field with its description, beside the field.
        "icd10_panel": lookup(
            str(conclusion_form["diagnoses"].value() or ""), language, finished=True
        ),
        "ack_form": forms.get("ack_form") or AcknowledgeForm(),
        "station_case": station_case,
        "at_station": replication().is_station(),  # transfers are opened at the hub only
        "earlier": earlier_conclusions(
            accessor=Accessor.from_request(request),
            consultation=consultation,
            view=view,
            language=language,
        ),
    }


def _act(
    request: HttpRequest,
    consultation_uuid: str,
    form_class: type[BaseForm] | None,
    form_key: str,
    action: Any,
    done: str,
) -> HttpResponse:
    """Run one action on a case; on a refusal show the case again with the message and what
    was typed."""
    consultation, view = _case(request, consultation_uuid)
    form = form_class(request.POST, request.FILES) if form_class else None
    if form is None or form.is_valid():
        try:
            action(consultation, form.cleaned_data if form else {}, form)
        except ValidationError as error:
            if form is not None:
                errors_to_form(form, error)
            else:
                messages.error(request, " ".join(error.messages))
                return redirect("consults:detail", consultation_uuid=consultation.uuid)
        else:
            messages.success(request, done)
            return redirect("consults:detail", consultation_uuid=consultation.uuid)
    consultation.refresh_from_db()
    context = _detail_context(request, consultation, view, **{form_key: form})
    return render(request, "consults/detail.html", context, status=422)


def _version(data: dict[str, Any]) -> int | None:
    value = data.get("version")
    return int(value) if value else None


@login_required
@require_POST
def accept(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    accessor = Accessor.from_request(request)
    return _act(
        request,
        consultation_uuid,
        None,
        "",
        lambda c, data, form: services.consult_accept(
            accessor=accessor,
            consultation=c,
            expected_version=int(request.POST["version"]) if request.POST.get("version") else None,
        ),
        _("You accepted the request."),
    )


@login_required
@require_POST
def move(request: HttpRequest, consultation_uuid: str, target: str) -> HttpResponse:
    """Start, reject, cancel, fail, discard: a move the state machine allows this side."""
    accessor = Accessor.from_request(request)
    if target not in Status.values:
        raise PermissionDenied(_("No such step."))
    if target == Status.REQUESTED:
        # A draft is sent from the request form, where what a request must carry is checked
        # (the question; the vital signs, or why they are missing), never by a bare "Submit".
        draft = Consultation.objects.filter(uuid=consultation_uuid, status=Status.DRAFT).first()
        if draft is not None:
            return redirect(drafts.form_url(draft))

    def run(c: Consultation, data: dict[str, Any], form: Any) -> Any:
        if target == Status.CANCELLED:
            return services.consult_cancel(
                accessor=accessor, consultation=c, reason=data.get("reason", "")
            )
        return services.consult_transition(
            accessor=accessor,
            consultation=c,
            target=Status(target),
            note=data.get("reason", ""),
            expected_version=_version(data),
        )

    return _act(request, consultation_uuid, ReasonForm, "reason_form", run, _("Done."))


@login_required
@require_POST
def message(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    accessor = Accessor.from_request(request)
    return _act(
        request,
        consultation_uuid,
        MessageForm,
        "message_form",
        lambda c, data, form: services.message_post(
            accessor=accessor,
            consultation=c,
            body=data["body"],
            ask_requester=data.get("ask_requester", False),
            expected_version=_version(data),
            files=data.get("attachments") or [],
        ),
        _("The message is sent."),
    )


@login_required
@require_POST
def acknowledge(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    accessor = Accessor.from_request(request)
    return _act(
        request,
        consultation_uuid,
        AcknowledgeForm,
        "ack_form",
        lambda c, data, form: services.consult_acknowledge(
            accessor=accessor,
            consultation=c,
            action=data["action"],
            helped=data["helped"],
            note=data.get("note", ""),
        ),
        _("Thank you: the outcome is recorded."),
    )


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _withheld(name: str) -> HttpResponse:
    return _text(
        _(
            "%(name)s is withheld: awaiting the requester's check that it shows no name or "
            "number of the patient."
        )
        % {"name": name},
        403,
    )


@login_required
def attachment(request: HttpRequest, attachment_uuid: str) -> HttpResponseBase:
    item, view = _attachment(request, attachment_uuid)
    shown = selectors.case_file(item, view)
    if shown.withheld:
        return _withheld(shown.name)
    if not item.file:
        return _text(_("The original of %(name)s has not arrived yet.") % {"name": shown.name}, 404)
    inline = item.content_type in selectors.PHOTO_TYPES
    if view.pseudonymised:
        abroad = _for_abroad(request, item, view, shown)
        _audit_attachment(request, item, "original", view)
        return abroad
    _audit_attachment(request, item, "original", view)
    return FileResponse(
        item.file.open("rb"),
        content_type=item.content_type,
        as_attachment=not inline,
        filename=shown.filename,
    )


def _for_abroad(
    request: HttpRequest, item: Attachment, view: Any, shown: selectors.CaseFile
) -> HttpResponse:
    """What a consultant abroad gets of a file: never the bytes as stored."""
    consultation = item.consultation
    if item.content_type == "application/dicom":
        # De-identified by the basic confidentiality profile.
        return dicom_for_abroad(item, case_code=consultation.uuid.hex[:8])
    if item.conclusion is not None:
        # The filed PDF names the patient: made again with the case's pseudonym.
        patient = selectors.case_patient(consultation, view, timezone.localdate())
        language = consultation.requester.language or consultation.language or "ru"
        content = render_conclusion(
            item.conclusion, language=language, pseudonymised_label=patient.label
        )
        return _download(content, "application/pdf", shown.filename, inline=False)
    with item.file.open("rb") as source:
        content = source.read()
    if item.content_type in STRIPPABLE:
        try:
            content = strip_metadata(content, item.content_type)
        except ImagingError as error:
            return _text(str(error), 422)
        return _download(content, item.content_type, shown.filename, inline=True)
    return _download(content, item.content_type, shown.filename, inline=False)


def _download(content: bytes, content_type: str, filename: str, *, inline: bool) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    kind = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{kind}; filename="{filename}"'
    return response


@login_required
def attachment_preview(request: HttpRequest, attachment_uuid: str) -> HttpResponseBase:
    item, view = _attachment(request, attachment_uuid)
    if not item.preview:
        raise Http404
    shown = selectors.case_file(item, view)
    if shown.withheld:
        return _withheld(shown.name)
    if view.pseudonymised and not dicom_pixels_shareable(item):
        return HttpResponse(
            _("This image may show identifiers in its pixels; it is not sent abroad."),
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    _audit_attachment(request, item, "preview", view)
    return FileResponse(item.preview.open("rb"), content_type=item.preview_content_type)


@login_required
@require_POST
def attachment_request(request: HttpRequest, attachment_uuid: str) -> HttpResponse:
    item, view = _attachment(request, attachment_uuid)
    if Side.CONSULTANT not in view.sides:
        raise PermissionDenied(_("Only the consultant asks for an original."))
    attachment_request_original(item)
    messages.success(
        request,
        _("The original of %(name)s was asked for: it comes with the station's next sync.")
        % {"name": selectors.case_file(item, view).name},
    )
    return redirect("consults:detail", item.consultation.uuid)


@login_required
@require_POST
def attachment_checked(request: HttpRequest, attachment_uuid: str) -> HttpResponse:
    """The requester: "this file shows no name or number of the patient"."""
    item, view = _attachment(request, attachment_uuid)
    if Side.REQUESTER not in view.sides:
        raise PermissionDenied(_("Only the requester checks the files they sent."))
    try:
        services.attachment_mark_checked(accessor=Accessor.from_request(request), attachment=item)
    except ValidationError as error:
        messages.error(
            request,
            _("%(name)s was not marked: %(problem)s")
            % {"name": item.original_name, "problem": " ".join(error.messages)},
        )
    else:
        messages.success(
            request,
            _("%(name)s is marked as showing no name or number; it may go abroad.")
            % {"name": item.original_name},
        )
    return redirect("consults:detail", item.consultation.uuid)


def _attachment(request: HttpRequest, attachment_uuid: str) -> tuple[Attachment, Any]:
    item = get_object_or_404(
        Attachment.objects.select_related("consultation__patient", "conclusion"),
        uuid=attachment_uuid,
    )
    _consultation, view = _case(request, str(item.consultation.uuid))
    return item, view


def _audit_attachment(request: HttpRequest, item: Attachment, part: str, view: Any) -> None:
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.EXPORT,
        patient_uuid=item.consultation.patient.uuid,
        record=item,
        details={"part": part, **({"pseudonymised": True} if view.pseudonymised else {})},
    )
    if Side.CONSULTANT in view.sides:
        attachment_viewed(item)
