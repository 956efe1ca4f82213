//! Revoked credentials: a token (issuer and `jti`) or every token of a subject (issuer and
//! `sub`). Small and rarely changed; every instance reads the whole list when it polls.

use crate::convert::now_rfc3339;
use crate::{Store, StoreError, with_pool, with_write};

/// What a revocation names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationKind {
    /// One token: `value` is its `jti`.
    Token,
    /// Every token of a subject: `value` is its `sub`.
    Subject,
}

impl RevocationKind {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Subject => "subject",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "token" => Some(Self::Token),
            "subject" => Some(Self::Subject),
            _ => None,
        }
    }
}

/// One revoked credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// A token or a subject.
    pub kind: RevocationKind,
    /// The issuer (`iss`) of the token or subject.
    pub issuer: String,
    /// The `jti` of the token, or the `sub` of the subject.
    pub value: String,
    /// Why (free text, shown to administrators).
    pub reason: String,
    /// When it was recorded (RFC 3339; set by the store).
    #[serde(default)]
    pub created_at: String,
    /// Who recorded it (`issuer#subject` of the administrator; set by the caller).
    #[serde(default)]
    pub created_by: String,
}

impl Store {
    /// Records a revocation; `false` when the same (kind, issuer, value) is already revoked
    /// (the first record is kept).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty issuer or value, and store failures.
    pub async fn revoke(&self, r: &Revocation) -> Result<bool, StoreError> {
        if r.issuer.is_empty() || r.value.is_empty() {
            return Err(StoreError::invalid_input(
                "revocation",
                &r.value,
                "issuer and value must not be empty",
            ));
        }
        let now = now_rfc3339();
        let inserted = with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO revocations (kind, issuer, value, reason, created_at, created_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, issuer, value) DO NOTHING",
            )
            .bind(r.kind.as_str())
            .bind(&r.issuer)
            .bind(&r.value)
            .bind(&r.reason)
            .bind(&now)
            .bind(&r.created_by)
            .execute(p)
            .await
            .map_err(StoreError::write("revocation", &r.value))?
            .rows_affected()
        });
        Ok(inserted == 1)
    }

    /// Lifts a revocation; `false` when there was none.
    ///
    /// # Errors
    /// Store failures.
    pub async fn unrevoke(
        &self,
        kind: RevocationKind,
        issuer: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        let deleted = with_write!(self, |p| {
            sqlx::query("DELETE FROM revocations WHERE kind = $1 AND issuer = $2 AND value = $3")
                .bind(kind.as_str())
                .bind(issuer)
                .bind(value)
                .execute(p)
                .await
                .map_err(StoreError::write("revocation", value))?
                .rows_affected()
        });
        Ok(deleted == 1)
    }

    /// Every revocation, in (kind, issuer, value) order.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] for a stored kind this version does not know.
    pub async fn revocations(&self) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<(String, String, String, String, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT kind, issuer, value, reason, created_at, created_by FROM revocations \
                     ORDER BY kind, issuer, value",
            )
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(kind, issuer, value, reason, created_at, created_by)| {
                let kind = RevocationKind::parse(&kind).ok_or_else(|| {
                    StoreError::invalid_data("revocation", &value, "unknown kind")
                })?;
                Ok(Revocation {
                    kind,
                    issuer,
                    value,
                    reason,
                    created_at,
                    created_by,
                })
            })
            .collect()
    }
}

impl Store {
    /// Records a SMART client assertion's `(issuer, jti)` until `expires_at` (seconds since the
    /// epoch); `false` when it was recorded already, by this instance or another sharing the
    /// database (a replay). Assertions expired at `now` are forgotten first (the verifier
    /// refuses them anyway).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn first_use_of_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let inserted = with_write!(self, |p| {
            sqlx::query("DELETE FROM used_assertions WHERE expires_at < $1")
                .bind(now)
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO used_assertions (issuer, jti, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(issuer)
            .bind(jti)
            .bind(expires_at)
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(inserted == 1)
    }
}
