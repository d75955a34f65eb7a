"""What a conclusion's signature covers, and checking it. A leaf: it imports only models and
signatures, so that every page, the PDF, the sync records and FHIR can verify a conclusion
without importing the services that write one (and the PDF they file with it)."""

from __future__ import annotations

from typing import Any

from farcare.signatures.services import VerificationResult, document_digest, verify_document

from .models import Conclusion


def conclusion_document(conclusion: Conclusion) -> dict[str, Any]:
    """What the signature covers: every clinical field of the conclusion, whom it is about, and
    the document's number."""
    consultation = conclusion.consultation
    document = {
        "consultation": str(consultation.uuid),
        "patient": str(consultation.patient.uuid),
        "requesting_facility": str(consultation.requesting_facility.uuid),
        "requester": str(consultation.requester.uuid),
        "consultant": str(conclusion.author.uuid),
        "question": consultation.question,
        "version": conclusion.version,
        "findings": conclusion.findings,
        "diagnoses": [entry["code"] for entry in conclusion.diagnoses],
        "recommendations": conclusion.recommendations,
        "evacuation": conclusion.evacuation,
        "evacuation_destination": str(conclusion.evacuation_destination.uuid)
        if conclusion.evacuation_destination
        else "",
        "follow_up": conclusion.follow_up,
        "signed_at": conclusion.signed_at,
    }
    if conclusion.number:
        # Only when there is one: conclusions signed before documents were numbered have none,
        # and their signatures, which did not cover one, must still verify.
        document["number"] = conclusion.number
    return document


# What signing itself adds to the document: the signer reviews everything else beforehand.
SET_AT_SIGNING = frozenset({"signed_at", "number"})


def draft_digest(conclusion: Conclusion) -> str:
    """The digest of the document the signer reviewed: what the signature will cover, less the
    moment and the number that signing adds. The review page carries it, and signing refuses a
    draft whose digest differs (consults.deciding)."""
    document = conclusion_document(conclusion)
    return document_digest({k: v for k, v in document.items() if k not in SET_AT_SIGNING})


def conclusion_verification(conclusion: Conclusion) -> VerificationResult:
    """Whether the conclusion, as stored now, is what its author signed. Every conclusion has
    a signature (it is saved only once signed), so there is no unsigned case to report."""
    return verify_document(signature=conclusion.signature, document=conclusion_document(conclusion))
