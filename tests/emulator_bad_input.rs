//! Malformed requests to the emulator: each gets a clear error with the service's code and
//! leaves the state exactly as it was. Requests are signed correctly unless the case is about
//! signing, so they reach the parameter checks.

mod common;

use common::*;
use swas_image_operator::swas::credentials::Credential;
use swas_image_operator::swas::sign::{SignableRequest, SignatureVersion, Signer};

/// One malformed request and the answer it must get.
struct Case {
    name: &'static str,
    action: &'static str,
    params: Vec<(String, String)>,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    action: &'static str,
    params: &[(&str, &str)],
    status: u16,
    code: &'static str,
) -> Case {
    let params = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Case {
        name,
        action,
        params,
        status,
        code,
    }
}

const R: (&str, &str) = ("RegionId", REGION);
const SRV: (&str, &str) = ("InstanceId", "cn-hangzhou-server-1");
const SNAP: (&str, &str) = ("SystemSnapshotId", "s-cn-hangzhou-sys-1");

fn cases(id: &str) -> Vec<Case> {
    let sixteen = format!(
        "[{}]",
        (0..16)
            .map(|i| format!("\"m-{i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let long_token = "t".repeat(65);
    let long_description = "d".repeat(300);
    let img = ("ImageId", id);
    let tags21: Vec<(String, String)> = (1..=21)
        .flat_map(|i| {
            [
                (format!("Tag.{i}.Key"), format!("k{i}")),
                (format!("Tag.{i}.Value"), "v".into()),
            ]
        })
        .collect();
    let tags21: Vec<(&str, &str)> = tags21
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut tag_call = vec![R, ("ResourceType", "customimage"), ("ResourceId.1", id)];
    tag_call.extend(tags21);
    let accounts: Vec<(String, String)> = (1..=11)
        .map(|i| (format!("Account.{i}"), format!("{}", 1000 + i)))
        .collect();
    let mut add11 = vec![R, img];
    add11.extend(accounts.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    vec![
        case(
            "create without RegionId",
            "CreateCustomImage",
            &[SRV, SNAP, ("ImageName", "abc")],
            400,
            "MissingParameter",
        ),
        case(
            "list without RegionId",
            "ListCustomImages",
            &[],
            400,
            "MissingParameter",
        ),
        case(
            "region that is not a region",
            "ListCustomImages",
            &[("RegionId", "CN_HZ!")],
            400,
            "InvalidParameter",
        ),
        case(
            "broken JSON array",
            "DeleteCustomImages",
            &[R, ("ImageIds", "[\"m-1\"")],
            400,
            "InvalidParameter",
        ),
        case(
            "IDs not an array",
            "DeleteCustomImages",
            &[R, ("ImageIds", "m-1")],
            400,
            "InvalidParameter",
        ),
        case(
            "IDs of numbers",
            "DeleteCustomImages",
            &[R, ("ImageIds", "[1,2]")],
            400,
            "InvalidParameter",
        ),
        case(
            "16 IDs",
            "DeleteCustomImages",
            &[R, ("ImageIds", &sixteen)],
            400,
            "InvalidParameter",
        ),
        case(
            "empty ID list",
            "DeleteCustomImages",
            &[R, ("ImageIds", "[]")],
            400,
            "MissingParameter",
        ),
        case(
            "empty ID",
            "DeleteCustomImages",
            &[R, ("ImageIds", "[\"\"]")],
            400,
            "InvalidParameter",
        ),
        case(
            "65-character token",
            "DeleteCustomImages",
            &[R, ("ImageIds", "[\"m-1\"]"), ("ClientToken", &long_token)],
            400,
            "InvalidParameter",
        ),
        case(
            "non-ASCII token",
            "DeleteCustomImages",
            &[R, ("ImageIds", "[\"m-1\"]"), ("ClientToken", "令牌")],
            400,
            "InvalidParameter",
        ),
        case(
            "ImageIds missing",
            "DeleteCustomImages",
            &[R],
            400,
            "MissingParameter",
        ),
        case(
            "ImageId missing",
            "DeleteCustomImage",
            &[R],
            400,
            "MissingParameter",
        ),
        case(
            "share operation in lower case",
            "ModifyImageShareStatus",
            &[R, img, ("Operation", "share")],
            400,
            "InvalidParameter",
        ),
        case(
            "share operation missing",
            "ModifyImageShareStatus",
            &[R, img],
            400,
            "MissingParameter",
        ),
        case(
            "account not a number",
            "AddCustomImageShareAccount",
            &[R, img, ("Account.1", "abc")],
            400,
            "InvalidParameter",
        ),
        case(
            "no account",
            "AddCustomImageShareAccount",
            &[R, img],
            400,
            "MissingParameter",
        ),
        case(
            "11 accounts",
            "AddCustomImageShareAccount",
            &add11,
            400,
            "InvalidParameter",
        ),
        case(
            "account list with a gap",
            "RemoveCustomImageShareAccount",
            &[R, img, ("Account.2", "1")],
            400,
            "InvalidParameter",
        ),
        case(
            "tag value without key",
            "TagResources",
            &[
                R,
                ("ResourceType", "customimage"),
                ("ResourceId.1", id),
                ("Tag.1.Value", "v"),
            ],
            400,
            "MissingParameter",
        ),
        case(
            "reserved tag key",
            "TagResources",
            &[
                R,
                ("ResourceType", "customimage"),
                ("ResourceId.1", id),
                ("Tag.1.Key", "acs:x"),
            ],
            400,
            "InvalidParameter",
        ),
        case(
            "21 tags",
            "TagResources",
            &tag_call,
            400,
            "InvalidParameter",
        ),
        case(
            "tag index not a number",
            "ListCustomImages",
            &[R, ("Tag.x.Key", "k")],
            400,
            "InvalidParameter",
        ),
        case(
            "page size 0",
            "ListCustomImages",
            &[R, ("PageSize", "0")],
            400,
            "InvalidParameter",
        ),
        case(
            "page size 101",
            "ListCustomImages",
            &[R, ("PageSize", "101")],
            400,
            "InvalidParameter",
        ),
        case(
            "page number not a number",
            "ListCustomImages",
            &[R, ("PageNumber", "abc")],
            400,
            "InvalidParameter",
        ),
        case(
            "boolean that is not one",
            "ListCustomImages",
            &[R, ("Share", "maybe")],
            400,
            "InvalidParameter",
        ),
        case(
            "resource type not emulated",
            "TagResources",
            &[
                R,
                ("ResourceType", "instance"),
                ("ResourceId.1", id),
                ("Tag.1.Key", "k"),
            ],
            400,
            "InvalidParameter",
        ),
        case(
            "no resource",
            "TagResources",
            &[R, ("ResourceType", "customimage"), ("Tag.1.Key", "k")],
            400,
            "MissingParameter",
        ),
        case(
            "untag without keys or All",
            "UntagResources",
            &[R, ("ResourceType", "customimage"), ("ResourceId.1", id)],
            400,
            "MissingParameter",
        ),
        case(
            "bad NextToken",
            "ListTagResources",
            &[R, ("ResourceType", "customimage"), ("NextToken", "abc")],
            400,
            "InvalidParameter",
        ),
        case(
            "image name of one letter",
            "CreateCustomImage",
            &[R, SRV, SNAP, ("ImageName", "a")],
            400,
            "InvalidParameter",
        ),
        case(
            "image name with spaces",
            "CreateCustomImage",
            &[R, SRV, SNAP, ("ImageName", "my image")],
            400,
            "InvalidParameter",
        ),
        case(
            "description too long",
            "CreateCustomImage",
            &[
                R,
                SRV,
                SNAP,
                ("ImageName", "abc"),
                ("Description", &long_description),
            ],
            400,
            "InvalidParameter",
        ),
        case(
            "unknown server",
            "CreateCustomImage",
            &[R, ("InstanceId", "nope"), SNAP, ("ImageName", "abc")],
            404,
            "InvalidInstanceId.NotFound",
        ),
        case(
            "snapshot of another server",
            "CreateCustomImage",
            &[
                R,
                SRV,
                ("SystemSnapshotId", "s-cn-hangzhou-sys-2"),
                ("ImageName", "abc"),
            ],
            404,
            "InvalidSystemSnapshotId.NotFound",
        ),
        case(
            "unknown image",
            "ModifyImageShareStatus",
            &[R, ("ImageId", "m-nope"), ("Operation", "Share")],
            404,
            "InvalidImageId.NotFound",
        ),
        case(
            "unknown action",
            "DeleteEverything",
            &[R],
            404,
            "InvalidApi.NotFound",
        ),
    ]
}

/// A correctly signed V3 request for `action` with `params` in the query.
fn signed(url: &str, action: &str, params: Vec<(String, String)>) -> SignableRequest {
    let host = url.trim_start_matches("http://").to_string();
    let mut request = SignableRequest {
        method: "POST".into(),
        host: host.clone(),
        path: "/".into(),
        query: params,
        headers: vec![
            ("host".into(), host),
            ("x-acs-action".into(), action.into()),
            ("x-acs-version".into(), "2020-06-01".into()),
        ],
        form: vec![],
    };
    Signer::new(SignatureVersion::V3).sign(&mut request, &Credential::new(AK, SECRET));
    request
}

async fn send(
    url: &str,
    request: &SignableRequest,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let mut builder = reqwest::Client::new()
        .post(format!("{url}/"))
        .query(&request.query)
        .body(body);
    for (k, v) in &request.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    let response = builder.send().await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.expect("every error is JSON");
    (status, body["Code"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn malformed_requests_get_clear_errors_and_change_nothing() {
    let emulator = start_fast().await;
    let url = emulator.url();
    let id = client(&url, SignatureVersion::V3)
        .call(&swas_image_operator::swas::ops::CreateCustomImage {
            region_id: REGION.into(),
            instance_id: "cn-hangzhou-server-1".into(),
            image_name: "fixture".into(),
            system_snapshot_id: Some("s-cn-hangzhou-sys-1".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .image_id;
    let before = admin(&url, "/admin/state").await;

    let cases = cases(&id);
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in &cases {
        let request = signed(&url, case.action, case.params.clone());
        let got = send(&url, &request, None, Vec::new()).await;
        if got != (case.status, case.code.to_string()) {
            failures.push(format!(
                "{}: expected {} {}, got {got:?}",
                case.name, case.status, case.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(admin(&url, "/admin/state").await, before, "state unchanged");
}

#[tokio::test]
async fn malformed_transport_gets_clear_errors_and_changes_nothing() {
    let emulator = start_fast().await;
    let url = emulator.url();
    let before = admin(&url, "/admin/state").await;
    let list = vec![("RegionId".to_string(), REGION.to_string())];
    let http = reqwest::Client::new();
    let code = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        (status, body["Code"].as_str().unwrap_or("").to_string())
    };

    let big = signed(&url, "ListCustomImages", list.clone());
    let body = format!("Description={}", "x".repeat(70 * 1024)).into_bytes();
    let got = send(&url, &big, Some("application/x-www-form-urlencoded"), body).await;
    assert_eq!(got, (413, "RequestEntityTooLarge".into()));

    let json = signed(&url, "ListCustomImages", list.clone());
    let got = send(
        &url,
        &json,
        Some("application/json"),
        b"{\"RegionId\":\"x\"}".to_vec(),
    )
    .await;
    assert_eq!(got, (415, "UnsupportedMediaType".into()));

    let put = http.put(format!("{url}/")).send().await.unwrap();
    assert_eq!(code(put).await, (400, "UnsupportedHTTPMethod".into()));

    let unsigned = http
        .post(format!("{url}/?Action=ListCustomImages&RegionId={REGION}"))
        .send();
    assert_eq!(
        code(unsigned.await.unwrap()).await,
        (400, "IncompleteSignature".into())
    );

    let garbage = http
        .post(format!("{url}/"))
        .header("authorization", "ACS3-HMAC-SHA256 nonsense");
    assert_eq!(
        code(garbage.send().await.unwrap()).await,
        (400, "IncompleteSignature".into())
    );

    let mut tampered = signed(&url, "ListCustomImages", list.clone());
    tampered.query.push(("PageSize".into(), "5".into()));
    assert_eq!(
        send(&url, &tampered, None, vec![]).await,
        (400, "SignatureDoesNotMatch".into())
    );

    let mut version = signed(&url, "ListCustomImages", list.clone());
    version.headers.retain(|(k, _)| k != "Authorization");
    for (k, v) in version.headers.iter_mut() {
        if k == "x-acs-version" {
            *v = "2017-01-01".into();
        }
    }
    version
        .headers
        .retain(|(k, _)| !k.starts_with("x-acs-") || k == "x-acs-action" || k == "x-acs-version");
    Signer::new(SignatureVersion::V3).sign(&mut version, &Credential::new(AK, SECRET));
    assert_eq!(
        send(&url, &version, None, vec![]).await,
        (400, "InvalidParameter".into())
    );

    assert_eq!(admin(&url, "/admin/state").await, before, "state unchanged");
}
