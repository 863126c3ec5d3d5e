# Why: proves the emulator's time- and restart-dependent behaviour through the OFFICIAL SDK:
# eventual consistency (--visibility-lag-ms: a new image is not listed at first, then is;
# --deletion-lag-ms: a deleted one lingers, then disappears; waits are deadline-bounded polls)
# and persistence (--state-file: images and ClientToken records survive a restart).
from __future__ import annotations

import json

import pytest
from alibabacloud_swas_open20200601 import models as m

from harness import REGION, create_image, delete_images, listed_ids, poll

LAG_MS = 2000


@pytest.fixture(scope="module")
def lagging(start_emulator):
    return start_emulator("--create-delay-ms", "200", "--visibility-lag-ms", str(LAG_MS),
                          "--deletion-lag-ms", str(LAG_MS))


@pytest.fixture
def lagging_client(lagging, sig):
    lagging.reset()
    return lagging.client(sig, "ak")


def _in_list_images(client, image_id):
    request = m.ListImagesRequest(region_id=REGION, image_type="custom",
                                  image_ids=json.dumps([image_id]))
    return [i.image_id for i in client.list_images(request).body.images] == [image_id]


def test_new_image_is_listed_late_and_deleted_one_lingers(lagging, lagging_client):
    client = lagging_client
    image_id = create_image(client, 1)
    assert listed_ids(client) == []
    assert not _in_list_images(client, image_id)
    # It exists for the API all the same: it can be tagged at once.
    client.tag_resources(m.TagResourcesRequest(
        region_id=REGION, resource_type="customimage", resource_id=[image_id],
        tag=[m.TagResourcesRequestTag(key="k", value="v")]))

    poll(lambda: listed_ids(client) == [image_id], "the new image to be listed",
         timeout_s=LAG_MS / 1000 + 10)
    assert _in_list_images(client, image_id)

    delete_images(client, [image_id])
    assert lagging.image_state(image_id)["deleted_at"] is not None
    assert listed_ids(client) == [image_id]
    assert _in_list_images(client, image_id)
    poll(lambda: listed_ids(client) == [], "the deleted image to disappear",
         timeout_s=LAG_MS / 1000 + 10)
    assert not _in_list_images(client, image_id)


def test_state_file_survives_a_restart(start_emulator, tmp_path, sig):
    state_file = tmp_path / "state.json"
    flags = ("--create-delay-ms", "200", "--state-file", str(state_file))
    first = start_emulator(*flags)
    client = first.client(sig, "ak")
    kept = create_image(client, 1, name="kept", client_token="persist-1",
                        tag=[m.CreateCustomImageRequestTag(key="k", value="v")])
    gone = create_image(client, 2, name="gone")
    delete_images(client, [gone], client_token="persist-2")
    before = {i.image_id: i.to_map() for i in
              client.list_custom_images(m.ListCustomImagesRequest(region_id=REGION)).body
              .custom_images}
    first.stop()
    assert state_file.exists()

    second = start_emulator(*flags)
    client = second.client(sig, "ak")
    after = {i.image_id: i.to_map() for i in
             client.list_custom_images(m.ListCustomImagesRequest(region_id=REGION)).body
             .custom_images}
    assert list(after) == [kept]
    before[kept].pop("Status"), after[kept].pop("Status")
    assert after[kept] == before[kept]
    # ClientToken records survive too: the replay answers the first ImageId, creating nothing.
    assert create_image(client, 1, name="kept", client_token="persist-1",
                        tag=[m.CreateCustomImageRequestTag(key="k", value="v")]) == kept
    delete_images(client, [gone], client_token="persist-2")
    assert second.audit()[-1]["outcome"] == "replayed"
    assert listed_ids(client) == [kept]

    # A reset is kept too: after it and a restart the world is the seeded one.
    second.reset()
    second.stop()
    third = start_emulator(*flags)
    assert listed_ids(third.client(sig, "ak")) == []
    third.stop()
