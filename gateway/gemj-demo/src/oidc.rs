//! The demo broker as an OpenID Connect provider, so that a newcomer signs in to the portal on
//! the demo as one of its people: a researcher, the data-use committee, or a coordinator of one
//! of the synthetic hospitals. It speaks the Authorization Code flow with PKCE (`S256` only,
//! required), one registered client (the portal, [`CLIENT_ID`], one exact redirect URI), ID
//! tokens signed by the demo broker's key, and a userinfo endpoint that returns the persona's
//! Visas (`ga4gh_passport_v1`), as a Passport Broker's does in the GA4GH v1.0 flow.
//!
//! Codes live 60 seconds and are used once (a second use, right or wrong, finds nothing);
//! access tokens live an hour and are kept only as their SHA-256. Both maps are bounded.
//! There is no password: the demo's people are synthetic, and the sign-in page says so.
//!
//! Invariant: nothing here is reachable unless the gateway runs in demo mode.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use gemj_auth::LocalIssuer;
use gemj_model::{DatasetId, InstitutionId};
use gemj_store::Store;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::INSTITUTIONS;
use crate::broker::{ADMINISTRATOR, PassportRequest, visas};

/// The portal's client id at the demo broker.
pub const CLIENT_ID: &str = "gemj-portal";

/// Where the demo broker's endpoints are, under the gateway's base URL.
pub const AUTHORIZE_PATH: &str = "/demo-broker/authorize";
/// The token endpoint.
pub const TOKEN_PATH: &str = "/demo-broker/token";
/// The userinfo endpoint.
pub const USERINFO_PATH: &str = "/demo-broker/userinfo";
/// The discovery document.
pub const DISCOVERY_PATH: &str = "/demo-broker/.well-known/openid-configuration";

/// The demo researcher's subject.
pub const RESEARCHER: &str = "demo-researcher";

const CODE_TTL_SECS: i64 = 60;
const TOKEN_TTL_SECS: i64 = 3600;
const MAX_PENDING: usize = 10_000;
const MAX_PARAM: usize = 512;

/// What a demo person does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A researcher: the demo passport's Visas (status, terms, a grant per dataset).
    Researcher,
    /// The data-use committee (the demo administrator).
    Committee,
    /// A coordinator of one synthetic hospital.
    Coordinator(InstitutionId),
}

/// One of the demo's people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// The value the sign-in form sends (`researcher`, `committee`, `coordinator:<id>`).
    pub key: String,
    /// The subject the broker signs for.
    pub subject: String,
    /// What they do.
    pub role: Role,
    /// The hospital's name, for a coordinator.
    pub institution_name: Option<&'static str>,
}

/// The demo's people: one researcher, the committee, and a coordinator per synthetic hospital.
#[must_use]
pub fn personas() -> Vec<Persona> {
    let mut out = vec![
        Persona {
            key: "researcher".to_owned(),
            subject: RESEARCHER.to_owned(),
            role: Role::Researcher,
            institution_name: None,
        },
        Persona {
            key: "committee".to_owned(),
            subject: ADMINISTRATOR.to_owned(),
            role: Role::Committee,
            institution_name: None,
        },
    ];
    for (code, name) in INSTITUTIONS {
        if let Ok(id) = InstitutionId::parse(code) {
            out.push(Persona {
                key: format!("coordinator:{code}"),
                subject: coordinator_subject(code),
                role: Role::Coordinator(id),
                institution_name: Some(name),
            });
        }
    }
    out
}

/// The demo coordinator's subject for a synthetic hospital.
#[must_use]
pub fn coordinator_subject(institution: &str) -> String {
    format!("demo-coordinator-{institution}")
}

/// An OAuth 2.0 error (RFC 6749 §5.2), in the JSON the token and userinfo endpoints answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OAuthError {
    /// The error code.
    pub error: &'static str,
    /// What was wrong, in words.
    pub error_description: &'static str,
}

const fn oauth(error: &'static str, error_description: &'static str) -> OAuthError {
    OAuthError {
        error,
        error_description,
    }
}

/// A checked authorization request: what the sign-in page carries back when a persona is chosen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizeRequest {
    /// `code`.
    pub response_type: String,
    /// The client.
    pub client_id: String,
    /// Where to send the browser back (exactly the registered URI).
    pub redirect_uri: String,
    /// Space-separated; must hold `openid`.
    pub scope: String,
    /// The client's `state`, returned as is.
    pub state: String,
    /// The ID token's `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// The PKCE challenge.
    pub code_challenge: String,
    /// `S256`.
    pub code_challenge_method: String,
}

