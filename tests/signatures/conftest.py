from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from farcare.accounts.models import Role, User

from ..factories import UserFactory


@pytest.fixture(autouse=True)
def english() -> Any:
    # The reasons are translated; the assertions read the English msgids.
    with translation.override("en"):
        yield


@pytest.fixture
def consultant(db: None) -> User:
    return UserFactory.create(role=Role.CONSULTANT)


def conclusion() -> dict[str, Any]:
    """Shaped like a teleconsultation conclusion (domain.md §2)."""
    return {
        "patient": {
            "uuid": uuid.UUID("5b0d8c1e-3c5a-4f0e-9d4c-2a7f1e6b9a01"),
            "name": "Иванов Иван Иванович",
            "birth_date": dt.date(1970, 1, 1),
        },
        "requesting_facility": "ФАП Уэлен",
        "requesting_clinician": "Фельдшер Петрова А. В.",
        "issued_at": dt.datetime(2025, 3, 1, 14, 30, tzinfo=ZoneInfo("Asia/Anadyr")),
        "question": "Нужна ли эвакуация?",
        "materials": ["ECG 2025-03-01", "SpO2 series"],
        "diagnosis": {"system": "ICD-10", "code": "J18.9", "display": "Пневмония неуточнённая"},
        "temperature": Decimal("38.6"),
        "recommendations": "Антибиотик; контроль SpO2 каждые 2 часа.",
        "evacuation_advised": True,
    }
