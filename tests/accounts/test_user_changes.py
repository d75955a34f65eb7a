"""Who may change whom: nobody changes their own role, facility, active flag or registry rights,
and every change of those to anyone is a record in the hash-chained audit trail (not only in
Django's admin log), whichever way it is made."""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.forms import MultiWidget
from django.test import Client

from farcare.accounts.models import Role, User
from farcare.accounts.services import user_update
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor, audit_verify

from ..conftest import make_user

ADMIN = f"/{settings.FARCARE_ADMIN_URL}"


def change_url(user: User) -> str:
    return f"{ADMIN}accounts/user/{user.pk}/change/"


def form_data(client: Client, user: User, **changes: Any) -> dict[str, Any]:
    """What the registry's change form of `user` posts back as drawn, with `changes` made."""
    form = client.get(change_url(user)).context["adminform"].form
    data: dict[str, Any] = {}
    for field in form:
        if field.field.disabled or field.name == "password":
            continue
        value = field.value()
        if isinstance(field.field.widget, MultiWidget):
            for index, part in enumerate(field.field.widget.decompress(value)):
                data[f"{field.html_name}_{index}"] = "" if part is None else str(part)
        elif isinstance(value, bool):
            if value:
                data[field.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[field.html_name] = [str(item) for item in value]
        else:
            data[field.html_name] = "" if value is None else str(value)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = value
    return data


@pytest.fixture
def administrator(db: None) -> User:
    return make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)


def registry(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def account_changes(user: User) -> list[dict[str, Any]]:
    return [
        event.details["changes"]
        for event in AuditEvent.objects.filter(
            action=AuditAction.UPDATE, record_type="User", record_id=str(user.uuid)
        ).order_by("id")
    ]


def test_an_administrator_cannot_give_itself_a_clinical_role_in_the_registry(chain, administrator):
    client = registry(administrator)

    response = client.post(
        change_url(administrator),
        form_data(client, administrator, role=Role.CLINICIAN, facility=str(chain.post.pk)),
    )

    assert response.status_code == 200  # the form again, with the reason
    assert "You cannot change your own role" in response.content.decode()
    administrator.refresh_from_db()
    assert administrator.role == Role.ADMINISTRATOR
    assert administrator.facility is None
    refused = AuditEvent.objects.get(action=AuditAction.DENIED, actor_uuid=administrator.uuid)
    assert refused.record_id == str(administrator.uuid)
    assert set(refused.details["refused"]) == {"role", "facility"}


def test_an_administrator_cannot_take_away_its_own_flags_or_rights_either(administrator):
    client = registry(administrator)
    response = client.post(
        change_url(administrator), form_data(client, administrator, is_superuser=False)
    )
    assert response.status_code == 200
    administrator.refresh_from_db()
    assert administrator.is_superuser


def test_an_administrator_may_edit_its_own_name(administrator):
    client = registry(administrator)
    response = client.post(
        change_url(administrator), form_data(client, administrator, first_name="Пётр")
    )
    assert response.status_code == 302
    administrator.refresh_from_db()
    assert administrator.first_name == "Пётр"
    assert account_changes(administrator) == []  # a name is no privilege


def test_a_role_facility_or_active_flag_changed_for_another_is_in_the_audit_trail(
    chain, administrator
):
    analyst = make_user(Role.ANALYST)
    client = registry(administrator)

    response = client.post(
        change_url(analyst),
        form_data(
            client, analyst, role=Role.CLINICIAN, facility=str(chain.post.pk), is_active=False
        ),
    )

    assert response.status_code == 302
    analyst.refresh_from_db()
    assert (analyst.role, analyst.facility, analyst.is_active) == (
        Role.CLINICIAN,
        chain.post,
        False,
    )
    assert account_changes(analyst) == [
        {
            "role": {"from": "analyst", "to": "clinician"},
            "facility": {"from": None, "to": str(chain.post.uuid)},
            "is_active": {"from": True, "to": False},
        }
    ]
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, record_id=str(analyst.uuid))
    assert event.actor_uuid == administrator.uuid
    assert event.channel == "admin"
    assert audit_verify() is None


def test_a_user_added_in_the_registry_is_in_the_audit_trail_with_its_role(chain, administrator):
    client = registry(administrator)
    response = client.post(
        f"{ADMIN}accounts/user/add/",
        {
            "username": "newdoc",
            "password1": "a-long-safe-password",
            "password2": "a-long-safe-password",
            "usable_password": "true",
            "role": Role.CONSULTANT,
            "facility": str(chain.hub.pk),
            "language": "",
            "time_zone": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = AuditEvent.objects.get(action=AuditAction.CREATE, record_type="User")
    assert created.actor_uuid == administrator.uuid
    assert created.details["role"] == Role.CONSULTANT
    assert created.details["facility"] == str(chain.hub.uuid)


def test_the_service_refuses_a_change_of_ones_own_role_whatever_calls_it(administrator):
    with pytest.raises(PermissionDenied):
        user_update(
            accessor=Accessor(administrator, "127.0.0.1", "page"),
            user=administrator,
            data={"role": Role.COORDINATOR},
        )
    administrator.refresh_from_db()
    assert administrator.role == Role.ADMINISTRATOR


def test_the_console_records_the_users_it_adds(chain, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-safe-password\n"))
    call_command(
        "user",
        "add",
        "--username",
        "fel3",
        "--role",
        "clinician",
        "--facility",
        chain.post.name_en,
        "--password-stdin",
        stdout=io.StringIO(),
    )
    created = AuditEvent.objects.get(action=AuditAction.CREATE, record_type="User")
    assert created.channel == "cli"
    assert created.details == {
        "what": "account",
        "username": "fel3",
        "role": "clinician",
        "facility": str(chain.post.uuid),
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
    }
