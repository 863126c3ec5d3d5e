#!/usr/bin/env python3
"""Why: records what the official Alibaba Cloud Python SDK really puts on the wire, so that
tests/sdk_crosscheck.rs can check our Rust client against it byte for byte.

The SDK (alibabacloud-swas-open20200601, pinned in requirements.txt) is pointed at a local
capture server on 127.0.0.1, with time, nonce and user agent pinned (swas-api.md section 7.5)
and the signed `host` kept as swas.cn-hangzhou.aliyuncs.com. Each of the ten custom-image
operations is sent in four variants (V3 / V1 signature, access key / STS), and every captured
request is written to the JSON file named by argv[1].

Before recording, the published vectors of swas-api.md section 7.4 are reproduced; the script
exits non-zero if any differs, which proves the pinning works.

Usage: python sign_vectors.py OUT.json   (run with the venv of tests/sdk/venv.sh)
"""

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from alibabacloud_swas_open20200601 import models
from alibabacloud_swas_open20200601.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_openapi.utils import Utils
from darabonba.core import DaraCore

HOST = "swas.cn-hangzhou.aliyuncs.com"
REGION = "cn-hangzhou"
TIMESTAMP = "2024-01-02T03:04:05Z"
NONCE = "0123456789abcdef0123456789abcdef"
USER_AGENT = "test-agent"
AK = {"access_key_id": "testid", "access_key_secret": "testsecret"}
STS = {
    "access_key_id": "STS.testid",
    "access_key_secret": "testsecret",
    "security_token": "tok+/=en",
}


def compact(values):
    """A JSON-array string parameter (ImageIds, ImageNames) as callers write it."""
    return json.dumps(values, separators=(",", ":"))


# --- the capture server ---------------------------------------------------------------------


class Capture(BaseHTTPRequestHandler):
    """Records every request and answers {"RequestId":"x"} with 200."""

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, raw_query = self.path.partition("?")
        names = [name.lower() for name in self.headers.keys()]
        if len(names) != len(set(names)):
            raise AssertionError(f"repeated header in {names}")
        self.server.captured.append(
            {
                "method": self.command,
                "path": path,
                "raw_query": raw_query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }
        )
        answer = b'{"RequestId":"x"}'
        self.send_response(200)
        self.send_header("content-type", "application/json;charset=utf-8")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST

    def log_message(self, *args):
        pass


def start_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    server.daemon_threads = True
    server.captured = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- pinning the SDK ------------------------------------------------------------------------


def patch(owner, name, replacement):
    """Replaces a static method, failing loudly if the SDK no longer has it."""
    if not callable(getattr(owner, name, None)):
        sys.exit(f"sign_vectors: {owner.__module__}.{owner.__name__}.{name} not found")
    setattr(owner, name, staticmethod(replacement))


def pin_sdk(port):
    """Fixes time, nonce and user agent, and sends every request to 127.0.0.1:port while the
    signed `host` header stays the real endpoint."""
    patch(Utils, "get_timestamp", lambda: TIMESTAMP)
    patch(Utils, "get_nonce", lambda: NONCE)
    patch(Utils, "get_user_agent", lambda user_agent=None: USER_AGENT)
    compose_url = DaraCore.compose_url

    def to_capture_server(request):
        url = urlsplit(compose_url(request))
        return urlunsplit(("http", f"127.0.0.1:{port}", url.path, url.query, ""))

    patch(DaraCore, "compose_url", to_capture_server)


def client(scheme, credential):
    signature_algorithm = {"v3": None, "v1": "v2"}[scheme]
    config = Config(
        endpoint=HOST, protocol="http", signature_algorithm=signature_algorithm, **credential
    )
    return Client(config)


def send(server, scheme, sts, method, request):
    """Sends one request through the SDK and returns what the capture server saw."""
    server.captured.clear()
    getattr(client(scheme, STS if sts else AK), method)(request)
    if len(server.captured) != 1:
        sys.exit(f"sign_vectors: {method} sent {len(server.captured)} requests, expected 1")
    seen = server.captured[0]
    if seen["body"]:
        sys.exit(f"sign_vectors: {method} sent a body {seen['body']!r}; expected none")
    return seen


def v3_signature(seen):
    authorization = seen["headers"]["authorization"]
    return authorization.rsplit("Signature=", 1)[1]


def v1_signature(seen):
    return dict(parse_qsl(seen["raw_query"], keep_blank_values=True))["Signature"]


# --- the published vectors (swas-api.md section 7.4) ----------------------------------------

