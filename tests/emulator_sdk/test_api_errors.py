# Why: proves the emulator's service errors reach the OFFICIAL SDK as its own exceptions with
# the right code, HTTP status and (where the reference gives one) the exact message: the three
# authoritative DeleteCustomImages errors, parameter validation, unknown actions, and the
# limits (image quota, share accounts, tags). A refused call must also leave the state alone.
from __future__ import annotations

import json

import pytest
from alibabacloud_swas_open20200601 import models as m
from alibabacloud_tea_openapi import utils_models
from darabonba.runtime import RuntimeOptions

from harness import MSG_IN_SHARE, MSG_NOT_FOUND, REGION, client_error, create_image
from harness import delete_images, describe, list_images, listed_ids, server, wait_available

UNKNOWN = "m-unknownimage00000000"


def _share_to_ecs(client, image_id):
    client.modify_image_share_status(m.ModifyImageShareStatusRequest(
        region_id=REGION, image_id=image_id, operation="Share"))


def _share_to_account(client, image_id):
    client.add_custom_image_share_account(m.AddCustomImageShareAccountRequest(
        region_id=REGION, image_id=image_id, account=[1111111111111111]))


@pytest.mark.parametrize("share", [_share_to_ecs, _share_to_account], ids=["ecs", "account"])
def test_delete_of_a_shared_image_is_custom_image_in_share(emulator, client, share):
    shared = create_image(client, 1)
    other = create_image(client, 2)
    wait_available(client, shared)
    share(client, shared)
    with client_error("CustomImageInShare", 400, MSG_IN_SHARE):
        delete_images(client, [other, shared])
    with client_error("CustomImageInShare", 400, MSG_IN_SHARE):
        client.delete_custom_image(m.DeleteCustomImageRequest(region_id=REGION,
                                                              image_id=shared))
    # All or nothing: the unshared image of the refused batch is still there.
    assert sorted(listed_ids(client)) == sorted([shared, other])
    assert emulator.image_state(other)["deleted_at"] is None


def test_delete_of_an_unknown_image_is_not_found(emulator, client):
    known = create_image(client, 1)
    with client_error("InvalidImageId.NotFound", 404, MSG_NOT_FOUND):
        delete_images(client, [UNKNOWN])
    with client_error("InvalidImageId.NotFound", 404, MSG_NOT_FOUND):
        delete_images(client, [known, UNKNOWN])
    with client_error("InvalidImageId.NotFound", 404, MSG_NOT_FOUND):
        client.delete_custom_image(m.DeleteCustomImageRequest(region_id=REGION,
                                                              image_id=UNKNOWN))
    assert listed_ids(client) == [known]
    # Deleting twice: the second time the image is unknown.
    delete_images(client, [known])
    with client_error("InvalidImageId.NotFound", 404, MSG_NOT_FOUND):
        delete_images(client, [known])


def test_missing_region_id(ak_client):
    missing = '"RegionId"'
    with client_error("MissingParameter", 400) as caught:
        ak_client.list_custom_images(m.ListCustomImagesRequest())
    assert missing in caught["error"].data["Message"]
    image_id = create_image(ak_client, 1)
    with client_error("MissingParameter", 400):
        ak_client.delete_custom_images(m.DeleteCustomImagesRequest(
            image_ids=json.dumps([image_id])))
    with client_error("MissingParameter", 400):
        ak_client.create_custom_image(m.CreateCustomImageRequest(
            instance_id=server(1)[0], system_snapshot_id=server(1)[1], image_name="x1"))
    assert listed_ids(ak_client) == [image_id]


@pytest.mark.parametrize("image_ids", ["m-1,m-2", "[m-1]", '{"a": 1}', "[1, 2]", '[""]'])
def test_malformed_image_ids(ak_client, image_ids):
    with client_error("InvalidParameter", 400) as caught:
        ak_client.delete_custom_images(m.DeleteCustomImagesRequest(region_id=REGION,
                                                                   image_ids=image_ids))
    assert '"ImageIds"' in caught["error"].data["Message"]
    with client_error("InvalidParameter", 400):
        list_images(ak_client, image_ids=image_ids)


