//! SMART Backend Services access tokens for hospital systems (SMART App Launch 2.x, Backend
//! Services): the token endpoint verifies a client assertion signed with the institution's
//! registered key (`gemj_auth::Verifier::verify_client_assertion`), refuses a replayed `jti`,
//! and issues a short-lived access token for the FHIR API, with the `system/` scopes granted.
//!
//! The token is `gemj-smart.<claims>.<tag>`: the claims (institution, client, scopes, expiry,
//! id) in base64url JSON, tagged with HMAC-SHA-256 under the gateway's data-URL key with its
//! own label, so every instance sharing the data folder's key accepts it and no data URL can be
//! passed off as one. It carries no personal data and is audited by its SHA-256 like any token.
//!
//! Replayed assertions are refused by every instance sharing the store: the `(issuer, jti)`
//! pairs exchanged are kept in the database until they expire (`used_assertions`).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gemj_model::InstitutionId;

use crate::Shared;
use crate::data_url::UrlSigner;

/// What every SMART access token starts with.
pub const TOKEN_PREFIX: &str = "gemj-smart.";

const LABEL: &str = "gemj-smart-access-token";

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SmartClaims {
    /// The institution the client belongs to.
    pub institution: InstitutionId,
    /// The client id (the institution's registered issuer).
    pub client: String,
    /// The scopes granted (`system/*.read`, `system/Observation.read`, `system/*.write`).
    pub scopes: Vec<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// The token's id.
    pub jti: String,
}

/// Issues and verifies access tokens; records the client assertions exchanged.
#[derive(Clone)]
pub struct SmartTokens {
    signer: Arc<UrlSigner>,
    ttl_secs: i64,
    store: gemj_store::Store,
}

impl std::fmt::Debug for SmartTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartTokens")
            .field("ttl_secs", &self.ttl_secs)
            .finish_non_exhaustive()
    }
}

impl SmartTokens {
    /// Tokens signed with the gateway's key, living `ttl_secs`.
    #[must_use]
    pub fn new(shared: &Shared, ttl_secs: i64) -> Self {
        Self {
            signer: Arc::clone(&shared.urls),
            ttl_secs,
            store: shared.store.clone(),
        }
    }

    /// How long a token lives, in seconds.
    #[must_use]
    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    /// Records a client assertion's `(issuer, jti)` until `exp`; `false` when it was exchanged
    /// already, on any instance sharing the store (a replay).
    ///
    /// # Errors
    /// [`crate::CoreError`] when the store cannot be reached.
    pub async fn first_use(
        &self,
        issuer: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<bool, crate::CoreError> {
        Ok(self
            .store
            .first_use_of_assertion(issuer, jti, exp, now)
            .await?)
    }

    /// An access token of `claims`.
    #[must_use]
    pub fn issue(&self, claims: &SmartClaims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let tag = self.signer.tag_labelled(LABEL, &body);
        format!("{TOKEN_PREFIX}{body}.{tag}")
    }

    /// The claims of a token this gateway issued, still valid at `now`.
    ///
    /// # Errors
    /// `invalid_token` for anything else, `expired` after its expiry.
    pub fn verify(&self, token: &str, now: i64) -> Result<SmartClaims, &'static str> {
        let rest = token.strip_prefix(TOKEN_PREFIX).ok_or("invalid_token")?;
        if rest.len() > 8192 {
            return Err("invalid_token");
        }
        let (body, tag) = rest.split_once('.').ok_or("invalid_token")?;
        if !self.signer.verify_labelled(LABEL, body, tag) {
            return Err("invalid_token");
        }
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| "invalid_token")?;
        let claims: SmartClaims = serde_json::from_slice(&json).map_err(|_| "invalid_token")?;
        if claims.exp <= now {
            return Err("expired");
        }
        Ok(claims)
    }
}

