//! Tests of the credential sources and chain, with injected environment, files, clock and a
//! local HTTP server standing in for STS and the ECS metadata service.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret;
use wiremock::matchers::{body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::swas::sign::ManualClock;

const NOW: &str = "2026-01-01T00:00:00Z";

fn unreachable_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("http://127.0.0.1:{port}")
}

struct World {
    env: MapEnvironment,
    fs: MapFileSystem,
    clock: Arc<ManualClock>,
    sts: Option<String>,
    metadata: String,
}

impl World {
    fn new(env: &[(&str, &str)]) -> Self {
        Self {
            env: MapEnvironment::from_pairs(env),
            fs: MapFileSystem::default(),
            clock: Arc::new(ManualClock::new(NOW.parse().unwrap())),
            sts: None,
            metadata: unreachable_endpoint(),
        }
    }

    fn ctx(&self) -> SourceContext {
        let mut ctx = SourceContext::new(Arc::new(self.env.clone()), Arc::new(self.fs.clone()));
        ctx.clock = self.clock.clone();
        ctx.sts_endpoint = self.sts.clone();
        ctx.metadata_endpoint = self.metadata.clone();
        ctx
    }

    async fn chain(&self) -> Result<Option<Credential>, CredentialError> {
        DefaultChain::new(self.ctx()).provide().await
    }
}

fn sts_answer(id: &str, expiration: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "RequestId": "r",
        "Credentials": {
            "AccessKeyId": id,
            "AccessKeySecret": "sts-secret",
            "SecurityToken": "sts-token",
            "Expiration": expiration,
        }
    }))
}

const RRSA: &[(&str, &str)] = &[
    ("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::123:role/operator"),
    (
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
        "acs:ram::123:oidc-provider/ack",
    ),
    ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", "/var/run/token"),
];

const FILE: &str = "[default]\ntype = access_key\naccess_key_id = file-id\n\
                    access_key_secret = file-secret\n";

#[tokio::test]
async fn environment_comes_first() {
    let world = World::new(&[
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"),
        ("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token"),
        ("HOME", "/home/op"),
    ]);
    world.fs.write("/home/op/.alibabacloud/credentials", FILE);
    let credential = world.chain().await.unwrap().unwrap();
    assert_eq!(credential.access_key_id(), "env-id");
    assert_eq!(
        credential.security_token().unwrap().expose_secret(),
        "env-token"
    );
}

#[tokio::test]
async fn oidc_comes_before_the_file() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(query_param("Action", "AssumeRoleWithOIDC"))
        .respond_with(sts_answer("STS.oidc", "2026-01-01T01:00:00Z"))
        .mount(&server)
        .await;
    let mut env = RRSA.to_vec();
    env.push(("HOME", "/home/op"));
    let mut world = World::new(&env);
    world.sts = Some(server.uri());
    world.fs.write("/var/run/token", "jwt-1");
    world.fs.write("/home/op/.alibabacloud/credentials", FILE);
    let credential = world.chain().await.unwrap().unwrap();
    assert_eq!(credential.access_key_id(), "STS.oidc");
}

#[tokio::test]
async fn the_file_is_used_when_nothing_comes_before_it() {
    let world = World::new(&[("HOME", "/home/op")]);
    world.fs.write("/home/op/.alibabacloud/credentials", FILE);
    let credential = world.chain().await.unwrap().unwrap();
    assert_eq!(credential.access_key_id(), "file-id");
    assert_eq!(
        credential.access_key_secret().expose_secret(),
        "file-secret"
    );
}

#[tokio::test]
async fn a_named_profile_in_a_named_file() {
    let world = World::new(&[
        ("ALIBABA_CLOUD_CREDENTIALS_FILE", "/etc/creds"),
        ("ALIBABA_CLOUD_PROFILE", "ci"),
    ]);
    world.fs.write(
        "/etc/creds",
        format!("{FILE}[ci]\naccess_key_id = ci-id\naccess_key_secret = s\n"),
    );
    assert_eq!(
        world.chain().await.unwrap().unwrap().access_key_id(),
        "ci-id"
    );
}

#[tokio::test]
async fn unsupported_profile_types_and_missing_named_files_are_errors() {
    let world = World::new(&[("ALIBABA_CLOUD_CREDENTIALS_FILE", "/etc/creds")]);
    let error = world.chain().await.unwrap_err();
    assert!(matches!(error, CredentialError::File { .. }), "{error}");

    world
        .fs
        .write("/etc/creds", "[default]\ntype = rsa_key_pair\n");
    let error = world.chain().await.unwrap_err();
    assert!(
        error.to_string().contains("only access_key is supported"),
        "{error}"
    );
}