/// Why an authorization request is refused before anything is redirected: shown on the page,
/// never sent to an unchecked redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizeRefusal(pub &'static str);

impl std::fmt::Display for AuthorizeRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for AuthorizeRefusal {}

/// The token endpoint's answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenAnswer {
    /// The access token (for userinfo).
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    /// The ID token.
    pub id_token: String,
    /// The scopes granted.
    pub scope: String,
}

/// The userinfo endpoint's answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserinfoAnswer {
    /// The persona's subject.
    pub sub: String,
    /// The Visas, signed by the demo broker.
    pub ga4gh_passport_v1: Vec<String>,
}

struct Grant {
    persona: Persona,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    scope: String,
    expires: i64,
}

struct Session {
    persona: Persona,
    expires: i64,
}

/// The demo provider: the demo broker's key, the portal's redirect URI, the grant settings of
/// a researcher's Visas, and the codes and tokens it issued.
pub struct DemoProvider {
    broker: LocalIssuer,
    redirect_uri: String,
    terms_url: String,
    grant_prefix: String,
    store: Store,
    codes: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<[u8; 32], Session>>,
}

impl std::fmt::Debug for DemoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoProvider")
            .field("issuer", &self.broker.issuer())
            .finish_non_exhaustive()
    }
}

impl DemoProvider {
    /// The provider of the demo broker `broker`, for the portal at `redirect_uri`; a
    /// researcher's grants use `grant_prefix` and the accepted terms `terms_url` (empty: none).
    #[must_use]
    pub fn new(
        broker: LocalIssuer,
        redirect_uri: String,
        terms_url: String,
        grant_prefix: String,
        store: Store,
    ) -> Self {
        Self {
            broker,
            redirect_uri,
            terms_url,
            grant_prefix,
            store,
            codes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The issuer.
    #[must_use]
    pub fn issuer(&self) -> &str {
        self.broker.issuer()
    }

    /// The OpenID Connect discovery document.
    #[must_use]
    pub fn discovery(&self) -> serde_json::Value {
        let issuer = self.broker.issuer();
        let base = issuer.trim_end_matches("/demo-broker");
        serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{base}{AUTHORIZE_PATH}"),
            "token_endpoint": format!("{base}{TOKEN_PATH}"),
            "userinfo_endpoint": format!("{base}{USERINFO_PATH}"),
            "jwks_uri": self.broker.jwks_url(),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "scopes_supported": ["openid", "ga4gh_passport_v1"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "ga4gh_passport_v1"],
        })
    }

