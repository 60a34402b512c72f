//! Secrets Manager: the JWT secret and the events API key are read once per
//! cold start from secrets the template creates, so their values never sit
//! in a function's environment (which `lambda:GetFunctionConfiguration`
//! shows to anyone allowed to call it).

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::config::{Config, ConfigError};

/// Fills `jwt_secret` from `JWT_SECRET_ARN` and `events_api_key` from
/// `EVENTS_API_KEY_ARN` where the value itself is not set. Fails (so the
/// function refuses to start, with the reason) when a named secret cannot
/// be read.
pub async fn resolve(mut config: Config, sdk: &SdkConfig) -> Result<Config, ConfigError> {
    let wanted = [
        config.jwt_secret.is_none() && config.jwt_secret_arn.is_some(),
        config.events_api_key.is_none() && config.events_api_key_arn.is_some(),
    ];
    if !wanted.contains(&true) {
        return Ok(config);
    }
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let read = |arn: String, name: &'static str| {
        let client = client.clone();
        async move {
            let out = client
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| {
                    ConfigError(format!(
                        "{name}: cannot read {arn}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            out.secret_string()
                .filter(|s| !s.trim().is_empty())
                .map(str::to_owned)
                .ok_or_else(|| ConfigError(format!("{name}: secret {arn} has no string value")))
        }
    };
    // Both at once: cold start waits for one round trip, not two.
    let (jwt, key) = futures::future::join(
        async {
            match (wanted[0], config.jwt_secret_arn.clone()) {
                (true, Some(arn)) => read(arn, "JWT_SECRET_ARN").await.map(Some),
                _ => Ok(None),
            }
        },
        async {
            match (wanted[1], config.events_api_key_arn.clone()) {
                (true, Some(arn)) => read(arn, "EVENTS_API_KEY_ARN").await.map(Some),
                _ => Ok(None),
            }
        },
    )
    .await;
    if let Some(v) = jwt? {
        config.jwt_secret = Some(v);
    }
    if let Some(v) = key? {
        config.events_api_key = Some(v);
    }
    Ok(config)
}
