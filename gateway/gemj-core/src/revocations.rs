//! Revoked credentials, applied to every verified Passport before any decision: the list of
//! `/admin/v1/revocations`, read from the store at start, after every local change, and by a
//! poll (every `interval`), so a revocation made on one instance holds on every instance that
//! shares the store within one poll.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use gemj_auth::{RejectedVisa, VerifiedPassport};
use gemj_store::{Revocation, RevocationKind, Store};

use crate::access::{Principal, RequestContext, Resource};
use crate::approvals_api::administer;
use crate::{CoreError, Shared};

/// Why a verified Passport is refused by revocation.
pub const TOKEN_REVOKED: &str = "token_revoked";
/// Why a verified Passport is refused: its subject is revoked.
pub const SUBJECT_REVOKED: &str = "subject_revoked";
/// Why a Visa of a verified Passport is ignored: it, or its subject, is revoked.
pub const VISA_REVOKED: &str = "visa_revoked";

#[derive(Debug, Default)]
struct Snapshot {
    /// (issuer, jti).
    tokens: HashSet<(String, String)>,
    /// (issuer, sub).
    subjects: HashSet<(String, String)>,
}

/// The revocation list in force on this instance.
#[derive(Debug, Clone)]
pub struct RevocationList {
    store: Store,
    current: Arc<RwLock<Snapshot>>,
}

impl RevocationList {
    /// Reads the list and keeps it current by polling the store every `interval`.
    ///
    /// # Errors
    /// [`CoreError::Store`] when the first read fails.
    pub async fn start(store: Store, interval: Duration) -> Result<Self, CoreError> {
        let list = Self {
            store,
            current: Arc::default(),
        };
        list.refresh().await?;
        let poller = list.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = poller.refresh().await {
                    tracing::warn!(message = "Cannot read the revocation list.", error = %e);
                }
            }
        });
        Ok(list)
    }

    /// Reads the list from the store now.
    ///
    /// # Errors
    /// [`CoreError::Store`].
    pub async fn refresh(&self) -> Result<(), CoreError> {
        let rows = self.store.revocations().await?;
        let mut next = Snapshot::default();
        for Revocation {
            kind,
            issuer,
            value,
            ..
        } in rows
        {
            match kind {
                RevocationKind::Token => next.tokens.insert((issuer, value)),
                RevocationKind::Subject => next.subjects.insert((issuer, value)),
            };
        }
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        Ok(())
    }

    /// Applies the list to a verified Passport: a revoked Passport (by its `jti`) or subject is
    /// refused with its reason code; a revoked Visa (by its issuer and `jti`, or its subject) is
    /// moved to the rejected Visas with [`VISA_REVOKED`].
    ///
    /// # Errors
    /// [`TOKEN_REVOKED`] or [`SUBJECT_REVOKED`].
    pub fn apply(&self, mut passport: VerifiedPassport) -> Result<VerifiedPassport, &'static str> {
        let now = self.current.read().unwrap_or_else(PoisonError::into_inner);
        if now.tokens.is_empty() && now.subjects.is_empty() {
            return Ok(passport);
        }
        let key = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        if now
            .subjects
            .contains(&key(&passport.issuer, &passport.subject))
        {
            return Err(SUBJECT_REVOKED);
        }
        if passport
            .token_ids
            .iter()
            .any(|jti| now.tokens.contains(&key(&passport.issuer, jti)))
        {
            return Err(TOKEN_REVOKED);
        }
        let (revoked, kept): (Vec<_>, Vec<_>) = passport.visas.into_iter().partition(|v| {
            now.subjects.contains(&key(&v.claims.iss, &v.claims.sub))
                || v.claims
                    .jti
                    .as_deref()
                    .is_some_and(|jti| now.tokens.contains(&key(&v.claims.iss, jti)))
        });
        passport.visas = kept;
        passport
            .rejected
            .extend(revoked.into_iter().map(|v| RejectedVisa {
                hash: v.hash,
                reason: VISA_REVOKED,
            }));
        Ok(passport)
    }

    /// [`RevocationList::apply`] to a shared Passport (the verifier's cached one): handed back
    /// as it is while nothing is revoked, so no request copies its Visas for nothing.
    ///
    /// # Errors
    /// As [`RevocationList::apply`].
    pub fn apply_shared(
        &self,
        passport: std::sync::Arc<VerifiedPassport>,
    ) -> Result<std::sync::Arc<VerifiedPassport>, &'static str> {
        let none = {
            let now = self.current.read().unwrap_or_else(PoisonError::into_inner);
            now.tokens.is_empty() && now.subjects.is_empty()
        };
        if none {
            return Ok(passport);
        }
        self.apply(std::sync::Arc::unwrap_or_clone(passport))
            .map(std::sync::Arc::new)
    }
}

