from django.urls import path

from . import consilium_views, views

app_name = "calls"
urlpatterns = [
    path("<uuid:consultation_uuid>/", views.call_page, name="call"),
    # The consilium (3-5 people through Janus): farcare.calls.consilium_views.
    path(
        "<uuid:consultation_uuid>/consilium/",
        consilium_views.consilium_page,
        name="consilium",
    ),
    path(
        "<uuid:consultation_uuid>/consilium/join/",
        consilium_views.consilium_join_view,
        name="consilium_join",
    ),
    path(
        "<uuid:consultation_uuid>/consilium/quality/",
        consilium_views.consilium_quality_view,
        name="consilium_quality",
    ),
    path(
        "<uuid:consultation_uuid>/consilium/leave/",
        consilium_views.consilium_leave_view,
        name="consilium_leave",
    ),
]
