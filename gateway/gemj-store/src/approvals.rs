//! Approvals of the data-use review committee: stored whole, queried by researcher, changed
//! only in status. A status change is immediate: the next access decision reads it.

use gemj_model::{Approval, ApprovalId, ApprovalStatus};

use crate::convert::{from_json, now_rfc3339, rfc3339, to_json};
use crate::{Store, StoreError, with_pool, with_tx};

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
        let doc = to_json("approval", id, approval)?;
        let now = now_rfc3339();
        let datasets: Vec<&str> = approval
            .datasets
            .iter()
            .map(gemj_model::DatasetId::as_str)
            .collect();
        with_tx!(self, |tx| {
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
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::write("approval", id))?;
            sqlx::query("DELETE FROM approval_datasets WHERE approval = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for dataset in &datasets {
                sqlx::query("INSERT INTO approval_datasets (approval, dataset) VALUES ($1, $2)")
                    .bind(id)
                    .bind(*dataset)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::write("approval dataset", dataset))?;
            }
        });
        Ok(())
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
        let Some(mut approval) = self.get_approval(id).await? else {
            return Ok(false);
        };
        if approval.status == ApprovalStatus::Revoked && status != ApprovalStatus::Revoked {
            return Err(StoreError::conflict("approval", id.as_str()));
        }
        approval.status = status;
        let doc = to_json("approval", id.as_str(), &approval)?;
        let now = now_rfc3339();
        let changed = with_pool!(self, |p| {
            sqlx::query("UPDATE approvals SET status = $1, doc = $2, updated_at = $3 WHERE id = $4")
                .bind(status.as_str())
                .bind(&doc)
                .bind(&now)
                .bind(id.as_str())
                .execute(p)
                .await?
                .rows_affected()
        });
        Ok(changed == 1)
    }
}
