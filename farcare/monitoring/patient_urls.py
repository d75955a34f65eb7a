from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import patient_pages

app_name = "my_readings"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", patient_pages.my_readings, name="home"),
]