PUBLISHED = [
    (
        "A",
        "delete_custom_images",
        models.DeleteCustomImagesRequest(
            client_token="0f8fad5b-d9cb-469f-a165-70867728950e",
            image_ids=compact(["m-bp1abc"]),
            region_id=REGION,
        ),
        False,
        "ca15b542e6b6e6b0b08aacf2b4227516bf681289a80c200c8cb7af4bf2262ee2",
        "2Y2Wmez9c8rl/4r7ULQt3UhdYwM=",
    ),
    (
        "B",
        "list_custom_images",
        models.ListCustomImagesRequest(
            image_names=compact(["a b*c~"]),
            page_number=1,
            page_size=100,
            region_id=REGION,
            share=False,
        ),
        False,
        "8246e2d93d00c4b8b909c4e37bf59c2338342310d9fddffd55b536e628aa9ead",
        "Hkfam9iKCt67xRO3A1Re+8lAJ2s=",
    ),
    (
        "C",
        "create_custom_image",
        models.CreateCustomImageRequest(
            client_token="uid-1",
            image_name="img-1",
            instance_id="ace0706b2ac4454d984295a94213****",
            region_id=REGION,
            system_snapshot_id="s-abc",
            tag=[models.CreateCustomImageRequestTag(key="k8s-uid", value="0f8fad5b")],
        ),
        False,
        "19b8a3d5ac6aa64a77e39df5a25c383f3bb572d9a0512443e950867644962027",
        "sGQk/Ga1NtBTxj+FMMMpi4ZSrDs=",
    ),
    (
        "D",
        "modify_image_share_status",
        models.ModifyImageShareStatusRequest(
            image_id="m-bp1abc", operation="UnShare", region_id=REGION
        ),
        True,
        "84c0a0b534fdca21cf04521188501d055822a4c491b8d4551532db0873f422ec",
        "RuzAdK/XVm2paCW9vphGlmNMAPU=",
    ),
]


def check_published(server):
    """Exits non-zero unless the pinned SDK reproduces every published signature."""
    failures = []
    for name, method, request, sts, want_v3, want_v1 in PUBLISHED:
        got_v3 = v3_signature(send(server, "v3", sts, method, request))
        got_v1 = v1_signature(send(server, "v1", sts, method, request))
        for scheme, got, want in (("V3", got_v3, want_v3), ("V1", got_v1, want_v1)):
            if got != want:
                failures.append(f"vector {name} {scheme}: got {got}, published {want}")
    if failures:
        failures.insert(0, "sign_vectors: pinning does not reproduce swas-api.md 7.4:")
        sys.exit("\n".join(failures))
    print(f"sign_vectors: published vectors {', '.join(p[0] for p in PUBLISHED)} reproduced",
          file=sys.stderr)


# --- the cases (tests/sdk_crosscheck.rs builds the same ones) -------------------------------

TOKEN = "0f8fad5b-d9cb-469f-a165-70867728950e"
IMAGE = "m-bp1abc*~"


