# Why: proves every emulated SWAS operation's happy path through the OFFICIAL Python SDK, with
# both signature versions and with plain and STS keys: the SDK must sign, send and parse each
# call, and the answers must carry the fields and types the SDK models (swas-api.md §2).
from __future__ import annotations

import json
import re

from alibabacloud_swas_open20200601 import models as m

from harness import ACCOUNT, CREATE_DELAY_MS, REGION, create_image, describe, list_images
from harness import listed_ids, server, wait_available

REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_create_then_list_reports_every_field_and_status_4_then_1(emulator, client):
    instance, system, data = server(1)
    request = m.CreateCustomImageRequest(
        region_id=REGION,
        instance_id=instance,
        system_snapshot_id=system,
        data_snapshot_id=data,
        image_name="web-1.0_base:x",
        description="a b*c~ description",
        resource_group_id="rg-1",
        tag=[m.CreateCustomImageRequestTag(key="team", value="ops"),
             m.CreateCustomImageRequestTag(key="empty", value="")],
        client_token="create-1",
    )
    response = client.create_custom_image(request)
    assert response.status_code == 200
    image_id = response.body.image_id
    assert re.fullmatch(r"m-[0-9a-z]{20}", image_id)
    assert REQUEST_ID.match(response.body.request_id)

    body = list_images(client, image_ids=json.dumps([image_id]))
    audit = emulator.audit()
    assert REQUEST_ID.match(body.request_id)
    # The SDK models these three as str; the emulator sends JSON integers (swas-api.md §1.6).
    assert (body.page_number, body.page_size, body.total_count) == (1, 10, 1)
    assert len(body.custom_images) == 1
    item = body.custom_images[0]
    assert isinstance(item, m.ListCustomImagesResponseBodyCustomImages)
    # Status "4" (creating) is only observable while the create delay runs: the emulator's own
    # arrival times say whether the list came in time (it nearly always does).
    created = [e for e in audit if e["action"] == "CreateCustomImage"][0]
    listed = [e for e in audit if e["action"] == "ListCustomImages"][0]
    if _ms_between(created["time"], listed["time"]) < CREATE_DELAY_MS - 20:
        assert item.status == "4"
    state = emulator.image_state(image_id)
    assert round(_ms_between(state["created_at"], state["ready_at"])) == CREATE_DELAY_MS

    expected = {
        "image_id": image_id,
        "name": "web-1.0_base:x",
        "description": "a b*c~ description",
        "in_share": False,
        "in_share_user": False,
        "region_id": REGION,
        "instance_id": instance,
        "instance_name": "server-1",
        "system_snapshot_id": system,
        "data_snapshot_id": data,
        "resource_group_id": "rg-1",
        "user_id": ACCOUNT,
        "create_instances": [],
    }
    assert {k: getattr(item, k) for k in expected} == expected
    for field in ("creation_time", "os_type", "system_snapshot_name", "data_snapshot_name",
                  "source_image_name", "source_image_version", "status"):
        assert isinstance(getattr(item, field), str), field
    for field in ("required_system_disk_size", "required_data_disk_size", "user_id"):
        assert isinstance(getattr(item, field), int) and not isinstance(getattr(item, field), bool)
    assert isinstance(item.in_share, bool) and isinstance(item.in_share_user, bool)
    assert ISO_UTC.match(item.creation_time)
    assert item.required_data_disk_size > 0
    assert [(t.key, t.value) for t in item.tags] == [("team", "ops"), ("empty", "")]
    assert all(isinstance(t, m.ListCustomImagesResponseBodyCustomImagesTags) for t in item.tags)

    wait_available(client, image_id)
    assert describe(client, image_id).status == "1"


def _ms_between(a: str, b: str) -> float:
    from datetime import datetime

    def parse(text: str) -> datetime:
        text = text.rstrip("Z")
        whole, _, frac = text.partition(".")
        return datetime.fromisoformat(whole + "." + (frac + "000000")[:6])

    return (parse(b) - parse(a)).total_seconds() * 1000


