"""What the printed documents of a case say: the referral (направление) and the medical
conclusion, with the fields the teleconsultation procedure asks for (order 965n; domain.md §2).

One description feeds both the printable page and the PDF, so the two never disagree about
what a document carries. Texts are in the active language and times in the active zone (the
caller activates the reader's, or the filing's); a reader abroad gets the case's pseudonym and
no identity (domain.md §3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Field
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from farcare.access.policy import ConsultView
from farcare.accounts.models import User
from farcare.clinical import icd10
from farcare.core.timezones import local_moment
from farcare.network.models import Facility, Practitioner, PractitionerRoleKind
from farcare.patients.models import ConsentKind

from . import selectors
from .conclusions import conclusion_verification
from .models import Attachment, Conclusion, Consultation, ConsultForm, Status

NOT_RECORDED = "—"


@dataclass(frozen=True)
class Entry:
    """One field: its label, its value as plain text (lines kept), and a stable key."""

    key: str
    label: str
    value: str
    tone: str = ""  # "ok" or "error": the signature's state


@dataclass(frozen=True)
class Section:
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Printout:
    title: str
    number: str  # "№ ТМК-2026-000123", or the case's code for a referral
    issuer: str  # the organisation whose document it is, at the head of the page
    language: str
    author: str  # for the PDF's metadata: the clinician, never the patient
    sections: tuple[Section, ...]

    def entries(self) -> list[Entry]:
        return [entry for section in self.sections for entry in section.entries]


def _language() -> str:
    return (get_language() or "ru")[:2]


def _moment(moment: datetime | None) -> str:
    return local_moment(moment) if moment else NOT_RECORDED


def _date(day: date) -> str:
    return formats.date_format(day, "SHORT_DATE_FORMAT")


def organisation_name(facility: Facility | None) -> str:
    """'Uelen feldsher post (Chukotka District Hospital)': the unit and the legal body."""
    if facility is None:
        return NOT_RECORDED
    organisation = facility.organisation.name
    return facility.name if organisation == facility.name else f"{facility.name} ({organisation})"


@dataclass(frozen=True)
class Person:
    name: str
    position: str
    specialty: str


def person(user: User, facility: Facility | None, specialty_id: int | None = None) -> Person:
    """A clinician as a document names them: full name (surname first, as the practitioner
    register has it), position at `facility`, and specialty (the case's, when it is theirs)."""
    practitioner: Practitioner | None = getattr(user, "practitioner", None)
    if practitioner is None:
        # Not in the practitioner register: the account's name, and no position to state
        # (the account's role, "clinician", is not one).
        return Person(user.get_full_name() or user.username, NOT_RECORDED, "")
    roles = [
        r for r in practitioner.roles.all() if facility is None or r.facility_id == facility.pk
    ]
    # A consultant who also coordinates is named by the clinical role first.
    order = list(PractitionerRoleKind.values)
    roles.sort(key=lambda r: order.index(r.kind) if r.kind in order else len(order))
    position = roles[0].get_kind_display() if roles else user.get_role_display()
    specialties = list(practitioner.specialties.all())
    chosen = [s for s in specialties if s.pk == specialty_id] or specialties
    return Person(str(practitioner), str(position), ", ".join(s.name for s in chosen))


def _patient(consultation: Consultation, view: ConsultView, day: date) -> Section:
    patient = consultation.patient
    shown = selectors.case_patient(consultation, view, day)
    age = _("%(age)s years") % {"age": shown.age}
    entries = [Entry("patient", _("Patient"), shown.label), Entry("sex", _("Sex"), shown.sex)]
    if shown.pseudonymised:
        entries += [
            Entry("age", _("Age"), age),
            Entry(
                "identity",
                _("Identity"),
                _("Withheld: the case is pseudonymised for a reader outside Russia."),
            ),
        ]
    else:
        entries += [
            Entry("birth_date", _("Birth date"), f"{_date(patient.birth_date)} ({age})"),
            Entry("snils", _("SNILS"), patient.snils_display or NOT_RECORDED),
            Entry("oms", _("OMS policy number"), patient.oms_policy or NOT_RECORDED),
        ]
    return Section(_("Patient"), tuple(entries))


def _requested_at(consultation: Consultation) -> datetime:
    """When the requester sent it (at a post this may be long before the hub received it)."""
    sent = consultation.transitions.filter(to_status=Status.REQUESTED).order_by("at").first()
    return sent.at if sent else consultation.created_at


def _requesting(consultation: Consultation) -> Section:
    requester = person(consultation.requester, consultation.requesting_facility)
    return Section(
        _("Requesting side"),
        (
            Entry(
                "requesting_organisation",
                _("Requesting organisation"),
                organisation_name(consultation.requesting_facility),
            ),
            Entry("requester", _("Requesting clinician"), requester.name),
            Entry("requester_position", _("Position"), requester.position),
        ),
    )


def _kind(item: Attachment) -> str:
    if item.content_type in selectors.PHOTO_TYPES:
        return _("Photo")
    if item.content_type == selectors.DICOM:
        return _("DICOM image")
    if item.content_type == "application/pdf":
        return _("PDF document")
    return _("Document")


def _materials(
    consultation: Consultation, view: ConsultView, until: datetime | None = None
) -> list[Entry]:
    """The files (each with its kind and when it came) and the vital signs of the case.
    `until`: only what had come when the conclusion was signed (its time is kept to the
    second, so a file of that same second counts)."""
    entries = []
    for number, shown in enumerate(
        (f for f in selectors.case_files(consultation, view) if f.attachment.conclusion_id is None),
        start=1,
    ):
        item = shown.attachment
        if until is not None and item.uploaded_at >= until + timedelta(seconds=1):
            continue
        entries.append(
            Entry(f"material_{number}", _kind(item), f"{shown.name} — {_moment(item.uploaded_at)}")
        )
    vitals = selectors.vital_rows(consultation, _language())
    if vitals:
        taken = consultation.vitals.order_by("recorded_at").values_list("recorded_at", flat=True)
        lines = [f"{row.name}: {row.value} {row.unit}".rstrip() for row in vitals]
        if consultation.news2_total is not None:
            band = selectors.news2_band_label(consultation.news2_band)
            lines.append(f"NEWS2: {consultation.news2_total} — {band}")
        entries.append(
            Entry(
                "vitals",
                _("Vital signs"),
                _("recorded %(when)s") % {"when": _moment(taken.first())} + "\n" + "\n".join(lines),
            )
        )
    if not entries:
        entries.append(Entry("materials", _("Materials"), _("none sent")))
    return entries


def _form_and_mode(consultation: Consultation) -> tuple[Entry, ...]:
    return (
        Entry("specialty", _("Care profile"), consultation.specialty.name),
        Entry("form", _("Form"), consultation.get_form_display()),
        Entry("mode", _("Mode"), consultation.get_mode_display()),
    )


def _form_choice(consultation: Consultation) -> tuple[Entry, ...]:
    """On the referral: the form NEWS2 suggested when the clinician chose another, and why vital
    signs are missing from an emergency or urgent request (consults/request_rules.py)."""

    def label(name: str) -> str:
        field = Consultation._meta.get_field(name)
        assert isinstance(field, Field)
        return capfirst(str(field.verbose_name))

    entries = []
    suggested = consultation.form_suggested
    if suggested and suggested != consultation.form:
        entries.append(
            Entry("form_suggested", label("form_suggested"), str(ConsultForm(suggested).label))
        )
    if consultation.vitals_missing:
        why = consultation.get_vitals_missing_display()
        note = consultation.vitals_missing_note
        entries.append(
            Entry("vitals_missing", label("vitals_missing"), f"{why}: {note}" if note else why)
        )
    return tuple(entries)


def conclusion_printout(conclusion: Conclusion, view: ConsultView) -> Printout:
    """The signed medical conclusion as `view`'s reader may see it."""
    consultation = conclusion.consultation
    assignment = (
        consultation.assignments.filter(consultant=conclusion.author)
        .select_related("facility__organisation")
        .order_by("-assigned_at")
        .first()
    )
    facility = assignment.facility if assignment else conclusion.author.facility
    consultant = person(conclusion.author, facility, consultation.specialty_id)
    requested_at = _requested_at(consultation)
    result = conclusion_verification(conclusion)
    language = _language()
    destination = conclusion.evacuation_destination
    evacuation = conclusion.get_evacuation_display() + (
        f": {organisation_name(destination)}" if destination else ""
    )
    number = conclusion.number or NOT_RECORDED
    previous = (
        consultation.conclusions.filter(version__lt=conclusion.version).order_by("-version").first()
    )
    header = [Entry("number", _("Document number"), number)]
    header.append(Entry("version", _("Version"), str(conclusion.version)))
    if previous is not None:
        header.append(
            Entry(
                "amends",
                _("Replaces"),
                _("version %(version)s, %(number)s")
                % {"version": previous.version, "number": previous.number or NOT_RECORDED},
            )
        )
    sections = (
        Section(_("Document"), tuple(header)),
        Section(
            _("Consulting side"),
            (
                Entry(
                    "consulting_organisation",
                    _("Consulting organisation"),
                    organisation_name(facility),
                ),
                Entry("consultant", _("Consultant"), consultant.name),
                Entry("consultant_position", _("Position"), consultant.position),
                Entry("consultant_specialty", _("Specialty"), consultant.specialty or NOT_RECORDED),
            ),
        ),
        _requesting(consultation),
        _patient(consultation, view, requested_at.date()),
        Section(
            _("Consultation"),
            (
                *_form_and_mode(consultation),
                Entry("requested_at", _("Requested"), _moment(requested_at)),
                Entry("received_at", _("Received"), _moment(consultation.received_at)),
                Entry("signed_at", _("Conclusion given"), _moment(conclusion.signed_at)),
                Entry("question", _("Question"), consultation.question),
            ),
        ),
        Section(
            _("Materials reviewed"),
            tuple(_materials(consultation, view, until=conclusion.signed_at)),
        ),
        Section(
            _("Conclusion"),
            (
                Entry("findings", _("Findings"), conclusion.findings),
                Entry(
                    "diagnoses",
                    _("Diagnosis (ICD-10)"),
                    "\n".join(
                        f"{e['code']} — {icd10.label(e['code'], language)}"
                        for e in conclusion.diagnoses
                    ),
                ),
                Entry("recommendations", _("Recommendations"), conclusion.recommendations),
                Entry("evacuation", _("Transfer or evacuation"), evacuation),
                Entry("follow_up", _("Follow-up"), conclusion.follow_up or NOT_RECORDED),
            ),
        ),
        Section(
            _("Signature"),
            (
                Entry(
                    "signed_by",
                    _("Signed by"),
                    f"{consultant.name}, {_moment(conclusion.signed_at)}",
                ),
                Entry(
                    "verification",
                    _("Verification"),
                    ("✔ " if result.valid else "✘ ") + result.reason,
                    tone="ok" if result.valid else "error",
                ),
                Entry(
                    "signature",
                    _("Electronic signature"),
                    f"{conclusion.signature.algorithm} · {conclusion.signature.digest}",
                ),
            ),
        ),
    )
    return Printout(
        title=_("Medical conclusion of a teleconsultation"),
        number=_("No. %(number)s") % {"number": number},
        issuer=organisation_name(facility),
        language=language,
        author=consultant.name,
        sections=sections,
    )


def _consents(consultation: Consultation) -> Entry:
    consents = consultation.patient.consents.filter(
        kind__in=(ConsentKind.TELECONSULTATION, ConsentKind.TRANSFER_ABROAD),
        revoked_at__isnull=True,
    )
    lines = [f"{c.get_kind_display()}: {_moment(c.granted_at)}" for c in consents]
    return Entry("consents", _("Consent recorded"), "\n".join(lines) or NOT_RECORDED)


def request_printout(consultation: Consultation, view: ConsultView) -> Printout:
    """The referral for a teleconsultation (направление) as `view`'s reader may see it."""
    requester = person(consultation.requester, consultation.requesting_facility)
    requested_at = _requested_at(consultation)
    team = consultation.assignments.filter(ended_at__isnull=True).select_related(
        "consultant", "facility__organisation"
    )
    consultants = "\n".join(
        f"{person(a.consultant, a.facility, consultation.specialty_id).name}, "
        f"{organisation_name(a.facility)}"
        for a in team
    )
    code = consultation.uuid.hex[:8].upper()
    sections = (
        _requesting(consultation),
        _patient(consultation, view, requested_at.date()),
        Section(
            _("Consultation"),
            (
                *_form_and_mode(consultation),
                *_form_choice(consultation),
                Entry(
                    "consulting_organisation",
                    _("Consulting organisation"),
                    organisation_name(consultation.routed_facility),
                ),
                Entry("consultant", _("Consultant"), consultants or NOT_RECORDED),
                Entry("requested_at", _("Requested"), _moment(requested_at)),
                Entry("received_at", _("Received"), _moment(consultation.received_at)),
                Entry("deadline_at", _("Answer due"), _moment(consultation.deadline_at)),
                Entry("status", _("Status"), consultation.get_status_display()),
                _consents(consultation),
            ),
        ),
        Section(
            _("Reason for the consultation"),
            (
                Entry("question", _("Question"), consultation.question),
                Entry("summary", _("Clinical summary"), consultation.summary or NOT_RECORDED),
            ),
        ),
        Section(_("Materials sent"), tuple(_materials(consultation, view))),
        Section(
            _("Signature"),
            (
                Entry(
                    "signed_by",
                    _("Requesting clinician"),
                    ", ".join(p for p in (requester.name, requester.position) if p != NOT_RECORDED)
                    + "\n\n"
                    + _("Signature: ____________________"),
                ),
            ),
        ),
    )
    return Printout(
        title=_("Referral for a teleconsultation"),
        number=_("Case %(code)s") % {"code": code},
        issuer=organisation_name(consultation.requesting_facility),
        language=_language(),
        author=requester.name,
        sections=sections,
    )
