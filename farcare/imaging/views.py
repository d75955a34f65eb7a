"""Pages of remote reading: the radiologist's worklist, the viewer (server-drawn frames of a
series, window presets, slices by links and HTMX) with the report beside it, and the frames.

Audit: one record per opening of the viewer (the page), linked to the patient; stepping through
slices and fetching frames is authorised every time but audited only when the viewer was not
opened in this session within `OPEN_HOURS` (a frame URL fetched on its own, a bookmark), so a
reading of 200 slices is one record, not 200."""

from __future__ import annotations

import hashlib
import time
import uuid as uuid_module
from dataclasses import replace
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from farcare.accounts.models import User
from farcare.accounts.services import AuthenticationFailed, reauthenticate, reauthentication_asks
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.clinical import icd10
from farcare.consults.case_rows import age_words, sex_word, short_name
from farcare.consults.forms import SignForm

from . import services
from .access import StudyView, decide_study
from .errors import ImagingError
from .forms import ReportForm
from .frames import RENDER_VERSION, viewport
from .models import ImagingStudy, ReadingStatus
from .pacs import InstanceRef, pacs_for_storage
from .report_document import report_verification
from .selectors import SeriesSlices, reading_worklist, study_series
from .windows import preset as find_preset
from .windows import presets_for

OPEN_HOURS = 12
SIGNING_PURPOSE = "sign imaging report"
FRAME_PX = 512


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def pseudonym(study: ImagingStudy) -> str:
    return _("Study %(code)s") % {"code": study.uuid.hex[:8].upper()}


def patient_label(study: ImagingStudy, view: StudyView) -> str:
    if view.pseudonymised:
        return pseudonym(study)
    patient = study.patient
    return short_name(patient.family, patient.given, patient.middle)


