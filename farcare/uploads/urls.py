from django.urls import path

from . import views

app_name = "uploads"

urlpatterns = [
    path("", views.collection, name="collection"),
    # Any text, so that a malformed id gets the protocol's own 404 (with Tus-Resumable).
    path("<str:upload_id>", views.resource, name="upload"),
]
