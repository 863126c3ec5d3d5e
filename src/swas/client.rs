//! The SWAS HTTP client: builds, signs and sends one typed operation and reads its answer.
//!
//! Requests go out the way the official SDK sends them: `POST /` with every parameter in the
//! query string and an empty body. V3 requests carry `x-acs-action` / `x-acs-version` and are
//! signed in the `Authorization` header; V1 requests carry `Action`, `Version` and
//! `Format=json` as parameters and the signature as a parameter (the `x-acs-*` headers go along
//! unsigned, as the SDK sends them). The client makes one attempt
//! per call; retrying is the caller's decision, driven by [`SwasError::class`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use serde::de::DeserializeOwned;

use super::credentials::{CredentialError, ProvideCredential};
use super::error::SwasError;
use super::ops::{API_VERSION, Operation};
use super::sign::{SignableRequest, SignatureVersion, Signer};

/// Where requests for a region are sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// `https://swas.<region>.aliyuncs.com`.
    #[default]
    Public,
    /// `https://swas-vpc.<region>.aliyuncs.com`, reachable from inside a VPC.
    Vpc,
    /// A URL of your own, for an emulator or a proxy; `{region}` in it is replaced by the
    /// region, so `http://127.0.0.1:9100` and `https://swas.{region}.example` both work.
    Custom(String),
}

impl Endpoint {
    /// The base URL for a region.
    pub fn url(&self, region: &str) -> Result<Url, String> {
        let text = match self {
            Self::Public => format!("https://swas.{region}.aliyuncs.com/"),
            Self::Vpc => format!("https://swas-vpc.{region}.aliyuncs.com/"),
            Self::Custom(template) => template.replace("{region}", region),
        };
        let url = Url::parse(&text).map_err(|e| format!("endpoint {text:?} is not a URL: {e}"))?;
        match url.host_str() {
            Some(_) => Ok(url),
            None => Err(format!("endpoint {text:?} has no host")),
        }
    }
}

/// How a client connects and signs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where requests go.
    pub endpoint: Endpoint,
    /// The signature scheme (V3 unless asked otherwise).
    pub signature_version: SignatureVersion,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed between bytes of the answer.
    pub read_timeout: Duration,
    /// The `user-agent` header.
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            endpoint: Endpoint::Public,
            signature_version: SignatureVersion::V3,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            user_agent: concat!("swas-image-operator/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Sends typed SWAS operations.
#[derive(Clone, Debug)]
pub struct SwasClient {
    http: reqwest::Client,
    config: ClientConfig,
    signer: Signer,
    credentials: Arc<dyn ProvideCredential>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorBody {
    request_id: String,
    code: String,
    message: String,
}

impl SwasClient {
    /// A client with the system clock and random nonces.
    pub fn new(
        config: ClientConfig,
        credentials: Arc<dyn ProvideCredential>,
    ) -> Result<Self, reqwest::Error> {
        let signer = Signer::new(config.signature_version);
        Self::with_signer(config, credentials, signer)
    }

    /// A client with a signer of your own (fixed clock and nonce in tests).
    pub fn with_signer(
        config: ClientConfig,
        credentials: Arc<dyn ProvideCredential>,
        signer: Signer,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.read_timeout)
            .build()?;
        Ok(Self {
            http,
            config,
            signer,
            credentials,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The unsigned request for an operation, and the URL it goes to.
    pub fn build_request<O: Operation>(&self, op: &O) -> Result<(Url, SignableRequest), SwasError> {
        let invalid = |reason: String| SwasError::Invalid {
            action: O::ACTION,
            reason,
        };
        op.validate().map_err(invalid)?;
        let url = self.config.endpoint.url(op.region_id()).map_err(invalid)?;
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };

        let mut request = SignableRequest {
            method: "POST".into(),
            host: host.clone(),
            path: "/".into(),
            ..Default::default()
        };
        let params = op.params().into_sorted();
        match self.signer.version() {
            SignatureVersion::V3 => {
                request.query = params;
                request.headers = vec![
                    ("host".into(), host),
                    ("x-acs-action".into(), O::ACTION.into()),
                    ("x-acs-version".into(), API_VERSION.into()),
                    ("accept".into(), "application/json".into()),
                    ("user-agent".into(), self.config.user_agent.clone()),
                ];
            }
            SignatureVersion::V1 => {
                request.query = vec![
                    ("Action".into(), O::ACTION.into()),
                    ("Format".into(), "json".into()),
                    ("Version".into(), API_VERSION.into()),
                ];
                request.query.extend(params);
                request.headers = vec![
                    ("x-acs-action".into(), O::ACTION.into()),
                    ("x-acs-version".into(), API_VERSION.into()),
                    ("accept".into(), "application/json".into()),
                    ("user-agent".into(), self.config.user_agent.clone()),
                ];
            }
        }
        Ok((url, request))
    }

    /// Signs `request` with the client's credentials.
    pub async fn sign(
        &self,
        action: &'static str,
        request: &mut SignableRequest,
    ) -> Result<(), SwasError> {
        let credential = self
            .credentials
            .provide()
            .await
            .and_then(|c| c.ok_or_else(|| CredentialError::NotFound("no source configured".into())))
            .map_err(|source| SwasError::Credentials { action, source })?;
        self.signer.sign(request, &credential);
        Ok(())
    }

    /// Calls one operation.
    pub async fn call<O: Operation>(&self, op: &O) -> Result<O::Response, SwasError> {
        let (mut url, mut request) = self.build_request(op)?;
        self.sign(O::ACTION, &mut request).await?;
        tracing::debug!(action = O::ACTION, region = op.region_id(), "calling SWAS");

        url.set_query(Some(&request.query_string()));
        let mut builder = self.http.post(url).body(request.body());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }

        let transport = |e: reqwest::Error| SwasError::Transport {
            action: O::ACTION,
            source: e.without_url(),
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("x-acs-retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        let body = response.bytes().await.map_err(transport)?;
        read_answer(O::ACTION, status, retry_after, &body)
    }
}

/// Turns an answer into the call's result: a 2xx body decodes as `T`, any other answer as
/// the service's error (or, when it is not one, a decode error quoting the body).
///
/// Split out of [`SwasClient::call`] so the fuzz targets feed it bodies no service sends.
pub fn read_answer<T: DeserializeOwned>(
    action: &'static str,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> Result<T, SwasError> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(body).map_err(|_| SwasError::decode(action, status, body));
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) if !error.code.is_empty() => Err(SwasError::Api {
            action,
            status,
            code: error.code,
            message: error.message,
            request_id: error.request_id,
            retry_after,
        }),
        _ => Err(SwasError::decode(action, status, body)),
    }
}
