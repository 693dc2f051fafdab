//! Settings of the Postgres wire endpoint beyond its address: TLS from a
//! certificate chain and key (PEM files), and login users who authenticate
//! with SCRAM-SHA-256 instead of a JWT, each mapped to the roles, claims
//! and purpose a token would carry.
//!
//! ```yaml
//! pg:
//!   tls:
//!     cert: certs/server.crt     # PEM, leaf first
//!     key: certs/server.key      # PEM (PKCS#8, PKCS#1 or SEC1)
//!   users:
//!     - name: tableau
//!       scram: "SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>"
//!       roles: [analyst]
//!     - name: emea_dashboards
//!       password: "change me"
//!       roles: [regional_manager]
//!       claims: {region: EU}
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::access::Caller;

/// The `pg:` section of accord.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePg {
    pub tls: Option<FileTls>,
    #[serde(default)]
    pub users: Vec<FileUser>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// A login user. Exactly one of `scram` (a PostgreSQL-style verifier, as
/// `pg_authid.rolpassword` stores it) or `password` (hashed into a
/// verifier when the server starts; never kept).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUser {
    pub name: String,
    pub scram: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    pub purpose: Option<String>,
}

/// Resolved Postgres endpoint settings.
#[derive(Debug, Clone, Default)]
pub struct PgConfig {
    pub tls: Option<TlsFiles>,
    pub users: Vec<PgUser>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A SCRAM-SHA-256 verifier: what the server needs to check a client's
/// proof without knowing its password.
#[derive(Clone, PartialEq)]
pub struct ScramVerifier {
    pub iterations: usize,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// The iteration count for verifiers derived from a configured password
/// (PostgreSQL's default).
pub const SCRAM_ITERATIONS: usize = 4096;

impl ScramVerifier {
    /// Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`
    /// (base64 parts), the format of PostgreSQL's `rolpassword`.
    pub fn parse(text: &str) -> Result<ScramVerifier, String> {
        let bad = |why: &str| {
            format!(
                "{why}; expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> as PostgreSQL stores it in pg_authid.rolpassword"
            )
        };
        let rest = text
            .trim()
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or_else(|| bad("not a SCRAM-SHA-256 verifier"))?;
        let (params, keys) = rest
            .split_once('$')
            .ok_or_else(|| bad("no `$` before the keys"))?;
        let (iterations, salt) = params
            .split_once(':')
            .ok_or_else(|| bad("no `:` between iterations and salt"))?;
        let (stored, server) = keys
            .split_once(':')
            .ok_or_else(|| bad("no `:` between StoredKey and ServerKey"))?;
        let iterations: usize = iterations
            .parse()
            .ok()
            .filter(|i| *i >= 1)
            .ok_or_else(|| bad("the iteration count is not a positive integer"))?;
        let b64 = |what: &str, s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| bad(&format!("{what} is not base64")))
        };
        let salt = b64("the salt", salt)?;
        let stored_key = b64("StoredKey", stored)?;
        let server_key = b64("ServerKey", server)?;
        if stored_key.len() != 32 || server_key.len() != 32 {
            return Err(bad("StoredKey and ServerKey must be 32 bytes (SHA-256)"));
        }
        if salt.is_empty() {
            return Err(bad("the salt is empty"));
        }
        Ok(ScramVerifier {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// Derives a verifier from a password with a fresh random salt.
    pub fn from_password(password: &str) -> ScramVerifier {
        // 16 bytes from the OS generator (a v4 UUID is 122 random bits;
        // a salt needs uniqueness, not secrecy).
        let salt: [u8; 16] = uuid::Uuid::new_v4().into_bytes();
        let salted =
            pgwire::api::auth::sasl::scram::gen_salted_password(password, &salt, SCRAM_ITERATIONS);
        match pgwire::api::auth::sasl::scram::ScramSecret::verifier_from_salted_password(
            salt.to_vec(),
            salted,
            SCRAM_ITERATIONS,
        ) {
            pgwire::api::auth::sasl::scram::ScramSecret::Verifier {
                salt,
                iterations,
                stored_key,
                server_key,
            } => ScramVerifier {
                iterations,
                salt,
                stored_key,
                server_key,
            },
            // `verifier_from_salted_password` only builds verifiers.
            pgwire::api::auth::sasl::scram::ScramSecret::SaltedPassword { .. } => {
                unreachable!("verifier_from_salted_password returns a Verifier")
            }
        }
    }

    pub fn secret(&self) -> pgwire::api::auth::sasl::scram::ScramSecret {
        pgwire::api::auth::sasl::scram::ScramSecret::Verifier {
            salt: self.salt.clone(),
            iterations: self.iterations,
            stored_key: self.stored_key.clone(),
            server_key: self.server_key.clone(),
        }
    }
}

/// A configured login user and the identity it maps to.
#[derive(Debug, Clone, PartialEq)]
pub struct PgUser {
    pub name: String,
    pub verifier: ScramVerifier,
    pub roles: Vec<String>,
    pub claims: BTreeMap<String, serde_json::Value>,
    pub purpose: Option<String>,
}

impl PgUser {
    /// The caller this user is, as if it had presented a token with these
    /// roles, claims and purpose (`sub` = the user name).
    pub fn caller(&self) -> Caller {
        Caller {
            operator: false,
            subject: Some(self.name.clone()),
            roles: self.roles.clone(),
            claims: self.claims.clone(),
            purpose: self.purpose.clone(),
        }
    }
}

/// Resolves the file section with the TLS flags/environment (which win).
pub fn resolve(
    file: Option<FilePg>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
) -> Result<PgConfig, String> {
    let file = file.unwrap_or_default();
    let (file_cert, file_key) = file.tls.map(|t| (t.cert, t.key)).unwrap_or((None, None));
    let tls = match (tls_cert.or(file_cert), tls_key.or(file_key)) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(
                "Postgres TLS: a certificate is configured but no key (pg.tls.key, --pg-tls-key or ACCORD_PG_TLS_KEY)"
                    .into(),
            );
        }
        (None, Some(_)) => {
            return Err(
                "Postgres TLS: a key is configured but no certificate (pg.tls.cert, --pg-tls-cert or ACCORD_PG_TLS_CERT)"
                    .into(),
            );
        }
    };
    let mut users: Vec<PgUser> = Vec::with_capacity(file.users.len());
    for (i, u) in file.users.into_iter().enumerate() {
        let at = format!("pg.users[{i}]");
        let name = u.name.trim().to_string();
        if name.is_empty() {
            return Err(format!("{at}: `name` is empty"));
        }
        if users.iter().any(|x| x.name == name) {
            return Err(format!("{at}: user `{name}` is configured twice"));
        }
        let verifier = match (&u.scram, &u.password) {
            (Some(v), None) => {
                ScramVerifier::parse(v).map_err(|e| format!("{at} (`{name}`).scram: {e}"))?
            }
            (None, Some(p)) if !p.is_empty() => ScramVerifier::from_password(p),
            (None, Some(_)) => return Err(format!("{at} (`{name}`): `password` is empty")),
            (Some(_), Some(_)) => {
                return Err(format!(
                    "{at} (`{name}`): give either `scram` (a verifier) or `password`, not both"
                ));
            }
            (None, None) => {
                return Err(format!(
                    "{at} (`{name}`): give `scram` (a SCRAM-SHA-256 verifier) or `password`"
                ));
            }
        };
        if u.roles.is_empty() {
            return Err(format!(
                "{at} (`{name}`): `roles` is empty; a user without roles may see nothing"
            ));
        }
        users.push(PgUser {
            name,
            verifier,
            roles: u.roles,
            claims: u.claims,
            purpose: u.purpose,
        });
    }
    Ok(PgConfig { tls, users })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's example password "pencil" and salt, 4096 iterations; the
    /// keys computed independently with Python's hashlib (pbkdf2_hmac,
    /// hmac, sha256).
    const RFC7677: &str = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

