"""A room's size is a parameter: a consilium's holds five publishers, a teaching session's a few
(listeners do not count). A room for nobody to publish in is a programming error."""

from __future__ import annotations

import inspect

import pytest

from farcare.calls import janus


def test_a_room_holds_five_publishers_unless_told_otherwise() -> None:
    default = inspect.signature(janus.JanusClient.create_room).parameters["publishers"].default
    assert default == janus.MAX_PUBLISHERS == 5


def test_a_room_for_no_publisher_is_refused_before_janus_is_asked() -> None:
    client = janus.JanusClient("http://127.0.0.1:9/janus")  # nothing listens on the discard port
    with pytest.raises(ValueError, match="at least one publisher"):
        client.create_room(pin="p", secret="s", description="empty", publishers=0)
