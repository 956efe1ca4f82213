//! Recontact requests and, per participant, where each one stands (the institution's inbox).

use gemj_model::{
    InstitutionId, ParticipantId, RecontactRequest, RecontactRequestId, RecontactStatus,
};

use crate::catalog::parse_participant_id;
use crate::convert::{
    from_json, json_list, now_rfc3339, parse_variant, rfc3339, to_json, variant_name,
};
use crate::{Store, StoreError, with_pool, with_tx, with_write};

/// One participant of a recontact request, as an institution's inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecontactInboxEntry {
    /// The request.
    pub request: RecontactRequestId,
    /// The participant to contact (enrolled by the institution).
    pub participant: ParticipantId,
    /// Where it stands.
    pub status: RecontactStatus,
}

impl Store {
    /// Stores a recontact request, every participant `pending`. Storing the same request again
    /// changes nothing.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a request with this id but other contents is stored;
    /// [`StoreError::MissingReference`] when a participant is not stored.
    pub async fn put_recontact_request(
        &self,
        request: &RecontactRequest,
    ) -> Result<(), StoreError> {
        let id = request.id.as_str();
        let doc = to_json("recontact request", id, request)?;
        let now = now_rfc3339();
        let pending = variant_name(&RecontactStatus::Pending);
        with_tx!(self, |tx| {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT doc FROM recontact_requests WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(stored) = stored {
                let stored: RecontactRequest = from_json("recontact request", id, &stored)?;
                if stored == *request {
                    return Ok(());
                }
                return Err(StoreError::conflict("recontact request", id));
            }
            sqlx::query(
                "INSERT INTO recontact_requests (id, requester, kind, created_at, doc) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(request.requester.as_str())
            .bind(variant_name(&request.kind))
            .bind(now.as_str())
            .bind(doc)
            .execute(&mut *tx)
            .await?;
            for p in &request.participants {
                sqlx::query(
                    "INSERT INTO recontact_participants (request, participant, status, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                )
                .bind(id)
                .bind(p.as_str())
                .bind(pending.as_str())
                .bind(now.as_str())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::write("recontact request", id))?;
            }
        });
        Ok(())
    }

    /// A recontact request by id.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when the stored request no longer parses.
    pub async fn get_recontact_request(
        &self,
        id: &RecontactRequestId,
    ) -> Result<Option<RecontactRequest>, StoreError> {
        let doc: Option<String> = with_pool!(self, |p| {
            sqlx::query_scalar("SELECT doc FROM recontact_requests WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(p)
                .await?
        });
        doc.map(|d| from_json("recontact request", id.as_str(), &d))
            .transpose()
    }

    /// Where a request stands for each of its participants, ordered by participant.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row no longer parses.
    pub async fn recontact_statuses(
        &self,
        id: &RecontactRequestId,
    ) -> Result<Vec<(ParticipantId, RecontactStatus)>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT participant, status FROM recontact_participants \
                 WHERE request = $1 ORDER BY participant",
            )
            .bind(id.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(participant, status)| {
                let status = parse_variant("recontact request", id.as_str(), &status)?;
                Ok((parse_participant_id(participant)?, status))
            })
            .collect()
    }

    /// Records where a request stands for one participant; `false` when the participant is not
    /// part of the request.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub async fn set_recontact_status(
        &self,
        id: &RecontactRequestId,
        participant: &ParticipantId,
        status: RecontactStatus,
    ) -> Result<bool, StoreError> {
        let done = with_write!(self, |p| {
            sqlx::query(
                "UPDATE recontact_participants SET status = $1, updated_at = $2 \
                 WHERE request = $3 AND participant = $4",
            )
            .bind(variant_name(&status))
            .bind(now_rfc3339())
            .bind(id.as_str())
            .bind(participant.as_str())
            .execute(p)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    /// The recontact inbox of an institution: every request participant it enrolled, ordered
    /// by request and participant.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored row no longer parses.
    pub async fn recontact_inbox(
        &self,
        institution: &InstitutionId,
    ) -> Result<Vec<RecontactInboxEntry>, StoreError> {
        let rows: Vec<(String, String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT rp.request, rp.participant, rp.status \
                 FROM recontact_participants rp JOIN participants pa ON pa.id = rp.participant \
                 WHERE pa.institution = $1 ORDER BY rp.request, rp.participant",
            )
            .bind(institution.as_str())
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(request, participant, status)| {
                let status = parse_variant("recontact request", &request, &status)?;
                let request = RecontactRequestId::try_from(request.clone())
                    .map_err(|e| StoreError::invalid_data("recontact request", &request, e))?;
                Ok(RecontactInboxEntry {
                    request,
                    participant: parse_participant_id(participant)?,
                    status,
                })
            })
            .collect()
    }

    /// Which of `participants` are part of a recontact request created at or after `since`
    /// (whatever its outcome), ordered by participant: those asked too recently to be asked
    /// again.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored id no longer parses.
    pub async fn recontacted_since(
        &self,
        participants: &[ParticipantId],
        since: time::OffsetDateTime,
    ) -> Result<Vec<ParticipantId>, StoreError> {
        if participants.is_empty() {
            return Ok(Vec::new());
        }
        let list = json_list(participants.iter().map(ParticipantId::as_str));
        let since = rfc3339(since);
        let rows: Vec<String> = with_pool!(self, |p, pg| {
            sqlx::query_scalar(if pg {
                "SELECT DISTINCT rp.participant FROM recontact_participants rp \
                 JOIN recontact_requests r ON r.id = rp.request \
                 WHERE r.created_at >= $2 \
                   AND rp.participant IN (SELECT json_array_elements_text($1::json)) \
                 ORDER BY rp.participant"
            } else {
                "SELECT DISTINCT rp.participant FROM recontact_participants rp \
                 JOIN recontact_requests r ON r.id = rp.request \
                 WHERE r.created_at >= $2 AND rp.participant IN (SELECT value FROM json_each($1)) \
                 ORDER BY rp.participant"
            })
            .bind(list)
            .bind(since)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(parse_participant_id).collect()
    }

    /// The recontact requests made by `requester` (`issuer#subject`), oldest first.
    ///
    /// # Errors
    /// [`StoreError::InvalidData`] when a stored request no longer parses.
    pub async fn recontact_requests_of(
        &self,
        requester: &str,
    ) -> Result<Vec<RecontactRequest>, StoreError> {
        let rows: Vec<(String, String)> = with_pool!(self, |p| {
            sqlx::query_as(
                "SELECT id, doc FROM recontact_requests WHERE requester = $1 \
                 ORDER BY created_at, id",
            )
            .bind(requester)
            .fetch_all(p)
            .await?
        });
        rows.iter()
            .map(|(id, doc)| from_json("recontact request", id, doc))
            .collect()
    }
}
