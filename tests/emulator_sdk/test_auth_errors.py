# Why: proves the emulator refuses badly authenticated calls the way the gateway does, and that
# the OFFICIAL SDK surfaces each refusal as its own ClientException with the right code and
# HTTP status (swas-api.md §4.2): unknown key, wrong secret, stale timestamp, replayed nonce,
# mismatched or expired STS token. Expiry runs on an emulator whose temporary keys live briefly.
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_swas_open20200601 import models as m
from alibabacloud_tea_openapi.utils import Utils

from harness import AK_ID, REGION, Keys, client_error, list_images, poll

# Long enough that the first call surely lands before expiry, short enough to wait out.
STS_SECONDS = 2


def test_unknown_access_key_is_404(emulator, sig):
    client = emulator.client(sig, Keys("no-such-key", "emulator-secret"))
    with client_error("InvalidAccessKeyId.NotFound", 404):
        list_images(client)
    assert emulator.audit()[-1]["outcome"] == "rejected"


def test_wrong_secret_is_signature_mismatch(emulator, sig):
    client = emulator.client(sig, Keys(AK_ID, "not-the-secret"))
    with client_error("SignatureDoesNotMatch", 400):
        list_images(client)


@pytest.mark.parametrize("kind", ["sts-oidc", "sts-ecs"])
def test_temporary_key_with_wrong_secret_or_token(emulator, sig, kind):
    keys = emulator.keys(kind)
    with client_error("SignatureDoesNotMatch", 400):
        list_images(emulator.client(sig, Keys(keys.id, "wrong", keys.token)))
    with client_error("InvalidSecurityToken.MismatchWithAccessKey", 400):
        list_images(emulator.client(sig, Keys(keys.id, keys.secret, "CAISforged")))
    list_images(emulator.client(sig, keys))


def test_timestamp_twenty_minutes_old_is_expired(emulator, sig, monkeypatch):
    stale = datetime.now(timezone.utc) - timedelta(minutes=20)
    monkeypatch.setattr(Utils, "get_timestamp",
                        staticmethod(lambda: stale.strftime("%Y-%m-%dT%H:%M:%SZ")))
    with client_error("InvalidTimeStamp.Expired", 400):
        list_images(emulator.client(sig, "ak"))


def test_reused_nonce_is_refused(emulator, sig, monkeypatch):
    nonce = uuid.uuid4().hex
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: nonce))
    client = emulator.client(sig, "ak")
    list_images(client)
    with client_error("SignatureNonceUsed", 400):
        list_images(client)
    entries = emulator.audit()
    assert [(e["status"], e["outcome"]) for e in entries] == [(200, "ok"), (400, "rejected")]


@pytest.fixture(scope="module")
def short_sts_emulator(start_emulator):
    # STS clamps DurationSeconds to >= 900, then to --max-sts-seconds; the metadata service
    # issues keys of --max-sts-seconds directly.
    return start_emulator("--create-delay-ms", "200", "--max-sts-seconds", str(STS_SECONDS))


@pytest.mark.parametrize("kind", ["sts-oidc", "sts-ecs"])
def test_expired_security_token(short_sts_emulator, sig, kind):
    client = short_sts_emulator.client(sig, kind)
    assert list_images(client).total_count == 0

    def expired():
        try:
            client.list_custom_images(m.ListCustomImagesRequest(region_id=REGION))
        except Exception as e:  # noqa: BLE001 - anything else fails below
            return e
        return None

    error = poll(expired, "the temporary key to expire", timeout_s=STS_SECONDS + 10,
                 interval_s=0.1)
    with client_error("InvalidSecurityToken.Expired", 400):
        raise error