def test_missing_image_ids(ak_client):
    with client_error("MissingParameter", 400):
        ak_client.delete_custom_images(m.DeleteCustomImagesRequest(region_id=REGION))
    with client_error("MissingParameter", 400):
        delete_images(ak_client, [])


def test_sixteen_image_ids_are_too_many(ak_client):
    ids = [create_image(ak_client, 1 + n % 3, name=f"img-{n}") for n in range(15)]
    with client_error("InvalidParameter", 400):
        delete_images(ak_client, ids + [UNKNOWN])
    assert len(listed_ids(ak_client)) == 15
    delete_images(ak_client, ids)
    assert listed_ids(ak_client) == []


def test_client_token_of_65_characters(emulator, ak_client):
    with client_error("InvalidParameter", 400) as caught:
        create_image(ak_client, 1, client_token="t" * 65)
    assert '"ClientToken"' in caught["error"].data["Message"]
    assert emulator.state()["images"] == {}
    image_id = create_image(ak_client, 1, client_token="t" * 64)
    with client_error("InvalidParameter", 400):
        delete_images(ak_client, [image_id], client_token="u" * 65)
    with client_error("InvalidParameter", 400):
        delete_images(ak_client, [image_id], client_token="caf\u00e9")
    assert listed_ids(ak_client) == [image_id]
    delete_images(ak_client, [image_id], client_token="u" * 64)


