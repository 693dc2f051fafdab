//! Startup: two ways to log in, chosen by the user name as PostgreSQL's
//! `pg_hba.conf` would.
//!
//! - A user configured under `pg.users` authenticates with SCRAM-SHA-256
//!   (SCRAM-SHA-256-PLUS with channel binding over TLS) against its stored
//!   verifier, and is the caller its entry maps to (roles, claims, purpose).
//! - Any other user name is only a label (BI tools insist on one): the
//!   password is a JWT, sent in cleartext and verified exactly like a REST
//!   bearer token; who the caller is comes from the token.
//!
//! There is no anonymous access over this endpoint; a failed login is
//! SQLSTATE 28P01.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::sink::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::driver::AuthOutcome;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::sasl::scram::{ScramAuth, ScramSecret};
use pgwire::api::auth::{
    AuthDriver, AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::error::{INVALID_PASSWORD, SqlError};
use crate::access::Caller;
use crate::pg_config::PgUser;
use crate::state::QueryService;

/// The server version BI tools see (they pick SQL features by it).
pub const SERVER_VERSION: &str = "16.6";

/// Per-connection state, kept in the connection's session extensions.
#[derive(Debug)]
pub struct Session {
    pub caller: Caller,
    pub user: String,
    /// `SET` parameters (lower-case names) for `SHOW` and `current_setting`.
    pub settings: Mutex<Vec<(String, String)>>,
    /// Open cursors (`DECLARE … CURSOR`) and whether a transaction block
    /// is open (non-holdable cursors close with it).
    pub cursors: super::cursor::Cursors,
}

impl Session {
    pub fn new(caller: Caller, user: String) -> Session {
        Session {
            caller,
            user,
            settings: Mutex::new(Vec::new()),
            cursors: super::cursor::Cursors::default(),
        }
    }
}

impl Session {
    pub fn setting(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        self.settings
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }

    pub fn set(&self, name: &str, value: &str) {
        if let Ok(mut s) = self.settings.lock() {
            let name = name.to_ascii_lowercase();
            s.retain(|(k, _)| *k != name);
            s.push((name, value.to_string()));
        }
    }

    /// `RESET name` forgets one setting; `RESET ALL` (`None`, and
    /// `DISCARD ALL`, which poolers send between clients) forgets every
    /// `accord.*` one, so the next client starts from the token's purpose
    /// and the server's time zone.
    pub fn reset(&self, name: Option<&str>) {
        if let Ok(mut s) = self.settings.lock() {
            match name {
                Some(n) => {
                    let n = n.to_ascii_lowercase();
                    s.retain(|(k, _)| *k != n);
                }
                None => s.retain(|(k, _)| !k.starts_with("accord.")),
            }
        }
    }

    /// The caller as the next query runs: `SET accord.purpose` overrides
    /// the token's purpose.
    pub fn caller(&self) -> Caller {
        let mut c = self.caller.clone();
        if let Some(p) = self.setting("accord.purpose").filter(|p| !p.is_empty()) {
            c.purpose = Some(p);
        }
        c
    }
}

#[derive(Clone)]
pub struct JwtSource {
    pub state: Arc<QueryService>,
}

impl Debug for JwtSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSource")
    }
}

fn rejected(user: &str, why: &str) -> PgWireError {
    SqlError::new(
        INVALID_PASSWORD,
        format!("password authentication failed for user \"{user}\": {why}"),
    )
    .hint("the password is a JWT, the same token REST takes as `Authorization: Bearer`; mint one with `accord token --role <role>`")
    .into()
}

#[async_trait]
impl AuthSource<Caller> for JwtSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        Err(rejected(login.user().unwrap_or(""), "no stored passwords"))
    }

    async fn verify_password(
        &self,
        login: &LoginInfo,
        presented_password: &[u8],
    ) -> PgWireResult<Option<Caller>> {
        let user = login.user().unwrap_or("");
        let token = std::str::from_utf8(presented_password)
            .map_err(|_| rejected(user, "the password is not UTF-8"))?
            .trim();
        if token.is_empty() {
            return Err(rejected(user, "empty password"));
        }
        match self.state.verifier.verify(token, None) {
            Ok(caller) => Ok(Some(caller)),
            Err(e) => Err(rejected(user, &e.to_string())),
        }
    }
}

/// The configured SCRAM users (`pg.users`): each login's verifier and the
/// caller it maps to.
#[derive(Clone)]
pub struct UserSource {
    users: Arc<Vec<PgUser>>,
}

