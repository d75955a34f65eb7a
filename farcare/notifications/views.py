from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.accounts.models import User

from .forms import NotificationPreferenceForm
from .models import Notification, NotificationPreference
from .services import mark_read, unread_count

PAGE_SIZE = 50


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    page = Paginator(Notification.objects.filter(recipient=user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "notifications/inbox.html", {"page": page, "unread": unread_count(user)})


@login_required
@require_POST
def read(request: HttpRequest, notification_uuid: str) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    # Someone else's notification is not found rather than forbidden: its existence is private.
    notification = get_object_or_404(Notification, uuid=notification_uuid, recipient=user)
    mark_read(user=user, notification=notification)
    if request.headers.get("HX-Request"):
        return render(request, "notifications/_row.html", {"n": notification})
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
