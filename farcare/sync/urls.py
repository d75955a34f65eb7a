from django.urls import path

from . import views

app_name = "sync"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("panel/", views.panel, name="panel"),
    path("sync/", views.sync_now, name="sync_now"),
    path("conclusions/<uuid:consultation_uuid>/", views.conclusion_pdf, name="conclusion_pdf"),
    # At the hub: a difference between a station's edit and the record, settled by a clinician.
    path("conflicts/<uuid:conflict_uuid>/settle/", views.settle, name="settle"),
]
