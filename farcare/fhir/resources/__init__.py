"""Importing this package registers every resource handler."""

from . import (  # noqa: F401
    audit_event,
    clinical,
    consultation,
    documents,
    network,
    patient,
)
