"""The background task that makes the first delivery attempt once `notify` has committed. With
the immediate backend it runs in the committing process; with a queueing backend in a worker.
Either way `farcare notifications deliver` sweeps up whatever it did not send."""

from __future__ import annotations

import uuid

from django_tasks import task

from .services import deliver_notification


@task()
def deliver_notification_task(notification_uuid: str) -> dict[str, int]:
    # A str, not a UUID: task arguments must survive JSON for queueing backends.
    return deliver_notification(notification_uuid=uuid.UUID(notification_uuid)).counts()
