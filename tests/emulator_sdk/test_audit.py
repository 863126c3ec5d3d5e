# Why: proves the audit log that other tests (and the operator's tests) rely on: every SDK call
# is listed once, in order, with its API parameters, ClientToken, status, code and outcome, and
# no secret ever lands in it (access key secret, Signature, SecurityToken, STS secret).
from __future__ import annotations

import json

from alibabacloud_swas_open20200601 import models as m

from harness import ACCOUNT, AK_SECRET, REGION, client_error, create_image, delete_images
from harness import list_images, server

SIGNING_PARAMS = {"Action", "Version", "Format", "Timestamp", "SignatureNonce",
                  "SignatureMethod", "SignatureVersion", "SignatureType", "Signature",
                  "AccessKeyId", "SecurityToken"}


def test_audit_lists_calls_in_order_without_secrets(emulator, sig, creds):
    keys = emulator.keys(creds)
    client = emulator.client(sig, keys)
    instance, system, _ = server(1)
    image_id = create_image(client, 1, name="audited", client_token="audit-1",
                            tag=[m.CreateCustomImageRequestTag(key="k", value="a b")])
    list_images(client, share=True, page_size=5)
    with client_error("InvalidImageId.NotFound", 404):
        delete_images(client, ["m-unknownimage00000000"])
    delete_images(client, [image_id], client_token="audit-2")

    entries = emulator.audit()
    assert [e["action"] for e in entries] == [
        "CreateCustomImage", "ListCustomImages", "DeleteCustomImages", "DeleteCustomImages"]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert len({e["seq"] for e in entries}) == 4
    assert all(e["account"] == ACCOUNT for e in entries)
    assert [(e["status"], e["code"], e["outcome"]) for e in entries] == [
        (200, None, "ok"), (200, None, "ok"),
        (404, "InvalidImageId.NotFound", "error"), (200, None, "ok")]
    assert [e["clientToken"] for e in entries] == ["audit-1", None, None, "audit-2"]
    assert entries[0]["params"] == {
        "ClientToken": "audit-1", "ImageName": "audited", "InstanceId": instance,
        "RegionId": REGION, "SystemSnapshotId": system, "Tag.1.Key": "k", "Tag.1.Value": "a b"}
    # Python sends booleans capitalised (swas-api.md §1.2); the log keeps what was sent.
    assert entries[1]["params"] == {"PageSize": "5", "RegionId": REGION, "Share": "True"}
    assert entries[3]["params"] == {"ClientToken": "audit-2", "ImageIds": json.dumps([image_id]),
                                    "RegionId": REGION}
    for entry in entries:
        assert not SIGNING_PARAMS & set(entry["params"]), entry["params"]

    text = emulator.audit_text()
    assert AK_SECRET not in text
    assert keys.secret not in text
    assert "Signature" not in text
    assert "SecurityToken" not in text
    if keys.token:
        assert keys.token not in text


def test_audit_since_and_clear(emulator, ak_client):
    list_images(ak_client)
    first = emulator.audit()
    list_images(ak_client, page_number=2)
    newer = emulator.audit(since=first[-1]["seq"])
    assert [e["params"].get("PageNumber") for e in newer] == ["2"]
    status, _ = emulator.http("DELETE", "/admin/audit")
    assert status == 204
    assert emulator.audit() == []
    list_images(ak_client)
    assert emulator.audit()[0]["seq"] > newer[-1]["seq"]  # numbering goes on
