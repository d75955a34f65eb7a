from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from . import handover_urls, views

app_name = "evacuation"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.board, name="board"),
    path("incoming/", views.incoming, name="incoming"),
    path("clocks/", views.clocks, name="clocks"),
    path("new/", views.new, name="new"),
    path("aircraft/<uuid:aircraft_uuid>/status/", views.aircraft_status, name="aircraft_status"),
    path("<uuid:transfer_uuid>/", views.detail, name="detail"),
    path("<uuid:transfer_uuid>/accept/", views.accept, name="accept"),
    path("<uuid:transfer_uuid>/decline/", views.decline, name="decline"),
    path("<uuid:transfer_uuid>/assign/", views.assign, name="assign"),
    path("<uuid:transfer_uuid>/hold/", views.hold, name="hold"),
    path("<uuid:transfer_uuid>/decision/", views.decision, name="decision"),
    path("<uuid:transfer_uuid>/treatment/", views.treatment, name="treatment"),
    path("<uuid:transfer_uuid>/destination/", views.destination, name="destination"),
    path("<uuid:transfer_uuid>/move/<slug:event>/", views.move, name="move"),
    *handover_urls.urlpatterns,
]
