# Why: proves the failure modes an operator must survive, as the OFFICIAL SDK sees them:
# injected 500s (ServerException), throttling (ThrottlingException, because of x-acs-retry-after),
# "act, then drop the connection" (the SDK errors although the deletion happened), and
# ClientToken idempotency (a replay answers the first result without acting again; the same
# token with other parameters is refused).
from __future__ import annotations

import time

import pytest
from alibabacloud_swas_open20200601 import models as m
from darabonba.exceptions import UnretryableException

from harness import MSG_INTERNAL, REGION, client_error, create_image
from harness import delete_images, list_images, listed_ids, server, server_error, throttling_error


def test_injected_internal_error_on_delete(emulator, ak_client):
    image_id = create_image(ak_client, 1)
    emulator.next_fault("DeleteCustomImages", "error", 1)
    with server_error("InternalError", 500, MSG_INTERNAL):
        delete_images(ak_client, [image_id])
    assert emulator.image_state(image_id)["deleted_at"] is None
    assert emulator.audit()[-1]["outcome"] == "injectedError"
    # One-shot: the next call goes through.
    delete_images(ak_client, [image_id])
    assert listed_ids(ak_client) == []
    assert emulator.get_json("/admin/faults")["counts"]["errors"] == 1


def test_quota_per_second_throttles_as_throttling_exception(emulator, ak_client):
    emulator.set_faults({"quotaPerSecond": {"ListCustomImages": 1}})
    deadline = time.monotonic() + 10
    served = 0
    with throttling_error() as caught:
        while time.monotonic() < deadline:
            list_images(ak_client)
            served += 1
    error = caught["error"]
    assert isinstance(error.retry_after, int) and 0 < error.retry_after <= 1000
    assert error.data["Message"] == "Request was denied due to user flow control."
    assert served >= 1
    assert emulator.audit()[-1]["outcome"] == "throttled"
    # Other actions have no quota.
    for n in (1, 2, 3):
        create_image(ak_client, n)


def test_one_shot_throttle(emulator, client):
    emulator.next_fault("CreateCustomImage", "throttle", 2)
    for _ in range(2):
        with throttling_error():
            create_image(client, 1)
    assert emulator.state()["images"] == {}
    create_image(client, 1)


def test_drop_after_delete_then_retry_with_the_same_token(emulator, client):
    image_id = create_image(client, 1)
    token = "drop-retry-1"
    emulator.next_fault("DeleteCustomImages", "drop", 1)
    with pytest.raises(UnretryableException):
        delete_images(client, [image_id], client_token=token)
    # The emulator acted before dropping the answer.
    assert emulator.image_state(image_id)["deleted_at"] is not None

    first = delete_images(client, [image_id], client_token=token).body.request_id
    again = delete_images(client, [image_id], client_token=token).body.request_id
    assert first == again
    entries = [e for e in emulator.audit() if e["action"] == "DeleteCustomImages"]
    assert [(e["outcome"], e["status"], e["clientToken"]) for e in entries] == [
        ("dropped", 200, token), ("replayed", 200, token), ("replayed", 200, token)]
    assert listed_ids(client) == []
    assert emulator.get_json("/admin/faults")["counts"]["dropped"] == 1


def test_create_replay_returns_the_first_answer_and_creates_once(emulator, client):
    instance, system, _ = server(1)
    request = m.CreateCustomImageRequest(region_id=REGION, instance_id=instance,
                                         system_snapshot_id=system, image_name="once",
                                         client_token="create-once")
    first = client.create_custom_image(request).body
    second = client.create_custom_image(request).body
    assert (second.image_id, second.request_id) == (first.image_id, first.request_id)
    assert list(emulator.state()["images"]) == [first.image_id]

    request.image_name = "other"
    with client_error("IdempotentParameterMismatch", 400):
        client.create_custom_image(request)
    assert list(emulator.state()["images"]) == [first.image_id]
    outcomes = [e["outcome"] for e in emulator.audit()]
    assert outcomes == ["ok", "replayed", "error"]


def test_delete_replay_and_token_reuse_with_other_parameters(emulator, client):
    a = create_image(client, 1)
    b = create_image(client, 2)
    first = delete_images(client, [a], client_token="del-1").body.request_id
    assert delete_images(client, [a], client_token="del-1").body.request_id == first
    with client_error("IdempotentParameterMismatch", 400):
        delete_images(client, [b], client_token="del-1")
    assert listed_ids(client) == [b]
    # Tokens are per action: the same token on another action is a new call.
    client.delete_custom_image(m.DeleteCustomImageRequest(region_id=REGION, image_id=b,
                                                          client_token="del-1"))
    assert listed_ids(client) == []
    # Without a token nothing is replayed: the second delete finds nothing.
    c = create_image(client, 3)
    delete_images(client, [c])
    with client_error("InvalidImageId.NotFound", 404):
        delete_images(client, [c])

