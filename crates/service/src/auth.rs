//! Identity: verifying `Authorization: Bearer <JWT>` (HS256 with a shared
//! secret; RS256/ES256 with public keys from PEM files or a JWKS file) into
//! a [`Caller`]. `exp`, `nbf`, `iss` and `aud` are checked; `alg: none` and
//! algorithm confusion (an HMAC token against an RSA key) are refused
//! because each key only ever verifies its own algorithm family.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use serde::Deserialize;
use thiserror::Error;

use crate::access::Caller;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Shared secret for HS256 tokens.
    pub hs256_secret: Option<String>,
    /// PEM public keys.
    pub rs256_public_key: Option<PathBuf>,
    pub es256_public_key: Option<PathBuf>,
    /// A JWKS file (RS256/ES256 keys selected by `kid`).
    pub jwks_file: Option<PathBuf>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Claim holding the caller's roles (a list, or a space-separated string).
    pub roles_claim: Option<String>,
    /// Roles given to requests without a token; anonymous access is off
    /// when absent.
    pub anonymous_roles: Option<Vec<String>>,
    /// Clock skew tolerated for exp/nbf, seconds.
    pub leeway_seconds: Option<u64>,
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum AuthError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Config(String),
}

enum Family {
    Hmac,
    Rsa,
    Ec,
}

struct Key {
    family: Family,
    kid: Option<String>,
    key: DecodingKey,
}

pub struct Verifier {
    keys: Vec<Key>,
    config: AuthConfig,
    configured: bool,
}

fn read(path: &PathBuf) -> Result<Vec<u8>, AuthError> {
    std::fs::read(path)
        .map_err(|e| AuthError::Config(format!("cannot read {}: {e}", path.display())))
}

