"""Pages of training (thin: services write, selectors read): the learner's "My training"
(schedule, history, programmes to join), the trainer's programmes, a programme with its
sessions, materials, trainers and learners, a session with its attendance, and downloads."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.core.timezones import zone_for_user

from . import selectors, services
from .downloads import ranged_file_response
from .forms import (
    CancelForm,
    MaterialForm,
    PersonForm,
    ProgrammeForm,
    RescheduleForm,
    SeriesForm,
    trainer_form,
)
from .materials import material_add
from .models import Material, Programme, ProgrammeStatus, Session, SessionMode, SessionStatus


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    if user.role == Role.PATIENT:
        raise PermissionDenied(_("Training is for the staff of the network."))
    return user


def _programme(request: HttpRequest, programme_uuid: UUID) -> Programme:
    programme = get_object_or_404(
        Programme.objects.select_related("owner", "specialty"), uuid=programme_uuid
    )
    if not selectors.may_see_programme(_user(request), programme):
        raise PermissionDenied(_("You may not see this programme."))
    return programme


def _session(request: HttpRequest, session_uuid: UUID) -> Session:
    session = get_object_or_404(Session.objects.select_related("programme"), uuid=session_uuid)
    _programme(request, session.programme.uuid)
    return session


def _to_form(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in errors:
                form.add_error(target, item.messages)
    else:
        form.add_error(None, error.messages)


def _zone(request: HttpRequest) -> str:
    return zone_for_user(request.user).key


# --- the learner -------------------------------------------------------------------------------


@login_required
def my_training(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    mine = selectors.programme_for_learner(user)
    context: dict[str, Any] = {
        "mine": mine,
        "upcoming": selectors.upcoming_sessions_for_learner(user)[:20],
        "history": selectors.history_of(user)[:50],
        "total_minutes": selectors.total_minutes(user),
        "open": selectors.open_programmes().exclude(pk__in=mine.values("pk"))
        if selectors.may_learn(user)
        else [],
        "teaching": selectors.programmes_taught_by(user),
    }
    return render(request, "training/my_training.html", context)


@login_required
@require_POST
def enrol(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    try:
        services.enrol_self(accessor=Accessor.from_request(request), programme=programme)
        messages.success(request, _("You are enrolled."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("training:programme", programme_uuid=programme.uuid)


@login_required
@require_POST
def withdraw(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    user = _user(request)
    enrolment = programme.enrolments.filter(learner=user, withdrawn_at__isnull=True).first()
    if enrolment is not None:
        services.withdraw(accessor=Accessor.from_request(request), enrolment=enrolment)
        messages.success(request, _("You have left the programme."))
    return redirect("training:mine")


# --- the trainer: programmes -------------------------------------------------------------------


@login_required
def programmes(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not (selectors.may_create_programmes(user) or user.role in selectors.TEACHER_ROLES):
        raise PermissionDenied(_("Only trainers run programmes."))
    form = ProgrammeForm(request.POST or None, initial={"language": "ru"})
    if request.method == "POST" and form.is_valid():
        try:
            programme = services.programme_create(
                accessor=Accessor.from_request(request), **form.cleaned_data
            )
            return redirect("training:programme", programme_uuid=programme.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return render(
        request,
        "training/programmes.html",
        {
            "programmes": selectors.programmes_taught_by(user),
            "form": form,
            "may_create": selectors.may_create_programmes(user),
        },
        status=400 if form.errors else 200,
    )


def _programme_page(
    request: HttpRequest, programme: Programme, status: int = 200, **forms: Form
) -> HttpResponse:
    user = _user(request)
    teaching = selectors.is_trainer_of(user, programme)
    sessions = selectors.sessions_of(programme)
    enrolled = selectors.is_enrolled(user, programme)
    zone = _zone(request)
    context: dict[str, Any] = {
        "programme": programme,
        "teaching": teaching,
        "enrolled": enrolled,
        "sessions": sessions,
        "materials": selectors.materials_of(programme) if teaching or enrolled else [],
        "trainers": programme.trainers.all(),
        "learners": selectors.enrolled_learners(programme) if teaching else [],
        "may_enrol": programme.status == ProgrammeStatus.OPEN
        and not enrolled
        and selectors.may_learn(user),
    }
    if teaching:
        context.update(
            series_form=forms.get("series_form")
            or SeriesForm(initial={"zone": zone, "count": 1, "every_days": 7}),
            material_form=forms.get("material_form") or MaterialForm(sessions=sessions),
            trainer_form=forms.get("trainer_form") or trainer_form(),
            learner_form=forms.get("learner_form") or PersonForm(),
            moves=services.STATUS_MOVES.get(programme.status, set()),
        )
    return render(request, "training/programme.html", context, status=status)


@login_required
def programme(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    return _programme_page(request, _programme(request, programme_uuid))


@login_required
def programme_edit(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    if not selectors.is_trainer_of(_user(request), programme):
        raise PermissionDenied(_("Only the trainers of this programme may do this."))
    initial = {
        "title": programme.title,
        "summary": programme.summary,
        "language": programme.language,
        "audience": programme.audience,
        "specialty": programme.specialty,
    }
    form = ProgrammeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.programme_update(
                accessor=Accessor.from_request(request), programme=programme, **form.cleaned_data
            )
            return redirect("training:programme", programme_uuid=programme.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return render(
        request,
        "training/programme_edit.html",
        {"programme": programme, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def programme_status(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    try:
        services.programme_set_status(
            accessor=Accessor.from_request(request),
            programme=programme,
            status=request.POST.get("status", ""),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("training:programme", programme_uuid=programme.uuid)


@login_required
@require_POST
def trainer_add(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    form = trainer_form(request.POST)
    if form.is_valid():
        try:
            services.trainer_add(
                accessor=Accessor.from_request(request),
                programme=programme,
                trainer=form.cleaned_data["person"],
            )
            return redirect("training:programme", programme_uuid=programme.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return _programme_page(request, programme, status=400, trainer_form=form)


@login_required
@require_POST
def trainer_remove(request: HttpRequest, programme_uuid: UUID, user_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    trainer = get_object_or_404(User, uuid=user_uuid)
    services.trainer_remove(
        accessor=Accessor.from_request(request), programme=programme, trainer=trainer
    )
    return redirect("training:programme", programme_uuid=programme.uuid)


@login_required
@require_POST
def enrol_learner(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    form = PersonForm(request.POST)
    if form.is_valid():
        try:
            services.enrol_learner(
                accessor=Accessor.from_request(request),
                programme=programme,
                learner=form.cleaned_data["person"],
            )
            return redirect("training:programme", programme_uuid=programme.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return _programme_page(request, programme, status=400, learner_form=form)


# --- the trainer: sessions ---------------------------------------------------------------------


@login_required
@require_POST
def sessions_add(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    form = SeriesForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.session_series_create(
                accessor=Accessor.from_request(request),
                programme=programme,
                title=data["title"],
                first_starts_at=form.starts_at(),
                count=data["count"],
                every_days=data["every_days"],
                duration_minutes=data["duration_minutes"],
                lecture_minutes=data["lecture_minutes"],
                mode=data["mode"],
                room=data["room"],
            )
            return redirect("training:programme", programme_uuid=programme.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return _programme_page(request, programme, status=400, series_form=form)


def _session_page(
    request: HttpRequest, session: Session, status: int = 200, **forms: Form
) -> HttpResponse:
    user = _user(request)
    programme = session.programme
    teaching = selectors.is_trainer_of(user, programme)
    enrolled = selectors.is_enrolled(user, programme)
    attendance = list(selectors.attendance_of(session)) if teaching else []
    present = {row.learner_id: row for row in attendance}
    local = session.starts_at.astimezone(zone_for_user(user))
    context: dict[str, Any] = {
        "session": session,
        "programme": programme,
        "teaching": teaching,
        "enrolled": enrolled,
        "materials": session.materials.all() if teaching or enrolled else [],
        "learners": [
            (learner, present.get(learner.pk)) for learner in selectors.enrolled_learners(programme)
        ]
        if teaching
        else [],
        "own": selectors.attended_minutes(session, user) if enrolled else None,
        "in_room": session.mode != SessionMode.ONLINE,
        "online": session.mode != SessionMode.IN_PERSON,
        "open_session": session.status in (SessionStatus.SCHEDULED, SessionStatus.LIVE),
        "reschedule_form": forms.get("reschedule_form")
        or RescheduleForm(
            initial={
                "day": local.date(),
                "start": local.time().replace(second=0, microsecond=0),
                "zone": _zone(request),
                "room": session.room,
            }
        ),
        "cancel_form": forms.get("cancel_form") or CancelForm(),
    }
    return render(request, "training/session.html", context, status=status)


@login_required
def session(request: HttpRequest, session_uuid: UUID) -> HttpResponse:
    return _session_page(request, _session(request, session_uuid))


@login_required
@require_POST
def session_reschedule(request: HttpRequest, session_uuid: UUID) -> HttpResponse:
    session = _session(request, session_uuid)
    form = RescheduleForm(request.POST)
    if form.is_valid():
        try:
            services.session_reschedule(
                accessor=Accessor.from_request(request),
                session=session,
                starts_at=form.starts_at(),
                room=form.cleaned_data["room"] if session.mode != SessionMode.ONLINE else None,
            )
            return redirect("training:session", session_uuid=session.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return _session_page(request, session, status=400, reschedule_form=form)


@login_required
@require_POST
def session_cancel(request: HttpRequest, session_uuid: UUID) -> HttpResponse:
    session = _session(request, session_uuid)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.session_cancel(
                accessor=Accessor.from_request(request),
                session=session,
                reason=form.cleaned_data["reason"],
            )
            return redirect("training:session", session_uuid=session.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return _session_page(request, session, status=400, cancel_form=form)


@login_required
@require_POST
def session_status(request: HttpRequest, session_uuid: UUID) -> HttpResponse:
    session = _session(request, session_uuid)
    try:
        services.session_set_status(
            accessor=Accessor.from_request(request),
            session=session,
            status=request.POST.get("status", ""),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("training:session", session_uuid=session.uuid)


@login_required
@require_POST
def attendance_tick(request: HttpRequest, session_uuid: UUID, user_uuid: UUID) -> HttpResponse:
    session = _session(request, session_uuid)
    learner = get_object_or_404(User, uuid=user_uuid)
    if not selectors.is_enrolled(learner, session.programme):
        messages.error(
            request, _("%(name)s is not enrolled in this programme.") % {"name": learner}
        )
        return redirect("training:session", session_uuid=session.uuid)
    try:
        services.attendance_tick(
            accessor=Accessor.from_request(request),
            session=session,
            learner=learner,
            present=request.POST.get("present") == "1",
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("training:session", session_uuid=session.uuid)


# --- materials ---------------------------------------------------------------------------------


@login_required
@require_POST
def material_upload(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    programme = _programme(request, programme_uuid)
    form = MaterialForm(request.POST, request.FILES, sessions=selectors.sessions_of(programme))
    if form.is_valid():
        data = form.cleaned_data
        try:
            material_add(
                accessor=Accessor.from_request(request),
                programme=programme,
                title=data["title"],
                kind=data["kind"],
                upload=data["file"],
                session=data["session"],
            )
            messages.success(request, _("The material is added."))
            return redirect("training:programme", programme_uuid=programme.uuid)
        except ValidationError as error:
            _to_form(form, error)
    return _programme_page(request, programme, status=400, material_form=form)


@login_required
def material_download(
    request: HttpRequest, material_uuid: UUID, version: str
) -> HttpResponse | StreamingHttpResponse:
    material = get_object_or_404(Material.objects.select_related("programme"), uuid=material_uuid)
    user = _user(request)
    if not (
        selectors.is_trainer_of(user, material.programme)
        or selectors.is_enrolled(user, material.programme)
    ):
        raise PermissionDenied(_("Enrol in the programme to read its materials."))
    if version == "light" and material.light_file:
        stored, size, content_type, etag = (
            material.light_file,
            material.light_size or material.light_file.size,
            material.light_content_type,
            f"{material.sha256[:32]}-light",
        )
        extension = ".opus" if content_type == "audio/ogg" else ".pdf"
    elif version == "full" and material.file:
        stored, size, content_type, etag = (
            material.file,
            material.size,
            material.content_type,
            material.sha256[:32],
        )
        extension = "." + material.file.name.rsplit(".", 1)[-1] if "." in material.file.name else ""
    else:
        raise Http404(_("This version of the material is not here."))
    return ranged_file_response(
        request,
        stored,
        size=size,
        content_type=content_type,
        filename=f"{material.title[:80]}{extension}",
        etag=etag,
    )
