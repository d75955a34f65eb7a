from django.urls import URLPattern, URLResolver, path

from . import intake_views, views

app_name = "imaging"
urlpatterns: list[URLPattern | URLResolver] = [
    path("reading/", views.worklist, name="worklist"),
    path("add/<uuid:patient_uuid>/", intake_views.add_images, name="add_images"),
    path("studies/<uuid:study_uuid>/", views.study, name="study"),
    path(
        "studies/<uuid:study_uuid>/frames/<str:sop_uid>/<int:index>/",
        views.frame,
        name="frame",
    ),
    path("studies/<uuid:study_uuid>/claim/", views.claim, name="claim"),
    path("studies/<uuid:study_uuid>/report/review/", views.report_review, name="report_review"),
    path("studies/<uuid:study_uuid>/report/sign/", views.report_sign, name="report_sign"),
]
