from django.urls import path

from . import coordination, deciding, drafts, printing, views

app_name = "consults"
urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("new/<uuid:patient_uuid>/", views.new_request, name="new"),
    path("new/<uuid:patient_uuid>/autosave/", drafts.autosave, name="autosave"),
    path("new/consilium-size/", views.consilium_size, name="consilium_size"),
    path("news2/", views.news2_preview, name="news2"),
    path("<uuid:consultation_uuid>/", views.detail, name="detail"),
    path("<uuid:consultation_uuid>/accept/", views.accept, name="accept"),
    path("<uuid:consultation_uuid>/cannot-take/", deciding.cannot_take, name="cannot_take"),
    path("<uuid:consultation_uuid>/move/<str:target>/", views.move, name="move"),
    path("<uuid:consultation_uuid>/message/", views.message, name="message"),
    path("icd10/", deciding.icd10_lookup, name="icd10"),
    path("<uuid:consultation_uuid>/conclusion/", deciding.conclude, name="conclude"),
    path(
        "<uuid:consultation_uuid>/conclusion/review/",
        deciding.conclusion_review,
        name="conclusion_review",
    ),
    path(
        "<uuid:consultation_uuid>/conclusion/<int:version>/",
        printing.conclusion_print,
        name="conclusion_print",
    ),
    path("<uuid:consultation_uuid>/print/request/", printing.request_print, name="request_print"),
    path("<uuid:consultation_uuid>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<uuid:consultation_uuid>/reassign/", coordination.reassign, name="reassign"),
    path("attachments/<uuid:attachment_uuid>/", views.attachment, name="attachment"),
    path(
        "attachments/<uuid:attachment_uuid>/preview/",
        views.attachment_preview,
        name="attachment_preview",
    ),
    path(
        "attachments/<uuid:attachment_uuid>/request/",
        views.attachment_request,
        name="attachment_request",
    ),
    path(
        "attachments/<uuid:attachment_uuid>/checked/",
        views.attachment_checked,
        name="attachment_checked",
    ),
]
