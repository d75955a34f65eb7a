"""Configuring a laboratory system's interface: the facility it belongs to, the MSH-4 it sends,
the system account its results are stored as, and where its orders go."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from farcare.accounts.models import Role, User
from farcare.accounts.services import user_created
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.network.models import Facility

from .ack import SUPPORTED_VERSIONS
from .models import LaboratoryInterface, OrderMessage


def _account_name(sending_facility: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", sending_facility.lower()).strip("-")[:120] or "lab"
    return f"hl7-{slug}"


def interface_add(
    *,
    accessor: Accessor,
    facility: Facility,
    sending_facility: str,
    order_message: str = "",
    host: str = "",
    port: int | None = None,
    receiving_application: str = "",
    version: str = "2.5.1",
) -> LaboratoryInterface:
    """Make (or, for a sending facility already known, change) a laboratory system's
    interface. Its account is a laboratory account of `facility` with no password: nobody logs
    in as it; it only stands for the laboratory system in the audit trail and the policy."""
    sending_facility = sending_facility.strip()
    if not sending_facility or any(char in sending_facility for char in "|^~\\&"):
        raise ValidationError("The sending facility is the MSH-4 text, without HL7 delimiters.")
    if order_message not in OrderMessage.values:
        raise ValidationError(f"Orders are sent as one of {', '.join(OrderMessage.values)}.")
    if order_message and (not host or not port):
        raise ValidationError("Orders need the laboratory's --host and --port.")
    if version not in SUPPORTED_VERSIONS:
        raise ValidationError(f"The version is one of {', '.join(SUPPORTED_VERSIONS)}.")
    with transaction.atomic():
        interface = (
            LaboratoryInterface.objects.select_for_update()
            .filter(sending_facility=sending_facility)
            .first()
        )
        created = interface is None
        if interface is None:
            account = User(
                username=_account_name(sending_facility),
                role=Role.LABORATORY,
                facility=facility,
                first_name="HL7",
                last_name=sending_facility[:150],
            )
            if User.objects.filter(username=account.username).exists():
                raise ValidationError(f"The username {account.username} is taken.")
            account.set_unusable_password()
            account.save()
            user_created(accessor=accessor, user=account)
            interface = LaboratoryInterface(sending_facility=sending_facility, account=account)
        interface.facility = facility
        interface.order_message = order_message
        interface.host = host
        interface.port = port
        interface.receiving_application = receiving_application
        interface.version = version
        interface.active = True
        interface.save()
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            record=interface,
            details={
                "sending_facility": sending_facility,
                "facility": str(facility.uuid),
                "account": interface.account.username,
                "orders": order_message,
                "endpoint": f"{host}:{port}" if host else "",
            },
        )
    return interface
