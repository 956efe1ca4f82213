//! The web portal (`/portal`): server-rendered pages (askama templates, a vendored htmx that
//! only enhances) for researchers, the data-use committee and hospital coordinators, in
//! English and Japanese. Every read works without JavaScript.
//!
//! **Not a second access path.** A person signs in at a Passport Broker (OpenID Connect
//! Authorization Code with PKCE, [`gemj_auth::Verifier::begin_sign_in`]); the session keeps
//! only the broker's access token, and every page presents it as an API client would
//! ([`gemj_auth::Verifier::verify_access_token`]: Visas from userinfo, verified, cached for at
//! most a minute; then the revocation list). The principal that results is handed to the same
//! gemj-core services the APIs call, so each page is decided by the one enforcement call and
//! audited (API `portal`). A coordinator is a person the configuration names for a hospital
//! (`portal.coordinators`, or the demo's coordinators): their pages act as that institution.
//!
//! Sessions: 256-bit random ids in a `HttpOnly`, `SameSite=Lax` cookie scoped to `/portal`
//! (`Secure` when the public URL is https), kept in this instance's memory as their SHA-256,
//! ending after `portal.session_idle_minutes` without use, `portal.session_max_hours`, the
//! access token's expiry or a sign-out. Every form carries the session's CSRF token (and a
//! cross-site `Origin` is refused). A sign-in is bound to the browser that began it by a
//! second cookie.

pub mod broker;
pub mod i18n;
mod pages;
pub mod svg;

use std::collections::{HashMap, HashSet};

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use gemj_core::{InstitutionCaller, Principal};
use gemj_model::InstitutionId;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// The session cookie.
pub const SESSION_COOKIE: &str = "gemj_session";
/// The cookie binding a sign-in under way to the browser that began it.
pub const LOGIN_COOKIE: &str = "gemj_login";
/// How long a sign-in may take at the broker.
const LOGIN_TTL_SECS: i64 = 600;

/// What a signed-in person does, for the menus (the decisions are the access point's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A researcher.
    Researcher,
    /// An administrator: the data-use committee.
    Committee,
    /// A hospital coordinator.
    Coordinator,
}

impl Role {
    /// The English name, also the `data-role` attribute.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Researcher => "researcher",
            Self::Committee => "committee",
            Self::Coordinator => "coordinator",
        }
    }
}

/// The portal's settings, decided at start.
#[derive(Debug, Clone)]
pub struct PortalSettings {
    /// The broker people sign in at (with this gateway's client id there); `None`: nobody
    /// signs in, the public pages still answer.
    pub broker: Option<gemj_auth::TrustedBroker>,
    /// The gateway's public base URL.
    pub base_url: String,
    /// `issuer#subject` of each coordinator, with their hospital.
    pub coordinators: HashMap<String, InstitutionId>,
    /// `issuer#subject` of the administrators (for the menu only).
    pub administrators: HashSet<String>,
    /// Idle timeout of a session, seconds.
    pub idle_secs: i64,
    /// Longest life of a session, seconds.
    pub max_secs: i64,
    /// The Data Use Ontology, for the data-use conditions in words.
    pub duo: Option<std::sync::Arc<gemj_duo::Ontology>>,
}

/// A sign-in under way, as sealed in the store.
#[derive(serde::Serialize, serde::Deserialize)]
struct LoginRecord {
    /// [`gemj_auth::PendingSignIn::to_bytes`].
    pending: String,
    /// Hex SHA-256 of the binding cookie's value.
    binding: String,
    /// Where to go after signing in.
    next: String,
}

/// The portal's state: settings, the store where sessions and sign-ins under way are kept
/// (shared by every instance), and the sealer of their secrets.
pub struct Portal {
    settings: PortalSettings,
    store: gemj_store::Store,
    sealer: gemj_core::data_url::Sealer,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("broker", &self.settings.broker.as_ref().map(|b| &b.issuer))
            .finish_non_exhaustive()
    }
}

