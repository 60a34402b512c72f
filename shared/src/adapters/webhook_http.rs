//! The webhook endpoint over HTTPS: hyper with rustls (aws-lc) and the
//! system's roots, the stack the AWS SDK's client uses too.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::ports::WebhookEndpoint;

/// An attempt that takes longer counts as failed and is retried later.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct HttpWebhookEndpoint {
    url: url::Url,
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl HttpWebhookEndpoint {
    /// `url` as [`crate::webhook::check_url`] accepted it.
    pub fn new(url: url::Url) -> Result<Self, String> {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("no TLS roots for webhooks: {e}"))?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            url,
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout: ATTEMPT_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

#[async_trait]
impl WebhookEndpoint for HttpWebhookEndpoint {
    async fn post(&self, headers: &[(&'static str, String)], body: &str) -> Result<u16, String> {
        let mut req = hyper::Request::post(self.url.as_str());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(self.timeout, self.client.request(req)).await {
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
            Ok(Err(e)) => Err(format!("{e:?}")),
            // The body is not read: only the status counts, and a slow body
            // must not hold the attempt.
            Ok(Ok(resp)) => Ok(resp.status().as_u16()),
        }
    }
}
