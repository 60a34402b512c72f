//! JWT verification: one implementation for WebSocket connects and the REST API.

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::ids::UserId;

/// Who a valid token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: UserId,
    pub is_admin: bool,
}

impl Identity {
    /// The caller of a public route: nobody in particular.
    pub fn anonymous() -> Self {
        Self {
            user_id: "anonymous".to_owned().try_into().expect("a valid user id"),
            is_admin: false,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
}

/// `aud` is one string or an array of them (RFC 7519 4.1.3); Auth0, Cognito,
/// Okta and Entra issue arrays. jsonwebtoken checks it against
/// `JWT_AUDIENCE`; here it only has to parse.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Verifies HS256 tokens (shared secret) and/or RS256 tokens (PEM public key).
/// The algorithm is chosen by which key is configured, never by the token:
/// `alg: none` and a token whose alg does not match a configured key are refused.
pub struct JwtVerifier {
    hs256: Option<DecodingKey>,
    rs256: Option<DecodingKey>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtVerifier {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let hs256 = config
            .jwt_secret
            .as_deref()
            .map(|s| DecodingKey::from_secret(s.as_bytes()));
        let rs256 = config
            .jwt_public_key
            .as_deref()
            .map(|pem| {
                DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                    ConfigError(format!(
                        "JWT_PUBLIC_KEY is not an RSA public key in PEM: {e}"
                    ))
                })
            })
            .transpose()?;
        if hs256.is_none() && rs256.is_none() {
            return Err(ConfigError(
                "set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256) to verify tokens".into(),
            ));
        }
        Ok(Self {
            hs256,
            rs256,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        })
    }

    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        let header =
            decode_header(token).map_err(|e| AuthError::Invalid(format!("malformed: {e}")))?;
        let key = match header.alg {
            Algorithm::HS256 => self.hs256.as_ref(),
            Algorithm::RS256 => self.rs256.as_ref(),
            _ => None,
        }
        .ok_or_else(|| AuthError::Invalid(format!("algorithm {:?} is not accepted", header.alg)))?;
        let mut v = Validation::new(header.alg);
        let mut required = vec!["exp", "sub"];
        required.extend(self.issuer.as_ref().map(|_| "iss"));
        required.extend(self.audience.as_ref().map(|_| "aud"));
        v.set_required_spec_claims(&required);
        v.validate_nbf = true;
        v.leeway = 30;
        match &self.issuer {
            Some(iss) => v.set_issuer(&[iss]),
            None => v.iss = None,
        }
        match &self.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        let data =
            decode::<Claims>(token, key, &v).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let user_id =
            UserId::parse("sub", data.claims.sub).map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok(Identity {
            user_id,
            is_admin: data.claims.role.as_deref() == Some("admin"),
        })
    }
}

/// Signs HS256 tokens: the local stack's dev token endpoint and the tests.
pub fn sign_hs256(secret: &str, claims: &Claims) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}

/// Claims for `user` valid for `ttl_secs` from now.
pub fn claims_for(user: &str, admin: bool, ttl_secs: i64, config: &Config) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: user.to_owned(),
        role: admin.then(|| "admin".to_owned()),
        exp: now + ttl_secs,
        nbf: None,
        iat: Some(now),
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone().map(Audience::One),
    }
}

/// Whether the client offered the `notify` subprotocol: then the handshake
/// must answer `Sec-WebSocket-Protocol: notify`, or browsers abort it.
pub fn offers_notify(header: &str) -> bool {
    header.split(',').any(|p| p.trim() == SUBPROTOCOL)
}

/// Splits `Sec-WebSocket-Protocol: notify, <JWT>` (browsers cannot set other
/// headers on a WebSocket). Returns the token when the `notify` protocol is offered.
pub fn token_from_subprotocols(header: &str) -> Option<&str> {
    let mut parts = header.split(',').map(str::trim);
    let mut offered_notify = false;
    let mut token = None;
    for p in parts.by_ref() {
        if p == SUBPROTOCOL {
            offered_notify = true;
        } else if p.contains('.') {
            token = Some(p);
        }
    }
    if offered_notify { token } else { None }
}