/// A signed-in person on one request.
#[derive(Debug, Clone)]
pub struct User {
    /// Who the services see.
    pub principal: Principal,
    /// For the menus.
    pub role: Role,
    /// The name shown (the subject at the broker).
    pub name: String,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
    /// A coordinator's hospital.
    pub institution: Option<InstitutionId>,
}

/// Why a page is not shown.
#[derive(Debug)]
pub enum Failure {
    /// Not signed in: sign in and come back to the page.
    SignIn(String),
    /// A form without the session's CSRF token, or from another site.
    Csrf,
    /// The services' refusal.
    Core(gemj_core::CoreError),
    /// Malformed input, in words.
    BadRequest(String),
    /// Signing in failed (the reason code, for the log only).
    SignInFailed(&'static str),
    /// The portal cannot sign anyone in (no broker configured).
    NoBroker,
}

impl From<gemj_core::CoreError> for Failure {
    fn from(e: gemj_core::CoreError) -> Self {
        Self::Core(e)
    }
}

impl Portal {
    /// The portal with its settings, keeping its sessions in `store`, their secrets sealed by
    /// `sealer`.
    #[must_use]
    pub fn new(
        settings: PortalSettings,
        store: gemj_store::Store,
        sealer: gemj_core::data_url::Sealer,
    ) -> Self {
        Self {
            settings,
            store,
            sealer,
        }
    }

    fn secure(&self) -> bool {
        self.settings.base_url.starts_with("https://")
    }

    fn redirect_url(&self) -> String {
        format!("{}/portal/callback", self.settings.base_url)
    }

