//! `variantType`: the Beacon vocabulary (`SNP`, `MNP`, `INDEL`, `DEL`, `INS`, `DUP`, `INV`,
//! `CNV`, ...), Sequence Ontology ids and EFO's copy-number terms, read into one class with its
//! is-a parents, and the classes a stored allele belongs to by its shape.
//!
//! A query for a class matches an allele of that class or of any class below it: `SO:0001059`
//! (sequence_alteration) matches everything, `SO:1000002` (substitution) matches SNVs and MNVs,
//! `DEL` matches a deletion however it is written (`AT` to `A`, `AT` to `-`, `<DEL>`), `INS`
//! matches an insertion and a duplication (SO: duplication is_a insertion). `INDEL` is Beacon's
//! word, not an SO term: it covers deletions, insertions and delins (`SO:1000032`). The
//! copy-number terms (`CNV`, `SO:0001019`, EFO:0030066 and its loss and gain terms) describe
//! structural alleles: they match symbolic alleles (`<DEL>`, `<DUP>`, `<CNV>`, `<CN0>`, ...),
//! never a short indel written out base by base.
//!
//! An unknown term is refused with a 400 that names the accepted ones: an empty answer would
//! say "no such variant" when the gateway simply does not know the word.
//!
//! # Examples
//!
//! ```
//! use gemj_beacon::{VariantClass, VariantType};
//! let del = VariantType::parse("SO:0000159").unwrap();
//! assert_eq!(del.class(), VariantClass::Deletion);
//! assert!(del.matches("AT", "A"));
//! assert!(del.matches("A", "<DEL>"));
//! assert!(!del.matches("A", "AT"));
//! assert!(VariantType::parse("INDEL").unwrap().matches("AT", "A"));
//! assert!(VariantType::parse("SNV").unwrap().matches("C", "T"));
//! assert!(VariantType::parse("no-such-type").is_err());
//! ```

use crate::error::BeaconError;

/// A class of sequence change, with its place in the is-a hierarchy ([`VariantClass::parent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VariantClass {
    /// SO:0001059 sequence_alteration: any change.
    SequenceAlteration,
    /// SO:1000002 substitution: as many bases replaced by as many.
    Substitution,
    /// SO:0001483 SNV (Beacon `SNP`, `SNV`; SO:0000694 SNP is read as SNV).
    Snv,
    /// SO:0002007 MNV (Beacon `MNP`): several bases replaced by as many.
    Mnv,
    /// Beacon `INDEL`: a deletion, an insertion or a delins.
    Indel,
    /// SO:1000032 delins: bases replaced by a different number of other bases.
    Delins,
    /// SO:0000159 deletion (Beacon `DEL`).
    Deletion,
    /// SO:0000667 insertion (Beacon `INS`).
    Insertion,
    /// SO:1000035 duplication (Beacon `DUP`); SO: is_a insertion.
    Duplication,
    /// SO:1000173 tandem_duplication (`DUP:TANDEM`).
    TandemDuplication,
    /// SO:1000036 inversion (Beacon `INV`).
    Inversion,
    /// SO:0001019 copy_number_variation (Beacon `CNV`; EFO:0030066).
    CopyNumberVariation,
    /// SO:0001743 copy_number_loss (EFO:0030067, EFO:0030068, EFO:0030069).
    CopyNumberLoss,
    /// SO:0001742 copy_number_gain (EFO:0030070 to EFO:0030073).
    CopyNumberGain,
}

/// The accepted spellings and what they mean (words case-insensitively, CURIEs exactly).
const TERMS: &[(&str, VariantClass)] = &[
    ("SNP", VariantClass::Snv),
    ("SNV", VariantClass::Snv),
    ("MNP", VariantClass::Mnv),
    ("MNV", VariantClass::Mnv),
    ("INDEL", VariantClass::Indel),
    ("DELINS", VariantClass::Delins),
    ("DEL", VariantClass::Deletion),
    ("INS", VariantClass::Insertion),
    ("DUP", VariantClass::Duplication),
    ("DUP:TANDEM", VariantClass::TandemDuplication),
    ("INV", VariantClass::Inversion),
    ("CNV", VariantClass::CopyNumberVariation),
    ("SO:0001059", VariantClass::SequenceAlteration),
    ("SO:1000002", VariantClass::Substitution),
    ("SO:0001483", VariantClass::Snv),
    ("SO:0000694", VariantClass::Snv),
    ("SO:0002007", VariantClass::Mnv),
    ("SO:1000032", VariantClass::Delins),
    ("SO:0000159", VariantClass::Deletion),
    ("SO:0000667", VariantClass::Insertion),
    ("SO:1000035", VariantClass::Duplication),
    ("SO:1000173", VariantClass::TandemDuplication),
    ("SO:1000036", VariantClass::Inversion),
    ("SO:0001019", VariantClass::CopyNumberVariation),
    ("SO:0001743", VariantClass::CopyNumberLoss),
    ("SO:0001742", VariantClass::CopyNumberGain),
    ("EFO:0030066", VariantClass::CopyNumberVariation),
    ("EFO:0030067", VariantClass::CopyNumberLoss),
    ("EFO:0030068", VariantClass::CopyNumberLoss),
    ("EFO:0030069", VariantClass::CopyNumberLoss),
    ("EFO:0030070", VariantClass::CopyNumberGain),
    ("EFO:0030071", VariantClass::CopyNumberGain),
    ("EFO:0030072", VariantClass::CopyNumberGain),
    ("EFO:0030073", VariantClass::CopyNumberGain),
];