def _waiting(study: ImagingStudy) -> str:
    minutes = int((timezone.now() - study.created_at).total_seconds() // 60)
    if minutes < 60:
        return _("waiting %(n)s min") % {"n": minutes}
    if minutes < 48 * 60:
        return _("waiting %(h)s h %(m)s min") % {"h": minutes // 60, "m": minutes % 60}
    return _("waiting %(d)s days") % {"d": minutes // (24 * 60)}


# --- worklist ----------------------------------------------------------------------------------


@login_required
@require_GET
def worklist(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    studies = reading_worklist(user)
    today = timezone.localdate()
    cards = []
    for study in studies:
        view = StudyView(True, pseudonymised=decide_study(user, study).pseudonymised, reader=True)
        patient = study.patient
        cards.append(
            {
                "study": study,
                "patient": patient_label(study, view),
                "sex": sex_word(patient.sex),
                "age": age_words(patient.birth_date, today),
                "waiting": _waiting(study),
                "late": study.due_at is not None and study.due_at < timezone.now(),
                # What was asked: the order's number, and its reason (free text a clinician
                # typed, so not shown to a reader who sees the case pseudonymised).
                "order": study.order,
                "reason": study.order.reason if study.order and not view.pseudonymised else "",
            }
        )
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.VIEW,
        details={"list": "imaging reading worklist"},
        patients=[study.patient.uuid for study in studies],
    )
    return render(request, "imaging/worklist.html", {"cards": cards})


# --- the viewer --------------------------------------------------------------------------------


def _session_key(study: ImagingStudy) -> str:
    return f"imaging-open-{study.uuid.hex}"


def _opened_recently(request: HttpRequest, study: ImagingStudy) -> bool:
    opened = request.session.get(_session_key(study))
    return isinstance(opened, int | float) and time.time() - opened < OPEN_HOURS * 3600


def _authorise(request: HttpRequest, study: ImagingStudy, *, audit: bool, what: str) -> StudyView:
    """Ask for the study; a refusal is audited and raised (403); an allowed opening is audited
    when `audit` or when the viewer was not opened in this session lately."""
    accessor = Accessor.from_request(request)
    view = decide_study(accessor.user, study)
    if not view.allowed:
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=study.patient.uuid,
            record=study,
            outcome="denied",
            details={"wanted": what},
        )
        raise PermissionDenied(view.reason or _("This study is outside your access."))
    if audit or not _opened_recently(request, study):
        audit_record(
            accessor=accessor,
            action=AuditAction.VIEW,
            patient_uuid=study.patient.uuid,
            record=study,
            details={"opened": what, "pseudonymised": view.pseudonymised},
        )
        request.session[_session_key(study)] = time.time()
    return view


def _study(study_uuid: uuid_module.UUID) -> ImagingStudy:
    return get_object_or_404(
        ImagingStudy.objects.select_related(
            "patient",
            "facility",
            "reading_facility",
            "reader",
            "report__author",
            "report__signature",
        ),
        uuid=study_uuid,
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _abroad_series(series: list[SeriesSlices]) -> list[SeriesSlices]:
    """What a reader abroad is offered: in each series only the images marked free of burned-in
    annotation, and only the series left with any (decisions §14)."""
    kept = (replace(one, instances=[i for i in one.instances if i.may_go_abroad]) for one in series)
    return [one for one in kept if one.instances]


def _viewer_context(request: HttpRequest, study: ImagingStudy, view: StudyView) -> dict[str, Any]:
    series = study_series(study)
    withheld = ""
    if view.pseudonymised:
        offered = _abroad_series(series)
        if not offered and series:
            withheld = _(
                "None of this study's images may be sent abroad: they may have identifiers "
                "burned into their pixels."
            )
        elif sum(len(s.instances) for s in offered) < sum(len(s.instances) for s in series):
            withheld = _(
                "Images that may have identifiers burned into their pixels are not sent abroad."
            )
        series = offered
    chosen = min(max(_int(request.GET.get("s"), 0), 0), max(len(series) - 1, 0))
    current: SeriesSlices | None = series[chosen] if series else None
    context: dict[str, Any] = {
        "s": study,
        "view": view,
        "series": series,
        "si": chosen,
        "withheld": withheld,
    }
    context["patient"] = patient_label(study, view)
    if current is None:
        return context
    count = len(current.instances)
    index = min(max(_int(request.GET.get("i"), count // 2), 0), count - 1)
    preset = find_preset(request.GET.get("w", ""), current.modality)
    instance = current.instances[index]
    base = reverse("imaging:study", args=[study.uuid])

    def link(**changes: Any) -> str:
        params = {"s": chosen, "i": index, "w": preset.key, **changes}
        return f"{base}?{urlencode(params)}"

    context.update(
        current=current,
        index=index,
        count=count,
        preset=preset,
        presets=[(p, link(w=p.key)) for p in presets_for(current.modality)],
        series_links=[(n, s, f"{base}?{urlencode({'s': n})}") for n, s in enumerate(series)],
        previous=link(i=index - 1) if index > 0 else "",
        following=link(i=index + 1) if index < count - 1 else "",
        first=link(i=0),
        last=link(i=count - 1),
        frame_url=reverse("imaging:frame", args=[study.uuid, instance.sop_uid, 0])
        + "?"
        + urlencode({"w": preset.key, "px": str(FRAME_PX)}),
        px=FRAME_PX,
    )
    return context


@login_required
@require_GET
def study(request: HttpRequest, study_uuid: uuid_module.UUID) -> HttpResponse:
    found = _study(study_uuid)
    partial = request.headers.get("HX-Request") == "true"
    view = _authorise(request, found, audit=not partial, what="viewer")
    context = _viewer_context(request, found, view)
    if partial:
        return render(request, "imaging/_viewer.html", context)
    context.update(_report_context(request, found, view))
    return render(request, "imaging/study.html", context)


def _report_context(
    request: HttpRequest, study: ImagingStudy, view: StudyView, form: ReportForm | None = None
) -> dict[str, Any]:
    user = _user(request)
    verification = report_verification(study)
    return {
        "may_claim": view.reader and study.reading_status == ReadingStatus.WAITING,
        "may_report": view.reader
        and study.reading_status == ReadingStatus.READING
        and study.reader_id == user.pk,
        "report_form": form or ReportForm(),
        "verification": verification,
        "report_codes": [
            (code, icd10.label(code, request.LANGUAGE_CODE))
            for code in (study.report.conclusion_codes if study.report else [])
        ],
    }


@login_required
@require_GET
def frame(
    request: HttpRequest, study_uuid: uuid_module.UUID, sop_uid: str, index: int
) -> HttpResponse:
    found = get_object_or_404(ImagingStudy.objects.select_related("patient"), uuid=study_uuid)
    instance = get_object_or_404(found.instances, sop_uid=sop_uid)
    view = _authorise(request, found, audit=False, what="frame")
    if view.pseudonymised and not instance.may_go_abroad:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.DENIED,
            patient_uuid=found.patient.uuid,
            record=found,
            outcome="denied",
            details={"wanted": "frame", "burned_in_annotation": instance.burned_in_annotation},
        )
        raise PermissionDenied(
            _("This image may have identifiers burned into its pixels; it is not sent abroad.")
        )
    preset = find_preset(request.GET.get("w", ""), instance.modality)
    px = viewport(_int(request.GET.get("px"), FRAME_PX))
    fmt = "webp" if "image/webp" in request.headers.get("Accept", "image/webp") else "jpeg"
    key = f"{RENDER_VERSION}|{sop_uid}|{index}|{preset.key}|{px}|{fmt}"
    etag = '"' + hashlib.sha256(key.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400", "Vary": "Accept, Cookie"}
    if etag in request.headers.get("If-None-Match", ""):
        return HttpResponse(status=304, headers=headers)
    try:
        rendered = pacs_for_storage(found.storage).rendered(
            InstanceRef(found.study_uid, instance.series_uid, sop_uid),
            index=index,
            preset=preset,
            px=px,
            fmt=fmt,
        )
    except ImagingError as error:
        return HttpResponse(
            str(error),
            status=502,
            content_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "no-store"},
        )
    return HttpResponse(rendered.content, content_type=rendered.content_type, headers=headers)


# --- reading and signing -----------------------------------------------------------------------


@login_required
@require_POST
def claim(request: HttpRequest, study_uuid: uuid_module.UUID) -> HttpResponse:
    found = _study(study_uuid)
    try:
        services.study_claim(accessor=Accessor.from_request(request), study=found)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("imaging:study", study_uuid=found.uuid)


def _data(form: ReportForm) -> services.ReportData:
    return services.ReportData(
        findings=form.cleaned_data["findings"],
        impression=form.cleaned_data["impression"],
        codes=form.code_list(),
    )


def _errors_to_form(form: ReportForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _again(
    request: HttpRequest, study: ImagingStudy, view: StudyView, form: ReportForm
) -> HttpResponse:
    context = _viewer_context(request, study, view)
    context.update(_report_context(request, study, view, form))
    return render(request, "imaging/study.html", context, status=422)


def _sign_page(
    request: HttpRequest,
    study: ImagingStudy,
    view: StudyView,
    form: ReportForm,
    sign_form: SignForm,
    status: int = 200,
) -> HttpResponse:
    data = _data(form)
    rows = [
        (_("Patient"), patient_label(study, view)),
        (_("Study"), f"{study.modality} {study.body_site} — {study.description}"),
        (_("Made at"), study.facility.name),
        (_("Findings"), data.findings),
        (_("Impression"), data.impression),
        (_("Diagnoses (ICD-10)"), ", ".join(data.codes) or "—"),
        (_("Time of signing"), _("the moment you sign")),
    ]
    context = {"s": study, "rows": rows, "report_form": form, "sign_form": sign_form}
    return render(request, "imaging/sign.html", context, status=status)


@login_required
@require_POST
def report_review(request: HttpRequest, study_uuid: uuid_module.UUID) -> HttpResponse:
    found = _study(study_uuid)
    view = _authorise(request, found, audit=False, what="report")
    form = ReportForm(request.POST)
    if not form.is_valid():
        return _again(request, found, view, form)
    try:
        _draft, digest = services.study_report_draft(
            accessor=Accessor.from_request(request), study=found, data=_data(form)
        )
    except ValidationError as error:
        _errors_to_form(form, error)
        return _again(request, found, view, form)
    sign_form = SignForm(initial={"digest": digest}, asks=reauthentication_asks(_user(request)))
    return _sign_page(request, found, view, form, sign_form)


@login_required
@require_POST
def report_sign(request: HttpRequest, study_uuid: uuid_module.UUID) -> HttpResponse:
    found = _study(study_uuid)
    view = _authorise(request, found, audit=False, what="report")
    user = _user(request)
    form = ReportForm(request.POST)
    sign_form = SignForm(request.POST, asks=reauthentication_asks(user))
    if not form.is_valid():
        return _again(request, found, view, form)
    if sign_form.is_valid():
        try:
            reauthenticate(
                request=request,
                user=user,
                secret=sign_form.cleaned_data["secret"],
                purpose=SIGNING_PURPOSE,
            )
        except AuthenticationFailed as failure:
            sign_form.add_error("secret", failure.message())
        else:
            try:
                services.study_report_sign(
                    accessor=Accessor.from_request(request),
                    study=found,
                    data=_data(form),
                    expected_digest=sign_form.cleaned_data["digest"],
                )
            except ValidationError as error:
                _errors_to_form(form, error)
                return _again(request, found, view, form)
            messages.success(request, _("The report is signed."))
            return redirect("imaging:study", study_uuid=found.uuid)
    return _sign_page(request, found, view, form, sign_form, status=422)