def test_list_filters_paging_and_image_ids_array(client):
    tag = m.CreateCustomImageRequestTag
    a = create_image(client, 1, name="alpha", tag=[tag(key="env", value="prod")])
    b = create_image(client, 2, name="beta", resource_group_id="rg-b",
                     tag=[tag(key="env", value="dev")])
    c = create_image(client, 3, name="gamma", data_snapshot_id=server(3)[2])

    assert sorted(listed_ids(client)) == sorted([a, b, c])
    assert sorted(listed_ids(client, image_ids=json.dumps([a, c]))) == sorted([a, c])
    assert listed_ids(client, image_ids=json.dumps(["m-doesnotexist00000000"])) == []
    assert listed_ids(client, image_names=json.dumps(["beta"])) == [b]
    assert listed_ids(client, instance_id=server(2)[0]) == [b]
    assert listed_ids(client, system_snapshot_id=server(3)[1]) == [c]
    assert listed_ids(client, data_snapshot_id=server(3)[2]) == [c]
    assert listed_ids(client, resource_group_id="rg-b") == [b]
    assert listed_ids(client, tag=[m.ListCustomImagesRequestTag(key="env", value="prod")]) == [a]
    assert sorted(listed_ids(client, share=False)) == sorted([a, b, c])
    assert listed_ids(client, share=True) == []
    # A value the signer must encode carefully (space, '*', '~') still verifies.
    assert listed_ids(client, image_names=json.dumps(["a b*c~"])) == []

    pages = [list_images(client, page_size=2, page_number=n) for n in (1, 2, 3)]
    assert [len(p.custom_images) for p in pages] == [2, 1, 0]
    assert all(p.total_count == 3 and p.page_size == 2 for p in pages)
    assert [p.page_number for p in pages] == [1, 2, 3]
    paged = [i.image_id for p in pages for i in p.custom_images]
    assert sorted(paged) == sorted([a, b, c])


def test_reserved_and_unicode_characters_survive_signing(client):
    # Both signers percent-encode differently from the wire form ('+' for space, '*', '~', UTF-8).
    weird = "a+b&c=d/\u00e9 \u4e2d\u6587*~%20'\"!()"
    tag = m.CreateCustomImageRequestTag(key="k+&=/ \u00e9", value=weird)
    image_id = create_image(client, 1, name="\u955c\u50cf-1", description=weird, tag=[tag])
    item = describe(client, image_id)
    assert (item.name, item.description) == ("\u955c\u50cf-1", weird)
    assert [(t.key, t.value) for t in item.tags] == [("k+&=/ \u00e9", weird)]
    assert listed_ids(client, image_names=json.dumps(["\u955c\u50cf-1"])) == [image_id]
    assert listed_ids(client, tag=[m.ListCustomImagesRequestTag(key=tag.key, value=weird)]) == [
        image_id]

def test_delete_custom_image_single(emulator, client):
    keep = create_image(client, 1)
    gone = create_image(client, 2)
    request = m.DeleteCustomImageRequest(region_id=REGION, image_id=gone, client_token="d-1")
    response = client.delete_custom_image(request)
    assert response.status_code == 200
    assert isinstance(response.body, m.DeleteCustomImageResponseBody)
    assert REQUEST_ID.match(response.body.request_id)
    assert listed_ids(client) == [keep]
    assert emulator.image_state(keep)["deleted_at"] is None


def test_delete_custom_images_batch(emulator, client):
    ids = [create_image(client, n) for n in (1, 2, 3)]
    request = m.DeleteCustomImagesRequest(region_id=REGION, image_ids=json.dumps(ids[:2]),
                                          client_token="batch-1")
    response = client.delete_custom_images(request)
    assert response.status_code == 200
    assert isinstance(response.body, m.DeleteCustomImagesResponseBody)
    assert REQUEST_ID.match(response.body.request_id)
    assert listed_ids(client) == [ids[2]]


def test_modify_image_share_status_share_and_unshare(client):
    image_id = create_image(client, 1)
    wait_available(client, image_id)

    def share(operation: str):
        request = m.ModifyImageShareStatusRequest(region_id=REGION, image_id=image_id,
                                                  operation=operation)
        response = client.modify_image_share_status(request)
        assert isinstance(response.body, m.ModifyImageShareStatusResponseBody)
        assert REQUEST_ID.match(response.body.request_id)

    share("Share")
    item = describe(client, image_id)
    assert (item.in_share, item.in_share_user) == (True, False)
    assert listed_ids(client, share=True) == [image_id]
    assert listed_ids(client, share=False) == []
    share("UnShare")
    assert describe(client, image_id).in_share is False
    assert listed_ids(client, share=False) == [image_id]


def test_cross_account_share_add_list_remove(client):
    image_id = create_image(client, 1)
    wait_available(client, image_id)
    accounts = [1111111111111111, 2222222222222222, 3333333333333333]

    add = m.AddCustomImageShareAccountRequest(region_id=REGION, image_id=image_id,
                                              account=accounts, client_token="share-1")
    response = client.add_custom_image_share_account(add)
    assert isinstance(response.body, m.AddCustomImageShareAccountResponseBody)
    assert REQUEST_ID.match(response.body.request_id)
    assert describe(client, image_id).in_share_user is True

    def users(**paging):
        request = m.ListCustomImageShareAccountsRequest(region_id=REGION, image_id=image_id,
                                                        **paging)
        return client.list_custom_image_share_accounts(request).body

    body = users()
    assert isinstance(body, m.ListCustomImageShareAccountsResponseBody)
    assert (body.page_number, body.page_size, body.total_count) == (1, 10, 3)
    assert [u.user_id for u in body.image_share_users] == accounts
    for user in body.image_share_users:
        assert isinstance(user.user_id, int)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.0", user.shared_time)
    page = users(page_size=2, page_number=2)
    assert (page.total_count, [u.user_id for u in page.image_share_users]) == (3, accounts[2:])

    remove = m.RemoveCustomImageShareAccountRequest(region_id=REGION, image_id=image_id,
                                                    account=accounts[:2])
    response = client.remove_custom_image_share_account(remove)
    assert isinstance(response.body, m.RemoveCustomImageShareAccountResponseBody)
    assert [u.user_id for u in users().image_share_users] == accounts[2:]
    remove.account = accounts[2:]
    client.remove_custom_image_share_account(remove)
    assert users().total_count == 0
    assert describe(client, image_id).in_share_user is False


