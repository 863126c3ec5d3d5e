# Why: the pieces every emulator proof test shares. It starts the real emulator binary as a
# subprocess on a free port, talks to its admin, STS and ECS-metadata endpoints over plain HTTP,
# builds clients of the OFFICIAL Python SDK (V3 or V1 signatures, plain or STS keys) pointed at
# it, and offers deadline-bounded polling and an "expect this SDK exception" helper, so the
# tests read as statements about the emulator rather than plumbing.
from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from alibabacloud_swas_open20200601 import models as m
from alibabacloud_swas_open20200601.client import Client
from alibabacloud_tea_openapi.exceptions import (
    AlibabaCloudException,
    ClientException,
    ServerException,
    ThrottlingException,
)
from alibabacloud_tea_openapi.models import Config

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("SWAS_EMULATOR_BIN", ROOT / "target/debug/swas-image-operator"))

REGION = "cn-hangzhou"
ACCOUNT = 1234567890123456
AK_ID = "emulator-ak"
AK_SECRET = "emulator-secret"
ROLE_ARN = f"acs:ram::{ACCOUNT}:role/x"
OIDC_PROVIDER_ARN = f"acs:ram::{ACCOUNT}:oidc-provider/emulator"
ECS_ROLE = "EmulatorRole"
# The default timings of the session emulator; images turn "1" after this many milliseconds.
CREATE_DELAY_MS = 300

# The exact messages of the DeleteCustomImages reference (swas-api.md, "Authoritative ...").
MSG_IN_SHARE = "The custom image is in sharing,please unshare first then to retry."
MSG_NOT_FOUND = "The specified ImageId does not exist."
MSG_INTERNAL = "An error occurred while processing your request."

SIGNATURES = {"v3": None, "v2": "v2"}
CREDENTIALS = ("ak", "sts-oidc", "sts-ecs")


@dataclass
class Keys:
    """An access key, with the STS token of temporary ones."""

    id: str
    secret: str
    token: Optional[str] = None


def server(n: int) -> tuple[str, str, str]:
    """The seeded server n: instance, system snapshot, data snapshot."""
    return (f"{REGION}-server-{n}", f"s-{REGION}-sys-{n}", f"s-{REGION}-data-{n}")


