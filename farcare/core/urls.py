from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("health", views.health, name="health"),
]
