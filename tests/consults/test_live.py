"""A change of a consultation reaches the channel groups of the people watching it: in memory by
default, through Redis when configured (CI runs Redis on 127.0.0.1:6379)."""

import socket

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import override_settings

from farcare.consults.live import publish_change


def watch(layer, group):
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(layer, channel):
    return async_to_sync(layer.receive)(channel)


def test_the_consultants_page_hears_of_a_new_request(scene):
    layer = get_channel_layer()
    channel = watch(layer, f"user.{scene.hub_cardiologist.uuid.hex}")
    consultation = scene.submit()
    publish_change(consultation.pk)
    message = received(layer, channel)
    assert message == {"type": "worklist.changed", "consultation": str(consultation.uuid)}


def redis_is_up():
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not redis_is_up(), reason="no Redis on 127.0.0.1:6379")
def test_the_coordinators_board_hears_it_through_redis(scene):
    redis_layer = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:6379/0"], "prefix": "farcare-test"},
        }
    }
    with override_settings(CHANNEL_LAYERS=redis_layer):
        from channels.layers import channel_layers

        channel_layers.backends.pop("default", None)
        layer = get_channel_layer()
        channel = watch(layer, "region.chukotka")
        consultation = scene.submit()
        publish_change(consultation.pk)
        assert received(layer, channel)["consultation"] == str(consultation.uuid)
        async_to_sync(layer.flush)()
    channel_layers.backends.pop("default", None)