    /// Checks an authorization request: the registered client and redirect URI exactly,
    /// `response_type=code`, `openid` in scope, a `state`, and a PKCE `S256` challenge.
    ///
    /// # Errors
    /// The [`AuthorizeRefusal`] to show on the page.
    pub fn check(&self, request: &AuthorizeRequest) -> Result<(), AuthorizeRefusal> {
        let long = [
            &request.state,
            &request.scope,
            &request.code_challenge,
            &request.redirect_uri,
        ]
        .iter()
        .any(|v| v.len() > MAX_PARAM)
            || request.nonce.as_ref().is_some_and(|n| n.len() > MAX_PARAM);
        if long {
            return Err(AuthorizeRefusal("a parameter is too long"));
        }
        if request.client_id != CLIENT_ID {
            return Err(AuthorizeRefusal("unknown client"));
        }
        if request.redirect_uri != self.redirect_uri {
            return Err(AuthorizeRefusal("the redirect URI is not registered"));
        }
        if request.response_type != "code" {
            return Err(AuthorizeRefusal("only the authorization code flow"));
        }
        if !request.scope.split(' ').any(|s| s == "openid") {
            return Err(AuthorizeRefusal("the scope must include openid"));
        }
        if request.state.is_empty() {
            return Err(AuthorizeRefusal("state is required"));
        }
        if request.code_challenge_method != "S256"
            || request.code_challenge.len() != 43
            || !request
                .code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(AuthorizeRefusal("PKCE with S256 is required"));
        }
        Ok(())
    }

    /// A persona was chosen for a checked request: issues a code and returns the URL to send the
    /// browser back to (`code` and `state`).
    ///
    /// # Errors
    /// The request's refusal, or `unknown persona`.
    pub fn grant(
        &self,
        request: &AuthorizeRequest,
        persona_key: &str,
        now: i64,
    ) -> Result<String, AuthorizeRefusal> {
        self.check(request)?;
        let persona = personas()
            .into_iter()
            .find(|p| p.key == persona_key)
            .ok_or(AuthorizeRefusal("unknown persona"))?;
        let code = random_token();
        let grant = Grant {
            persona,
            redirect_uri: request.redirect_uri.clone(),
            challenge: request.code_challenge.clone(),
            nonce: request.nonce.clone(),
            scope: request.scope.clone(),
            expires: now + CODE_TTL_SECS,
        };
        {
            let mut codes = self
                .codes
                .lock()
                .map_err(|_| AuthorizeRefusal("unavailable"))?;
            codes.retain(|_, g| g.expires > now);
            if codes.len() >= MAX_PENDING {
                return Err(AuthorizeRefusal("too many sign-ins under way; try again"));
            }
            codes.insert(code.clone(), grant);
        }
        let mut url = request.redirect_uri.clone();
        url.push_str(if request.redirect_uri.contains('?') {
            "&"
        } else {
            "?"
        });
        url.push_str("code=");
        url.push_str(&code);
        url.push_str("&state=");
        url.push_str(&percent_encode(&request.state));
        url.push_str("&iss=");
        url.push_str(&percent_encode(self.broker.issuer()));
        Ok(url)
    }

    /// The token endpoint: exchanges a code once, for the client and redirect URI it was issued
    /// to, when the PKCE verifier matches its challenge.
    ///
    /// # Errors
    /// `invalid_request`, `invalid_client`, `invalid_grant` (unknown, used, expired code, wrong
    /// redirect URI or verifier) or `unsupported_grant_type`.
    pub fn token(
        &self,
        form: &HashMap<String, String>,
        now: i64,
    ) -> Result<TokenAnswer, OAuthError> {
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
        if get("grant_type") != "authorization_code" {
            return Err(oauth("unsupported_grant_type", "only authorization_code"));
        }
        if get("client_id") != CLIENT_ID {
            return Err(oauth("invalid_client", "unknown client"));
        }
        let verifier = get("code_verifier");
        if !(43..=128).contains(&verifier.len()) {
            return Err(oauth("invalid_request", "a PKCE code_verifier is required"));
        }
        let grant = self
            .codes
            .lock()
            .map_err(|_| oauth("server_error", "unavailable"))?
            .remove(get("code"))
            .ok_or(oauth("invalid_grant", "unknown or used code"))?;
        if grant.expires <= now {
            return Err(oauth("invalid_grant", "the code expired"));
        }
        if get("redirect_uri") != grant.redirect_uri {
            return Err(oauth("invalid_grant", "the redirect URI differs"));
        }
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        if challenge != grant.challenge {
            return Err(oauth("invalid_grant", "the PKCE verifier does not match"));
        }
        let id_token = self
            .broker
            .issue_id_token(
                &grant.persona.subject,
                CLIENT_ID,
                grant.nonce.as_deref(),
                Duration::from_secs(300),
                now,
            )
            .map_err(|_| oauth("server_error", "cannot sign"))?;
        let access_token = random_token();
        {
            let mut tokens = self
                .tokens
                .lock()
                .map_err(|_| oauth("server_error", "unavailable"))?;
            tokens.retain(|_, s| s.expires > now);
            if tokens.len() >= MAX_PENDING {
                return Err(oauth("temporarily_unavailable", "too many sessions"));
            }
            tokens.insert(
                token_key(&access_token),
                Session {
                    persona: grant.persona,
                    expires: now + TOKEN_TTL_SECS,
                },
            );
        }
        Ok(TokenAnswer {
            access_token,
            token_type: "Bearer",
            expires_in: TOKEN_TTL_SECS,
            id_token,
            scope: grant.scope,
        })
    }

    /// The userinfo endpoint: the persona of a live access token and its Visas (a researcher's
    /// name a grant for every dataset stored now).
    ///
    /// # Errors
    /// `invalid_token` for an unknown or expired token; `server_error` when the Visas cannot
    /// be made.
    pub async fn userinfo(
        &self,
        access_token: &str,
        now: i64,
    ) -> Result<UserinfoAnswer, OAuthError> {
        let persona = {
            let tokens = self
                .tokens
                .lock()
                .map_err(|_| oauth("server_error", "unavailable"))?;
            match tokens.get(&token_key(access_token)) {
                Some(s) if s.expires > now => s.persona.clone(),
                _ => return Err(oauth("invalid_token", "unknown or expired access token")),
            }
        };
        let datasets: Vec<DatasetId> = match persona.role {
            Role::Researcher => self
                .store
                .list_datasets()
                .await
                .map_err(|_| oauth("server_error", "the datasets cannot be read"))?
                .into_iter()
                .map(|d| d.id)
                .collect(),
            _ => Vec::new(),
        };
        let request = PassportRequest {
            datasets: &datasets,
            terms_url: if persona.role == Role::Researcher {
                &self.terms_url
            } else {
                ""
            },
            grant_prefix: &self.grant_prefix,
        };
        // Every persona holds the ResearcherStatus Visa (so their Passport is a Passport with a
        // lifetime); a coordinator acts as their hospital, which the portal decides.
        let objects = visas(&self.broker, &request, now);
        let signed = objects
            .iter()
            .map(|v| {
                self.broker
                    .issue_visa(&persona.subject, v, Duration::from_secs(3600), now)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| oauth("server_error", "cannot sign"))?;
        Ok(UserinfoAnswer {
            sub: persona.subject,
            ga4gh_passport_v1: signed,
        })
    }
}