impl VariantClass {
    /// The class directly above this one (`None` for sequence_alteration).
    #[must_use]
    pub fn parent(self) -> Option<Self> {
        use VariantClass as C;
        Some(match self {
            C::SequenceAlteration => return None,
            C::Substitution | C::Indel | C::Inversion | C::CopyNumberVariation => {
                C::SequenceAlteration
            }
            C::Snv | C::Mnv => C::Substitution,
            C::Delins | C::Deletion | C::Insertion => C::Indel,
            C::Duplication => C::Insertion,
            C::TandemDuplication => C::Duplication,
            C::CopyNumberLoss | C::CopyNumberGain => C::CopyNumberVariation,
        })
    }

    /// Whether this class is `other` or lies below it.
    #[must_use]
    pub fn is_a(self, other: Self) -> bool {
        let mut c = Some(self);
        while let Some(class) = c {
            if class == other {
                return true;
            }
            c = class.parent();
        }
        false
    }

    /// The classes an allele belongs to by its shape (its most specific ones; their parents
    /// follow by [`VariantClass::is_a`]). `reference` and `alternate` as stored: bases, `-` or
    /// `.` or empty for none, or a VCF symbolic allele such as `<DEL>` or `<CN0>`.
    #[must_use]
    pub fn of_allele(reference: &str, alternate: &str) -> Vec<Self> {
        if let Some(symbol) = alternate
            .strip_prefix('<')
            .and_then(|s| s.strip_suffix('>'))
        {
            return symbolic(symbol);
        }
        let (r, a) = (none_as_empty(reference), none_as_empty(alternate));
        if r.len() == a.len() {
            let mut classes = vec![if r.len() == 1 { Self::Snv } else { Self::Mnv }];
            if r.len() > 1 && reverse_complement(r).eq_ignore_ascii_case(a) {
                classes.push(Self::Inversion);
            }
            return classes;
        }
        let (longer, shorter) = if r.len() > a.len() { (r, a) } else { (a, r) };
        let anchored = shorter.is_empty()
            || starts_with_ignore_case(longer, shorter)
            || ends_with_ignore_case(longer, shorter);
        vec![match (anchored, r.len() > a.len()) {
            (true, true) => Self::Deletion,
            (true, false) => Self::Insertion,
            (false, _) => Self::Delins,
        }]
    }
}

/// The classes of a symbolic allele (`DEL`, `DUP:TANDEM`, `CN0`, ...): deletions and
/// duplications also change the copy number; an unknown symbol is only a sequence alteration.
fn symbolic(symbol: &str) -> Vec<VariantClass> {
    use VariantClass as C;
    let head = symbol.split(':').next().unwrap_or(symbol);
    match head.to_ascii_uppercase().as_str() {
        "DEL" => vec![C::Deletion, C::CopyNumberLoss],
        "INS" => vec![C::Insertion],
        "DUP" if symbol.eq_ignore_ascii_case("DUP:TANDEM") => {
            vec![C::TandemDuplication, C::CopyNumberGain]
        }
        "DUP" => vec![C::Duplication, C::CopyNumberGain],
        "INV" => vec![C::Inversion],
        "CNV" => vec![C::CopyNumberVariation],
        cn if cn.starts_with("CN") => match cn[2..].parse::<u32>() {
            Ok(0 | 1) => vec![C::CopyNumberLoss],
            Ok(2) | Err(_) => vec![C::CopyNumberVariation],
            Ok(_) => vec![C::CopyNumberGain],
        },
        _ => vec![C::SequenceAlteration],
    }
}

