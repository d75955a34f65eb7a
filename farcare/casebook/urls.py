from django.urls import path

from . import views

app_name = "casebook"
urlpatterns = [
    path("", views.case_list, name="list"),
    path("consultations/", views.sources, name="sources"),
    path("make/", views.make, name="make"),
    path("<uuid:case_uuid>/review/", views.review, name="review"),
    path("<uuid:case_uuid>/edit/", views.edit, name="edit"),
    path("<uuid:case_uuid>/move/", views.move, name="move"),
    path("<uuid:case_uuid>/present/", views.present, name="present"),
    path("<uuid:case_uuid>/", views.read, name="read"),
    path("asked/<uuid:ask_uuid>/", views.asked, name="asked"),
    path("files/<uuid:file_uuid>/", views.case_file, name="file"),
    path("files/<uuid:file_uuid>/preview/", views.case_file, {"part": "preview"}, name="preview"),
]
