"""The project's URLs plus the notification pages, until farcare/urls.py includes them."""

from django.urls import include, path

from farcare.urls import urlpatterns as base

urlpatterns = list(base)
if not any(getattr(pattern, "namespace", None) == "notifications" for pattern in base):
    urlpatterns.append(path("notifications/", include("farcare.notifications.urls")))
