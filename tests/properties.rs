//! Property tests against hostile input: the signing canonicalisation, the sign/verify round
//! trip between our client and the emulator, the parameter encodings both sides must agree
//! on, the client's reading of answers, and the emulator's reading of requests. Generated
//! input is arbitrary (non-ASCII, empty, protocol-named, wrongly typed) and the checks are
//! "gives back what went in" or "refuses cleanly", never "does not crash" alone where more is
//! known.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use swas_image_operator::emulator::auth::Incoming;
use swas_image_operator::emulator::request::{
    PROTOCOL_PARAMS, Params as Received, client_token, decode_pairs,
};
use swas_image_operator::fuzzing;
use swas_image_operator::swas::client::read_answer;
use swas_image_operator::swas::credentials::Credential;
use swas_image_operator::swas::error::SwasError;
use swas_image_operator::swas::ops::{
    Acknowledged, CreateCustomImageResponse, ListCustomImageShareAccounts,
    ListCustomImageShareAccountsResponse, ListCustomImages, ListCustomImagesResponse,
    ListTagResourcesResponse, Operation,
};
use swas_image_operator::swas::params::{Params as Sent, Tag};
use swas_image_operator::swas::sign::{
    FixedNonce, ManualClock, SignableRequest, SignatureVersion, Signer, canonical_query,
    percent_encode,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Any string, biased towards the awkward: empty, reserved characters, non-ASCII.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        "[ +%&=*~/?#\\[\\]\"'.-]{0,6}",
        "[a-zA-Z0-9 é镜像🦀\u{0}\u{7f}]{0,12}",
    ]
}

/// A key: any text, or a name the protocol gives a meaning to.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => text(),
        1 => select(PROTOCOL_PARAMS).prop_map(str::to_string),
        1 => "(Tag|Account|ResourceId|TagKey)\\.[0-9]{1,3}(\\.(Key|Value))?",
    ]
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    vec((key(), text()), 0..8)
}

fn version() -> impl Strategy<Value = SignatureVersion> {
    prop_oneof![Just(SignatureVersion::V1), Just(SignatureVersion::V3)]
}

/// A tag the service accepts in a request: a non-empty key.
fn tag() -> impl Strategy<Value = Tag> {
    (
        text().prop_filter("keys are not empty", |k| !k.is_empty()),
        text(),
    )
        .prop_map(|(key, value)| Tag { key, value })
}

fn non_empty_text() -> impl Strategy<Value = String> {
    text().prop_filter("not empty", |s| !s.is_empty())
}

// ---------------------------------------------------------------------------------------------
// Signing canonicalisation

