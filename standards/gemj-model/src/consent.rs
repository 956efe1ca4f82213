//! Consent: append-only events from institutions, and the current state as a pure projection
//! of them ([`project`]). Nothing here updates a state in place: a correction is a new event.

use crate::{InstitutionId, ParticipantId};

/// Whether and how a participant may be recontacted.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Recontact {
    /// Recontact is allowed at all.
    pub allowed: bool,
    /// The institution through which recontact must go (normally the enrolling hospital).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_institution: Option<InstitutionId>,
}

/// What a participant agreed to. Each scope is explicit: nothing is implied by another.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ConsentScopes {
    /// Use of data and samples for research at all.
    pub research_use: bool,
    /// Provision to third parties in academia.
    pub third_party_academia: bool,
    /// Provision to third parties in industry (for-profit).
    pub third_party_industry: bool,
    /// Transfer for processing outside Japan.
    pub international_transfer: bool,
    /// Recontact.
    pub recontact: Recontact,
    /// Return of secondary (incidental) findings.
    pub return_of_secondary_findings: bool,
}

impl ConsentScopes {
    /// No scope at all: the state of a participant with no consent, or after full withdrawal.
    #[must_use]
    pub fn none() -> Self {
        Self {
            research_use: false,
            third_party_academia: false,
            third_party_industry: false,
            international_transfer: false,
            recontact: Recontact {
                allowed: false,
                via_institution: None,
            },
            return_of_secondary_findings: false,
        }
    }
}

/// How far a withdrawal goes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalLevel {
    /// Partial: no further provision to third parties; use inside the program continues.
    StopThirdPartyProvision,
    /// Partial: no further contact (recontact and return of findings end), data use continues.
    StopContact,
    /// Full: no further use of data or samples; the participant disappears from every API.
    StopAllUse,
    /// Full, and samples and identifiable data are to be destroyed by the institution.
    StopAllUseAndDestroy,
}

impl WithdrawalLevel {
    /// Whether the participant may no longer be served at all.
    #[must_use]
    pub fn is_full(self) -> bool {
        matches!(self, Self::StopAllUse | Self::StopAllUseAndDestroy)
    }
}

/// What kind of consent event.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConsentEventKind {
    /// First consent, with its scopes.
    InitialConsent {
        /// Agreed scopes.
        scopes: ConsentScopes,
        /// Given by a proxy (parent or guardian) for a minor or incapacitated participant.
        #[serde(default)]
        by_proxy: bool,
    },
    /// The participant changed their intention: the new scopes replace the old.
    ChangeOfIntention {
        /// The new scopes.
        scopes: ConsentScopes,
    },
    /// Partial or full withdrawal.
    Withdrawal {
        /// How far it goes.
        level: WithdrawalLevel,
    },
    /// A participant consented by proxy re-consents in person at majority.
    ReconsentAtMajority {
        /// The scopes agreed in person.
        scopes: ConsentScopes,
    },
    /// The institution reports the participant's death. Data use follows the last scopes,
    /// recontact ends. (A struct variant without fields, so that unknown fields are refused as
    /// for every other kind.)
    DeathReported {},
    /// A correction of an earlier event recorded in error: the corrected event is ignored and
    /// the scopes given here apply from now on.
    Correction {
        /// The event id being corrected.
        corrects: String,
        /// The scopes that should have applied.
        scopes: ConsentScopes,
    },
}

/// One consent event, as an institution sends it. Unknown fields are rejected by the flattened
/// [`ConsentEventKind`] (serde cannot combine `deny_unknown_fields` with `flatten` on the outer
/// struct, serde-rs/serde#1600).
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct ConsentEvent {
    /// Event id, unique per institution (events are idempotent by it).
    pub event_id: String,
    /// Whose consent.
    pub participant: ParticipantId,
    /// The institution that recorded it.
    pub institution: InstitutionId,
    /// When it takes effect (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub effective_at: time::OffsetDateTime,
    /// What happened.
    #[serde(flatten)]
    pub kind: ConsentEventKind,
}

/// The overall status of a participant's consent.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    /// No consent event yet: nothing may be served.
    NoConsent,
    /// Consent in force (possibly with partial withdrawals already applied to its scopes).
    Active,
    /// Fully withdrawn: never served.
    Withdrawn,
    /// Deceased: data use per the last scopes, no recontact.
    Deceased,
}

/// The current consent of one participant, projected from their events.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ConsentState {
    /// Whose consent.
    pub participant: ParticipantId,
    /// Overall status.
    pub status: ConsentStatus,
    /// The scopes in force (all false unless `status` is active or deceased).
    pub scopes: ConsentScopes,
    /// Whether the scopes in force were given by a proxy.
    pub by_proxy: bool,
    /// The last full or partial withdrawal level, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<WithdrawalLevel>,
    /// The last applied event id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event: Option<String>,
}