#[tokio::test]
async fn the_ecs_role_is_last() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/latest/api/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("imds-token"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/ram/security-credentials/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("OperatorRole"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/latest/meta-data/ram/security-credentials/OperatorRole",
        ))
        .and(wiremock::matchers::header(
            "X-aliyun-ecs-metadata-token",
            "imds-token",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "Code": "Success",
            "AccessKeyId": "STS.ecs",
            "AccessKeySecret": "ecs-secret",
            "SecurityToken": "ecs-token",
            "Expiration": "2026-01-01T06:00:00Z",
            "LastUpdated": "2026-01-01T00:00:00Z",
        })))
        .mount(&server)
        .await;
    let mut world = World::new(&[]);
    world.metadata = server.uri();
    let credential = world.chain().await.unwrap().unwrap();
    assert_eq!(credential.access_key_id(), "STS.ecs");
    assert_eq!(
        credential.expiration(),
        Some("2026-01-01T06:00:00Z".parse().unwrap())
    );
}

#[tokio::test]
async fn nothing_configured_names_every_source_tried() {
    let world = World::new(&[]);
    let error = world.chain().await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, CredentialError::NotFound(_)));
    for source in ["environment", "oidc", "credentials file", "ecs ram role"] {
        assert!(text.contains(source), "{text}");
    }
}

#[tokio::test]
async fn half_configured_sources_are_errors_not_skipped() {
    let world = World::new(&[("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")]);
    let error = world.chain().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
        "{error}"
    );

    let world = World::new(&RRSA[..2]);
    let error = world.chain().await.unwrap_err();
    assert!(
        error.to_string().contains("ALIBABA_CLOUD_OIDC_TOKEN_FILE"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_token_file_is_a_clear_error() {
    let world = World::new(RRSA);
    let error = world.chain().await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("/var/run/token"), "{text}");
    assert!(text.contains("ALIBABA_CLOUD_OIDC_TOKEN_FILE"), "{text}");
}

#[tokio::test]
async fn the_chain_sticks_with_the_source_it_chose() {
    let env = MapEnvironment::from_pairs(&[
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", "env-id"),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret"),
    ]);
    let ctx = SourceContext::new(Arc::new(env), Arc::new(MapFileSystem::default()));
    let second = StaticProvider::new(Credential::new("static-id", "s"));
    let chain = DefaultChain::from_sources(vec![
        Arc::new(EnvironmentProvider::new(ctx)),
        Arc::new(second),
    ]);
    assert_eq!(
        chain.provide().await.unwrap().unwrap().access_key_id(),
        "env-id"
    );
    assert_eq!(
        chain.provide().await.unwrap().unwrap().access_key_id(),
        "env-id"
    );
}

#[tokio::test]
async fn expiring_sts_credentials_are_refreshed_with_a_rotated_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("OIDCToken=jwt-1"))
        .respond_with(sts_answer("STS.first", "2026-01-01T01:00:00Z"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("OIDCToken=jwt-2"))
        .respond_with(sts_answer("STS.second", "2026-01-01T02:00:00Z"))
        .expect(1)
        .mount(&server)
        .await;
    let mut world = World::new(RRSA);
    world.sts = Some(server.uri());
    world.fs.write("/var/run/token", "jwt-1\n");
    let cached = CachedProvider::new(
        Arc::new(OidcProvider::new(world.ctx())),
        world.clock.clone(),
    );

    assert_eq!(
        cached.provide().await.unwrap().unwrap().access_key_id(),
        "STS.first"
    );
    world.clock.advance(SignedDuration::from_mins(30));
    assert_eq!(
        cached.provide().await.unwrap().unwrap().access_key_id(),
        "STS.first"
    );

    world.fs.write("/var/run/token", "jwt-2\n");
    world.clock.advance(SignedDuration::from_mins(26));
    assert_eq!(
        cached.provide().await.unwrap().unwrap().access_key_id(),
        "STS.second"
    );
}

#[tokio::test]
async fn sts_errors_are_reported_without_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "RequestId": "r", "Code": "AuthenticationFail.OIDCToken.Expired",
            "Message": "The OIDC token has expired.",
        })))
        .mount(&server)
        .await;
    let mut world = World::new(RRSA);
    world.sts = Some(server.uri());
    world.fs.write("/var/run/token", "jwt-secret-value");
    let error = world.chain().await.unwrap_err().to_string();
    assert!(
        error.contains("AuthenticationFail.OIDCToken.Expired"),
        "{error}"
    );
    assert!(!error.contains("jwt-secret-value"), "{error}");
}

#[test]
fn debug_never_prints_secrets() {
    let credential = Credential::new("id", "top-secret")
        .with_security_token("token-secret")
        .with_expiration(Timestamp::UNIX_EPOCH);
    let text = format!(
        "{credential:?} {:?}",
        StaticProvider::new(credential.clone())
    );
    assert!(
        !text.contains("top-secret") && !text.contains("token-secret"),
        "{text}"
    );
    assert!(text.contains("id"));
}

#[test]
fn kubernetes_secret_data() {
    let mut data = BTreeMap::new();
    data.insert("accessKeyId".to_string(), b"AKID".to_vec());
    data.insert("accessKeySecret".to_string(), b"secret\n".to_vec());
    let credential = Credential::from_secret_data(&data).unwrap();
    assert_eq!(credential.access_key_secret().expose_secret(), "secret");
    assert!(credential.security_token().is_none());

    data.remove("accessKeySecret");
    let error = Credential::from_secret_data(&data).unwrap_err();
    assert!(
        error.to_string().contains("accessKeySecret is missing"),
        "{error}"
    );
}
