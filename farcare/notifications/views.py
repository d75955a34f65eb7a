from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.case_rows import CaseRow, cases_linked, patient_uuids

from .forms import NotificationPreferenceForm
from .models import Notification, NotificationPreference
from .services import mark_read, unread_count

PAGE_SIZE = 50


def _with_cases(
    request: HttpRequest, notifications: list[Notification]
) -> list[tuple[Notification, CaseRow | None]]:
    """Each notification with the case it is about, as the reader may see it now: the stored
    text never names the patient (it also went by e-mail or SMS), the inbox behind the login
    does, or gives the pseudonym abroad, and audits the patients it showed."""
    user: User = request.user  # type: ignore[assignment]
    cases = cases_linked(
        (n.link for n in notifications),
        viewer=user,
        today=timezone.localdate(),
        now=timezone.now(),
    )
    shown = list(dict.fromkeys(cases.values()))
    if shown:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"worklist": "notifications", "shown": [str(row.c.uuid) for row in shown]},
            patients=patient_uuids(shown),
        )
    return [(n, cases.get(n.link)) for n in notifications]


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    page = Paginator(Notification.objects.filter(recipient=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    entries = _with_cases(request, list(page))
    return render(
        request,
        "notifications/inbox.html",
        {"page": page, "entries": entries, "unread": unread_count(user)},
    )


@login_required
@require_POST
def read(request: HttpRequest, notification_uuid: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    # Someone else's notification is not found rather than forbidden: its existence is private.
    notification = get_object_or_404(Notification, uuid=notification_uuid, recipient=user)
    mark_read(user=user, notification=notification)
    if request.headers.get("HX-Request"):
        [(n, row)] = _with_cases(request, [notification])
        return render(request, "notifications/_row.html", {"n": n, "row": row})
    return redirect("notifications:inbox")


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    # Unsaved until the first save, so looking at the page writes nothing.
    preference = NotificationPreference.objects.filter(user=user).first() or NotificationPreference(
        user=user
    )
    form = NotificationPreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your notification preferences are saved."))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})
