"""Training drawn inside the home pages: the trainer's programmes and next sessions, and the
learner's "My training" link with their next session."""

from __future__ import annotations

from typing import Any

from django import template

from farcare.accounts.models import User

from .. import selectors

register = template.Library()


def _viewer(context: dict[str, Any]) -> User | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    return user if isinstance(user, User) and user.is_authenticated else None


@register.inclusion_tag("training/_trainer_home.html", takes_context=True)
def trainer_home(context: dict[str, Any]) -> dict[str, Any]:
    viewer = _viewer(context)
    if viewer is None:
        return {"programmes": [], "upcoming": []}
    return {
        "programmes": selectors.programmes_taught_by(viewer)[:20],
        "upcoming": selectors.upcoming_sessions_for_trainer(viewer)[:10],
    }


@register.inclusion_tag("training/_my_training_link.html", takes_context=True)
def my_training_link(context: dict[str, Any]) -> dict[str, Any]:
    viewer = _viewer(context)
    if viewer is None or not selectors.may_learn(viewer):
        return {"show": False}
    return {"show": True, "next": selectors.upcoming_sessions_for_learner(viewer).first()}