impl ConsentState {
    /// Whether the participant's data may be served for research at all.
    #[must_use]
    pub fn permits_research(&self) -> bool {
        matches!(self.status, ConsentStatus::Active | ConsentStatus::Deceased)
            && self.scopes.research_use
    }

    /// Whether the participant may be recontacted.
    #[must_use]
    pub fn permits_recontact(&self) -> bool {
        self.status == ConsentStatus::Active && self.scopes.recontact.allowed
    }
}

/// Projects the current state from events in the order they were recorded. Events with
/// `effective_at` in the future relative to `now` are not yet applied. A full withdrawal is
/// final: only a correction of the withdrawal event itself undoes it.
#[must_use]
pub fn project(
    participant: &ParticipantId,
    events: &[ConsentEvent],
    now: time::OffsetDateTime,
) -> ConsentState {
    let corrected: std::collections::HashSet<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            ConsentEventKind::Correction { corrects, .. } => Some(corrects.as_str()),
            _ => None,
        })
        .collect();
    let mut state = ConsentState {
        participant: participant.clone(),
        status: ConsentStatus::NoConsent,
        scopes: ConsentScopes::none(),
        by_proxy: false,
        withdrawal: None,
        last_event: None,
    };
    for e in events
        .iter()
        .filter(|e| &e.participant == participant && e.effective_at <= now)
    {
        if corrected.contains(e.event_id.as_str()) {
            continue;
        }
        let fully_withdrawn = state.status == ConsentStatus::Withdrawn;
        match &e.kind {
            ConsentEventKind::InitialConsent { scopes, by_proxy } if !fully_withdrawn => {
                state.status = ConsentStatus::Active;
                state.scopes = scopes.clone();
                state.by_proxy = *by_proxy;
            }
            ConsentEventKind::ChangeOfIntention { scopes }
                if state.status == ConsentStatus::Active =>
            {
                state.scopes = scopes.clone();
            }
            ConsentEventKind::ReconsentAtMajority { scopes }
                if state.status == ConsentStatus::Active =>
            {
                state.scopes = scopes.clone();
                state.by_proxy = false;
            }
            ConsentEventKind::Withdrawal { level } => {
                state.withdrawal = Some(*level);
                match level {
                    WithdrawalLevel::StopThirdPartyProvision => {
                        state.scopes.third_party_academia = false;
                        state.scopes.third_party_industry = false;
                        state.scopes.international_transfer = false;
                    }
                    WithdrawalLevel::StopContact => {
                        state.scopes.recontact = crate::Recontact {
                            allowed: false,
                            via_institution: None,
                        };
                        state.scopes.return_of_secondary_findings = false;
                    }
                    WithdrawalLevel::StopAllUse | WithdrawalLevel::StopAllUseAndDestroy => {
                        state.status = ConsentStatus::Withdrawn;
                        state.scopes = ConsentScopes::none();
                    }
                }
            }
            ConsentEventKind::DeathReported {} if state.status == ConsentStatus::Active => {
                state.status = ConsentStatus::Deceased;
                state.scopes.recontact = crate::Recontact {
                    allowed: false,
                    via_institution: None,
                };
            }
            ConsentEventKind::Correction { scopes, .. } => {
                // A correction re-states the scopes; a withdrawal it does not name stays.
                if !fully_withdrawn {
                    state.status = ConsentStatus::Active;
                    state.scopes = scopes.clone();
                }
            }
            _ => continue,
        }
        state.last_event = Some(e.event_id.clone());
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> ConsentScopes {
        ConsentScopes {
            research_use: true,
            third_party_academia: true,
            third_party_industry: true,
            international_transfer: true,
            recontact: Recontact {
                allowed: true,
                via_institution: None,
            },
            return_of_secondary_findings: true,
        }
    }

    #[test]
    fn every_kind_refuses_unknown_fields() -> Result<(), Box<dyn std::error::Error>> {
        let scopes = serde_json::to_value(all())?;
        let kinds = [
            serde_json::json!({"kind": "initial_consent", "scopes": scopes}),
            serde_json::json!({"kind": "change_of_intention", "scopes": scopes}),
            serde_json::json!({"kind": "withdrawal", "level": "stop_all_use"}),
            serde_json::json!({"kind": "reconsent_at_majority", "scopes": scopes}),
            serde_json::json!({"kind": "death_reported"}),
            serde_json::json!({"kind": "correction", "corrects": "e1", "scopes": scopes}),
        ];
        for kind in kinds {
            let mut event = serde_json::json!({
                "event_id": "e9", "participant": "P1", "institution": "9999000001",
                "effective_at": "2026-01-01T00:00:00Z"
            });
            for (k, v) in kind.as_object().ok_or("object")? {
                event[k] = v.clone();
            }
            serde_json::from_value::<ConsentEvent>(event.clone())
                .map_err(|e| format!("{kind}: {e}"))?;
            event["cause"] = serde_json::json!("typo");
            assert!(
                serde_json::from_value::<ConsentEvent>(event).is_err(),
                "{kind} accepted an unknown field"
            );
        }
        Ok(())
    }

    fn ev(
        id: &str,
        day: u8,
        kind: ConsentEventKind,
    ) -> Result<ConsentEvent, Box<dyn std::error::Error>> {
        Ok(ConsentEvent {
            event_id: id.to_owned(),
            participant: ParticipantId::parse("P1")?,
            institution: InstitutionId::parse("H1")?,
            effective_at: time::OffsetDateTime::from_unix_timestamp(
                1_700_000_000 + i64::from(day) * 86_400,
            )?,
            kind,
        })
    }

    #[test]
    fn withdrawal_is_final_and_partial_levels_narrow() -> Result<(), Box<dyn std::error::Error>> {
        let p = ParticipantId::parse("P1")?;
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000)?;
        let e1 = ev(
            "e1",
            1,
            ConsentEventKind::InitialConsent {
                scopes: all(),
                by_proxy: false,
            },
        )?;
        let e2 = ev(
            "e2",
            2,
            ConsentEventKind::Withdrawal {
                level: WithdrawalLevel::StopThirdPartyProvision,
            },
        )?;
        let s = project(&p, &[e1.clone(), e2.clone()], now);
        assert_eq!(s.status, ConsentStatus::Active);
        assert!(!s.scopes.third_party_industry && s.scopes.research_use);

        let e3 = ev(
            "e3",
            3,
            ConsentEventKind::Withdrawal {
                level: WithdrawalLevel::StopAllUse,
            },
        )?;
        let e4 = ev(
            "e4",
            4,
            ConsentEventKind::ChangeOfIntention { scopes: all() },
        )?;
        let s = project(&p, &[e1.clone(), e2, e3.clone(), e4], now);
        assert_eq!(s.status, ConsentStatus::Withdrawn);
        assert!(!s.permits_research());

        // Correcting the withdrawal itself (recorded in error) restores consent.
        let e5 = ev(
            "e5",
            5,
            ConsentEventKind::Correction {
                corrects: "e3".into(),
                scopes: all(),
            },
        )?;
        let s = project(&p, &[e1, e3, e5], now);
        assert_eq!(s.status, ConsentStatus::Active);
        Ok(())
    }

    #[test]
    fn future_events_wait_and_death_ends_recontact() -> Result<(), Box<dyn std::error::Error>> {
        let p = ParticipantId::parse("P1")?;
        let e1 = ev(
            "e1",
            1,
            ConsentEventKind::InitialConsent {
                scopes: all(),
                by_proxy: true,
            },
        )?;
        let e2 = ev("e2", 10, ConsentEventKind::DeathReported {})?;
        let mid = time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + 5 * 86_400)?;
        let s = project(&p, &[e1.clone(), e2.clone()], mid);
        assert!(s.permits_recontact() && s.by_proxy);
        let later = time::OffsetDateTime::from_unix_timestamp(1_800_000_000)?;
        let s = project(&p, &[e1, e2], later);
        assert_eq!(s.status, ConsentStatus::Deceased);
        assert!(s.permits_research() && !s.permits_recontact());
        Ok(())
    }

    #[test]
    fn events_round_trip_and_reject_unknown_fields() -> Result<(), Box<dyn std::error::Error>> {
        let e = ev(
            "e1",
            1,
            ConsentEventKind::InitialConsent {
                scopes: all(),
                by_proxy: false,
            },
        )?;
        let text = serde_json::to_string(&e)?;
        assert_eq!(serde_json::from_str::<ConsentEvent>(&text)?, e);
        let w = ev(
            "e2",
            2,
            ConsentEventKind::Withdrawal {
                level: WithdrawalLevel::StopAllUse,
            },
        )?;
        assert_eq!(
            serde_json::from_str::<ConsentEvent>(&serde_json::to_string(&w)?)?,
            w
        );
        let mut extra: serde_json::Value = serde_json::from_str(&text)?;
        extra["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ConsentEvent>(extra).is_err());
        Ok(())
    }

    #[test]
    fn no_events_means_no_consent() -> Result<(), Box<dyn std::error::Error>> {
        let s = project(
            &ParticipantId::parse("P1")?,
            &[],
            time::OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(s.status, ConsentStatus::NoConsent);
        assert!(!s.permits_research());
        Ok(())
    }
}
