//! Startup: cleartext password authentication where the password is a JWT,
//! verified exactly like a REST bearer token. The user name is only a label
//! (BI tools insist on one); who the caller is comes from the token. There
//! is no anonymous access over this endpoint.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::sink::Sink;
use pgwire::api::auth::cleartext::CleartextPasswordAuth;
use pgwire::api::auth::driver::AuthOutcome;
use pgwire::api::auth::mechanism::AuthMechanismFactory;
use pgwire::api::auth::{
    AuthDriver, AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use pgwire::api::{ClientInfo, ConnectionManager};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};

use super::error::{INVALID_PASSWORD, SqlError};
use crate::access::Caller;
use crate::server::AppState;

/// The server version BI tools see (they pick SQL features by it).
pub const SERVER_VERSION: &str = "16.6";

/// Per-connection state, kept in the connection's session extensions.
#[derive(Debug)]
pub struct Session {
    pub caller: Caller,
    pub user: String,
    /// `SET` parameters (lower-case names) for `SHOW` and `current_setting`.
    pub settings: Mutex<Vec<(String, String)>>,
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
    pub state: Arc<AppState>,
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

pub struct JwtStartup {
    driver: AuthDriver<DefaultServerParameterProvider, Caller>,
    factory: CleartextPasswordAuth<JwtSource>,
}

impl JwtStartup {
    pub fn new(state: Arc<AppState>, manager: Arc<ConnectionManager>) -> JwtStartup {
        let mut params = DefaultServerParameterProvider::default();
        params.server_version = SERVER_VERSION.to_string();
        params.is_superuser = false;
        params.application_name = None;
        JwtStartup {
            driver: AuthDriver::new(params).with_connection_manager(manager),
            factory: CleartextPasswordAuth::new(Arc::new(JwtSource { state })),
        }
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
                let mechanism = AuthMechanismFactory::<Caller>::create(&self.factory);
                self.driver.begin_authentication(client, mechanism).await?
            }
            PgWireFrontendMessage::PasswordMessageFamily(m) => {
                self.driver.advance_authentication(client, m).await?
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
            let session = Session {
                caller,
                user,
                settings: Mutex::new(Vec::new()),
            };
            client.session_extensions().insert(Arc::new(session));
            self.driver
                .complete_authentication(client, final_message)
                .await?;
        }
        Ok(())
    }
}
