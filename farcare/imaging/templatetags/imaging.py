"""`{% load imaging %}{% if user.facility|makes_images %}`: the link to "Add images" only where
the facility makes images."""

from __future__ import annotations

from django import template

from farcare.network.models import Facility

from ..selectors import makes_images as _makes_images

register = template.Library()


@register.filter
def makes_images(facility: Facility | None) -> bool:
    return _makes_images(facility)