def cases():
    """(case, action, request); a case is named after the SDK method that sends it. The inputs
    exercise the encoding edge cases."""
    return [
        (
            "create_custom_image",
            "CreateCustomImage",
            models.CreateCustomImageRequest(
                region_id=REGION,
                instance_id="ace0706b2ac4454d984295a94213****",
                image_name="web 镜像~v1.2+rc/1*",
                system_snapshot_id="s-bp1sys",
                data_snapshot_id="s-bp1data",
                description="Built by CI: a b*c~d+e/f 中文描述 ✓ 100%",
                resource_group_id="rg-acfm2abc",
                tag=[
                    models.CreateCustomImageRequestTag(key="k8s-uid", value=TOKEN),
                    models.CreateCustomImageRequestTag(key="owner/team", value="平台 组+ops~*"),
                    models.CreateCustomImageRequestTag(key="empty", value=""),
                ],
                client_token=TOKEN,
            ),
        ),
        (
            "list_custom_images",
            "ListCustomImages",
            models.ListCustomImagesRequest(
                region_id=REGION,
                image_ids=compact(["m-bp1abc", "m-bp1def"]),
                image_names=compact(["a b*c~", "web+api/v2"]),
                instance_id="ace0706b2ac4454d984295a94213****",
                system_snapshot_id="s-bp1sys",
                data_snapshot_id="s-bp1data",
                resource_group_id="rg-acfm2abc",
                share=True,
                tag=[models.ListCustomImagesRequestTag(key="env", value="生产 prod*")],
                page_number=2,
                page_size=100,
            ),
        ),
        (
            "delete_custom_images",
            "DeleteCustomImages",
            models.DeleteCustomImagesRequest(
                region_id=REGION,
                image_ids=compact(["m-bp1abc", "m-bp1 def", "m-2ze+x/y~*"]),
                client_token=TOKEN,
            ),
        ),
        (
            "modify_image_share_status",
            "ModifyImageShareStatus",
            models.ModifyImageShareStatusRequest(
                region_id=REGION, image_id=IMAGE, operation="Share", client_token="uid 1+2/3~*"
            ),
        ),
        (
            "add_custom_image_share_account",
            "AddCustomImageShareAccount",
            models.AddCustomImageShareAccountRequest(
                region_id=REGION,
                image_id=IMAGE,
                account=[1234567890123456, 5678901234567890],
                client_token=TOKEN,
            ),
        ),
        (
            "remove_custom_image_share_account",
            "RemoveCustomImageShareAccount",
            models.RemoveCustomImageShareAccountRequest(
                region_id=REGION, image_id=IMAGE, account=[1234567890123456], client_token=TOKEN
            ),
        ),
        (
            "list_custom_image_share_accounts",
            "ListCustomImageShareAccounts",
            models.ListCustomImageShareAccountsRequest(
                region_id=REGION, image_id=IMAGE, page_number=3, page_size=50
            ),
        ),
        (
            "tag_resources",
            "TagResources",
            models.TagResourcesRequest(
                region_id=REGION,
                resource_type="customimage",
                resource_id=["m-bp1abc", "m-bp1def"],
                tag=[
                    models.TagResourcesRequestTag(key="k8s.io/owner", value="ns/名称"),
                    models.TagResourcesRequestTag(key="note", value="a b*c~d+e"),
                    models.TagResourcesRequestTag(key="empty", value=""),
                ],
                client_token=TOKEN,
            ),
        ),
        (
            "untag_resources",
            "UntagResources",
            models.UntagResourcesRequest(
                region_id=REGION,
                resource_type="customimage",
                resource_id=["m-bp1abc"],
                tag_key=["k8s.io/owner", "note 2*~+"],
                all=False,
                client_token=TOKEN,
            ),
        ),
        (
            "list_tag_resources",
            "ListTagResources",
            models.ListTagResourcesRequest(
                region_id=REGION,
                resource_type="customimage",
                resource_id=["m-bp1abc", "m-bp1def"],
                tag=[models.ListTagResourcesRequestTag(key="env", value="生产 prod*")],
                next_token="eyJvZmZzZXQiOjEwfQ==+/",
            ),
        ),
    ]


def record(server):
    entries = []
    for case, action, request in cases():
        for scheme in ("v3", "v1"):
            for sts in (False, True):
                seen = send(server, scheme, sts, case, request)
                headers = dict(sorted(seen["headers"].items()))
                query = parse_qsl(seen["raw_query"], keep_blank_values=True, strict_parsing=True)
                entries.append(
                    {
                        "case": case,
                        "action": action,
                        "scheme": scheme,
                        "sts": sts,
                        "method": seen["method"],
                        "path": seen["path"],
                        "query": [list(pair) for pair in query],
                        "raw_query": seen["raw_query"],
                        "headers": headers,
                        "authorization": headers.get("authorization"),
                        "signature": dict(query).get("Signature"),
                    }
                )
    return entries


def render(entries):
    """JSON with one query pair or header per line, so that diffs of the file read well."""

    def j(value):
        return json.dumps(value, ensure_ascii=False)

    def field(key, value):
        if key == "query" and value:
            inner = ",\n".join(f"   {j(pair)}" for pair in value)
            return f"  {j(key)}: [\n{inner}\n  ]"
        if key == "headers" and value:
            inner = ",\n".join(f"   {j(name)}: {j(v)}" for name, v in value.items())
            return f"  {j(key)}: {{\n{inner}\n  }}"
        return f"  {j(key)}: {j(value)}"

    objects = [" {\n" + ",\n".join(field(k, v) for k, v in e.items()) + "\n }" for e in entries]
    return "[\n" + ",\n".join(objects) + "\n]\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)
    server = start_server()
    try:
        pin_sdk(server.server_address[1])
        check_published(server)
        entries = record(server)
    finally:
        server.shutdown()
    text = render(entries)
    if json.loads(text) != entries:
        sys.exit("sign_vectors: render() does not round-trip")
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        out.write(text)
    print(f"sign_vectors: wrote {len(entries)} requests to {sys.argv[1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