/// 256 random bits, URL-safe.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters kept).
fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn provider(dir: &std::path::Path) -> Result<DemoProvider, Box<dyn std::error::Error>> {
        let store = Store::connect("sqlite::memory:", &gemj_store::StoreOptions::default()).await?;
        store.migrate().await?;
        let broker = crate::broker::load(dir, "http://127.0.0.1:1")?;
        Ok(DemoProvider::new(
            broker,
            "http://127.0.0.1:1/portal/callback".to_owned(),
            String::new(),
            "https://gemj.example.jp/datasets/".to_owned(),
            store,
        ))
    }

    fn request(challenge: &str) -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: "code".to_owned(),
            client_id: CLIENT_ID.to_owned(),
            redirect_uri: "http://127.0.0.1:1/portal/callback".to_owned(),
            scope: "openid ga4gh_passport_v1".to_owned(),
            state: "s".to_owned(),
            nonce: Some("n".to_owned()),
            code_challenge: challenge.to_owned(),
            code_challenge_method: "S256".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_code_is_exchanged_once_with_the_verifier_of_its_challenge()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = provider(dir.path()).await?;
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mJ92K9RVPbUdJG5-G1SNnMWUZh7Q5vNG";
        let verifier = &verifier[..43];
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        let url = p.grant(&request(&challenge), "researcher", 1_000)?;
        let code = url
            .split("code=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .ok_or("a code")?
            .to_owned();
        assert!(url.contains("&state=s&iss="));
        let form = |code: &str, verifier: &str| -> HashMap<String, String> {
            [
                ("grant_type", "authorization_code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", "http://127.0.0.1:1/portal/callback"),
                ("code", code),
                ("code_verifier", verifier),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
        };
        let answer = p
            .token(&form(&code, verifier), 1_010)
            .map_err(|e| e.error)?;
        assert_eq!(answer.token_type, "Bearer");
        let info = p
            .userinfo(&answer.access_token, 1_020)
            .await
            .map_err(|e| e.error)?;
        assert_eq!(info.sub, RESEARCHER);
        assert!(!info.ga4gh_passport_v1.is_empty());
        assert_eq!(
            p.token(&form(&code, verifier), 1_011).map(|_| ()),
            Err(oauth("invalid_grant", "unknown or used code")),
            "used once"
        );
        assert_eq!(
            p.userinfo(&answer.access_token, 1_010 + TOKEN_TTL_SECS)
                .await
                .map(|_| ())
                .map_err(|e| e.error),
            Err("invalid_token"),
            "the access token expires"
        );
        let late = p.grant(&request(&challenge), "committee", 2_000)?;
        let late = late
            .split("code=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .ok_or("a code")?;
        assert_eq!(
            p.token(&form(late, verifier), 2_000 + CODE_TTL_SECS)
                .map(|_| ())
                .map_err(|e| e.error),
            Err("invalid_grant"),
            "the code expires"
        );
        Ok(())
    }

    #[tokio::test]
    async fn requests_without_pkce_or_for_another_client_are_refused()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let p = provider(dir.path()).await?;
        let good = request(&"a".repeat(43));
        assert!(p.check(&good).is_ok());
        for bad in [
            AuthorizeRequest {
                code_challenge_method: "plain".to_owned(),
                ..good.clone()
            },
            AuthorizeRequest {
                code_challenge: "short".to_owned(),
                ..good.clone()
            },
            AuthorizeRequest {
                client_id: "other".to_owned(),
                ..good.clone()
            },
            AuthorizeRequest {
                redirect_uri: "https://evil.example/cb".to_owned(),
                ..good.clone()
            },
            AuthorizeRequest {
                scope: "profile".to_owned(),
                ..good.clone()
            },
            AuthorizeRequest {
                state: String::new(),
                ..good.clone()
            },
            AuthorizeRequest {
                response_type: "token".to_owned(),
                ..good.clone()
            },
        ] {
            assert!(p.check(&bad).is_err(), "{bad:?}");
        }
        assert!(p.grant(&good, "nobody", 1).is_err());
        Ok(())
    }
}
