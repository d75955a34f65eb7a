from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "my_readings"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.my_readings, name="home"),
]
