//! The merge rules of the ingest: how a fact from one source combines with what another source
//! already stored. Pure functions; each returns whether anything changed, so that a re-run of
//! the same input is recognised as unchanged and writes nothing.
//!
//! - Dates: the more precise value wins (`2005` then `2005-06-01` keeps the day); two values of
//!   the same precision that disagree keep the stored one and report a conflict.
//! - Optional fields: a stored value is kept; a missing one is filled in.
//! - Lists (codes, conditions, provenance): the union, in first-seen order.

use gemj_model::{
    Diagnosis, DiagnosisDetails, PartialDate, Phenotype, Provenance, Specimen, SpecimenDetails,
    SpecimenType,
};

/// The result of merging one field or record: whether it changed, and the conflicts seen
/// (a field name each), which keep the stored value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Whether the stored value changed.
    pub changed: bool,
    /// Fields whose new value disagreed with the stored one (the stored one was kept).
    pub conflicts: Vec<&'static str>,
}

impl Merged {
    fn absorb(&mut self, other: Merged) {
        self.changed |= other.changed;
        self.conflicts.extend(other.conflicts);
    }
}

/// Merges a date: the more precise wins; equal precision and another value is a conflict.
pub fn date(
    stored: &mut Option<PartialDate>,
    new: Option<PartialDate>,
    field: &'static str,
) -> Merged {
    let mut m = Merged::default();
    match (stored.as_ref(), new) {
        (_, None) => {}
        (None, Some(n)) => {
            *stored = Some(n);
            m.changed = true;
        }
        (Some(s), Some(n)) if *s == n => {}
        (Some(s), Some(n)) => {
            let compatible = n.first_day() >= s.first_day() && n.last_day() <= s.last_day();
            if n.precision() > s.precision() && compatible {
                *stored = Some(n);
                m.changed = true;
            } else if !(s.precision() > n.precision()
                && s.first_day() >= n.first_day()
                && s.last_day() <= n.last_day())
            {
                m.conflicts.push(field);
            }
        }
    }
    m
}

/// Fills an optional value that is missing; another value is a conflict.
pub fn option<T: PartialEq>(stored: &mut Option<T>, new: Option<T>, field: &'static str) -> Merged {
    let mut m = Merged::default();
    match (stored.as_ref(), new) {
        (_, None) => {}
        (None, Some(n)) => {
            *stored = Some(n);
            m.changed = true;
        }
        (Some(s), Some(n)) => {
            if *s != n {
                m.conflicts.push(field);
            }
        }
    }
    m
}

/// Appends the items of `new` that `stored` lacks.
pub fn union<T: PartialEq + Clone>(stored: &mut Vec<T>, new: &[T]) -> Merged {
    let mut m = Merged::default();
    for item in new {
        if !stored.contains(item) {
            stored.push(item.clone());
            m.changed = true;
        }
    }
    m
}

/// Merges provenance entries (never a conflict).
pub fn provenance(stored: &mut Vec<Provenance>, new: &[Provenance]) -> Merged {
    union(stored, new)
}

/// Merges diagnosis details.
pub fn diagnosis_details(stored: &mut DiagnosisDetails, new: DiagnosisDetails) -> Merged {
    let mut m = union(&mut stored.codings, &new.codings);
    // A label in another language or spelling is not a conflict: the first is kept.
    if stored.label.is_none() && new.label.is_some() {
        stored.label = new.label;
        m.changed = true;
    }
    m.absorb(option(&mut stored.stage, new.stage, "stage"));
    m.absorb(option(&mut stored.main, new.main, "main"));
    m.absorb(option(
        &mut stored.clinical_status,
        new.clinical_status,
        "clinical_status",
    ));
    m.absorb(option(
        &mut stored.verification_status,
        new.verification_status,
        "verification_status",
    ));
    m
}

/// Merges a diagnosis of the same participant and ICD-10 code into the stored one. The first
/// source's spelling stays `source_code`; every source's spelling is in its provenance entry.
pub fn diagnosis(stored: &mut Diagnosis, new: Diagnosis) -> Merged {
    let mut m = date(&mut stored.onset, new.onset, "onset");
    m.absorb(date(&mut stored.recorded, new.recorded, "recorded"));
    if stored.source_system.is_none() && new.source_system.is_some() {
        stored.source_system = new.source_system;
        m.changed = true;
    }
    m.absorb(diagnosis_details(&mut stored.details, new.details));
    m.absorb(provenance(&mut stored.provenance, &new.provenance));
    m
}

