from django.urls import path

from . import views

app_name = "access"
urlpatterns = [
    path("break-glass/<uuid:patient_uuid>/", views.break_glass, name="break_glass"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<uuid:grant_uuid>/", views.review, name="review"),
]