    #[test]
    fn parses_a_postgres_verifier() {
        let v = ScramVerifier::parse(RFC7677).unwrap();
        assert_eq!(v.iterations, 4096);
        assert_eq!(v.salt.len(), 16);
        assert_eq!(v.stored_key.len(), 32);
    }

    #[test]
    fn a_password_gives_the_verifier_of_rfc7677_for_its_salt() {
        // Same derivation as `from_password`, with the RFC's salt.
        let v = ScramVerifier::parse(RFC7677).unwrap();
        let salted = pgwire::api::auth::sasl::scram::gen_salted_password("pencil", &v.salt, 4096);
        let pgwire::api::auth::sasl::scram::ScramSecret::Verifier {
            stored_key,
            server_key,
            ..
        } = pgwire::api::auth::sasl::scram::ScramSecret::verifier_from_salted_password(
            v.salt.clone(),
            salted,
            4096,
        )
        else {
            panic!("a verifier")
        };
        assert_eq!(stored_key, v.stored_key);
        assert_eq!(server_key, v.server_key);
    }

    #[test]
    fn bad_verifiers_say_what_is_wrong() {
        for (text, why) in [
            ("md5abc", "not a SCRAM-SHA-256 verifier"),
            ("SCRAM-SHA-256$x:c2FsdA==$a:b", "iteration count"),
            (
                "SCRAM-SHA-256$4096:c2FsdA==$!!:b",
                "StoredKey is not base64",
            ),
            ("SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:c2FsdA==", "32 bytes"),
        ] {
            let e = ScramVerifier::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn users_need_one_secret_and_roles() {
        let user = |scram: Option<&str>, password: Option<&str>, roles: &[&str]| FileUser {
            name: "u".into(),
            scram: scram.map(str::to_string),
            password: password.map(str::to_string),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        };
        let resolve_one = |u: FileUser| {
            resolve(
                Some(FilePg {
                    tls: None,
                    users: vec![u],
                }),
                None,
                None,
            )
        };
        assert!(resolve_one(user(None, None, &["analyst"])).is_err());
        assert!(resolve_one(user(Some(RFC7677), Some("p"), &["analyst"])).is_err());
        assert!(resolve_one(user(None, Some("p"), &[])).is_err());
        let ok = resolve_one(user(Some(RFC7677), None, &["analyst"])).unwrap();
        assert_eq!(ok.users[0].caller().roles, vec!["analyst".to_string()]);
        assert_eq!(ok.users[0].caller().subject.as_deref(), Some("u"));
    }

    #[test]
    fn tls_needs_both_files_and_flags_win() {
        assert!(resolve(None, Some("c".into()), None).is_err());
        let file = FilePg {
            tls: Some(FileTls {
                cert: Some("file.crt".into()),
                key: Some("file.key".into()),
            }),
            users: vec![],
        };
        let c = resolve(Some(file), Some("flag.crt".into()), None).unwrap();
        assert_eq!(
            c.tls,
            Some(TlsFiles {
                cert: "flag.crt".into(),
                key: "file.key".into()
            })
        );
    }
}
