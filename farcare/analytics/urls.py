from django.urls import path

from . import export_views, map_views, views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("trend/", views.trend, name="trend"),
    path("partner/", views.partner, name="partner"),
    path("map/", map_views.region_map, name="map"),
    path("export/<slug:table>.<str:fmt>", export_views.table_export, name="export"),
    path("report/<int:year>-<int:month>.pdf", export_views.monthly_report, name="report"),
]