def test_list_images_custom(client):
    a = create_image(client, 1, name="alpha", description="first")
    b = create_image(client, 2, name="beta")

    def list_images_of(**kw):
        request = m.ListImagesRequest(region_id=REGION, **kw)
        body = client.list_images(request).body
        assert isinstance(body, m.ListImagesResponseBody)
        assert REQUEST_ID.match(body.request_id)
        return body.images

    images = list_images_of(image_type="custom", image_ids=json.dumps([a]))
    assert len(images) == 1
    assert isinstance(images[0], m.ListImagesResponseBodyImages)
    assert images[0].to_map() == {"ImageId": a, "ImageName": "alpha", "ImageType": "custom",
                                  "Platform": "Linux", "Description": "first"}
    assert sorted(i.image_id for i in list_images_of(image_type="custom")) == sorted([a, b])
    assert list_images_of(image_type="system") == []


def test_tag_untag_and_list_tag_resources(client):
    a = create_image(client, 1)
    b = create_image(client, 2)
    tag = m.TagResourcesRequestTag
    request = m.TagResourcesRequest(region_id=REGION, resource_type="customimage",
                                    resource_id=[a, b],
                                    tag=[tag(key="env", value="prod"), tag(key="team", value="x")])
    response = client.tag_resources(request)
    assert isinstance(response.body, m.TagResourcesResponseBody)
    assert REQUEST_ID.match(response.body.request_id)
    # Setting an existing key overwrites its value.
    client.tag_resources(m.TagResourcesRequest(region_id=REGION, resource_type="customimage",
                                               resource_id=[b], tag=[tag(key="env", value="dev")]))

    def pairs(**kw):
        request = m.ListTagResourcesRequest(region_id=REGION, resource_type="customimage", **kw)
        body = client.list_tag_resources(request).body
        assert isinstance(body, m.ListTagResourcesResponseBody)
        assert body.next_token == ""
        assert REQUEST_ID.match(body.request_id)
        for r in body.tag_resources.tag_resource:
            assert isinstance(r, m.ListTagResourcesResponseBodyTagResourcesTagResource)
            assert r.resource_type == "customimage"
        return sorted((r.resource_id, r.tag_key, r.tag_value)
                      for r in body.tag_resources.tag_resource)

    assert pairs() == sorted([(a, "env", "prod"), (a, "team", "x"),
                              (b, "env", "dev"), (b, "team", "x")])
    assert pairs(resource_id=[b]) == [(b, "env", "dev"), (b, "team", "x")]
    filter_tag = m.ListTagResourcesRequestTag(key="env", value="prod")
    assert pairs(tag=[filter_tag]) == [(a, "env", "prod"), (a, "team", "x")]
    assert [(t.key, t.value) for t in describe(client, b).tags] == [("env", "dev"),
                                                                    ("team", "x")]

    untag = m.UntagResourcesRequest(region_id=REGION, resource_type="customimage",
                                    resource_id=[a], tag_key=["team"])
    response = client.untag_resources(untag)
    assert isinstance(response.body, m.UntagResourcesResponseBody)
    assert pairs(resource_id=[a]) == [(a, "env", "prod")]
    client.untag_resources(m.UntagResourcesRequest(region_id=REGION, resource_type="customimage",
                                                   resource_id=[a, b], all=True))
    assert pairs() == []


def test_list_tag_resources_pages_with_next_token(ak_client):
    tags = [m.TagResourcesRequestTag(key=f"k{i:02}", value=str(i)) for i in range(20)]
    ids = [create_image(ak_client, n) for n in (1, 2, 3)]
    ak_client.tag_resources(m.TagResourcesRequest(region_id=REGION, resource_type="customimage",
                                                  resource_id=ids, tag=tags))

    def page(token=None):
        request = m.ListTagResourcesRequest(region_id=REGION, resource_type="customimage",
                                            next_token=token)
        return ak_client.list_tag_resources(request).body

    first = page()
    assert len(first.tag_resources.tag_resource) == 50 and first.next_token != ""
    second = page(first.next_token)
    assert len(second.tag_resources.tag_resource) == 10 and second.next_token == ""
    seen = {(r.resource_id, r.tag_key) for p in (first, second)
            for r in p.tag_resources.tag_resource}
    assert len(seen) == 60
