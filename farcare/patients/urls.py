from django.urls import path

from . import views

app_name = "patients"
urlpatterns = [
    path("", views.search, name="search"),
    path("register/", views.register, name="register"),
    path("<uuid:patient_uuid>/", views.detail, name="detail"),
    path("<uuid:patient_uuid>/edit/", views.edit, name="edit"),
    path("<uuid:patient_uuid>/consents/", views.consent_add, name="consent_add"),
    path("consents/<uuid:consent_uuid>/revoke/", views.consent_revoke, name="consent_revoke"),
]