/// Decodes RFC 3986 percent-encoding, checking that only unreserved characters and `%XX` with
/// upper-case hex occur.
fn strict_percent_decode(encoded: &str) -> Result<Vec<u8>, String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or_else(|| format!("truncated escape at {i}"))?;
            if !hex
                .iter()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h))
            {
                return Err(format!("escape {hex:?} is not upper-case hex"));
            }
            let hex = std::str::from_utf8(hex).map_err(|e| e.to_string())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b);
            i += 1;
        } else {
            return Err(format!("{:?} left unencoded", b as char));
        }
    }
    Ok(out)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn percent_encode_is_strict_rfc3986_and_reversible(input in text()) {
        let encoded = percent_encode(&input);
        let decoded = strict_percent_decode(&encoded).map_err(TestCaseError::fail)?;
        prop_assert_eq!(decoded, input.as_bytes());
        // Unreserved bytes stay, every other byte takes three characters.
        let unreserved = input
            .bytes()
            .filter(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(b))
            .count();
        prop_assert_eq!(encoded.len(), unreserved + 3 * (input.len() - unreserved));
    }

    #[test]
    fn canonical_query_ignores_order(
        (original, shuffled) in pairs().prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle()))
    ) {
        let render = |p: &[(String, String)]| {
            canonical_query(p.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        };
        prop_assert_eq!(render(&original), render(&shuffled));
    }

    #[test]
    fn canonical_query_keeps_every_pair_sorted(pairs in pairs()) {
        let query = canonical_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if pairs.is_empty() {
            prop_assert_eq!(query, "");
            return Ok(());
        }
        let rendered: Vec<(&str, &str)> = query
            .split('&')
            .map(|pair| pair.split_once('=').expect("every pair has ="))
            .collect();
        prop_assert_eq!(rendered.len(), pairs.len());
        prop_assert!(rendered.is_sorted(), "not sorted by encoded key: {}", query);
        let mut decoded: Vec<(Vec<u8>, Vec<u8>)> = rendered
            .iter()
            .map(|(k, v)| (strict_percent_decode(k).unwrap(), strict_percent_decode(v).unwrap()))
            .collect();
        let mut expected: Vec<(Vec<u8>, Vec<u8>)> = pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        decoded.sort();
        expected.sort();
        prop_assert_eq!(decoded, expected);
    }

    /// The client's wire encoding and the emulator's decoding are inverse.
    #[test]
    fn wire_query_decodes_to_the_same_pairs(query in pairs(), form in pairs()) {
        let request = SignableRequest {
            query: query.clone(),
            form: form.clone(),
            ..Default::default()
        };
        prop_assert_eq!(decode_pairs(request.query_string().as_bytes()), query);
        prop_assert_eq!(decode_pairs(&request.body()), form);
    }

    #[test]
    fn signing_anything_does_not_panic(
        version in version(),
        sts in any::<bool>(),
        method in text(),
        host in text(),
        path in text(),
        headers in pairs(),
        query in pairs(),
        form in pairs(),
        id in text(),
        secret in text(),
        token in text(),
    ) {
        let mut credential = Credential::new(id, secret);
        if sts {
            credential = credential.with_security_token(token);
        }
        let mut request = SignableRequest { method, host, path, query, headers, form };
        let before = request.clone();
        let clock = std::sync::Arc::new(ManualClock::new(fuzzing::now()));
        let nonce = std::sync::Arc::new(FixedNonce("n".into()));
        Signer::with_sources(version, clock, nonce).sign(&mut request, &credential);
        prop_assert_eq!(&request.form, &before.form, "signing never touches the form");
        match version {
            SignatureVersion::V1 => {
                let (name, signature) = request.query.last().expect("a signature");
                prop_assert_eq!(name, "Signature");
                prop_assert_eq!(signature.len(), 28, "base64 of 20 bytes");
            }
            SignatureVersion::V3 => {
                let (name, value) = request.headers.last().expect("an Authorization header");
                prop_assert_eq!(name, "Authorization");
                prop_assert!(value.starts_with("ACS3-HMAC-SHA256 Credential="));
                prop_assert_eq!(&request.query, &before.query, "V3 never touches the query");
            }
        }
    }

    /// Signed by our signer, sent over HTTP, read by the emulator's pipeline: verifies with the
    /// same key (long-lived or STS), and stops verifying when any one value changes.
    #[test]
    fn signed_requests_verify_and_tampered_ones_do_not(
        version in version(),
        sts in any::<bool>(),
        secret in text(),
        query in pairs(),
        form in pairs(),
        flip in any::<prop::sample::Index>(),
    ) {
        let count = query.len() + form.len();
        let flip = (count > 0).then(|| flip.index(count));
        fuzzing::check_round_trip(version, sts, &secret, &query, &form, flip);
    }

    #[test]
    fn another_secret_does_not_verify(
        version in version(),
        secret in text(),
        other in text(),
        query in pairs(),
    ) {
        // HMAC pads short keys with zero bytes, so keys differing only in trailing NULs are
        // the same key; that is the algorithm, not the verifier.
        prop_assume!(secret.trim_end_matches('\0') != other.trim_end_matches('\0'));
        let mut request = SignableRequest {
            method: "POST".into(),
            host: fuzzing::HOST.into(),
            path: "/".into(),
            query,
            headers: vec![
                ("x-acs-action".into(), "ListCustomImages".into()),
                ("x-acs-version".into(), "2020-06-01".into()),
            ],
            form: Vec::new(),
        };
        let clock = std::sync::Arc::new(ManualClock::new(fuzzing::now()));
        let nonce = std::sync::Arc::new(FixedNonce("n".into()));
        let credential = Credential::new(fuzzing::KEY_ID, secret);
        Signer::with_sources(version, clock, nonce).sign(&mut request, &credential);
        let wire = fuzzing::over_the_wire(&request).expect("travels");
        let keys = fuzzing::key_store(fuzzing::KEY_ID, &other);
        let error = keys.verify(&wire, fuzzing::now()).expect_err("wrong secret");
        prop_assert_eq!(error.code, "SignatureDoesNotMatch");
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter encoding: what the client sends is what the emulator reads

/// The client's parameters as the emulator receives them, checking the wire on the way.
fn received(params: Sent) -> Received {
    let request = SignableRequest {
        query: params.into_sorted(),
        ..Default::default()
    };
    let decoded = decode_pairs(request.query_string().as_bytes());
    assert_eq!(decoded, request.query, "the wire changed the pairs");
    Received::from_pairs(&decoded)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tags_round_trip(tags in vec(tag(), 0..=20)) {
        let mut sent = Sent::new();
        sent.tags("Tag", &tags);
        prop_assert_eq!(received(sent).tags("Tag", 20).expect("accepted"), tags);
    }

    #[test]
    fn a_tag_without_key_is_refused(
        tags in vec(tag(), 1..=20),
        at in any::<prop::sample::Index>(),
    ) {
        let mut tags = tags;
        let at = at.index(tags.len());
        tags[at].key.clear();
        let mut sent = Sent::new();
        sent.tags("Tag", &tags);
        let error = received(sent).tags("Tag", 20).expect_err("empty key");
        prop_assert_eq!(error.code, "MissingParameter");
    }

    #[test]
    fn account_lists_round_trip(accounts in vec(any::<u64>(), 0..=10)) {
        let mut sent = Sent::new();
        sent.list("Account", &accounts);
        let back: Vec<u64> = received(sent)
            .list("Account", 10)
            .expect("accepted")
            .iter()
            .map(|a| a.parse().expect("a number"))
            .collect();
        prop_assert_eq!(back, accounts);
    }

    #[test]
    fn id_lists_round_trip(ids in vec(text(), 0..=50)) {
        let mut sent = Sent::new();
        sent.list("ResourceId", &ids);
        prop_assert_eq!(received(sent).list("ResourceId", 50).expect("accepted"), ids);
    }

    #[test]
    fn json_arrays_round_trip(ids in vec(non_empty_text(), 0..=40)) {
        let mut sent = Sent::new();
        sent.json_array("ImageIds", &ids);
        prop_assert_eq!(received(sent).json_array("ImageIds", 100).expect("accepted"), ids);
    }

    #[test]
    fn over_long_lists_are_refused(extra in 1usize..5, ids in vec(non_empty_text(), 16..=20)) {
        let tags: Vec<Tag> = (0..20 + extra).map(|i| Tag::new(format!("k{i}"), "v")).collect();
        let accounts: Vec<u64> = (1..=10 + extra as u64).collect();
        let mut sent = Sent::new();
        sent.tags("Tag", &tags).list("Account", &accounts).json_array("ImageIds", &ids);
        let got = received(sent);
        prop_assert!(got.tags("Tag", 20).is_err());
        prop_assert!(got.list("Account", 10).is_err());
        prop_assert!(got.json_array("ImageIds", 15).is_err());
    }

    /// A whole operation, every field read back by the emulator as the client meant it.
    #[test]
    fn list_custom_images_round_trips(
        region in "[a-z0-9-]{1,20}",
        image_ids in vec(non_empty_text(), 0..=10),
        image_names in vec(non_empty_text(), 0..=10),
        instance_id in proptest::option::of(non_empty_text()),
        share in proptest::option::of(any::<bool>()),
        tags in vec(tag(), 0..=20),
        page_number in proptest::option::of(any::<u32>()),
        page_size in proptest::option::of(any::<u32>()),
    ) {
        let op = ListCustomImages {
            region_id: region.clone(),
            image_ids: image_ids.clone(),
            image_names: image_names.clone(),
            instance_id: instance_id.clone(),
            share,
            tags: tags.clone(),
            page_number,
            page_size,
            ..Default::default()
        };
        let got = received(op.params());
        let max = u64::from(u32::MAX);
        prop_assert_eq!(got.required("RegionId").ok(), Some(region.as_str()));
        prop_assert_eq!(got.json_array("ImageIds", 100).ok(), Some(image_ids));
        prop_assert_eq!(got.json_array("ImageNames", 100).ok(), Some(image_names));
        prop_assert_eq!(got.opt("InstanceId"), instance_id.as_deref());
        prop_assert_eq!(got.boolean("Share").ok(), Some(share));
        prop_assert_eq!(got.tags("Tag", 20).ok(), Some(tags));
        prop_assert_eq!(got.int("PageNumber", 0, max).ok(), Some(page_number.map(u64::from)));
        prop_assert_eq!(got.int("PageSize", 0, max).ok(), Some(page_size.map(u64::from)));
    }
}

// ---------------------------------------------------------------------------------------------
// Response parsing

/// What a field of an answer holds.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    /// A `lenient_u64`: a number, a string of digits, or null.
    Num,
    Bool,
    Strings,
    Objects(&'static [Field]),
    Object(&'static [Field]),
}

/// One field of an answer object.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
}

const fn f(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

const TAG: &[Field] = &[
    Field {
        name: "Key",
        kind: Kind::Str,
        required: true,
    },
    f("Value", Kind::Str),
];
const CUSTOM_IMAGE: &[Field] = &[
    f("ImageId", Kind::Str),
    f("Name", Kind::Str),
    f("Description", Kind::Str),
    f("Status", Kind::Str),
    f("InShare", Kind::Bool),
    f("InShareUser", Kind::Bool),
    f("CreationTime", Kind::Str),
    f("RegionId", Kind::Str),
    f("InstanceId", Kind::Str),
    f("OsType", Kind::Str),
    f("Tags", Kind::Objects(TAG)),
    f("CreateInstances", Kind::Strings),
    f("UserId", Kind::Num),
];
const LIST_IMAGES: &[Field] = &[
    f("RequestId", Kind::Str),
    f("PageNumber", Kind::Num),
    f("PageSize", Kind::Num),
    f("TotalCount", Kind::Num),
    f("CustomImages", Kind::Objects(CUSTOM_IMAGE)),
];
const SHARE_USER: &[Field] = &[f("UserId", Kind::Num), f("SharedTime", Kind::Str)];
const LIST_SHARES: &[Field] = &[
    f("RequestId", Kind::Str),
    f("PageNumber", Kind::Num),
    f("PageSize", Kind::Num),
    f("TotalCount", Kind::Num),
    f("ImageShareUsers", Kind::Objects(SHARE_USER)),
];
const TAG_RESOURCE: &[Field] = &[
    f("ResourceId", Kind::Str),
    f("ResourceType", Kind::Str),
    f("TagKey", Kind::Str),
    f("TagValue", Kind::Str),
];
const TAG_RESOURCE_LIST: &[Field] = &[f("TagResource", Kind::Objects(TAG_RESOURCE))];
const LIST_TAGS: &[Field] = &[
    f("RequestId", Kind::Str),
    f("NextToken", Kind::Str),
    f("TagResources", Kind::Object(TAG_RESOURCE_LIST)),
];
const CREATE: &[Field] = &[f("RequestId", Kind::Str), f("ImageId", Kind::Str)];
const ACK: &[Field] = &[f("RequestId", Kind::Str)];

/// A value `kind` accepts.
fn right(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Str => text().prop_map(Value::from).boxed(),
        Kind::Num => prop_oneof![
            any::<u64>().prop_map(Value::from),
            any::<u64>().prop_map(|n| Value::from(format!(" {n} "))),
            Just(json!("")),
            Just(Value::Null),
        ]
        .boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Kind::Strings => vec(text(), 0..3).prop_map(Value::from).boxed(),
        Kind::Objects(fields) => vec(object(fields), 0..3).prop_map(Value::from).boxed(),
        Kind::Object(fields) => object(fields),
    }
}

/// An object of `fields`, each with a right value or absent (required ones always present),
/// and perhaps a field no answer has.
fn object(fields: &'static [Field]) -> BoxedStrategy<Value> {
    let values: Vec<BoxedStrategy<Option<Value>>> = fields
        .iter()
        .map(|field| match field.required {
            true => right(field.kind).prop_map(Some).boxed(),
            false => proptest::option::of(right(field.kind)).boxed(),
        })
        .collect();
    (values, proptest::option::of((text(), any::<i64>())))
        .prop_map(move |(values, extra)| {
            let mut map = Map::new();
            if let Some((name, n)) = extra {
                map.insert(format!("X-{name}"), Value::from(n));
            }
            for (field, value) in fields.iter().zip(values) {
                if let Some(value) = value {
                    map.insert(field.name.to_string(), value);
                }
            }
            Value::Object(map)
        })
        .boxed()
}

/// A value of a type `kind` does not accept, or (for objects and lists of them) one that is
/// wrong somewhere inside.
fn wrong(kind: Kind) -> BoxedStrategy<Value> {
    let null = Just(Value::Null);
    let number = any::<i64>().prop_map(Value::from);
    let boolean = any::<bool>().prop_map(Value::from);
    let string = "[a-z]{1,4}".prop_map(Value::from);
    let list = vec(any::<i32>(), 0..3).prop_map(Value::from);
    let map = Just(json!({ "A": 1 }));
    match kind {
        Kind::Str => prop_oneof![null, number, boolean, list, map].boxed(),
        Kind::Num => prop_oneof![
            boolean,
            list,
            map,
            string,
            (i64::MIN..0).prop_map(Value::from),
            (0u32..1000).prop_map(|n| json!(f64::from(n) + 0.5)),
        ]
        .boxed(),
        Kind::Bool => prop_oneof![null, number, string, list, map].boxed(),
        Kind::Strings => {
            prop_oneof![null, number, boolean, string, map, Just(json!(["ok", 1])),].boxed()
        }
        // A struct also reads from an array (by position), so arrays are not "wrong" for it.
        Kind::Object(fields) => {
            prop_oneof![null, number, boolean, string, wrong_object(fields)].boxed()
        }
        Kind::Objects(fields) => prop_oneof![
            null,
            number,
            boolean,
            string,
            map,
            (vec(object(fields), 0..2), wrong_object(fields)).prop_map(|(mut items, bad)| {
                items.push(bad);
                Value::from(items)
            }),
        ]
        .boxed(),
    }
}

/// An object of `fields` with exactly one field wrong (possibly deep inside).
fn wrong_object(fields: &'static [Field]) -> BoxedStrategy<Value> {
    (object(fields), 0..fields.len())
        .prop_flat_map(move |(good, at)| {
            wrong(fields[at].kind).prop_map(move |bad| {
                let mut good = good.clone();
                good[fields[at].name] = bad;
                good
            })
        })
        .boxed()
}

fn decodes<T: DeserializeOwned>(value: &Value) -> bool {
    let bytes = serde_json::to_vec(value).expect("a value serialises");
    let from_slice = serde_json::from_slice::<T>(&bytes).is_ok();
    let from_value = serde_json::from_value::<T>(value.clone()).is_ok();
    assert_eq!(
        from_slice, from_value,
        "bytes and value disagree on {value}"
    );
    from_slice
}

/// Any JSON, with keys drawn from the answers' field names so that fields get hit.
fn any_json() -> impl Strategy<Value = Value> {
    const NAMES: &[&str] = &[
        "RequestId",
        "PageNumber",
        "TotalCount",
        "CustomImages",
        "Tags",
        "Key",
        "UserId",
        "ImageShareUsers",
        "TagResources",
        "TagResource",
        "Code",
        "Message",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|x| json!(x)),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::from),
            btree_map(
                prop_oneof![select(NAMES).prop_map(str::to_string), text()],
                inner,
                0..6
            )
            .prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic_the_client(body in vec(any::<u8>(), 0..512)) {
        fuzzing::client_response(&body);
    }

    #[test]
    fn arbitrary_json_never_panics_the_client(value in any_json()) {
        let _ = decodes::<ListCustomImagesResponse>(&value);
        let _ = decodes::<ListCustomImageShareAccountsResponse>(&value);
        let _ = decodes::<ListTagResourcesResponse>(&value);
        let _ = decodes::<CreateCustomImageResponse>(&value);
        let _ = decodes::<Acknowledged>(&value);
        fuzzing::client_response(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn well_typed_answers_decode(
        images in object(LIST_IMAGES),
        shares in object(LIST_SHARES),
        tags in object(LIST_TAGS),
        create in object(CREATE),
        ack in object(ACK),
    ) {
        prop_assert!(decodes::<ListCustomImagesResponse>(&images), "{}", images);
        prop_assert!(decodes::<ListCustomImageShareAccountsResponse>(&shares), "{}", shares);
        prop_assert!(decodes::<ListTagResourcesResponse>(&tags), "{}", tags);
        prop_assert!(decodes::<CreateCustomImageResponse>(&create), "{}", create);
        prop_assert!(decodes::<Acknowledged>(&ack), "{}", ack);
    }

    #[test]
    fn wrongly_typed_answers_are_errors(
        images in wrong_object(LIST_IMAGES),
        shares in wrong_object(LIST_SHARES),
        tags in wrong_object(LIST_TAGS),
        create in wrong_object(CREATE),
        ack in wrong_object(ACK),
    ) {
        prop_assert!(!decodes::<ListCustomImagesResponse>(&images), "{}", images);
        prop_assert!(!decodes::<ListCustomImageShareAccountsResponse>(&shares), "{}", shares);
        prop_assert!(!decodes::<ListTagResourcesResponse>(&tags), "{}", tags);
        prop_assert!(!decodes::<CreateCustomImageResponse>(&create), "{}", create);
        prop_assert!(!decodes::<Acknowledged>(&ack), "{}", ack);
        // The client turns them into a decode error (a server fault, retried), not a panic.
        let body = serde_json::to_vec(&images).unwrap();
        let error = read_answer::<<ListCustomImages as Operation>::Response>(
            ListCustomImages::ACTION, 200, None, &body,
        )
        .expect_err("wrong types");
        prop_assert!(matches!(error, SwasError::Decode { .. }), "{:?}", error);
        let body = serde_json::to_vec(&shares).unwrap();
        let error = read_answer::<<ListCustomImageShareAccounts as Operation>::Response>(
            ListCustomImageShareAccounts::ACTION, 200, None, &body,
        )
        .expect_err("wrong types");
        prop_assert!(matches!(error, SwasError::Decode { .. }), "{:?}", error);
    }

    #[test]
    fn decode_errors_quote_a_short_clean_excerpt(body in vec(any::<u8>(), 0..2048)) {
        let SwasError::Decode { excerpt, .. } = SwasError::decode("X", 502, &body) else {
            panic!("not a decode error");
        };
        prop_assert!(excerpt.chars().count() <= 256);
        prop_assert!(!excerpt.chars().any(char::is_control));
    }
}

// ---------------------------------------------------------------------------------------------
// The emulator's reading of requests

/// Raw bytes biased towards form encoding: pairs, escapes (good and broken), `+`, non-UTF-8.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..256),
        vec(
            prop_oneof![
                "[A-Za-z0-9.]{0,8}".prop_map(String::into_bytes),
                Just(b"=".to_vec()),
                Just(b"&".to_vec()),
                Just(b"+".to_vec()),
                "%[0-9A-Fa-fGz]{0,2}".prop_map(String::into_bytes),
                vec(128u8.., 1..3),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat()),
    ]
}

/// A parameter name the accessors look at, with every kind of index.
fn indexed_key() -> impl Strategy<Value = String> {
    let index = prop_oneof![
        "[0-9]{1,3}",
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("18446744073709551616".to_string()),
        Just("".to_string()),
        text(),
    ];
    let field = prop_oneof![Just("Key".to_string()), Just("Value".to_string()), text()];
    prop_oneof![
        (
            select(&["Tag", "Account", "ResourceId", "TagKey"][..]),
            index.clone()
        )
            .prop_map(|(n, i)| format!("{n}.{i}")),
        (index, field).prop_map(|(i, f)| format!("Tag.{i}.{f}")),
        select(
            &[
                "ImageIds",
                "ImageNames",
                "Share",
                "All",
                "PageNumber",
                "PageSize",
                "ClientToken",
                "RegionId",
                "NextToken",
                "ResourceType",
            ][..]
        )
        .prop_map(str::to_string),
        key(),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        select(
            &[
                "true",
                "FALSE",
                "1",
                "0",
                "[]",
                "[\"\"]",
                "[1]",
                "customimage",
                "18446744073709551615",
                "18446744073709551616",
            ][..]
        )
        .prop_map(str::to_string),
        vec(text(), 0..4).prop_map(|v| serde_json::to_string(&v).unwrap()),
    ]
}

/// A header the verifier reads, with plausible and implausible values.
fn header() -> impl Strategy<Value = (String, String)> {
    const NAMES: &[&str] = &[
        "authorization",
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
        "x-acs-security-token",
        "content-type",
    ];
    let values = prop_oneof![
        text(),
        Just("ACS3-HMAC-SHA256".to_string()),
        "ACS3-HMAC-SHA256( ?[A-Za-z]{0,14}(=[a-z;,-]{0,20})?,?){0,4}",
        Just("2024-01-02T03:04:05Z".to_string()),
        Just("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_string()),
    ];
    (
        prop_oneof![select(NAMES).prop_map(str::to_string), text()],
        values,
    )
}

/// V1 parameters with plausible and implausible values.
fn v1_param() -> impl Strategy<Value = (String, String)> {
    let values = prop_oneof![
        text(),
        Just("HMAC-SHA1".to_string()),
        Just("1.0".to_string()),
        Just(fuzzing::KEY_ID.to_string()),
        Just(fuzzing::STS_KEY_ID.to_string()),
        Just("2024-01-02T03:04:05Z".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
    ];
    (select(PROTOCOL_PARAMS).prop_map(str::to_string), values)
}

/// A script for the fuzz target `emulator_request`: signed and raw requests with arbitrary
/// parameters, and clock ticks.
fn script() -> impl Strategy<Value = Vec<u8>> {
    let mode = select(&["raw", "v1", "v3", "v1-sts", "v3-sts"][..]);
    const ACTIONS: &[&str] = &[
        "CreateCustomImage",
        "ListCustomImages",
        "DeleteCustomImages",
        "ModifyImageShareStatus",
        "AddCustomImageShareAccount",
        "ListCustomImageShareAccounts",
        "TagResources",
        "UntagResources",
        "ListTagResources",
        "ListImages",
        "Nope",
    ];
    let request = (
        mode,
        select(&["POST", "GET", "PUT"][..]),
        select(ACTIONS),
        vec((indexed_key(), value()), 0..6),
        prop_oneof![Just("/"), Just("/admin/state"), Just("/sts/"), Just("/x")],
    )
        .prop_map(|(mode, method, action, params, path)| {
            let query = SignableRequest {
                query: params,
                ..Default::default()
            }
            .query_string();
            format!(
                "{mode} {method} {path}?RegionId=cn-hangzhou&{query}\n\
                 x-acs-action: {action}\nx-acs-version: 2020-06-01\n\n"
            )
            .into_bytes()
        });
    let step = prop_oneof![
        4 => request,
        1 => (-5000i64..100_000).prop_map(|ms| format!("tick {ms}").into_bytes()),
        1 => vec(any::<u8>(), 0..64),
    ];
    vec(step, 1..6).prop_map(|steps| steps.join(&b"\n---\n"[..]))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decoding_any_bytes_does_not_panic(raw in form_bytes()) {
        let pairs = decode_pairs(&raw);
        let params = Received::from_pairs(&pairs);
        let _ = params.api_params();
        let _ = client_token(&params);
        let _ = params.tags("Tag", 20);
        let _ = params.list("Account", 10);
        let _ = params.json_array("ImageIds", 100);
    }

    #[test]
    fn parameter_accessors_never_panic(pairs in vec((indexed_key(), value()), 0..12)) {
        let params = Received::from_pairs(&pairs);
        let api = params.api_params();
        prop_assert!(api.keys().all(|k| !PROTOCOL_PARAMS.contains(&k.as_str())));
        let _ = client_token(&params);
        for name in ["Tag", "Account", "ResourceId", "TagKey"] {
            if let Ok(list) = params.list(name, 50) {
                prop_assert!(list.len() <= 50);
            }
        }
        if let Ok(tags) = params.tags("Tag", 20) {
            prop_assert!(tags.len() <= 20 && tags.iter().all(|t| !t.key.is_empty()));
        }
        if let Ok(ids) = params.json_array("ImageIds", 100) {
            prop_assert!(ids.len() <= 100 && ids.iter().all(|i| !i.is_empty()));
        }
        for name in ["Share", "All"] {
            let _ = params.boolean(name);
        }
        if let Ok(Some(n)) = params.int("PageSize", 1, 100) {
            prop_assert!((1..=100).contains(&n));
        }
        let _ = params.required("RegionId");
    }

    /// Verification of anything: never a panic, and never a success (no key signed it).
    #[test]
    fn verifying_anything_does_not_panic(
        method in text(),
        path in text(),
        query in vec(prop_oneof![v1_param(), (key(), text())], 0..10),
        form in pairs(),
        headers in vec(header(), 0..10),
        body in vec(any::<u8>(), 0..64),
    ) {
        let request = Incoming { method, path, query, form, headers, body };
        let keys = fuzzing::key_store(fuzzing::KEY_ID, fuzzing::SECRET);
        prop_assert!(keys.verify(&request, fuzzing::now()).is_err());
    }

    #[test]
    fn emulator_survives_scripts(script in script()) {
        let _ = fuzzing::emulator_request(&script);
    }

    #[test]
    fn emulator_survives_bytes(data in vec(any::<u8>(), 0..512)) {
        let _ = fuzzing::emulator_request(&data);
    }
}
