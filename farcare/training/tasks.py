"""The background task that makes a material's light version once its upload has committed.
With the immediate backend it runs in the committing process; with a queueing backend in a
worker. `farcare training lighten` makes whatever it did not."""

from __future__ import annotations

import uuid

from django_tasks import task

from .materials import make_light_version


@task()
def make_light_version_task(material_uuid: str) -> int:
    # A str, not a UUID: task arguments must survive JSON for queueing backends.
    material = make_light_version(material_uuid=uuid.UUID(material_uuid))
    return material.light_size or 0 if material is not None else 0
