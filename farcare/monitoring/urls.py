from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import alert_views, views

app_name = "monitoring"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.programme_list, name="list"),
    path("enrol/<uuid:patient_uuid>/", views.enrol, name="enrol"),
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/<uuid:alert_uuid>/", alert_views.alert_detail, name="alert"),
    path(
        "alerts/<uuid:alert_uuid>/acknowledge/",
        alert_views.alert_acknowledge,
        name="alert_acknowledge",
    ),
    path("alerts/<uuid:alert_uuid>/consultation/", alert_views.alert_consult, name="alert_consult"),
    path("<uuid:enrolment_uuid>/", views.detail, name="detail"),
    path("<uuid:enrolment_uuid>/reading/", views.add_reading, name="add_reading"),
    path("<uuid:enrolment_uuid>/plan/", views.change_plan, name="plan"),
    path("<uuid:enrolment_uuid>/end/", views.end, name="end"),
]