def test_unknown_action_is_invalid_api(emulator, ak_client):
    params = utils_models.Params(
        action="DescribeNothing", version="2020-06-01", protocol="HTTPS", pathname="/",
        method="POST", auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
    request = utils_models.OpenApiRequest(query={"RegionId": REGION})
    with client_error("InvalidApi.NotFound", 404):
        ak_client.call_api(params, request, RuntimeOptions())
    entry = emulator.audit()[-1]
    assert (entry["action"], entry["status"], entry["code"]) == (
        "DescribeNothing", 404, "InvalidApi.NotFound")
    # The same generic path reaches a real action, so the 404 is about the name alone.
    params.action = "ListCustomImages"
    answer = ak_client.call_api(params, request, RuntimeOptions())
    assert answer["statusCode"] == 200 and answer["body"]["TotalCount"] == 0


def test_unknown_instance_or_snapshot(ak_client):
    instance, system, data = server(1)
    with client_error("InvalidInstanceId.NotFound", 404):
        ak_client.create_custom_image(m.CreateCustomImageRequest(
            region_id=REGION, instance_id="nope", system_snapshot_id=system, image_name="x1"))
    with client_error("InvalidSystemSnapshotId.NotFound", 404):
        ak_client.create_custom_image(m.CreateCustomImageRequest(
            region_id=REGION, instance_id=instance, system_snapshot_id=server(2)[1],
            image_name="x1"))
    with client_error("InvalidDataSnapshotId.NotFound", 404):
        create_image(ak_client, 1, data_snapshot_id=server(2)[2])
    assert listed_ids(ak_client) == []


def test_sixteenth_image_exceeds_the_quota(emulator, ak_client):
    ids = [create_image(ak_client, 1 + n % 3, name=f"img-{n}") for n in range(15)]
    with client_error("QuotaExceeded.CustomImage", 400):
        create_image(ak_client, 1, name="img-15")
    assert len(emulator.state()["images"]) == 15
    # Deleting one frees a slot.
    delete_images(ak_client, ids[:1])
    create_image(ak_client, 1, name="img-15")
    assert list_images(ak_client).total_count == 15


def test_more_than_ten_share_accounts(ak_client):
    image_id = create_image(ak_client, 1)
    wait_available(ak_client, image_id)

    def add(accounts):
        ak_client.add_custom_image_share_account(m.AddCustomImageShareAccountRequest(
            region_id=REGION, image_id=image_id, account=accounts))

    accounts = [1000000000000000 + n for n in range(11)]
    with client_error("InvalidParameter", 400):
        add(accounts)
    add(accounts[:10])
    add(accounts[:3])  # already shared: not counted twice
    with client_error("ShareAccountLimitExceeded", 400):
        add(accounts[10:])
    body = ak_client.list_custom_image_share_accounts(m.ListCustomImageShareAccountsRequest(
        region_id=REGION, image_id=image_id, page_size=50)).body
    assert body.total_count == 10
    with client_error("InvalidParameter", 400):
        add([1234567890123456])  # the owner itself


def test_share_needs_an_available_image(ak_client):
    image_id = create_image(ak_client, 1)
    if describe(ak_client, image_id).status == "4":
        with client_error("IncorrectImageStatus", 400):
            _share_to_ecs(ak_client, image_id)
    wait_available(ak_client, image_id)
    _share_to_ecs(ak_client, image_id)


def test_more_than_twenty_tags(ak_client):
    def tags(cls, n, prefix="k"):
        return [cls(key=f"{prefix}{i}", value="v") for i in range(n)]

    with client_error("InvalidParameter", 400):
        create_image(ak_client, 1, tag=tags(m.CreateCustomImageRequestTag, 21))
    assert listed_ids(ak_client) == []
    image_id = create_image(ak_client, 1, tag=tags(m.CreateCustomImageRequestTag, 20))

    def tag(new):
        ak_client.tag_resources(m.TagResourcesRequest(
            region_id=REGION, resource_type="customimage", resource_id=[image_id], tag=new))

    tag(tags(m.TagResourcesRequestTag, 5))  # overwrites existing keys: still 20
    with client_error("InvalidTagCount", 400):
        tag(tags(m.TagResourcesRequestTag, 1, prefix="new"))
    with client_error("InvalidParameter", 400):
        tag(tags(m.TagResourcesRequestTag, 21, prefix="new"))
    assert len(describe(ak_client, image_id).tags) == 20
    with client_error("InvalidParameter", 400):
        tag([m.TagResourcesRequestTag(key="acs:reserved", value="v")])
    with client_error("InvalidResourceId.NotFound", 404):
        ak_client.tag_resources(m.TagResourcesRequest(
            region_id=REGION, resource_type="customimage", resource_id=[UNKNOWN],
            tag=tags(m.TagResourcesRequestTag, 1)))


def test_parameter_validation(emulator, ak_client):
    image_id = create_image(ak_client, 1)
    with client_error("InvalidParameter", 400):
        list_images(ak_client, page_size=101)
    with client_error("InvalidParameter", 400):
        list_images(ak_client, page_number=0)
    with client_error("InvalidParameter", 400):
        ak_client.list_custom_image_share_accounts(m.ListCustomImageShareAccountsRequest(
            region_id=REGION, image_id=image_id, page_size=51))
    with client_error("InvalidParameter", 400):
        ak_client.modify_image_share_status(m.ModifyImageShareStatusRequest(
            region_id=REGION, image_id=image_id, operation="share"))
    with client_error("MissingParameter", 400):
        ak_client.modify_image_share_status(m.ModifyImageShareStatusRequest(
            region_id=REGION, image_id=image_id))
    with client_error("InvalidParameter", 400):
        ak_client.tag_resources(m.TagResourcesRequest(
            region_id=REGION, resource_type="instance", resource_id=[image_id],
            tag=[m.TagResourcesRequestTag(key="k", value="v")]))
    with client_error("MissingParameter", 400):
        ak_client.untag_resources(m.UntagResourcesRequest(
            region_id=REGION, resource_type="customimage", resource_id=[image_id]))
    with client_error("InvalidParameter", 400):
        create_image(ak_client, 2, name="-starts-with-a-dash")
    with client_error("MissingParameter", 400):
        ak_client.create_custom_image(m.CreateCustomImageRequest(
            region_id=REGION, instance_id=server(2)[0], system_snapshot_id=server(2)[1]))
    with client_error("InvalidParameter", 400):
        ak_client.list_images(m.ListImagesRequest(region_id=REGION, image_type="bogus"))
    with client_error("InvalidParameter", 400):
        list_images(ak_client, image_ids=json.dumps([f"m-{n}" for n in range(101)]))
    assert listed_ids(ak_client) == [image_id]
    assert all(e["outcome"] == "error" for e in emulator.audit()[1:-1])
