//! Each SWAS operation against a local HTTP server that checks the exact wire form the client
//! sends (method, path, query, headers, body) and answers with a recorded JSON body; and each
//! error class produced from a recorded error body.

use std::sync::Arc;
use std::time::Duration;

use swas_image_operator::swas::credentials::{Credential, StaticProvider};
use swas_image_operator::swas::ops::*;
use swas_image_operator::swas::sign::{FixedNonce, ManualClock, Signer};
use swas_image_operator::swas::{
    ClientConfig, Endpoint, ErrorClass, SignatureVersion, SwasClient, SwasError, Tag,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const REGION: &str = "cn-hangzhou";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/swas/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn client(server: &MockServer, version: SignatureVersion, sts: bool) -> SwasClient {
    let mut credential = Credential::new("testid", "testsecret");
    if sts {
        credential = credential.with_security_token("tok+/=en");
    }
    let config = ClientConfig {
        endpoint: Endpoint::Custom(server.uri()),
        signature_version: version,
        user_agent: "wire-test".into(),
        ..Default::default()
    };
    let clock = ManualClock::new("2024-01-02T03:04:05Z".parse().unwrap());
    let signer = Signer::with_sources(version, Arc::new(clock), Arc::new(FixedNonce("n1".into())));
    SwasClient::with_signer(config, Arc::new(StaticProvider::new(credential)), signer).unwrap()
}

async fn serve(status: u16, body: String) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    server
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request");
    requests.remove(0)
}

fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// Calls `op` with V3 signing and checks the request on the wire.
async fn roundtrip<O: Operation>(op: O, query: &str, body: &str) -> O::Response {
    let server = serve(200, fixture(body)).await;
    let answer = client(&server, SignatureVersion::V3, false)
        .call(&op)
        .await
        .unwrap();

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/");
    assert_eq!(request.url.query(), Some(query), "{}", O::ACTION);
    assert!(
        request.body.is_empty(),
        "parameters go in the query, the body is empty"
    );
    assert_eq!(header(&request, "x-acs-action"), O::ACTION);
    assert_eq!(header(&request, "x-acs-version"), "2020-06-01");
    assert_eq!(header(&request, "x-acs-date"), "2024-01-02T03:04:05Z");
    assert_eq!(header(&request, "x-acs-signature-nonce"), "n1");
    assert_eq!(header(&request, "accept"), "application/json");
    assert_eq!(header(&request, "user-agent"), "wire-test");
    assert_eq!(
        header(&request, "x-acs-content-sha256"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let auth = header(&request, "authorization");
    assert!(
        auth.starts_with(
            "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;\
             x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,\
             Signature="
        ),
        "{auth}"
    );
    answer
}

#[tokio::test]
async fn create_custom_image() {
    let op = CreateCustomImage {
        region_id: REGION.into(),
        instance_id: "ace0706b2ac4454d984295a94213****".into(),
        image_name: "web base".into(),
        system_snapshot_id: Some("s-abc".into()),
        description: Some("镜像 1".into()),
        tags: vec![Tag::new("k8s-uid", "0f8fad5b")],
        client_token: Some("0f8fad5b".into()),
        ..Default::default()
    };
    let query = "ClientToken=0f8fad5b&Description=%E9%95%9C%E5%83%8F+1&ImageName=web+base\
                 &InstanceId=ace0706b2ac4454d984295a94213%2A%2A%2A%2A&RegionId=cn-hangzhou\
                 &SystemSnapshotId=s-abc&Tag.1.Key=k8s-uid&Tag.1.Value=0f8fad5b";
    let answer = roundtrip(op, query, "create_custom_image.json").await;
    assert_eq!(answer.image_id, "m-bp1new");
}

#[tokio::test]
async fn list_custom_images() {
    let op = ListCustomImages {
        region_id: REGION.into(),
        image_ids: vec!["m-bp1abc".into(), "m-2".into()],
        share: Some(true),
        page_number: Some(1),
        page_size: Some(100),
        ..Default::default()
    };
    let query = "ImageIds=%5B%22m-bp1abc%22%2C%22m-2%22%5D&PageNumber=1&PageSize=100\
                 &RegionId=cn-hangzhou&Share=True";
    let answer = roundtrip(op, query, "list_custom_images.json").await;
    assert_eq!(answer.total_count, 1);
    let image = &answer.custom_images[0];
    assert_eq!(image.image_id, "m-bp1abc");
    assert_eq!(image.status(), ImageStatus::Available);
    assert!(image.in_share && !image.in_share_user);
    assert_eq!(image.tag("k8s-uid"), Some("0f8fad5b"));
    assert_eq!(image.user_id, 1234567890123456);
}

#[tokio::test]
async fn list_custom_images_accepts_numbers_as_strings() {
    let op = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    let answer = roundtrip(
        op,
        "RegionId=cn-hangzhou",
        "list_custom_images_strings.json",
    )
    .await;
    assert_eq!(
        (answer.page_number, answer.page_size, answer.total_count),
        (1, 10, 0)
    );
}

#[tokio::test]
async fn delete_custom_images() {
    let op = DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: vec!["m-bp1abc".into()],
        client_token: Some("0f8fad5b-d9cb-469f-a165-70867728950e".into()),
    };
    let query = "ClientToken=0f8fad5b-d9cb-469f-a165-70867728950e&ImageIds=%5B%22m-bp1abc%22%5D\
                 &RegionId=cn-hangzhou";
    let answer = roundtrip(op, query, "request_id.json").await;
    assert_eq!(answer.request_id, "30637AD6-D977-4833-A54C-CC89483E****");
}

#[tokio::test]
async fn modify_image_share_status() {
    let op = ModifyImageShareStatus {
        region_id: REGION.into(),
        image_id: "m-bp1abc".into(),
        operation: ShareOperation::UnShare,
        client_token: None,
    };
    let query = "ImageId=m-bp1abc&Operation=UnShare&RegionId=cn-hangzhou";
    roundtrip(op, query, "request_id.json").await;
}

#[tokio::test]
async fn add_and_remove_share_accounts() {
    let add = AddCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: "m-bp1abc".into(),
        accounts: vec![1234567890, 2234567890],
        client_token: Some("t-add".into()),
    };
    let query = "Account.1=1234567890&Account.2=2234567890&ClientToken=t-add&ImageId=m-bp1abc\
                 &RegionId=cn-hangzhou";
    roundtrip(add, query, "request_id.json").await;

    let remove = RemoveCustomImageShareAccount {
        region_id: REGION.into(),
        image_id: "m-bp1abc".into(),
        accounts: vec![1234567890],
        client_token: None,
    };
    let query = "Account.1=1234567890&ImageId=m-bp1abc&RegionId=cn-hangzhou";
    roundtrip(remove, query, "request_id.json").await;
}

