from django.urls import path

from . import views

app_name = "network"
urlpatterns = [
    path("facilities/", views.facility_list, name="facilities"),
    path("facilities/<uuid:facility_uuid>/", views.facility_detail, name="facility"),
    path("practitioners/", views.practitioner_list, name="practitioners"),
]