class Emulator:
    """One emulator subprocess and its HTTP faces."""

    def __init__(self, flags: list[str], log_path: Path):
        self.flags = list(flags)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        cmd = [str(BINARY), "emulator", "--listen", "127.0.0.1:0", *self.flags]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log)
        line = self._first_line(deadline_s=30)
        found = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
        if not found:
            self.stop()
            raise RuntimeError(f"emulator did not announce its address: {line!r}")
        self.url = found.group(1)
        self.endpoint = f"127.0.0.1:{found.group(2)}"
        self.initial_faults = self.get_json("/admin/faults")["config"]

    def _first_line(self, deadline_s: float) -> str:
        assert self.proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not selector.select(timeout=deadline_s):
                self.stop()
                raise RuntimeError(f"emulator printed nothing in {deadline_s}s")
            return self.proc.stdout.readline().decode()
        finally:
            selector.close()

    def stop(self) -> None:
        """Ctrl-C (what the binary waits for), then kill if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()

    # --- plain HTTP ----------------------------------------------------------------------

    def http(self, method: str, path: str, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get_json(self, path: str) -> Any:
        status, text = self.http("GET", path)
        assert status == 200, (path, status, text)
        return json.loads(text)

    def send_json(self, method: str, path: str, value: Any) -> None:
        status, text = self.http(method, path, json.dumps(value).encode(),
                                 {"Content-Type": "application/json"})
        assert status == 204, (path, status, text)

    # --- admin ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Seeded world, empty audit log, no one-shot faults, the start-up fault settings."""
        status, text = self.http("POST", "/admin/reset")
        assert status == 204, text
        self.send_json("PUT", "/admin/faults", self.initial_faults)

    def audit(self, since: int = 0) -> list[dict]:
        return self.get_json(f"/admin/audit?since={since}")

    def audit_text(self) -> str:
        return self.http("GET", "/admin/audit")[1]

    def state(self) -> dict:
        return self.get_json("/admin/state")

    def image_state(self, image_id: str) -> Optional[dict]:
        return self.state()["images"].get(image_id)

    def next_fault(self, action: str, kind: str, count: int = 1) -> None:
        self.send_json("POST", "/admin/faults/next",
                       {"action": action, "kind": kind, "count": count})

    def set_faults(self, config: dict) -> None:
        self.send_json("PUT", "/admin/faults", config)

    # --- credentials ---------------------------------------------------------------------

    def sts_oidc(self) -> Keys:
        """Temporary keys from the emulator's STS AssumeRoleWithOIDC."""
        form = urllib.parse.urlencode({
            "RoleArn": ROLE_ARN,
            "OIDCProviderArn": OIDC_PROVIDER_ARN,
            "OIDCToken": "anything",
            "RoleSessionName": "t",
        }).encode()
        status, text = self.http(
            "POST", "/sts/?Action=AssumeRoleWithOIDC&Format=JSON&Version=2015-04-01", form,
            {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200, text
        answer = json.loads(text)
        assert answer["AssumedRoleUser"]["Arn"] == ROLE_ARN
        c = answer["Credentials"]
        assert c["AccessKeyId"].startswith("STS.") and c["Expiration"].endswith("Z")
        return Keys(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])

    def sts_ecs(self) -> Keys:
        """Temporary keys from the ECS metadata service, the IMDSv2 way (session token)."""
        status, token = self.http("PUT", "/latest/api/token", b"",
                                  {"X-aliyun-ecs-metadata-token-ttl-seconds": "21600"})
        assert status == 200 and token, (status, token)
        auth = {"X-aliyun-ecs-metadata-token": token}
        base = "/latest/meta-data/ram/security-credentials/"
        status, role = self.http("GET", base, headers=auth)
        assert (status, role) == (200, ECS_ROLE)
        status, text = self.http("GET", base + role, headers=auth)
        assert status == 200, text
        c = json.loads(text)
        assert c["Code"] == "Success"
        return Keys(c["AccessKeyId"], c["AccessKeySecret"], c["SecurityToken"])

    def keys(self, kind: str) -> Keys:
        return {
            "ak": lambda: Keys(AK_ID, AK_SECRET),
            "sts-oidc": self.sts_oidc,
            "sts-ecs": self.sts_ecs,
        }[kind]()

    def client(self, sig: str = "v3", keys: Keys | str = "ak") -> Client:
        """An official SDK client for this emulator."""
        if isinstance(keys, str):
            keys = self.keys(keys)
        config = Config(
            access_key_id=keys.id,
            access_key_secret=keys.secret,
            security_token=keys.token,
            endpoint=self.endpoint,
            protocol="http",
            signature_algorithm=SIGNATURES[sig],
        )
        return Client(config)


# --- helpers for tests -------------------------------------------------------------------


def poll(probe: Callable[[], Any], what: str, timeout_s: float = 15.0,
         interval_s: float = 0.02) -> Any:
    """Calls `probe` until it returns something truthy; fails after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(interval_s)


@contextlib.contextmanager
def sdk_error(cls: type, code: str, status: int, message: str | None = None):
    """Expects the SDK to raise exactly `cls` with this code, HTTP status and Message."""
    holder: dict[str, AlibabaCloudException] = {}
    try:
        yield holder
    except AlibabaCloudException as e:
        assert type(e) is cls, f"{type(e).__name__} ({e.code}), expected {cls.__name__}"
        assert (e.code, e.status_code) == (code, status), (e.code, e.status_code, e.message)
        assert isinstance(e.request_id, str) and e.request_id not in ("", "None")
        assert e.data["Code"] == code
        if message is not None:
            assert e.data["Message"] == message
        holder["error"] = e
    else:
        raise AssertionError(f"expected {cls.__name__} {code}, but the call succeeded")


def client_error(code: str, status: int = 400, message: str | None = None):
    return sdk_error(ClientException, code, status, message)


def server_error(code: str, status: int = 500, message: str | None = None):
    return sdk_error(ServerException, code, status, message)


def throttling_error(code: str = "Throttling.User", status: int = 400):
    return sdk_error(ThrottlingException, code, status)


def create_image(client: Client, n: int = 1, name: str | None = None, **extra) -> str:
    """CreateCustomImage from seeded server n; returns the new ImageId."""
    instance, system, _ = server(n)
    request = m.CreateCustomImageRequest(
        region_id=REGION,
        instance_id=instance,
        system_snapshot_id=system,
        image_name=name or f"img-{n}",
        **extra,
    )
    return client.create_custom_image(request).body.image_id


def list_images(client: Client, **filters) -> m.ListCustomImagesResponseBody:
    request = m.ListCustomImagesRequest(region_id=REGION, **filters)
    return client.list_custom_images(request).body


def listed_ids(client: Client, **filters) -> list[str]:
    return [i.image_id for i in list_images(client, page_size=100, **filters).custom_images]


def describe(client: Client, image_id: str):
    """The ListCustomImages item of one image, or None."""
    items = list_images(client, image_ids=json.dumps([image_id])).custom_images
    return items[0] if items else None


def wait_available(client: Client, image_id: str) -> None:
    def ready():
        item = describe(client, image_id)
        return item is not None and item.status == "1"

    poll(ready, f"image {image_id} to become available (Status 1)")


def delete_images(client: Client, ids: list[str], **extra):
    request = m.DeleteCustomImagesRequest(region_id=REGION, image_ids=json.dumps(ids), **extra)
    return client.delete_custom_images(request)
