from django.urls import path

from . import views

app_name = "learning"
urlpatterns = [
    path("", views.credits, name="credits"),
    path("survey/<uuid:survey_uuid>/", views.survey, name="survey"),
    path("quiz/<uuid:quiz_uuid>/", views.quiz, name="quiz"),
    path("quiz/<uuid:quiz_uuid>/start/", views.attempt_start, name="attempt_start"),
    path("quiz/<uuid:quiz_uuid>/edit/", views.quiz_edit, name="quiz_edit"),
    path("attempt/<uuid:attempt_uuid>/", views.attempt, name="attempt"),
    path(
        "certificate/<uuid:certificate_uuid>/<str:language>.pdf",
        views.certificate_download,
        name="certificate_pdf",
    ),
    path(
        "certificate/<uuid:certificate_uuid>/revoke/",
        views.certificate_revoke,
        name="certificate_revoke",
    ),
    path("teaching/", views.teaching, name="teaching"),
    path("programme/<uuid:programme_uuid>/", views.programme, name="programme"),
    path(
        "programme/<uuid:programme_uuid>/survey-question/",
        views.survey_question_add,
        name="survey_question_add",
    ),
    path("programme/<uuid:programme_uuid>/quiz/", views.quiz_create, name="quiz_create"),
    path(
        "programme/<uuid:programme_uuid>/certificates/",
        views.certificates_issue,
        name="certificates_issue",
    ),
    path("verify/", views.verify, name="verify"),
    path("verify/<str:code>/", views.verify_code, name="verify_code"),
    path("coverage/", views.coverage, name="coverage"),
]
