"""The page "Add images": a clinician at a facility that makes images (an imaging Capability)
adds the DICOM files of one study of a patient, optionally for one of the patient's open
imaging orders; the study goes to the PACS (or FarCare's storage) and on the reading worklist
of the hub that reads the facility's images. A plain multipart form: the browser shows the
upload's progress; a study of a few hundred MB belongs to the PACS import instead.

The files are never held in memory whole (intake.py); an upload over the page's limits is
refused with the limit named, before anything is stored."""

from __future__ import annotations

import uuid as uuid_module

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.patients.models import Patient

from .errors import ImagingError
from .forms import AddImagesForm
from .intake import CappedUploads, order_named_by, read_uploads
from .selectors import makes_images, open_imaging_orders
from .services import study_store


def _clinician_who_makes_images(request: HttpRequest, patient: Patient) -> User:
    user = request.user
    assert isinstance(user, User)
    if user.role != Role.CLINICIAN or not makes_images(user.facility):
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.DENIED,
            patient_uuid=patient.uuid,
            outcome="denied",
            details={"page": "add images"},
        )
        raise PermissionDenied(
            _("Images are added by the clinicians of a facility that makes them.")
        )
    return user


@login_required
@csrf_exempt  # checked by _add_images, once the upload handler is in place (Django's way)
def add_images(request: HttpRequest, patient_uuid: uuid_module.UUID) -> HttpResponse:
    capped = CappedUploads(request)
    request.upload_handlers = [capped, *request.upload_handlers]
    return _add_images(request, patient_uuid, capped)


@csrf_protect
def _add_images(
    request: HttpRequest, patient_uuid: uuid_module.UUID, capped: CappedUploads
) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.select_related("home_facility"), uuid=patient_uuid)
    user = _clinician_who_makes_images(request, patient)
    accessor = Accessor.from_request(request)
    # Every method: the form shows the patient and their open orders (a user abroad or without
    # access gets the audited 403 before anything is read).
    authorise(
        accessor=accessor, patient=patient, action=Action.VIEW, details={"page": "add images"}
    )
    orders = open_imaging_orders(patient)
    if request.method != "POST":
        form = AddImagesForm(orders=orders)
        return render(request, "imaging/add_images.html", {"patient": patient, "form": form})
    # Over the page's limits: the form says so, and nothing that arrived is used.
    data, uploads = request.POST, request.FILES  # the upload is read here, through `capped`
    form = AddImagesForm(data, uploads, orders=orders, refusal=capped.refusal())
    if form.is_valid():
        try:
            files = read_uploads(form.cleaned_data["images"])
            order = form.cleaned_data["order"] or order_named_by(files, orders)
            assert user.facility is not None
            study = study_store(
                accessor=accessor,
                patient=patient,
                files=files,
                facility=user.facility,
                order=order,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("images", message)
        except ImagingError as error:
            form.add_error("images", str(error))
        else:
            where = study.reading_facility.name if study.reading_facility else ""
            messages.success(
                request,
                _("%(n)s images added: the study is on the reading worklist of %(hub)s.")
                % {"n": study.instance_count, "hub": where}
                if where
                else _("%(n)s images added. No hub reads this facility's images yet.")
                % {"n": study.instance_count},
            )
            return redirect("imaging:study", study_uuid=study.uuid)
    return render(
        request,
        "imaging/add_images.html",
        {"patient": patient, "form": form},
        status=413 if form.too_large else 422,
    )
