//! Approvals of the data-use review committee: stored whole, queried by researcher, changed
//! only in status. A status change is immediate: the next access decision reads it.

use gemj_model::{
    Application, ApplicationDecision, Approval, ApprovalEvent, ApprovalId, ApprovalStatus,
};

use crate::convert::{from_json, now_rfc3339, rfc3339, to_json};
use crate::{Store, StoreError, with_pool, with_tx, with_write};

/// An application for access with the committee's decision, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApplication {
    /// What the researcher asked for.
    pub application: Application,
    /// The decision (`None`: pending).
    pub decision: Option<ApplicationDecision>,
}

/// Inserts (or replaces) an approval and its datasets inside the transaction `$tx`.
macro_rules! write_approval {
    ($tx:ident, $approval:expr) => {{
        let approval: &Approval = $approval;
        let id = approval.id.as_str();
        let doc = to_json("approval", id, approval)?;
        sqlx::query(
            "INSERT INTO approvals (id, researcher_issuer, researcher_subject, status, valid_from, valid_until, doc, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET researcher_issuer = excluded.researcher_issuer, \
             researcher_subject = excluded.researcher_subject, status = excluded.status, \
             valid_from = excluded.valid_from, valid_until = excluded.valid_until, doc = excluded.doc, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(&approval.researcher_issuer)
        .bind(&approval.researcher_subject)
        .bind(approval.status.as_str())
        .bind(rfc3339(approval.valid_from))
        .bind(rfc3339(approval.valid_until))
        .bind(&doc)
        .bind(now_rfc3339())
        .execute(&mut *$tx)
        .await
        .map_err(StoreError::write("approval", id))?;
        sqlx::query("DELETE FROM approval_datasets WHERE approval = $1")
            .bind(id)
            .execute(&mut *$tx)
            .await?;
        for dataset in &approval.datasets {
            sqlx::query("INSERT INTO approval_datasets (approval, dataset) VALUES ($1, $2)")
                .bind(id)
                .bind(dataset.as_str())
                .execute(&mut *$tx)
                .await
                .map_err(StoreError::write("approval dataset", dataset.as_str()))?;
        }
    }};
}

/// Appends an approval's status change inside the transaction `$tx`.
macro_rules! write_approval_event {
    ($tx:ident, $id:expr, $event:expr) => {{
        let event: &ApprovalEvent = $event;
        sqlx::query(
            "INSERT INTO approval_events (approval, at, status, reason, actor) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind($id)
        .bind(rfc3339(event.at))
        .bind(event.status.as_str())
        .bind(&event.reason)
        .bind(&event.by)
        .execute(&mut *$tx)
        .await
        .map_err(StoreError::write("approval event", $id))?;
    }};
}

impl Store {
    /// Stores an approval (insert or replace), with its datasets.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when the approval does not validate;
    /// [`StoreError::MissingReference`] when a dataset is not stored.
    pub async fn put_approval(&self, approval: &Approval) -> Result<(), StoreError> {
        let id = approval.id.as_str();
        approval
            .validate()
            .map_err(|e| StoreError::invalid_input("approval", id, e))?;
        with_tx!(self, |tx| write_approval!(tx, approval));
        self.approval_written();
        Ok(())
    }

    /// How many approval writes this handle (or a clone) has committed: changes at once when
    /// this process writes an approval, so a cached reading taken before is known stale.
    #[must_use]
    pub fn approval_writes(&self) -> u64 {
        self.approval_writes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn approval_written(&self) {
        self.approval_writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// An approval by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_approval(&self, id: &ApprovalId) -> Result<Option<Approval>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM approvals WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("approval", id.as_str(), &d))
            .transpose()
    }

    /// Every approval of a researcher (issuer and subject), in id order, whatever its status.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn approvals_of(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<Approval>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, doc FROM approvals WHERE researcher_issuer = $1 AND researcher_subject = $2 ORDER BY id",
            )
            .bind(issuer)
            .bind(subject)
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|(id, doc)| from_json("approval", id, doc))
            .collect()
    }

    /// Changes an approval's status. Returns false when there is no such approval. A revoked
    /// approval stays revoked: changing it is refused.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the approval is revoked and `status` is not.
    pub async fn set_approval_status(
        &self,
        id: &ApprovalId,
        status: ApprovalStatus,
    ) -> Result<bool, StoreError> {
        self.status_change(id, status, None).await
    }

    /// Changes an approval's status and records who did it and why, in one transaction.
    /// Returns false when there is no such approval.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the approval is revoked and the event's status is not.
    pub async fn change_approval_status(
        &self,
        id: &ApprovalId,
        event: &ApprovalEvent,
    ) -> Result<bool, StoreError> {
        self.status_change(id, event.status, Some(event)).await
    }

    async fn status_change(
        &self,
        id: &ApprovalId,
        status: ApprovalStatus,
        event: Option<&ApprovalEvent>,
    ) -> Result<bool, StoreError> {
        let key = id.as_str();
        let changed = with_tx!(self, |tx| {
            let doc: Option<String> = sqlx::query_scalar("SELECT doc FROM approvals WHERE id = $1")
                .bind(key)
                .fetch_optional(&mut *tx)
                .await?;
            match doc {
                None => false,
                Some(doc) => {
                    let mut approval: Approval = from_json("approval", key, &doc)?;
                    if approval.status == ApprovalStatus::Revoked
                        && status != ApprovalStatus::Revoked
                    {
                        return Err(StoreError::conflict("approval", key));
                    }
                    approval.status = status;
                    let doc = to_json("approval", key, &approval)?;
                    sqlx::query(
                        "UPDATE approvals SET status = $1, doc = $2, updated_at = $3 WHERE id = $4",
                    )
                    .bind(status.as_str())
                    .bind(&doc)
                    .bind(now_rfc3339())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                    if let Some(event) = event {
                        write_approval_event!(tx, key, event);
                    }
                    true
                }
            }
        });
        self.approval_written();
        Ok(changed)
    }

    /// An approval's status changes with their reasons, oldest first.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn approval_events(&self, id: &ApprovalId) -> Result<Vec<ApprovalEvent>, StoreError> {
        let rows: Vec<(String, String, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT at, status, reason, actor FROM approval_events WHERE approval = $1 ORDER BY seq",
            )
            .bind(id.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(at, status, reason, by)| {
                Ok(ApprovalEvent {
                    at: parse_time("approval event", id.as_str(), &at)?,
                    status: crate::convert::parse_variant("approval event", id.as_str(), &status)?,
                    reason,
                    by,
                })
            })
            .collect()
    }

    /// Every approval, most recently changed first, at most `limit`: the committee's list.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn list_approvals(&self, limit: u32) -> Result<Vec<Approval>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as("SELECT id, doc FROM approvals ORDER BY updated_at DESC, id LIMIT $1")
                .bind(crate::convert::page_limit(limit))
                .fetch_all(p)
                .await?
        });
        rows.iter()
            .map(|(id, doc)| from_json("approval", id, doc))
            .collect()
    }

    /// Stores a new application for access.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when it does not validate; [`StoreError::Conflict`] when
    /// its id is taken; [`StoreError::MissingReference`]-like write errors.
    pub async fn put_application(&self, application: &Application) -> Result<(), StoreError> {
        let id = application.id.as_str();
        application
            .validate()
            .map_err(|e| StoreError::invalid_input("application", id, e))?;
        let doc = to_json("application", id, application)?;
        let inserted = with_write!(self, |p| {
            sqlx::query(
                "INSERT INTO approval_applications (id, researcher_issuer, researcher_subject, submitted_at, doc) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(&application.researcher_issuer)
            .bind(&application.researcher_subject)
            .bind(rfc3339(application.submitted_at))
            .bind(&doc)
            .execute(p)
            .await
            .map_err(StoreError::write("application", id))?
            .rows_affected()
        });
        if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::conflict("application", id))
        }
    }

    /// Applications, newest first, at most `limit`: the pending ones only, or all.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn list_applications(
        &self,
        pending_only: bool,
        limit: u32,
    ) -> Result<Vec<StoredApplication>, StoreError> {
        let sql = if pending_only {
            "SELECT id, doc, decision, decided_at, decided_by, reason, approval FROM approval_applications \
             WHERE decision IS NULL ORDER BY submitted_at DESC, id LIMIT $1"
        } else {
            "SELECT id, doc, decision, decided_at, decided_by, reason, approval FROM approval_applications \
             ORDER BY submitted_at DESC, id LIMIT $1"
        };
        let rows: Vec<ApplicationRow> = with_pool!(self, |p| {
            sqlx::query_as(sql)
                .bind(crate::convert::page_limit(limit))
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(stored_application).collect()
    }

    /// A researcher's applications (issuer and subject), newest first.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row does not parse.
    pub async fn applications_of(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<StoredApplication>, StoreError> {
        let rows: Vec<ApplicationRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, doc, decision, decided_at, decided_by, reason, approval FROM approval_applications \
                 WHERE researcher_issuer = $1 AND researcher_subject = $2 ORDER BY submitted_at DESC, id",
            )
            .bind(issuer)
            .bind(subject)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(stored_application).collect()
    }

    /// One application.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored row does not parse.
    pub async fn get_application(
        &self,
        id: &ApprovalId,
    ) -> Result<Option<StoredApplication>, StoreError> {
        let row: Option<ApplicationRow> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, doc, decision, decided_at, decided_by, reason, approval FROM approval_applications WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(p)
            .await?
        });
        row.map(stored_application).transpose()
    }

    /// Decides a pending application, in one transaction: records `approval` when approved
    /// (with its first event, the decision's reason), and the decision. Returns false when there
    /// is no such application.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when it is already decided; [`StoreError::InvalidInput`] when
    /// the decision and the approval disagree or the approval does not validate.
    pub async fn decide_application(
        &self,
        id: &ApprovalId,
        decision: &ApplicationDecision,
        approval: Option<&Approval>,
    ) -> Result<bool, StoreError> {
        let key = id.as_str();
        if decision.approved != approval.is_some()
            || approval.map(|a| &a.id) != decision.approval.as_ref()
        {
            return Err(StoreError::invalid_input(
                "application",
                key,
                "an approved application records exactly its approval",
            ));
        }
        if let Some(a) = approval {
            a.validate()
                .map_err(|e| StoreError::invalid_input("approval", a.id.as_str(), e))?;
        }
        let found = with_tx!(self, |tx| {
            let state: Option<Option<String>> =
                sqlx::query_scalar("SELECT decision FROM approval_applications WHERE id = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
            match state {
                None => false,
                Some(Some(_)) => return Err(StoreError::conflict("application", key)),
                Some(None) => {
                    if let Some(approval) = approval {
                        write_approval!(tx, approval);
                        let event = ApprovalEvent {
                            at: decision.at,
                            status: ApprovalStatus::Active,
                            reason: decision.reason.clone(),
                            by: decision.by.clone(),
                        };
                        write_approval_event!(tx, approval.id.as_str(), &event);
                    }
                    sqlx::query(
                        "UPDATE approval_applications SET decision = $1, decided_at = $2, decided_by = $3, \
                         reason = $4, approval = $5 WHERE id = $6 AND decision IS NULL",
                    )
                    .bind(if decision.approved { "approved" } else { "rejected" })
                    .bind(rfc3339(decision.at))
                    .bind(&decision.by)
                    .bind(&decision.reason)
                    .bind(decision.approval.as_ref().map(ApprovalId::as_str))
                    .bind(key)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::write("application", key))?;
                    true
                }
            }
        });
        self.approval_written();
        Ok(found)
    }
}

type ApplicationRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn stored_application(row: ApplicationRow) -> Result<StoredApplication, StoreError> {
    let (id, doc, decision, at, by, reason, approval) = row;
    let application: Application = from_json("application", &id, &doc)?;
    let decision = match (decision, at) {
        (Some(decision), Some(at)) => Some(ApplicationDecision {
            approved: decision == "approved",
            at: parse_time("application", &id, &at)?,
            by: by.unwrap_or_default(),
            reason: reason.unwrap_or_default(),
            approval: approval
                .map(|a| ApprovalId::parse(&a))
                .transpose()
                .map_err(|e| StoreError::invalid_data("application", &id, e))?,
        }),
        _ => None,
    };
    Ok(StoredApplication {
        application,
        decision,
    })
}

fn parse_time(
    entity: &'static str,
    id: &str,
    text: &str,
) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::invalid_data(entity, id, e))
}
