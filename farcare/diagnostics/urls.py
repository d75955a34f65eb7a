from django.urls import path

from .pages import alerts, laboratory, ordering, reports, specimens

app_name = "diagnostics"
urlpatterns = [
    path("", ordering.orders, name="orders"),
    path("new/<uuid:patient_uuid>/", ordering.order_new, name="order_new"),
    path("catalogue/", ordering.catalogue_search, name="catalogue"),
    path("orders/<uuid:order_uuid>/", ordering.order_detail, name="order"),
    path("orders/<uuid:order_uuid>/labels/", ordering.order_labels, name="labels"),
    path("orders/<uuid:order_uuid>/cancel/", ordering.order_cancel_view, name="cancel"),
    path("orders/<uuid:order_uuid>/results/", laboratory.enter_results, name="enter_results"),
    path("specimens/<uuid:specimen_uuid>/collect/", specimens.collect, name="collect"),
    path("specimens/<uuid:specimen_uuid>/reject/", specimens.reject, name="reject"),
    path("ship/", specimens.ship, name="ship"),
    path("laboratory/", laboratory.worklist, name="worklist"),
    path("laboratory/receive/", specimens.receive, name="receive"),
    path("reports/<uuid:report_uuid>/", reports.report_detail, name="report"),
    path("reports/<uuid:report_uuid>/review/", reports.review, name="review"),
    path("patients/<uuid:patient_uuid>/", reports.patient_results, name="patient"),
    path("alerts/", alerts.alert_list, name="alerts"),
    path("alerts/banner/", alerts.banner, name="alert_banner"),
    path("alerts/<uuid:alert_uuid>/", alerts.alert_detail, name="alert"),
]