    fn cookie<'c>(&self, name: &'c str, value: String, max_age: Option<i64>) -> Cookie<'c> {
        let mut c = Cookie::build(name, value)
            .path("/portal")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(self.secure())
            .finish();
        if let Some(secs) = max_age {
            c.set_max_age(CookieDuration::seconds(secs));
        }
        c
    }

    /// Starts a sign-in: the redirect to the broker, with the binding cookie.
    async fn begin(
        &self,
        verifier: Option<&gemj_auth::Verifier>,
        next: &str,
    ) -> Result<HttpResponse, Failure> {
        let (Some(broker), Some(verifier)) = (&self.settings.broker, verifier) else {
            return Err(Failure::NoBroker);
        };
        let pending = verifier
            .begin_sign_in(broker, &self.redirect_url())
            .await
            .map_err(|e| {
                tracing::warn!(message = "Sign-in could not begin.", reason = e.code());
                Failure::SignInFailed(e.code())
            })?;
        let binding = random_bytes();
        let now = gemj_auth::now_unix();
        let url = pending.authorize_url.clone();
        let record = LoginRecord {
            pending: String::from_utf8(pending.to_bytes()).unwrap_or_default(),
            binding: hex_sha256(&binding),
            next: local_path(next),
        };
        let sealed = self
            .sealer
            .seal(LOGIN_AAD, &serde_json::to_vec(&record).unwrap_or_default())?;
        self.store
            .put_portal_login(
                &hex_sha256(pending.state().as_bytes()),
                &sealed,
                now,
                now - LOGIN_TTL_SECS,
            )
            .await
            .map_err(store_failure)?;
        Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .cookie(self.cookie(LOGIN_COOKIE, encode(&binding), Some(LOGIN_TTL_SECS)))
            .finish())
    }

    /// Finishes a sign-in: the state must be one this browser began; the code is exchanged and
    /// the ID token verified; a session starts.
    async fn finish(
        &self,
        req: &HttpRequest,
        verifier: Option<&gemj_auth::Verifier>,
        state: &str,
        code: &str,
    ) -> Result<HttpResponse, Failure> {
        let (Some(broker), Some(verifier)) = (&self.settings.broker, verifier) else {
            return Err(Failure::NoBroker);
        };
        let (sealed, created) = self
            .store
            .take_portal_login(&hex_sha256(state.as_bytes()))
            .await
            .map_err(store_failure)?
            .ok_or(Failure::SignInFailed("unknown_state"))?;
        let login: LoginRecord = self
            .sealer
            .open(LOGIN_AAD, &sealed)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or(Failure::SignInFailed("unknown_state"))?;
        let pending = gemj_auth::PendingSignIn::from_bytes(login.pending.as_bytes())
            .ok_or(Failure::SignInFailed("unknown_state"))?;
        let now = gemj_auth::now_unix();
        let bound = req
            .cookie(LOGIN_COOKIE)
            .and_then(|c| decode(c.value()))
            .is_some_and(|b| hex_sha256(&b) == login.binding);
        if !bound || now - created >= LOGIN_TTL_SECS {
            return Err(Failure::SignInFailed("sign_in_not_bound"));
        }
        let signed = verifier
            .finish_sign_in(broker, &self.redirect_url(), &pending, state, code)
            .await
            .map_err(|e| {
                tracing::info!(message = "Sign-in refused.", reason = e.code());
                Failure::SignInFailed(e.code())
            })?;
        // The person the ID token names must be the one userinfo answers for (OpenID Connect
        // Core 5.3.2); this first verification is also the one the next page finds cached.
        let passport = verifier
            .verify_access_token(broker, signed.access_token.expose(), false, now)
            .await
            .map_err(|e| Failure::SignInFailed(e.code()))?;
        if passport.subject != signed.subject {
            tracing::warn!(
                message = "Sign-in refused: the ID token and userinfo name different subjects."
            );
            return Err(Failure::SignInFailed("subject_mismatch"));
        }
        let id = random_bytes();
        let expires = signed
            .expires_at
            .unwrap_or(now + self.settings.max_secs)
            .min(now + self.settings.max_secs);
        let session = gemj_store::PortalSession {
            csrf: encode(&random_bytes()),
            sealed_token: self
                .sealer
                .seal(SESSION_AAD, signed.access_token.expose().as_bytes())?,
            created: now,
            last_seen: now,
            expires,
        };
        self.store
            .purge_portal_sessions(now)
            .await
            .map_err(store_failure)?;
        self.store
            .put_portal_session(&hex_sha256(&id), &session)
            .await
            .map_err(store_failure)?;
        tracing::info!(message = "Signed in to the portal.");
        let mut gone = self.cookie(LOGIN_COOKIE, String::new(), Some(0));
        gone.make_removal();
        Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, login.next))
            .cookie(self.cookie(SESSION_COOKIE, encode(&id), None))
            .cookie(gone)
            .finish())
    }

    /// Ends the session of this request (if any).
    async fn end(&self, req: &HttpRequest) -> Result<HttpResponse, Failure> {
        if let Some(key) = session_key(req) {
            self.store
                .delete_portal_session(&key)
                .await
                .map_err(store_failure)?;
        }
        let mut gone = self.cookie(SESSION_COOKIE, String::new(), Some(0));
        gone.make_removal();
        Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, "/portal"))
            .cookie(gone)
            .finish())
    }

    /// The signed-in person of this request, if any: the session's access token verified as on
    /// every API (a refused token ends the session and is audited as a refused credential).
    async fn user(
        &self,
        req: &HttpRequest,
        verifier: Option<&gemj_auth::Verifier>,
        core: &gemj_core::Shared,
    ) -> Result<Option<User>, Failure> {
        let Some(key) = session_key(req) else {
            return Ok(None);
        };
        let now = gemj_auth::now_unix();
        let Some(session) = self
            .store
            .use_portal_session(&key, now, self.settings.idle_secs)
            .await
            .map_err(store_failure)?
        else {
            return Ok(None);
        };
        let token = self.sealer.open(SESSION_AAD, &session.sealed_token);
        let (Some(token), true) = (token, now - session.created < self.settings.max_secs) else {
            self.store
                .delete_portal_session(&key)
                .await
                .map_err(store_failure)?;
            return Ok(None);
        };
        let token = String::from_utf8(token).unwrap_or_default();
        let csrf = session.csrf;
        let (Some(broker), Some(verifier)) = (&self.settings.broker, verifier) else {
            return Ok(None);
        };
        let verified = verifier
            .verify_access_token(broker, &token, false, now)
            .await
            .map_err(|e| e.code())
            .and_then(|p| core.revocations().apply(p));
        let passport = match verified {
            Ok(p) => p,
            Err(code) => {
                self.store
                    .delete_portal_session(&key)
                    .await
                    .map_err(store_failure)?;
                let ctx = crate::routes::context(req, "portal");
                core.access()
                    .refuse_credential(&ctx, token.as_bytes(), code)
                    .await?;
                tracing::info!(
                    message = "Portal session ended: credential refused.",
                    reason = code
                );
                return Ok(None);
            }
        };
        let name = format!("{}#{}", passport.issuer, passport.subject);
        let user = if let Some(institution) = self.settings.coordinators.get(&name) {
            User {
                principal: Principal::Institution(std::sync::Arc::new(InstitutionCaller {
                    institution: institution.clone(),
                    issuer: passport.issuer.clone(),
                    subject: passport.subject.clone(),
                    token_hash: passport.passport_hash.clone(),
                })),
                role: Role::Coordinator,
                name: passport.subject.clone(),
                csrf,
                institution: Some(institution.clone()),
            }
        } else {
            let role = if self.settings.administrators.contains(&name) {
                Role::Committee
            } else {
                Role::Researcher
            };
            User {
                name: passport.subject.clone(),
                principal: Principal::Passport(std::sync::Arc::new(passport)),
                role,
                csrf,
                institution: None,
            }
        };
        Ok(Some(user))
    }

    /// Refuses a form whose CSRF token is not the session's, or that another site sent.
    fn check_form(&self, req: &HttpRequest, user: &User, token: &str) -> Result<(), Failure> {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default();
            if origin != "null" && !self.settings.base_url.starts_with(origin) {
                return Err(Failure::Csrf);
            }
        }
        let a = Sha256::digest(token.as_bytes());
        let b = Sha256::digest(user.csrf.as_bytes());
        if a == b { Ok(()) } else { Err(Failure::Csrf) }
    }
}