#[tokio::test]
async fn list_share_accounts() {
    let op = ListCustomImageShareAccounts {
        region_id: REGION.into(),
        image_id: "m-bp1abc".into(),
        page_number: Some(1),
        page_size: Some(50),
    };
    let query = "ImageId=m-bp1abc&PageNumber=1&PageSize=50&RegionId=cn-hangzhou";
    let answer = roundtrip(op, query, "list_share_accounts.json").await;
    let users: Vec<u64> = answer.image_share_users.iter().map(|u| u.user_id).collect();
    assert_eq!(users, [1234567890, 2234567890]);
}

#[tokio::test]
async fn tag_untag_and_list_tags() {
    let tag = TagResources {
        region_id: REGION.into(),
        resource_ids: vec!["m-bp1abc".into()],
        tags: vec![Tag::new("team", "web ops"), Tag::new("empty", "")],
        client_token: None,
    };
    let query = "RegionId=cn-hangzhou&ResourceId.1=m-bp1abc&ResourceType=customimage\
                 &Tag.1.Key=team&Tag.1.Value=web+ops&Tag.2.Key=empty&Tag.2.Value=";
    roundtrip(tag, query, "request_id.json").await;

    let untag = UntagResources {
        region_id: REGION.into(),
        resource_ids: vec!["m-bp1abc".into()],
        tag_keys: vec!["team".into(), "a/b".into()],
        all: Some(false),
        client_token: None,
    };
    let query = "All=False&RegionId=cn-hangzhou&ResourceId.1=m-bp1abc&ResourceType=customimage\
                 &TagKey.1=team&TagKey.2=a%2Fb";
    roundtrip(untag, query, "request_id.json").await;

    let list = ListTagResources {
        region_id: REGION.into(),
        resource_ids: vec!["m-bp1abc".into()],
        ..Default::default()
    };
    let query = "RegionId=cn-hangzhou&ResourceId.1=m-bp1abc&ResourceType=customimage";
    let answer = roundtrip(list, query, "list_tag_resources.json").await;
    assert_eq!(answer.tag_resources.tag_resource[0].tag_value, "web");
    assert!(answer.next_token.is_empty());
}

