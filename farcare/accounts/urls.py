from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("otp/verify/", views.otp_verify, name="otp_verify"),
    path("otp/setup/", views.otp_setup, name="otp_setup"),
    path("preferences/", views.preferences, name="preferences"),
    path("password/", views.password_change_view, name="password_change"),
]
