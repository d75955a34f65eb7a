"""SMART scopes: `system/*.read`, `user/Patient.read`, `patient/Observation.write`, and the v2
forms `system/Patient.rs`, `user/*.cruds`. A token's scopes are checked on every interaction."""

from __future__ import annotations

from dataclasses import dataclass

READ_INTERACTIONS = frozenset({"read", "vread", "history", "search", "export", "operation"})
WRITE_INTERACTIONS = frozenset({"create", "update", "delete"})
# SMART v2 letters for each interaction.
V2_LETTER = {
    "create": "c",
    "read": "r",
    "vread": "r",
    "history": "r",
    "operation": "r",
    "export": "r",
    "update": "u",
    "delete": "d",
    "search": "s",
}


@dataclass(frozen=True)
class Scope:
    context: str  # system, user or patient
    resource: str  # a type or *
    permissions: str  # read, write, * or v2 letters

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        try:
            context, rest = text.split("/", 1)
            resource, permissions = rest.split(".", 1)
        except ValueError:
            return None
        if context not in ("system", "user", "patient") or not resource or not permissions:
            return None
        return cls(context, resource, permissions.split("?", 1)[0])

    def allows(self, resource_type: str, interaction: str) -> bool:
        if self.resource not in ("*", resource_type):
            return False
        if self.permissions == "*":
            return True
        if self.permissions == "read":
            return interaction in READ_INTERACTIONS
        if self.permissions == "write":
            return interaction in WRITE_INTERACTIONS
        letter = V2_LETTER.get(interaction, "")
        return bool(letter) and set(self.permissions) <= set("cruds") and letter in self.permissions

    def __str__(self) -> str:
        return f"{self.context}/{self.resource}.{self.permissions}"


def parse_scopes(text: str) -> frozenset[Scope]:
    return frozenset(scope for part in text.split() if (scope := Scope.parse(part)))


def allows(scopes: frozenset[Scope], resource_type: str, interaction: str) -> bool:
    return any(scope.allows(resource_type, interaction) for scope in scopes)