/// The administrators' API over the list (`/admin/v1/revocations`): every call is an access
/// decision (administrators only), audited, and a change is in force on this instance before
/// the call returns. Built once at start, cheap to clone.
#[derive(Debug, Clone)]
pub struct RevocationsService {
    core: Shared,
}

impl RevocationsService {
    /// The service over the gateway's shared parts.
    #[must_use]
    pub fn new(core: Shared) -> Self {
        Self { core }
    }
}

impl RevocationsService {
    /// Every revocation.
    ///
    /// # Errors
    /// [`CoreError::Denied`] for a caller who is not an administrator; store failures.
    pub async fn list(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<Vec<Revocation>, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Revocations).await?;
        Ok(core.store.revocations().await?)
    }

    /// Revokes a token or a subject; `true` when it was not revoked yet.
    ///
    /// # Errors
    /// [`CoreError::Denied`]; [`CoreError::InvalidInput`] for an empty issuer, value or reason.
    pub async fn revoke(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        revocation: &Revocation,
    ) -> Result<bool, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Revocations).await?;
        if revocation.issuer.trim().is_empty()
            || revocation.value.trim().is_empty()
            || revocation.reason.trim().is_empty()
        {
            return Err(CoreError::InvalidInput(
                "a revocation needs kind, issuer, value and reason".to_owned(),
            ));
        }
        let record = Revocation {
            created_by: principal.audit_name(),
            ..revocation.clone()
        };
        let new = core.store.revoke(&record).await?;
        core.revocations.refresh().await?;
        Ok(new)
    }

    /// Lifts a revocation; `false` when there was none.
    ///
    /// # Errors
    /// [`CoreError::Denied`]; store failures.
    pub async fn unrevoke(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        kind: RevocationKind,
        issuer: &str,
        value: &str,
    ) -> Result<bool, CoreError> {
        let core = &self.core;
        administer(core, ctx, principal, &Resource::Revocations).await?;
        let removed = core.store.unrevoke(kind, issuer, value).await?;
        core.revocations.refresh().await?;
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shared Passport passes untouched (the same allocation) while nothing is revoked, and
    /// is refused or trimmed like an owned one once something is.
    #[tokio::test]
    async fn a_shared_passport_is_copied_only_when_something_is_revoked()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite:{}", dir.path().join("gemj.db").display());
        let store = Store::connect(&url, &gemj_store::StoreOptions::default()).await?;
        store.migrate().await?;
        let list = RevocationList::start(store.clone(), Duration::from_secs(3600)).await?;
        let passport = Arc::new(VerifiedPassport {
            issuer: "https://broker.example".into(),
            subject: "alice".into(),
            passport_hash: "p".into(),
            visas: vec![],
            rejected: vec![],
            expires_at: 1_900_000_000,
            token_ids: vec!["jti-1".into()],
            network_caller: None,
        });
        let same = list.apply_shared(Arc::clone(&passport));
        assert!(same.is_ok_and(|p| Arc::ptr_eq(&p, &passport)));

        // Another subject revoked: a copy, equal to the original.
        let revoke = |value: &str| Revocation {
            kind: RevocationKind::Subject,
            issuer: "https://broker.example".into(),
            value: value.into(),
            reason: "test".into(),
            created_at: String::new(),
            created_by: "admin".into(),
        };
        store.revoke(&revoke("bob")).await?;
        list.refresh().await?;
        let copied = list.apply_shared(Arc::clone(&passport));
        assert!(copied.is_ok_and(|p| !Arc::ptr_eq(&p, &passport) && *p == *passport));

        store.revoke(&revoke("alice")).await?;
        list.refresh().await?;
        assert_eq!(
            list.apply_shared(Arc::clone(&passport)).err(),
            Some(SUBJECT_REVOKED)
        );
        Ok(())
    }
}
