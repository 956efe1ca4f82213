//! `Patient` → [`SubjectFacts`]: the GeMJ subject id and JP Core hospital patient ids (the
//! linkage), sex, birth date with its precision, and the identifying details (names with their
//! ISO 21090 representation, address, phone), which the gateway parses but never stores.

use gemj_model::Sex;
use gemj_model::source::{
    GEMJ_SUBJECT_SYSTEM, HospitalPatientId, Identifying, NameRepresentation, PersonName,
    RecordBody, SubjectFacts, SubjectRef,
};

use crate::bundle::{MapResult, Mapped, Reject, subject_of_identifier};
use crate::notes::{Notes, quote, text};
use crate::{datetime, wire};

/// The extension that says how a name is written (kanji, kana, Latin).
pub const EN_REPRESENTATION_EXTENSION: &str =
    "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation";

/// The subject a Patient stands for: its GeMJ id when it has one, else its first JP Core
/// hospital patient id.
pub(crate) fn subject(p: &wire::Patient) -> Result<SubjectRef, String> {
    let (participant, hospital_ids) = identifiers(p, &mut Notes::discard());
    participant
        .map(SubjectRef::Participant)
        .or_else(|| hospital_ids.into_iter().next().map(SubjectRef::Hospital))
        .ok_or_else(|| {
            format!(
                "the Patient has no valid identifier in {GEMJ_SUBJECT_SYSTEM} or a JP Core \
                 patient-id system: the gateway cannot link it"
            )
        })
}

fn identifiers(
    p: &wire::Patient,
    notes: &mut Notes<'_>,
) -> (Option<gemj_model::ParticipantId>, Vec<HospitalPatientId>) {
    let mut participant = None;
    let mut hospital_ids: Vec<HospitalPatientId> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for identifier in &p.identifier {
        let (Some(system), Some(value)) = (
            text(identifier.system.as_ref()),
            text(identifier.value.as_ref()),
        ) else {
            continue;
        };
        let is_gemj = system == GEMJ_SUBJECT_SYSTEM;
        if !is_gemj && HospitalPatientId::institution_of_system(system).is_none() {
            continue;
        }
        match subject_of_identifier(system, value) {
            Ok(SubjectRef::Participant(id)) => match &participant {
                None => participant = Some(id),
                Some(first) if *first == id => {}
                Some(_) => notes.warning(
                    "Patient.identifier",
                    format!("several ids in {GEMJ_SUBJECT_SYSTEM}; the first is used"),
                ),
            },
            Ok(SubjectRef::Hospital(id)) => {
                if seen.insert(id.clone()) {
                    hospital_ids.push(id);
                }
            }
            Err(why) => notes.error("Patient.identifier", why),
        }
    }
    (participant, hospital_ids)
}

/// Notes a conditional create (`request.ifNoneExist`) that does not search by one of the
/// Patient's own identifiers: the gateway merges a Patient by its identifiers, whatever the
/// query says. The query is never quoted (it may search by name or birth date).
pub(crate) fn check_if_none_exist(p: &wire::Patient, query: &str, notes: &mut Notes<'_>) {
    const FIELD: &str = "Bundle.entry.request.ifNoneExist";
    match crate::bundle::identifier_query(query) {
        None => notes.warning(
            FIELD,
            "the search is not by identifier; the gateway matches Patients by their own \
             identifiers",
        ),
        Some((system, value)) => {
            let carried = p.identifier.iter().any(|i| {
                i.system.as_deref() == Some(system.as_str())
                    && i.value.as_deref() == Some(value.as_str())
            });
            if !carried {
                notes.warning(
                    FIELD,
                    "the identifier searched for is not one of the Patient's; the gateway \
                     matches Patients by their own identifiers",
                );
            }
        }
    }
}

