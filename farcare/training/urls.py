from django.urls import path

from . import live, views

app_name = "training"
urlpatterns = [
    path("", views.my_training, name="mine"),
    path("programmes/", views.programmes, name="programmes"),
    path("p/<uuid:programme_uuid>/", views.programme, name="programme"),
    path("p/<uuid:programme_uuid>/edit/", views.programme_edit, name="programme_edit"),
    path("p/<uuid:programme_uuid>/status/", views.programme_status, name="programme_status"),
    path("p/<uuid:programme_uuid>/trainers/", views.trainer_add, name="trainer_add"),
    path(
        "p/<uuid:programme_uuid>/trainers/<uuid:user_uuid>/remove/",
        views.trainer_remove,
        name="trainer_remove",
    ),
    path("p/<uuid:programme_uuid>/enrol/", views.enrol, name="enrol"),
    path("p/<uuid:programme_uuid>/withdraw/", views.withdraw, name="withdraw"),
    path("p/<uuid:programme_uuid>/learners/", views.enrol_learner, name="enrol_learner"),
    path("p/<uuid:programme_uuid>/sessions/", views.sessions_add, name="sessions_add"),
    path("p/<uuid:programme_uuid>/materials/", views.material_upload, name="material_upload"),
    path("s/<uuid:session_uuid>/", views.session, name="session"),
    path("s/<uuid:session_uuid>/reschedule/", views.session_reschedule, name="reschedule"),
    path("s/<uuid:session_uuid>/cancel/", views.session_cancel, name="cancel"),
    path("s/<uuid:session_uuid>/status/", views.session_status, name="session_status"),
    path(
        "s/<uuid:session_uuid>/attendance/<uuid:user_uuid>/",
        views.attendance_tick,
        name="attendance_tick",
    ),
    path("s/<uuid:session_uuid>/live/", live.room, name="live"),
    path("s/<uuid:session_uuid>/live/join/", live.join, name="live_join"),
    path("s/<uuid:session_uuid>/live/quality/", live.quality, name="live_quality"),
    path("s/<uuid:session_uuid>/live/leave/", live.leave, name="live_leave"),
    path("s/<uuid:session_uuid>/live/hand/", live.hand, name="live_hand"),
    path(
        "m/<uuid:material_uuid>/<str:version>/", views.material_download, name="material_download"
    ),
]