/// Merges a phenotype of the same participant and term. Observed against excluded is a
/// conflict that keeps the stored status.
pub fn phenotype(stored: &mut Phenotype, new: Phenotype) -> Merged {
    let mut m = Merged::default();
    if stored.status != new.status {
        m.conflicts.push("status");
    }
    m.absorb(date(&mut stored.onset, new.onset, "onset"));
    m.absorb(provenance(&mut stored.provenance, &new.provenance));
    m
}

fn specimen_details(stored: &mut SpecimenDetails, new: SpecimenDetails) -> Merged {
    let mut m = Merged::default();
    if stored.type_label.is_none() && new.type_label.is_some() {
        stored.type_label = new.type_label;
        m.changed = true;
    }
    m.absorb(union(&mut stored.type_codings, &new.type_codings));
    m.absorb(option(
        &mut stored.anatomical_site,
        new.anatomical_site,
        "anatomical_site",
    ));
    m.absorb(option(
        &mut stored.collected_at,
        new.collected_at,
        "collected_at",
    ));
    m.absorb(option(
        &mut stored.storage_temperature,
        new.storage_temperature,
        "storage_temperature",
    ));
    m.absorb(option(&mut stored.quantity, new.quantity, "quantity"));
    m.absorb(option(&mut stored.biobank, new.biobank, "biobank"));
    m.absorb(option(&mut stored.collection, new.collection, "collection"));
    m.absorb(option(
        &mut stored.content_diagnosis,
        new.content_diagnosis,
        "content_diagnosis",
    ));
    m.absorb(union(&mut stored.use_conditions, &new.use_conditions));
    m.absorb(option(&mut stored.status, new.status, "status"));
    m.absorb(provenance(&mut stored.provenance, &new.provenance));
    m
}

/// Merges a specimen with the same id (and participant: the caller checks). A specific material
/// replaces `Other`; `biobank_sample` is true once any source says so.
pub fn specimen(stored: &mut Specimen, new: Specimen) -> Merged {
    let mut m = Merged::default();
    if stored.specimen_type != new.specimen_type {
        if matches!(stored.specimen_type, SpecimenType::Other(_))
            && !matches!(new.specimen_type, SpecimenType::Other(_))
        {
            stored.specimen_type = new.specimen_type;
            m.changed = true;
        } else if !matches!(new.specimen_type, SpecimenType::Other(_)) {
            m.conflicts.push("specimen_type");
        }
    }
    m.absorb(option(&mut stored.parent, new.parent, "parent"));
    m.absorb(date(&mut stored.collected, new.collected, "collected"));
    m.absorb(option(&mut stored.tumour, new.tumour, "tumour"));
    if new.biobank_sample && !stored.biobank_sample {
        stored.biobank_sample = true;
        m.changed = true;
    }
    m.absorb(specimen_details(&mut stored.details, new.details));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<PartialDate> {
        PartialDate::parse(s).ok()
    }

    fn check(
        stored: Option<&str>,
        new: Option<&str>,
        expect: Option<&str>,
        changed: bool,
        conflict: bool,
    ) {
        let mut s = stored.and_then(d);
        let m = date(&mut s, new.and_then(d), "onset");
        assert_eq!(s, expect.and_then(d), "{stored:?} + {new:?}");
        assert_eq!(m.changed, changed, "{stored:?} + {new:?}");
        assert_eq!(!m.conflicts.is_empty(), conflict, "{stored:?} + {new:?}");
    }

    #[test]
    fn dates_keep_the_more_precise_value() {
        check(None, Some("2005"), Some("2005"), true, false);
        check(Some("2005"), Some("2005"), Some("2005"), false, false);
        check(
            Some("2005"),
            Some("2005-06-01"),
            Some("2005-06-01"),
            true,
            false,
        );
        check(
            Some("2005-06-01"),
            Some("2005"),
            Some("2005-06-01"),
            false,
            false,
        );
        check(Some("2005"), Some("2006-06-01"), Some("2005"), false, true);
        check(
            Some("2024-02-15"),
            Some("2024-02-16"),
            Some("2024-02-15"),
            false,
            true,
        );
        check(Some("2024-02-15"), None, Some("2024-02-15"), false, false);
    }

    #[test]
    fn lists_are_unions() {
        let mut v = vec![1, 2];
        assert!(union(&mut v, &[2, 3]).changed);
        assert_eq!(v, [1, 2, 3]);
        assert!(!union(&mut v, &[1, 3]).changed);
    }
}
