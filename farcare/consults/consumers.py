"""The WebSocket behind live worklists. It carries no patient data: only "something changed",
after which the page reloads its list over HTTP, through the access policy and the audit trail."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from farcare.accounts.models import Role, User

from .live import _slug


@database_sync_to_async
def _groups(user: User) -> list[str]:
    groups = [f"user.{user.uuid.hex}"]
    facility = user.facility
    if facility is not None:
        groups.append(f"facility.{facility.uuid.hex}")
        if user.role == Role.COORDINATOR:
            groups.append(f"region.{_slug(facility.region)}")
    return groups


class WorklistConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.groups_joined = await _groups(user)
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def worklist_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"changed": event.get("consultation")})