#[tokio::test]
async fn v1_puts_signature_and_token_in_the_query() {
    let server = serve(200, fixture("request_id.json")).await;
    let op = DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: vec!["m-1".into()],
        client_token: None,
    };
    client(&server, SignatureVersion::V1, true)
        .call(&op)
        .await
        .unwrap();
    let request = only_request(&server).await;
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("Action"), Some("DeleteCustomImages"));
    assert_eq!(get("Format"), Some("json"));
    assert_eq!(get("Version"), Some("2020-06-01"));
    assert_eq!(get("SignatureMethod"), Some("HMAC-SHA1"));
    assert_eq!(get("SignatureVersion"), Some("1.0"));
    assert_eq!(get("SecurityToken"), Some("tok+/=en"));
    assert_eq!(get("Timestamp"), Some("2024-01-02T03:04:05Z"));
    assert!(get("Signature").is_some_and(|s| s.ends_with('=')));
    assert!(request.headers.get("authorization").is_none());
}

async fn error_of(status: u16, body: &str, retry_after: Option<&str>) -> SwasError {
    let server = MockServer::start().await;
    let mut response =
        ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json");
    if let Some(value) = retry_after {
        response = response.insert_header("x-acs-retry-after", value);
    }
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    let op = DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: vec!["m-1".into()],
        client_token: Some("uid".into()),
    };
    client(&server, SignatureVersion::V3, false)
        .call(&op)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn error_classes_from_recorded_bodies() {
    let cases = [
        (404, "error_not_found.json", ErrorClass::NotFound),
        (400, "error_in_share.json", ErrorClass::InShare),
        (400, "error_throttling.json", ErrorClass::Throttled),
        (403, "error_forbidden.json", ErrorClass::Auth),
        (400, "error_signature.json", ErrorClass::Auth),
        (
            400,
            "error_invalid_parameter.json",
            ErrorClass::InvalidRequest,
        ),
        (500, "error_internal.json", ErrorClass::Server),
    ];
    for (status, file, class) in cases {
        let error = error_of(status, &fixture(file), None).await;
        assert_eq!(error.class(), class, "{file}: {error}");
        let SwasError::Api {
            status: got,
            request_id,
            ..
        } = &error
        else {
            panic!("{file}: not an API error: {error}");
        };
        assert_eq!(*got, status);
        assert!(!request_id.is_empty());
    }
}

#[tokio::test]
async fn in_share_keeps_code_and_message() {
    let error = error_of(400, &fixture("error_in_share.json"), None).await;
    assert_eq!(error.code(), Some("CustomImageInShare"));
    assert!(
        error.to_string().contains("please unshare first"),
        "{error}"
    );
    assert!(error.to_string().contains("RequestId D2"), "{error}");
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let error = error_of(400, &fixture("error_throttling.json"), Some("1500")).await;
    assert_eq!(error.class(), ErrorClass::Throttled);
    assert_eq!(error.retry_after(), Some(Duration::from_millis(1500)));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_error_with_a_short_excerpt() {
    let html = format!("<html>{}</html>", "gateway ".repeat(500));
    let error = error_of(502, &html, None).await;
    assert_eq!(error.class(), ErrorClass::Server);
    assert!(error.to_string().len() < 400, "{error}");

    let server = serve(200, "{\"RequestId\": ".into()).await;
    let op = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    let error = client(&server, SignatureVersion::V3, false)
        .call(&op)
        .await
        .unwrap_err();
    assert!(
        matches!(error, SwasError::Decode { status: 200, .. }),
        "{error}"
    );
}

#[tokio::test]
async fn transport_failure_is_retryable_and_hides_the_url() {
    // A port that was free a moment ago and has no listener now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let credential = Credential::new("testid", "testsecret").with_security_token("tok-secret");
    let config = ClientConfig {
        endpoint: Endpoint::Custom(endpoint),
        signature_version: SignatureVersion::V1,
        ..Default::default()
    };
    let client = SwasClient::new(config, Arc::new(StaticProvider::new(credential))).unwrap();
    let op = ListCustomImages {
        region_id: REGION.into(),
        ..Default::default()
    };
    let error = client.call(&op).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Transport);
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains("tok-secret") && !text.contains("Signature="),
        "{text}"
    );
}

#[tokio::test]
async fn requests_breaking_api_limits_are_never_sent() {
    let server = serve(200, fixture("request_id.json")).await;
    let client = client(&server, SignatureVersion::V3, false);
    let sixteen: Vec<String> = (0..16).map(|i| format!("m-{i}")).collect();
    let too_many = DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: sixteen,
        client_token: None,
    };
    let long_token = DeleteCustomImages {
        region_id: REGION.into(),
        image_ids: vec!["m-1".into()],
        client_token: Some("x".repeat(65)),
    };
    let non_ascii = DeleteCustomImages {
        client_token: Some("令牌".into()),
        ..long_token.clone()
    };
    for op in [too_many, long_token, non_ascii] {
        let error = client.call(&op).await.unwrap_err();
        assert_eq!(error.class(), ErrorClass::InvalidRequest, "{error}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}