/// `-` and `.` (no bases) as the empty string.
fn none_as_empty(bases: &str) -> &str {
    if matches!(bases, "-" | ".") {
        ""
    } else {
        bases
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len() && s[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

fn reverse_complement(bases: &str) -> String {
    bases
        .chars()
        .rev()
        .map(|b| match b.to_ascii_uppercase() {
            'A' => 'T',
            'T' => 'A',
            'C' => 'G',
            'G' => 'C',
            other => other,
        })
        .collect()
}

/// A `variantType` as asked: the caller's spelling (echoed in `receivedRequestSummary`) and the
/// class it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantType {
    given: String,
    class: VariantClass,
}

impl VariantType {
    /// Reads a `variantType`.
    ///
    /// # Errors
    /// A 400 naming the accepted terms (without repeating the caller's text) for a term this
    /// beacon does not know.
    pub fn parse(text: &str) -> Result<Self, BeaconError> {
        let class = TERMS
            .iter()
            .find(|(term, _)| {
                if term.contains(":0") {
                    *term == text
                } else {
                    term.eq_ignore_ascii_case(text)
                }
            })
            .map(|(_, class)| *class)
            .ok_or_else(|| {
                let accepted: Vec<&str> = TERMS.iter().map(|(t, _)| *t).collect();
                BeaconError::invalid(format!(
                    "`variantType` is not a term this beacon knows; accepted: {}",
                    accepted.join(", ")
                ))
            })?;
        Ok(Self {
            given: text.to_owned(),
            class,
        })
    }

    /// The caller's spelling.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// The class it names.
    #[must_use]
    pub fn class(&self) -> VariantClass {
        self.class
    }

    /// Whether a stored allele is of this type (or of a type below it).
    #[must_use]
    pub fn matches(&self, reference: &str, alternate: &str) -> bool {
        VariantClass::of_allele(reference, alternate)
            .into_iter()
            .any(|c| c.is_a(self.class))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(term: &str, r: &str, a: &str) -> bool {
        VariantType::parse(term).unwrap().matches(r, a)
    }

    #[test]
    fn every_term_is_read_and_unknown_ones_are_refused_without_echo() {
        for (term, class) in TERMS {
            assert_eq!(VariantType::parse(term).unwrap().class(), *class, "{term}");
        }
        assert_eq!(
            VariantType::parse("del").unwrap().class(),
            VariantClass::Deletion
        );
        assert!(
            VariantType::parse("so:0000159").is_err(),
            "CURIEs are exact"
        );
        let e = VariantType::parse("<script>").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(!e.to_string().contains("<script>"), "{e}");
    }

    #[test]
    fn shapes_and_the_is_a_hierarchy() {
        // SNVs and MNVs are substitutions, and sequence alterations.
        for t in [
            "SNP",
            "SNV",
            "SO:0001483",
            "SO:0000694",
            "SO:1000002",
            "SO:0001059",
        ] {
            assert!(matches(t, "C", "T"), "{t}");
        }
        assert!(!matches("SNP", "CA", "TG"));
        assert!(matches("MNP", "CA", "TG") && matches("SO:1000002", "CA", "TG"));
        // Deletions however written, and as INDEL.
        for (r, a) in [("AT", "A"), ("AT", "T"), ("AT", "-"), ("A", "<DEL>")] {
            assert!(
                matches("DEL", r, a) && matches("SO:0000159", r, a),
                "{r}>{a}"
            );
            assert!(matches("INDEL", r, a), "{r}>{a}");
        }
        assert!(!matches("DEL", "A", "AT") && !matches("INS", "AT", "A"));
        assert!(matches("INS", "A", "AT") && matches("SO:0000667", "-", "T"));
        // A delins is an INDEL, neither a deletion nor an insertion.
        assert!(matches("INDEL", "ATG", "C") && matches("SO:1000032", "ATG", "C"));
        assert!(!matches("DEL", "ATG", "C"));
        // SO: duplication is_a insertion; a tandem duplication is a duplication.
        assert!(matches("INS", "A", "<DUP>") && matches("DUP", "A", "<DUP:TANDEM>"));
        assert!(!matches("DUP:TANDEM", "A", "<DUP>"));
        // Copy-number terms: structural alleles only.
        assert!(matches("EFO:0030067", "A", "<DEL>") && matches("CNV", "A", "<CN0>"));
        assert!(matches("EFO:0030070", "A", "<DUP>") && matches("SO:0001742", "A", "<CN4>"));
        assert!(!matches("CNV", "AT", "A") && !matches("EFO:0030070", "A", "<DEL>"));
        // An inversion written out.
        assert!(matches("INV", "AACG", "CGTT") && matches("INV", "A", "<INV>"));
        assert!(!matches("INV", "AACG", "CGTA"));
    }
}
