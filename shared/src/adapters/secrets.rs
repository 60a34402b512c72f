//! Secrets Manager: the JWT secret and the events API key are read once per
//! cold start from secrets the template creates, so their values never sit
//! in a function's environment (which `lambda:GetFunctionConfiguration`
//! shows to anyone allowed to call it).

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::config::{Config, ConfigError};

/// Fills `jwt_secret` from `JWT_SECRET_ARN`, `events_api_key` from
/// `EVENTS_API_KEY_ARN` and `webhook_secret` from `WEBHOOK_SECRET_ARN` where
/// the value itself is not set. Fails (so the function refuses to start,
/// with the reason) when a named secret cannot be read.
pub async fn resolve(mut config: Config, sdk: &SdkConfig) -> Result<Config, ConfigError> {
    let wanted = config.secrets_wanted();
    if wanted.is_empty() {
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
    // All at once: cold start waits for one round trip, not one per secret.
    let values =
        futures::future::join_all(wanted.iter().map(|(_, arn, name)| read(arn.clone(), name)))
            .await;
    for ((i, _, _), value) in wanted.into_iter().zip(values) {
        config.set_secret(i, value?);
    }
    Ok(config)
}