/// What a sealed sign-in and a sealed session token are bound to.
const LOGIN_AAD: &[u8] = b"gemj portal login";
const SESSION_AAD: &[u8] = b"gemj portal session";

fn store_failure(e: gemj_store::StoreError) -> Failure {
    Failure::Core(gemj_core::CoreError::Store(e))
}

fn hex_sha256(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn random_bytes() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

fn encode(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn decode(s: &str) -> Option<Vec<u8>> {
    if s.len() > 64 {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

fn session_key(req: &HttpRequest) -> Option<String> {
    let id = decode(req.cookie(SESSION_COOKIE)?.value())?;
    Some(hex_sha256(&id))
}

/// A path inside the portal to return to (anything else: the portal's home), so that a
/// crafted `next` cannot send the browser elsewhere.
fn local_path(next: &str) -> String {
    let ok = next.starts_with("/portal")
        && !next.starts_with("//")
        && next.len() <= 512
        && !next.contains(['\\', '\r', '\n'])
        && !next.contains("://");
    if ok {
        next.to_owned()
    } else {
        "/portal".to_owned()
    }
}

/// The page's status for a failure.
fn failure_status(f: &Failure) -> StatusCode {
    use gemj_core::CoreError as E;
    match f {
        Failure::SignIn(_) => StatusCode::SEE_OTHER,
        Failure::Csrf => StatusCode::FORBIDDEN,
        Failure::BadRequest(_) | Failure::SignInFailed(_) => StatusCode::BAD_REQUEST,
        Failure::NoBroker => StatusCode::SERVICE_UNAVAILABLE,
        Failure::Core(e) => match e {
            E::NotFound => StatusCode::NOT_FOUND,
            E::CredentialRequired => StatusCode::UNAUTHORIZED,
            E::Denied(d) if d.unauthenticated => StatusCode::UNAUTHORIZED,
            E::Denied(_) | E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::Conflict(_) => StatusCode::CONFLICT,
            E::InvalidInput(_) => StatusCode::BAD_REQUEST,
            E::ConsentStale { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::SERVICE_UNAVAILABLE,
        },
    }
}

/// Registers the portal's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    pages::configure(cfg);
}