/// The lowercase hex SHA-256 of a token, for the audit.
#[must_use]
pub fn token_hash(token: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The scopes granted for a `scope` request: each must be a `system/` scope this server
/// supports (`*` or one of `resource_types`, with `read`, `write`, `*` or the SMART v2
/// `rs`/`cruds` letters).
///
/// # Errors
/// The first scope that is not supported (the caller answers `invalid_scope`).
pub fn granted_scopes(requested: &str, resource_types: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for scope in requested.split_whitespace() {
        let Some((resource, access)) = scope
            .strip_prefix("system/")
            .and_then(|s| s.split_once('.'))
        else {
            return Err(scope.to_owned());
        };
        let resource_ok = resource == "*" || resource_types.contains(&resource);
        let access_ok = matches!(access, "read" | "write" | "*")
            || (!access.is_empty() && access.chars().all(|c| "cruds".contains(c)));
        if !resource_ok || !access_ok {
            return Err(scope.to_owned());
        }
        out.push(scope.to_owned());
    }
    if out.is_empty() {
        return Err(String::new());
    }
    Ok(out)
}

/// Whether `scopes` permit reading (or, with `write`, creating) `resource_type` (`None`: any
/// type, as a transaction or an operation over several).
#[must_use]
pub fn permits(scopes: &[String], resource_type: Option<&str>, write: bool) -> bool {
    scopes.iter().any(|scope| {
        let Some((resource, access)) = scope
            .strip_prefix("system/")
            .and_then(|s| s.split_once('.'))
        else {
            return false;
        };
        let resource_ok = resource == "*" || resource_type.is_some_and(|t| t == resource);
        let access_ok = match access {
            "*" => true,
            "read" => !write,
            "write" => write,
            letters if write => letters.contains('c') || letters.contains('u'),
            letters => letters.contains('r') || letters.contains('s'),
        };
        resource_ok && access_ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_granted_and_checked() {
        let types = ["Patient", "Observation"];
        assert_eq!(
            granted_scopes("system/*.read", &types),
            Ok(vec!["system/*.read".to_owned()])
        );
        assert!(granted_scopes("system/Patient.rs system/Observation.read", &types).is_ok());
        assert_eq!(
            granted_scopes("user/*.read", &types),
            Err("user/*.read".to_owned())
        );
        assert!(granted_scopes("system/Claim.read", &types).is_err());
        assert!(granted_scopes("", &types).is_err());
        let read = vec!["system/*.read".to_owned()];
        assert!(permits(&read, Some("Patient"), false));
        assert!(!permits(&read, None, true));
        let one = vec!["system/Patient.rs".to_owned()];
        assert!(permits(&one, Some("Patient"), false));
        assert!(!permits(&one, Some("Observation"), false));
        assert!(!permits(&one, None, false));
        assert!(permits(&["system/*.cruds".to_owned()], None, true));
    }

    #[tokio::test]
    async fn tokens_are_signed_labelled_and_expire() -> Result<(), Box<dyn std::error::Error>> {
        let signer = Arc::new(UrlSigner::new(
            &[7u8; 32],
            std::time::Duration::from_secs(300),
        )?);
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
        let store = gemj_store::Store::connect(&url, &gemj_store::StoreOptions::default()).await?;
        store.migrate().await?;
        let tokens = SmartTokens {
            signer,
            ttl_secs: 300,
            store,
        };
        let claims = SmartClaims {
            institution: InstitutionId::parse("9999000001")
                .map_err(|e| crate::CoreError::InvalidInput(e.to_string()))?,
            client: "https://hospital.example/ehr".to_owned(),
            scopes: vec!["system/*.read".to_owned()],
            exp: 1_000,
            jti: "t1".to_owned(),
        };
        let token = tokens.issue(&claims);
        assert_eq!(tokens.verify(&token, 999), Ok(claims));
        assert_eq!(tokens.verify(&token, 1_000), Err("expired"));
        let forged = token.replace("gemj-smart.", "gemj-smart.x");
        assert_eq!(tokens.verify(&forged, 999), Err("invalid_token"));
        assert!(tokens.first_use("iss", "a", 100, 10).await?);
        assert!(!tokens.first_use("iss", "a", 100, 20).await?, "a replay");
        assert!(
            tokens.first_use("iss", "a", 200, 150).await?,
            "forgotten once expired"
        );
        Ok(())
    }
}