/// Maps a Patient.
pub(crate) fn map(p: &wire::Patient, notes: &mut Notes<'_>) -> MapResult {
    let (participant, hospital_ids) = identifiers(p, notes);
    let named = participant
        .clone()
        .map(SubjectRef::Participant)
        .or_else(|| hospital_ids.first().cloned().map(SubjectRef::Hospital));
    let Some(subject) = named else {
        let reason = subject(p).err().unwrap_or_default();
        notes.error("Patient.identifier", reason.clone());
        return Err(Reject(reason));
    };
    let sex = text(p.gender.as_ref()).and_then(|gender| match gender {
        "male" => Some(Sex::Male),
        "female" => Some(Sex::Female),
        "other" => Some(Sex::Other),
        "unknown" => Some(Sex::Unknown),
        other => {
            notes.error(
                "Patient.gender",
                format!("{} is not an administrative-gender code", quote(other)),
            );
            None
        }
    });
    let birth_date = text(p.birth_date.as_ref()).and_then(|d| match datetime::date(d) {
        Ok(date) => Some(date),
        Err(why) => {
            notes.error("Patient.birthDate", why);
            None
        }
    });
    let facts = SubjectFacts {
        participant,
        hospital_ids,
        institution: None,
        sex,
        birth_date,
        program: None,
        identifying: identifying(p, notes),
    };
    Ok(Mapped {
        subject,
        body: RecordBody::Subject(facts),
        source_value: None,
    })
}

fn identifying(p: &wire::Patient, notes: &mut Notes<'_>) -> Identifying {
    let names = p.name.iter().filter_map(|n| name(n, notes)).collect();
    let address = p.address.iter().find_map(address_text);
    let postal_code = p
        .address
        .iter()
        .find_map(|a| text(a.postal_code.as_ref()))
        .map(str::to_owned);
    let phone = p
        .telecom
        .iter()
        .filter(|t| t.system.as_deref() == Some("phone"))
        .find_map(|t| text(t.value.as_ref()))
        .map(str::to_owned);
    Identifying {
        names,
        address,
        postal_code,
        phone,
    }
}

/// A `HumanName` as family and given names (given names joined with a space). A name with only
/// `text` is split at its first space (ASCII or ideographic), family name first, as Japanese
/// names are written.
fn name(n: &wire::HumanName, notes: &mut Notes<'_>) -> Option<PersonName> {
    let representation = n
        .extension
        .iter()
        .filter(|e| e.url.as_deref() == Some(EN_REPRESENTATION_EXTENSION))
        .find_map(|e| text(e.value_code.as_ref()))
        .and_then(|code| match code {
            "IDE" => Some(NameRepresentation::Ideographic),
            "SYL" => Some(NameRepresentation::Syllabic),
            "ABC" => Some(NameRepresentation::Alphabetic),
            other => {
                notes.warning(
                    "Patient.name.extension",
                    format!(
                        "{} is not an EntityNameUse representation (IDE, SYL, ABC)",
                        quote(other)
                    ),
                );
                None
            }
        });
    let given: Vec<&str> = n
        .given
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .collect();
    let (family, given) = match (text(n.family.as_ref()), given.is_empty()) {
        (None, true) => {
            let whole = text(n.text.as_ref())?.trim();
            match whole.split_once([' ', '\u{3000}']) {
                Some((family, given)) => (family.to_owned(), given.trim().to_owned()),
                None => (whole.to_owned(), String::new()),
            }
        }
        (family, _) => (
            family.map(|f| f.trim().to_owned()).unwrap_or_default(),
            given.join(" "),
        ),
    };
    Some(PersonName {
        family,
        given,
        representation,
    })
}