/// The subprotocol a browser offers next to its token; echoed back on connect.
pub const SUBPROTOCOL: &str = "notify";

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config {
            jwt_secret: Some("s3cret".into()),
            jwt_issuer: Some("shop".into()),
            jwt_audience: Some("notify".into()),
            ..Config::default()
        }
    }

    #[test]
    fn accepts_a_valid_token_and_reads_the_role() {
        let c = config();
        let v = JwtVerifier::from_config(&c).unwrap();
        let id = v
            .verify(&sign_hs256("s3cret", &claims_for("u_1", true, 60, &c)))
            .unwrap();
        assert_eq!(
            id,
            Identity {
                user_id: UserId::parse("sub", "u_1").unwrap(),
                is_admin: true
            }
        );
        let id = v
            .verify(&sign_hs256("s3cret", &claims_for("u_2", false, 60, &c)))
            .unwrap();
        assert!(!id.is_admin);
    }

    #[test]
    fn refuses_bad_tokens() {
        let c = config();
        let v = JwtVerifier::from_config(&c).unwrap();
        assert_eq!(v.verify(""), Err(AuthError::Missing));
        assert!(v.verify("not.a.jwt").is_err());
        assert!(
            v.verify(&sign_hs256("other", &claims_for("u_1", false, 60, &c)))
                .is_err()
        );
        assert!(
            v.verify(&sign_hs256("s3cret", &claims_for("u_1", false, -120, &c)))
                .is_err()
        );
        let mut nbf = claims_for("u_1", false, 600, &c);
        nbf.nbf = Some(chrono::Utc::now().timestamp() + 300);
        assert!(v.verify(&sign_hs256("s3cret", &nbf)).is_err());
        let mut iss = claims_for("u_1", false, 60, &c);
        iss.iss = Some("evil".into());
        assert!(v.verify(&sign_hs256("s3cret", &iss)).is_err());
        let mut aud = claims_for("u_1", false, 60, &c);
        aud.aud = None;
        assert!(v.verify(&sign_hs256("s3cret", &aud)).is_err());
        for bad_sub in ["", "a\u{0}b", &"x".repeat(257)] {
            let sub = claims_for(bad_sub, false, 60, &c);
            assert!(
                v.verify(&sign_hs256("s3cret", &sub)).is_err(),
                "{bad_sub:?}"
            );
        }
        let mut other_aud = claims_for("u_1", false, 60, &c);
        other_aud.aud = Some(Audience::Many(vec!["api".into(), "billing".into()]));
        assert!(v.verify(&sign_hs256("s3cret", &other_aud)).is_err());
    }

    #[test]
    fn accepts_identity_provider_subjects_and_audience_arrays() {
        let c = config();
        let v = JwtVerifier::from_config(&c).unwrap();
        for sub in [
            "auth0|64f1c2",
            "google-oauth2|1234",
            "alice@example.com",
            "a#b",
            "ü",
        ] {
            let mut claims = claims_for(sub, false, 60, &c);
            claims.aud = Some(Audience::Many(vec![
                "https://api.shop".into(),
                "notify".into(),
            ]));
            assert_eq!(
                v.verify(&sign_hs256("s3cret", &claims)).unwrap().user_id,
                sub
            );
        }
        // Without JWT_AUDIENCE, `aud` (string or array) is not checked.
        let open = Config {
            jwt_audience: None,
            ..config()
        };
        let v = JwtVerifier::from_config(&open).unwrap();
        let mut claims = claims_for("u_1", false, 60, &open);
        claims.aud = Some(Audience::Many(vec!["anything".into()]));
        assert!(v.verify(&sign_hs256("s3cret", &claims)).is_ok());
        claims.aud = Some(Audience::One("else".into()));
        assert!(v.verify(&sign_hs256("s3cret", &claims)).is_ok());
    }

    #[test]
    fn refuses_alg_none() {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let c = config();
        let claims = serde_json::to_vec(&claims_for("u_1", true, 60, &c)).unwrap();
        let token = format!(
            "{}.{}.",
            b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(claims)
        );
        assert!(
            JwtVerifier::from_config(&c)
                .unwrap()
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn needs_a_key() {
        assert!(JwtVerifier::from_config(&Config::default()).is_err());
    }

    #[test]
    fn finds_the_token_among_subprotocols() {
        assert_eq!(token_from_subprotocols("notify, a.b.c"), Some("a.b.c"));
        assert_eq!(token_from_subprotocols("a.b.c, notify"), Some("a.b.c"));
        assert_eq!(token_from_subprotocols("chat, a.b.c"), None);
        assert_eq!(token_from_subprotocols("notify"), None);
        assert!(offers_notify("notify, a.b.c"));
        assert!(offers_notify("a.b.c,notify"));
        assert!(!offers_notify("chat, a.b.c"));
    }
}
