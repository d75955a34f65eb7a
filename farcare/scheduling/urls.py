from django.urls import path

from . import views

app_name = "scheduling"
urlpatterns = [
    path("availability/", views.availability, name="availability"),
    path("availability/<uuid:consultant_uuid>/", views.availability, name="availability_of"),
    path(
        "availability/<uuid:consultant_uuid>/weekly/",
        views.publish_weekly,
        name="publish_weekly",
    ),
    path(
        "availability/<uuid:consultant_uuid>/single/",
        views.publish_single,
        name="publish_single",
    ),
    path("slots/<uuid:slot_uuid>/remove/", views.remove_slot, name="remove_slot"),
    path("book/<uuid:consultation_uuid>/", views.book, name="book"),
    path("<uuid:appointment_uuid>/<str:event>/", views.act, name="act"),
]
