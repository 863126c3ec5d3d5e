//! The SDK-generated signing vectors of the reference (swas-api.md §7.4), checked stage by
//! stage: canonical query, canonical request / string to sign, signature, for both schemes,
//! with and without STS. The published SDK unit-test vectors (§7.3) live next to the signer.

use std::sync::Arc;

use swas_image_operator::swas::credentials::Credential;
use swas_image_operator::swas::sign::{
    FixedNonce, ManualClock, SignableRequest, SignatureVersion, Signer, canonical_query, v1, v3,
};

const TIME: &str = "2024-01-02T03:04:05Z";
const NONCE: &str = "0123456789abcdef0123456789abcdef";
const HOST: &str = "swas.cn-hangzhou.aliyuncs.com";

struct Vector {
    action: &'static str,
    params: &'static [(&'static str, &'static str)],
    sts: bool,
    v3: &'static str,
    v1: &'static str,
}

const A: Vector = Vector {
    action: "DeleteCustomImages",
    params: &[
        ("ClientToken", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("ImageIds", r#"["m-bp1abc"]"#),
        ("RegionId", "cn-hangzhou"),
    ],
    sts: false,
    v3: "ca15b542e6b6e6b0b08aacf2b4227516bf681289a80c200c8cb7af4bf2262ee2",
    v1: "2Y2Wmez9c8rl/4r7ULQt3UhdYwM=",
};

const B: Vector = Vector {
    action: "ListCustomImages",
    params: &[
        ("ImageNames", r#"["a b*c~"]"#),
        ("PageNumber", "1"),
        ("PageSize", "100"),
        ("RegionId", "cn-hangzhou"),
        ("Share", "False"),
    ],
    sts: false,
    v3: "8246e2d93d00c4b8b909c4e37bf59c2338342310d9fddffd55b536e628aa9ead",
    v1: "Hkfam9iKCt67xRO3A1Re+8lAJ2s=",
};

const C: Vector = Vector {
    action: "CreateCustomImage",
    params: &[
        ("ClientToken", "uid-1"),
        ("ImageName", "img-1"),
        ("InstanceId", "ace0706b2ac4454d984295a94213****"),
        ("RegionId", "cn-hangzhou"),
        ("SystemSnapshotId", "s-abc"),
        ("Tag.1.Key", "k8s-uid"),
        ("Tag.1.Value", "0f8fad5b"),
    ],
    sts: false,
    v3: "19b8a3d5ac6aa64a77e39df5a25c383f3bb572d9a0512443e950867644962027",
    v1: "sGQk/Ga1NtBTxj+FMMMpi4ZSrDs=",
};

const D: Vector = Vector {
    action: "ModifyImageShareStatus",
    params: &[
        ("ImageId", "m-bp1abc"),
        ("Operation", "UnShare"),
        ("RegionId", "cn-hangzhou"),
    ],
    sts: true,
    v3: "84c0a0b534fdca21cf04521188501d055822a4c491b8d4551532db0873f422ec",
    v1: "RuzAdK/XVm2paCW9vphGlmNMAPU=",
};

fn credential(sts: bool) -> Credential {
    match sts {
        false => Credential::new("testid", "testsecret"),
        true => Credential::new("STS.testid", "testsecret").with_security_token("tok+/=en"),
    }
}

fn signer(version: SignatureVersion) -> Signer {
    let clock = ManualClock::new(TIME.parse().unwrap());
    Signer::with_sources(version, Arc::new(clock), Arc::new(FixedNonce(NONCE.into())))
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The request as the Python SDK builds it in V3 mode, before signing.
fn v3_request(vector: &Vector) -> SignableRequest {
    let provider = if vector.sts {
        "static_sts"
    } else {
        "static_ak"
    };
    SignableRequest {
        method: "POST".into(),
        host: HOST.into(),
        path: "/".into(),
        query: pairs(vector.params),
        headers: pairs(&[
            ("host", HOST),
            ("x-acs-version", "2020-06-01"),
            ("x-acs-action", vector.action),
            ("user-agent", "test-agent"),
            ("accept", "application/json"),
            ("x-acs-credentials-provider", provider),
        ]),
        form: vec![],
    }
}

/// The request as the Python SDK builds it in V1 mode, before signing.
fn v1_request(vector: &Vector) -> SignableRequest {
    let mut query = pairs(&[("Action", vector.action), ("Format", "json")]);
    query.push(("Version".into(), "2020-06-01".into()));
    query.extend(pairs(vector.params));
    SignableRequest {
        method: "POST".into(),
        host: HOST.into(),
        path: "/".into(),
        query,
        ..Default::default()
    }
}

fn v3_signature(request: &SignableRequest) -> String {
    let auth = request
        .header("Authorization")
        .expect("signed request has Authorization");
    auth.rsplit("Signature=").next().unwrap().to_string()
}

/// The headers that went into the signature: all but `Authorization` itself.
fn unsigned_headers(request: &SignableRequest) -> Vec<(String, String)> {
    request
        .headers
        .iter()
        .filter(|(k, _)| k != "Authorization")
        .cloned()
        .collect()
}

#[test]
fn v3_vectors() {
    for vector in [A, B, C, D] {
        let mut request = v3_request(&vector);
        signer(SignatureVersion::V3).sign(&mut request, &credential(vector.sts));
        assert_eq!(v3_signature(&request), vector.v3, "{}", vector.action);
    }
}

#[test]
fn v1_vectors() {
    for vector in [A, B, C, D] {
        let mut request = v1_request(&vector);
        signer(SignatureVersion::V1).sign(&mut request, &credential(vector.sts));
        assert_eq!(
            request.query_param("Signature"),
            Some(vector.v1),
            "{}",
            vector.action
        );
        assert_eq!(request.query_param("SecurityToken").is_some(), vector.sts);
    }
}

#[test]
fn v3_stages_for_vector_a() {
    let mut request = v3_request(&A);
    signer(SignatureVersion::V3).sign(&mut request, &credential(false));
    let auth = request.header("Authorization").unwrap();
    assert!(auth.starts_with(
        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;user-agent;x-acs-action;\
         x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;\
         x-acs-version,Signature="
    ));
    let query = request.query.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    assert_eq!(
        canonical_query(query),
        "ClientToken=0f8fad5b-d9cb-469f-a165-70867728950e&ImageIds=%5B%22m-bp1abc%22%5D\
         &RegionId=cn-hangzhou"
    );
    let signed = unsigned_headers(&request);
    let cr = v3::canonical_request("POST", "/", &request.query, &signed, &v3::hash_payload(b""));
    let sts = v3::string_to_sign(&cr);
    assert!(sts.starts_with("ACS3-HMAC-SHA256\n3ec42bbe"), "{sts}");
    assert!(sts.ends_with("0065"), "{sts}");
    assert_eq!(v3::signature("testsecret", &sts), A.v3);
}

#[test]
fn v3_sts_signs_token_headers() {
    let mut request = v3_request(&D);
    signer(SignatureVersion::V3).sign(&mut request, &credential(true));
    assert_eq!(request.header("x-acs-security-token"), Some("tok+/=en"));
    assert_eq!(request.header("x-acs-accesskey-id"), Some("STS.testid"));
    let auth = request.header("Authorization").unwrap();
    assert!(auth.contains("x-acs-accesskey-id;"), "{auth}");
    assert!(auth.contains("x-acs-security-token;"), "{auth}");
}

#[test]
fn v3_minimal_header_vector() {
    let mut request = v3_request(&A);
    request
        .headers
        .retain(|(k, _)| k == "host" || k == "x-acs-version" || k == "x-acs-action");
    signer(SignatureVersion::V3).sign(&mut request, &credential(false));
    let signed = unsigned_headers(&request);
    let (_, names) = v3::canonical_headers(&signed);
    assert_eq!(
        names,
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version"
    );
    let cr = v3::canonical_request("POST", "/", &request.query, &signed, &v3::hash_payload(b""));
    let sts = v3::string_to_sign(&cr);
    assert_eq!(
        sts.trim_start_matches("ACS3-HMAC-SHA256\n"),
        "a87bd2d9a2cac51275273d0ce22b24d31724dd84cf3783301d6da13e35568a61"
    );
    assert_eq!(
        v3_signature(&request),
        "d8473bc03e368dd6a31118cbc0d90f7e418f50d9632317ca292d29c1172285e9"
    );
}

#[test]
fn v1_stages_for_vector_a() {
    let mut request = v1_request(&A);
    signer(SignatureVersion::V1).sign(&mut request, &credential(false));
    let canonical = v1::canonicalized_parameters(&request.query, &[]);
    assert_eq!(
        canonical,
        "AccessKeyId=testid&Action=DeleteCustomImages&ClientToken=\
         0f8fad5b-d9cb-469f-a165-70867728950e&Format=json&ImageIds=%5B%22m-bp1abc%22%5D\
         &RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=\
         0123456789abcdef0123456789abcdef&SignatureVersion=1.0&Timestamp=2024-01-02T03%3A04%3A05Z\
         &Version=2020-06-01"
    );
    let sts = v1::string_to_sign("POST", &canonical);
    assert!(
        sts.starts_with("POST&%2F&AccessKeyId%3Dtestid%26Action%3D"),
        "{sts}"
    );
    assert_eq!(v1::signature("testsecret", &sts), A.v1);
}
