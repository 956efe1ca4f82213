//! `Consent` → [`ConsentFacts`]: given or withdrawn, since when, for which purposes.
//!
//! - `status = active` with `provision.type = permit`: **given**, dated `provision.period.start`,
//!   else the date of `dateTime`.
//! - `provision.type = deny` (any status but those below): **withdrawn**, dated
//!   `provision.period.start`, else the date of `dateTime`.
//! - `status = inactive` or `rejected`: **withdrawn**, dated `provision.period.end`, else the
//!   date of `dateTime`.
//! - anything else (`draft`, `proposed`, `entered-in-error`, an active consent without a
//!   provision type): rejected, because it states neither.
//!
//! Purposes are the codes of `provision.purpose` followed by the `policy` URIs.

use gemj_model::source::{ConsentAction, ConsentFacts, RecordBody};

use crate::bundle::{Index, MapResult, Mapped, Reject};
use crate::notes::{Notes, quote, text};
use crate::{datetime, wire};

/// Maps a Consent.
pub(crate) fn map(c: &wire::Consent, index: &Index, notes: &mut Notes<'_>) -> MapResult {
    let status = text(c.status.as_ref()).unwrap_or("");
    let provision = c.provision.as_ref();
    let kind = provision.and_then(|p| text(p.kind.as_ref()));
    let period = provision.and_then(|p| p.period.as_ref());
    let start = period.and_then(|p| text(p.start.as_ref()));
    let end = period.and_then(|p| text(p.end.as_ref()));
    let (action, dated) = match (status, kind) {
        ("inactive" | "rejected", _) => (
            ConsentAction::Withdrawn,
            end.map(|d| ("Consent.provision.period.end", d)),
        ),
        ("active", Some("permit")) => (
            ConsentAction::Given,
            start.map(|d| ("Consent.provision.period.start", d)),
        ),
        ("active", Some("deny")) => (
            ConsentAction::Withdrawn,
            start.map(|d| ("Consent.provision.period.start", d)),
        ),
        ("active", None) => {
            return Err(Reject(
                "an active Consent without provision.type states neither permit nor deny".into(),
            ));
        }
        ("active", Some(other)) => {
            return Err(Reject(format!(
                "provision.type {} is neither permit nor deny",
                quote(other)
            )));
        }
        (other, _) => {
            return Err(Reject(format!(
                "Consent.status {} states neither consent nor withdrawal",
                quote(other)
            )));
        }
    };
    let subject = index.subject_noted(c.patient.as_ref(), "Consent.patient", notes)?;
    let dated = dated.or_else(|| text(c.date_time.as_ref()).map(|d| ("Consent.dateTime", d)));
    let date = dated.and_then(|(field, d)| datetime::date_noted(field, d, notes));
    let purposes = provision
        .iter()
        .flat_map(|p| &p.purpose)
        .filter_map(|c| text(c.code.as_ref()))
        .chain(c.policy.iter().filter_map(|p| text(p.uri.as_ref())))
        .map(str::to_owned)
        .collect();
    Ok(Mapped {
        subject,
        body: RecordBody::Consent(ConsentFacts {
            action,
            date,
            purposes,
        }),
        source_value: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::{PATIENT_URL, messages, patient, post, read};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// The action and date of a Consent, or the rejection reason.
    type Outcome = Result<(ConsentAction, Option<String>), String>;

    /// Reads a Consent with `consent`'s elements about the test patient.
    fn check(consent: Value) -> Result<Outcome, Box<dyn std::error::Error>> {
        let mut resource = json!({"resourceType": "Consent", "patient": {"reference": PATIENT_URL},
                                  "dateTime": "2023-01-10T09:00:00+09:00"});
        if let (Some(r), Some(extra)) = (resource.as_object_mut(), consent.as_object()) {
            r.extend(extra.clone());
        }
        let extract = read(json!([patient(), post(resource)]))?;
        if let Some(rejected) = extract.rejected.first() {
            return Ok(Err(rejected.reason.clone()));
        }
        match extract.records.get(1).map(|r| &r.body) {
            Some(RecordBody::Consent(c)) => Ok(Ok((c.action, c.date.map(|d| d.to_string())))),
            _ => Err(format!("unexpected {extract:?}").into()),
        }
    }

    #[test]
    fn given_and_withdrawn() -> TestResult {
        let period = json!({"start": "2018-06-01", "end": "2023-01-10"});
        assert_eq!(
            check(json!({"status": "active", "provision": {"type": "permit", "period": period}}))?,
            Ok((ConsentAction::Given, Some("2018-06-01".to_owned())))
        );
        assert_eq!(
            check(json!({"status": "active", "provision": {"type": "permit"}}))?,
            Ok((ConsentAction::Given, Some("2023-01-10".to_owned())))
        );
        assert_eq!(
            check(
                json!({"status": "inactive", "provision": {"type": "permit", "period": period}})
            )?,
            Ok((ConsentAction::Withdrawn, Some("2023-01-10".to_owned())))
        );
        assert_eq!(
            check(json!({"status": "rejected", "dateTime": "2023"}))?,
            Ok((ConsentAction::Withdrawn, Some("2023".to_owned())))
        );
        assert_eq!(
            check(
                json!({"status": "active", "provision": {"type": "deny", "period": {"start": "2022-12"}}})
            )?,
            Ok((ConsentAction::Withdrawn, Some("2022-12".to_owned())))
        );
        Ok(())
    }

    #[test]
    fn undecided_consents_are_rejected() -> TestResult {
        for consent in [
            json!({"status": "draft", "provision": {"type": "permit"}}),
            json!({"status": "proposed"}),
            json!({"status": "entered-in-error", "provision": {"type": "deny"}}),
            json!({"status": "active"}),
            json!({"provision": {"type": "permit"}}),
        ] {
            assert!(check(consent.clone())?.is_err(), "{consent}");
        }
        Ok(())
    }

    #[test]
    fn purposes_and_a_missing_patient() -> TestResult {
        let extract = read(json!([post(json!({
            "resourceType": "Consent", "status": "active",
            "policy": [{"uri": "http://gemj.example.jp/policy/p1"}, {"authority": "http://x"}],
            "provision": {"type": "permit", "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]}
        }))]))?;
        assert_eq!(extract.rejected.len(), 1);
        assert_eq!(extract.rejected[0].reason, "no Consent.patient");
        assert_eq!(
            messages(&extract),
            ["entry 0 (Consent) Consent.patient: no Consent.patient"]
        );

        let extract = read(json!([
            patient(),
            post(json!({
                "resourceType": "Consent", "status": "active", "patient": {"reference": PATIENT_URL},
                "policy": [{"uri": "http://gemj.example.jp/policy/p1"}, {"authority": "http://x"}],
                "provision": {"type": "permit", "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]}
            }))
        ]))?;
        let Some(RecordBody::Consent(c)) = extract.records.get(1).map(|r| &r.body) else {
            return Err(format!("unexpected {extract:?}").into());
        };
        assert_eq!(c.purposes, ["HRESCH", "http://gemj.example.jp/policy/p1"]);
        assert_eq!(c.date, None);
        Ok(())
    }
}
