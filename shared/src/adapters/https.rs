//! Outbound HTTPS: the shop's webhook endpoint and browsers' push services.
//! hyper with rustls (ring) and the system's roots, the stack the AWS
//! SDK's client uses too.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::ports::{PushAnswer, PushService, WebhookEndpoint};
use crate::push::PushRequest;

/// An attempt that takes longer counts as failed and is retried later.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

type HyperClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One connection pool for every outbound POST.
#[derive(Clone)]
pub struct HttpsClient {
    client: HyperClient,
    timeout: Duration,
}

impl HttpsClient {
    pub fn new() -> Result<Self, String> {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("no TLS roots: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout: ATTEMPT_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// POSTs `body`; the status and the `Retry-After` seconds, or why there
    /// was no answer (timeout, connection refused, TLS). The body of the
    /// answer is not read: a slow one must not hold the attempt.
    async fn post(
        &self,
        url: &url::Url,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, Option<u64>), String> {
        let mut req = hyper::Request::post(url.as_str());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
            Ok(Err(e)) => Err(format!("{e:?}")),
            Ok(Ok(resp)) => {
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                Ok((resp.status().as_u16(), retry_after))
            }
        }
    }
}

/// The shop's endpoint: [`HttpsClient`] and the checked `WEBHOOK_URL`.
pub struct HttpWebhookEndpoint {
    url: url::Url,
    client: HttpsClient,
}

impl HttpWebhookEndpoint {
    /// `url` as [`crate::webhook::check_url`] accepted it.
    pub fn new(url: url::Url) -> Result<Self, String> {
        Ok(Self {
            url,
            client: HttpsClient::new()?,
        })
    }
}

#[async_trait]
impl WebhookEndpoint for HttpWebhookEndpoint {
    async fn post(&self, headers: &[(&'static str, String)], body: &str) -> Result<u16, String> {
        self.client
            .post(&self.url, headers, body.as_bytes().to_vec())
            .await
            .map(|(status, _)| status)
    }
}

#[async_trait]
impl PushService for HttpsClient {
    async fn push(&self, req: &PushRequest) -> Result<PushAnswer, String> {
        self.client_post(req).await
    }
}

impl HttpsClient {
    async fn client_post(&self, req: &PushRequest) -> Result<PushAnswer, String> {
        let (status, retry_after) = self
            .post(&req.endpoint, &req.headers, req.body.clone())
            .await?;
        Ok(PushAnswer {
            status,
            retry_after,
        })
    }
}
