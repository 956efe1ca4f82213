//! The web portal's sessions and sign-ins under way (migration 0016), here rather than in one
//! instance's memory so that any instance behind a load balancer serves any browser. Keys are
//! SHA-256 hashes of what the browser holds; secrets arrive sealed by the caller.

use crate::{Store, StoreError, with_pool, with_write};

/// A portal session as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct PortalSession {
    /// The CSRF token of the session's forms.
    pub csrf: String,
    /// The broker's access token, sealed.
    pub sealed_token: Vec<u8>,
    /// When it began (seconds since the epoch).
    pub created: i64,
    /// When it was last used.
    pub last_seen: i64,
    /// When it ends at the latest.
    pub expires: i64,
}

impl std::fmt::Debug for PortalSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortalSession")
            .field("created", &self.created)
            .field("last_seen", &self.last_seen)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// A session is touched in the store at most this often, in seconds (its idle time is measured
/// to within this).
const TOUCH_EVERY_SECS: i64 = 30;

impl Store {
    /// Stores a new session under the hash of its id.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for an id already in use; database failures.
    pub async fn put_portal_session(
        &self,
        id_hash: &str,
        session: &PortalSession,
    ) -> Result<(), StoreError> {
        let inserted = with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO portal_sessions (id_hash, csrf, token, created, last_seen, expires) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id_hash) DO NOTHING",
            )
            .bind(id_hash)
            .bind(&session.csrf)
            .bind(&session.sealed_token)
            .bind(session.created)
            .bind(session.last_seen)
            .bind(session.expires)
            .execute(p)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict("portal session", "id"))
        }
    }

    /// The live session under `id_hash` at `now`, marked used: `None` (and the row deleted)
    /// when there is none, it expired, or it was idle for `idle_secs` or more.
    ///
    /// # Errors
    /// Database failures.
    pub async fn use_portal_session(
        &self,
        id_hash: &str,
        now: i64,
        idle_secs: i64,
    ) -> Result<Option<PortalSession>, StoreError> {
        let row: Option<(String, Vec<u8>, i64, i64, i64)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT csrf, token, created, last_seen, expires FROM portal_sessions WHERE id_hash = $1",
            )
            .bind(id_hash)
            .fetch_optional(p)
            .await?
        });
        let Some((csrf, sealed_token, created, last_seen, expires)) = row else {
            return Ok(None);
        };
        if expires <= now || now - last_seen >= idle_secs {
            self.delete_portal_session(id_hash).await?;
            return Ok(None);
        }
        if now - last_seen >= TOUCH_EVERY_SECS {
            with_write!(self, |p| {
                sqlx::query("UPDATE portal_sessions SET last_seen = $1 WHERE id_hash = $2")
                    .bind(now)
                    .bind(id_hash)
                    .execute(p)
                    .await?
                    .rows_affected()
            });
        }
        Ok(Some(PortalSession {
            csrf,
            sealed_token,
            created,
            last_seen: now,
            expires,
        }))
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Database failures.
    pub async fn delete_portal_session(&self, id_hash: &str) -> Result<(), StoreError> {
        with_write!(self, |p| {
            sqlx::query("DELETE FROM portal_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Keeps a sign-in under way (sealed) under the hash of its `state`, and forgets those
    /// begun before `older_than`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] for a state already in use; database failures.
    pub async fn put_portal_login(
        &self,
        state_hash: &str,
        sealed: &[u8],
        created: i64,
        older_than: i64,
    ) -> Result<(), StoreError> {
        let inserted = with_write!(self, |p| {
            sqlx::query("DELETE FROM portal_logins WHERE created < $1")
                .bind(older_than)
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO portal_logins (state_hash, sealed, created) VALUES ($1, $2, $3) \
                 ON CONFLICT (state_hash) DO NOTHING",
            )
            .bind(state_hash)
            .bind(sealed)
            .bind(created)
            .execute(p)
            .await?
            .rows_affected()
        });
        if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict("portal login", "state"))
        }
    }

    /// Takes a sign-in under way: returned once, by whichever instance the browser comes back
    /// to, and deleted.
    ///
    /// # Errors
    /// Database failures.
    pub async fn take_portal_login(
        &self,
        state_hash: &str,
    ) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        let row: Option<(Vec<u8>, i64)> = with_write!(self, |p| {
            sqlx::query_as(
                "DELETE FROM portal_logins WHERE state_hash = $1 RETURNING sealed, created",
            )
            .bind(state_hash)
            .fetch_optional(p)
            .await?
        });
        Ok(row)
    }

    /// Forgets the sessions that ended before `now`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn purge_portal_sessions(&self, now: i64) -> Result<u64, StoreError> {
        Ok(with_write!(self, |p| {
            sqlx::query("DELETE FROM portal_sessions WHERE expires <= $1")
                .bind(now)
                .execute(p)
                .await?
                .rows_affected()
        }))
    }
}