/// `Address.text`, or the parts from prefecture to street when there is no text.
fn address_text(a: &wire::Address) -> Option<String> {
    if let Some(t) = text(a.text.as_ref()) {
        return Some(t.to_owned());
    }
    let parts: Vec<&str> = [&a.state, &a.city, &a.district]
        .into_iter()
        .filter_map(|p| text(p.as_ref()))
        .chain(
            a.line
                .iter()
                .map(String::as_str)
                .filter(|l| !l.trim().is_empty()),
        )
        .collect();
    (!parts.is_empty()).then(|| parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notes::Diagnostics;

    fn read(json: &str) -> Result<(MapResult, Vec<String>), Box<dyn std::error::Error>> {
        let p: wire::Patient = serde_json::from_str(json)?;
        let mut d = Diagnostics::new("t.json");
        let out = map(&p, &mut Notes::new(&mut d, "entry 0 (Patient)"));
        let messages = d.finish().into_iter().map(|d| d.message).collect();
        Ok((out, messages))
    }

    fn facts(json: &str) -> Result<(SubjectRef, SubjectFacts), Box<dyn std::error::Error>> {
        match read(json)?.0 {
            Ok(Mapped {
                subject,
                body: RecordBody::Subject(f),
                ..
            }) => Ok((subject, f)),
            other => Err(format!("unexpected {other:?}").into()),
        }
    }

    #[test]
    fn hospital_id_alone_names_the_subject() -> Result<(), Box<dyn std::error::Error>> {
        let (subject, f) = facts(
            r#"{"identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.19999999999", "value": "9000000003"},
                               {"system": "http://example.org/mrn", "value": "x"}],
                "gender": "male", "birthDate": "2001-02"}"#,
        )?;
        let SubjectRef::Hospital(id) = subject else {
            return Err("expected a hospital id".into());
        };
        assert_eq!(id.institution.as_str(), "9999999999");
        assert_eq!(id.patient, "9000000003");
        assert_eq!(f.participant, None);
        assert_eq!(
            f.birth_date.map(|d| d.to_string()).as_deref(),
            Some("2001-02")
        );
        Ok(())
    }

    #[test]
    fn no_linkable_identifier_is_rejected() -> Result<(), Box<dyn std::error::Error>> {
        let (out, messages) =
            read(r#"{"identifier": [{"system": "http://example.org/mrn", "value": "1"}]}"#)?;
        let Err(Reject(reason)) = out else {
            return Err("expected a rejection".into());
        };
        assert!(reason.contains("cannot link"), "{reason}");
        assert_eq!(messages.len(), 1);
        Ok(())
    }

    #[test]
    fn names_without_parts_and_odd_codes() -> Result<(), Box<dyn std::error::Error>> {
        let (_, f) = facts(
            r#"{"identifier": [{"system": "http://gemj.example.jp/id/subject", "value": "GEMJ-TEST-0002"}],
                "gender": "femme", "birthDate": "1989-1-7",
                "name": [{"text": "見本　花子"},
                         {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "ABC"}],
                          "family": "Mihon", "given": ["Hana", "Ko"]},
                         {"use": "old"}],
                "address": [{"state": "東京都", "city": "千代田区", "line": ["見本町4-5-6"], "postalCode": "100-0002"}],
                "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "03-0000-0000"}]}"#,
        )?;
        assert_eq!(f.sex, None);
        assert_eq!(f.birth_date, None);
        let names = &f.identifying.names;
        assert_eq!(names.len(), 2);
        assert_eq!(
            (names[0].family.as_str(), names[0].given.as_str()),
            ("見本", "花子")
        );
        assert_eq!(names[0].representation, None);
        assert_eq!(names[1].given, "Hana Ko");
        assert_eq!(
            names[1].representation,
            Some(NameRepresentation::Alphabetic)
        );
        assert_eq!(
            f.identifying.address.as_deref(),
            Some("東京都千代田区見本町4-5-6")
        );
        assert_eq!(f.identifying.postal_code.as_deref(), Some("100-0002"));
        assert_eq!(f.identifying.phone.as_deref(), Some("03-0000-0000"));
        Ok(())
    }

    #[test]
    fn diagnostics_do_not_quote_names() -> Result<(), Box<dyn std::error::Error>> {
        let (_, messages) = read(
            r#"{"identifier": [{"system": "http://gemj.example.jp/id/subject", "value": "GEMJ TEST"},
                               {"system": "urn:oid:1.2.392.100495.20.3.51.19999999999", "value": "9000000001"}],
                "name": [{"text": "試験 太郎"}], "birthDate": "S50.04.01"}"#,
        )?;
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages
                .iter()
                .all(|m| !m.contains("試験") && !m.contains("S50"))
        );
        Ok(())
    }
}