impl Verifier {
    pub fn new(config: Option<&AuthConfig>) -> Result<Verifier, AuthError> {
        let Some(config) = config else {
            return Ok(Verifier {
                keys: Vec::new(),
                config: AuthConfig::default(),
                configured: false,
            });
        };
        let mut keys = Vec::new();
        if let Some(secret) = &config.hs256_secret {
            if secret.len() < 32 {
                return Err(AuthError::Config(
                    "auth.hs256_secret must be at least 32 bytes".into(),
                ));
            }
            keys.push(Key {
                family: Family::Hmac,
                kid: None,
                key: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        if let Some(p) = &config.rs256_public_key {
            let key = DecodingKey::from_rsa_pem(&read(p)?)
                .map_err(|e| AuthError::Config(format!("{}: {e}", p.display())))?;
            keys.push(Key {
                family: Family::Rsa,
                kid: None,
                key,
            });
        }
        if let Some(p) = &config.es256_public_key {
            let key = DecodingKey::from_ec_pem(&read(p)?)
                .map_err(|e| AuthError::Config(format!("{}: {e}", p.display())))?;
            keys.push(Key {
                family: Family::Ec,
                kid: None,
                key,
            });
        }
        if let Some(p) = &config.jwks_file {
            let set: jsonwebtoken::jwk::JwkSet =
                serde_json::from_slice(&read(p)?).map_err(|e| {
                    AuthError::Config(format!("{}: not a JWKS document: {e}", p.display()))
                })?;
            for jwk in &set.keys {
                let family = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Family::Rsa,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Family::Ec,
                    _ => continue,
                };
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|e| AuthError::Config(format!("{}: {e}", p.display())))?;
                keys.push(Key {
                    family,
                    kid: jwk.common.key_id.clone(),
                    key,
                });
            }
        }
        Ok(Verifier {
            keys,
            config: config.clone(),
            configured: true,
        })
    }

    /// The caller for a request, from its `Authorization` header.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        purpose: Option<String>,
    ) -> Result<Caller, AuthError> {
        let Some(header) = authorization else {
            return match (&self.config.anonymous_roles, self.configured) {
                (Some(roles), _) => Ok(Caller {
                    operator: false,
                    subject: None,
                    roles: roles.clone(),
                    claims: BTreeMap::new(),
                    purpose,
                }),
                // Nothing configured: requests are anonymous, and policies
                // (if any) decide; with auth configured, a token is required.
                (None, false) => Ok(Caller {
                    operator: false,
                    subject: None,
                    roles: Vec::new(),
                    claims: BTreeMap::new(),
                    purpose,
                }),
                (None, true) => Err(AuthError::Unauthorized(
                    "missing bearer token (Authorization: Bearer <JWT>)".into(),
                )),
            };
        };
        // The scheme name is case-insensitive (RFC 9110).
        let token = match header.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => {
                return Err(AuthError::Unauthorized(
                    "the Authorization header must be `Bearer <JWT>`".into(),
                ));
            }
        };
        self.verify(token, purpose)
    }

    /// Verifies a token (also used by the Postgres endpoint, where the JWT
    /// is the password).
    pub fn verify(&self, token: &str, purpose: Option<String>) -> Result<Caller, AuthError> {
        let unauthorized = |m: String| AuthError::Unauthorized(m);
        if self.keys.is_empty() {
            return Err(unauthorized(
                "tokens are not accepted: no verification key is configured".into(),
            ));
        }
        let header =
            decode_header(token).map_err(|e| unauthorized(format!("malformed token: {e}")))?;
        let family = match header.alg {
            Algorithm::HS256 => Family::Hmac,
            Algorithm::RS256 => Family::Rsa,
            Algorithm::ES256 => Family::Ec,
            other => {
                return Err(unauthorized(format!(
                    "algorithm {other:?} is not accepted; use HS256, RS256 or ES256"
                )));
            }
        };
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| std::mem::discriminant(&k.family) == std::mem::discriminant(&family))
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(unauthorized(format!(
                "no key accepts {:?} tokens here",
                header.alg
            )));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway_seconds.unwrap_or(30);
        // A configured issuer or audience must be present, not merely
        // correct when present.
        let mut required = vec!["exp"];
        if self.config.issuer.is_some() {
            required.push("iss");
        }
        if self.config.audience.is_some() {
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        match &self.config.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.config.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        let mut last = None;
        for k in candidates {
            match decode::<BTreeMap<String, serde_json::Value>>(token, &k.key, &validation) {
                Ok(data) => return Ok(self.caller(data.claims, purpose)),
                Err(e) => last = Some(e),
            }
        }
        let reason = match last.as_ref().map(|e| e.kind()) {
            Some(jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                "the token has expired".to_string()
            }
            Some(jsonwebtoken::errors::ErrorKind::ImmatureSignature) => {
                "the token is not valid yet (nbf)".to_string()
            }
            Some(jsonwebtoken::errors::ErrorKind::InvalidIssuer) => {
                "the token's issuer is not accepted".to_string()
            }
            Some(jsonwebtoken::errors::ErrorKind::InvalidAudience) => {
                "the token's audience is not accepted".to_string()
            }
            Some(jsonwebtoken::errors::ErrorKind::InvalidSignature) => {
                "the token's signature does not verify".to_string()
            }
            Some(jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(c)) => {
                format!("the token lacks the `{c}` claim")
            }
            Some(other) => format!("invalid token: {other:?}"),
            None => "invalid token".to_string(),
        };
        Err(unauthorized(reason))
    }

    fn caller(
        &self,
        claims: BTreeMap<String, serde_json::Value>,
        purpose: Option<String>,
    ) -> Caller {
        let roles_claim = self.config.roles_claim.as_deref().unwrap_or("roles");
        let roles = match claims.get(roles_claim) {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(serde_json::Value::String(s)) => {
                s.split_whitespace().map(str::to_string).collect()
            }
            _ => Vec::new(),
        };
        let purpose = purpose.or_else(|| {
            claims
                .get("purpose")
                .and_then(|p| p.as_str())
                .map(str::to_string)
        });
        let subject = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .map(str::to_string);
        let attributes = claims
            .into_iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "exp" | "nbf" | "iat" | "iss" | "aud" | "sub" | "jti" | "purpose"
                ) && k != roles_claim
            })
            .collect();
        Caller {
            operator: false,
            subject,
            roles,
            claims: attributes,
            purpose,
        }
    }
}

/// Mints an HS256 token (for `accord token` and tests).
pub fn mint_hs256(
    secret: &str,
    subject: &str,
    roles: &[String],
    claims: &BTreeMap<String, serde_json::Value>,
    ttl_seconds: i64,
) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let mut body = serde_json::Map::new();
    body.insert("sub".into(), subject.into());
    body.insert("roles".into(), roles.to_vec().into());
    body.insert("iat".into(), now.into());
    body.insert("exp".into(), (now + ttl_seconds).into());
    for (k, v) in claims {
        body.insert(k.clone(), v.clone());
    }
    encode(
        &Header::new(Algorithm::HS256),
        &body,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}

/// The documented development secret of the demo configuration. Never use
/// it outside a laptop.
pub const DEV_SECRET: &str = "accord-demo-dev-secret-change-me-0123456789";