impl Debug for UserSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSource")
            .field("users", &self.users.len())
            .finish()
    }
}

impl UserSource {
    fn find(&self, name: &str) -> Option<&PgUser> {
        self.users.iter().find(|u| u.name == name)
    }
}

#[async_trait]
impl AuthSource<Caller> for UserSource {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        // Only verifiers are stored; SCRAM asks `get_scram_secret`.
        Err(rejected(login.user().unwrap_or(""), "no stored passwords"))
    }

    async fn get_scram_secret(
        &self,
        login: &LoginInfo,
    ) -> PgWireResult<(ScramSecret, Option<Caller>)> {
        let name = login.user().unwrap_or("");
        let user = self
            .find(name)
            .ok_or_else(|| rejected(name, "no such user"))?;
        Ok((user.verifier.secret(), Some(user.caller())))
    }
}

pub struct JwtStartup {
    driver: AuthDriver<DefaultServerParameterProvider, Caller>,
    factory: CleartextPasswordAuth<JwtSource>,
    users: UserSource,
    /// SCRAM over plain TCP, and over TLS (with channel binding to the
    /// server certificate, when TLS is on).
    scram: ScramAuth<Caller>,
    scram_tls: ScramAuth<Caller>,
}

impl JwtStartup {
    pub fn new(
        state: Arc<QueryService>,
        manager: Arc<ConnectionManager>,
        cert_pem: Option<&[u8]>,
    ) -> Result<JwtStartup, String> {
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = SERVER_VERSION.to_string();
        params.is_superuser = false;
        params.application_name = None;
        let users = UserSource {
            users: Arc::new(state.config.pg.users.clone()),
        };
        let source: Arc<dyn AuthSource<Caller>> = Arc::new(users.clone());
        let scram = ScramAuth::new(source.clone());
        let mut scram_tls = ScramAuth::new(source);
        if let Some(pem) = cert_pem {
            scram_tls.configure_certificate(pem).map_err(|e| {
                format!(
                    "Postgres TLS: the certificate cannot be used for SCRAM channel binding: {e}"
                )
            })?;
        }
        Ok(JwtStartup {
            driver: AuthDriver::new(params).with_connection_manager(manager),
            factory: CleartextPasswordAuth::new(Arc::new(JwtSource { state })),
            users,
            scram,
            scram_tls,
        })
    }
}

#[async_trait]
impl StartupHandler for JwtStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let outcome = match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                pgwire::api::auth::protocol_negotiation(client, startup).await?;
                pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
                if client
                    .metadata()
                    .get(pgwire::api::METADATA_USER)
                    .is_none_or(|u| u.is_empty())
                {
                    return Err(PgWireError::UserNameRequired);
                }
                let user = client
                    .metadata()
                    .get(pgwire::api::METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let mechanism = if self.users.find(&user).is_some() {
                    if client.is_secure() {
                        AuthMechanismFactory::<Caller>::create(&self.scram_tls)
                    } else {
                        AuthMechanismFactory::<Caller>::create(&self.scram)
                    }
                } else {
                    AuthMechanismFactory::<Caller>::create(&self.factory)
                };
                self.driver.begin_authentication(client, mechanism).await?
            }
            PgWireFrontendMessage::PasswordMessageFamily(m) => {
                match self.driver.advance_authentication(client, m).await {
                    Ok(o) => o,
                    // SCRAM's wrong proof: PostgreSQL's message, with how
                    // to log in.
                    // (libpq leaves SCRAM's own user name empty: the
                    // startup's is the one.)
                    Err(PgWireError::InvalidPassword(_)) => {
                        let user = client
                            .metadata()
                            .get(pgwire::api::METADATA_USER)
                            .cloned()
                            .unwrap_or_default();
                        return Err(SqlError::new(
                            INVALID_PASSWORD,
                            format!("password authentication failed for user \"{user}\""),
                        )
                        .hint("this user logs in with its configured password (SCRAM-SHA-256); other user names take a JWT as the password")
                        .into());
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => return Ok(()),
        };
        if let AuthOutcome::Authenticated {
            identity,
            final_message,
        } = outcome
        {
            let user = client
                .metadata()
                .get(pgwire::api::METADATA_USER)
                .cloned()
                .unwrap_or_default();
            let Some(caller) = identity else {
                return Err(rejected(&user, "no identity"));
            };
            let session = Session::new(caller, user);
            client.session_extensions().insert(Arc::new(session));
            self.driver
                .complete_authentication(client, final_message)
                .await?;
        }
        Ok(())
    }
}
