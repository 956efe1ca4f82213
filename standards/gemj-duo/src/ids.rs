//! The DUO term ids the matcher has rules for, named by their DUO shorthand.
//!
//! Ids are the stable part of DUO ("once created, IDs are never deleted"); shorthands and labels
//! may change between releases, so code keys on these ids and takes labels from the ontology.

/// DUO:0000001 data use permission (the root of all permission terms).
pub const DATA_USE_PERMISSION: &str = "DUO:0000001";
/// DUO:0000017 data use modifier (the root of all modifier terms).
pub const DATA_USE_MODIFIER: &str = "DUO:0000017";

/// DUO:0000004 NRES, no restriction.
pub const NRES: &str = "DUO:0000004";
/// DUO:0000042 GRU, general research use.
pub const GRU: &str = "DUO:0000042";
/// DUO:0000006 HMB, health or medical or biomedical research.
pub const HMB: &str = "DUO:0000006";
/// DUO:0000007 DS, disease specific research.
pub const DS: &str = "DUO:0000007";
/// DUO:0000011 POA, population origins or ancestry research only.
pub const POA: &str = "DUO:0000011";

/// DUO:0000005 GRU-CC, obsolete: split into GRU and CC.
pub const GRU_CC: &str = "DUO:0000005";
/// DUO:0000014 RU, obsolete research use only.
pub const RU: &str = "DUO:0000014";

/// DUO:0000012 RS, research specific restrictions.
pub const RS: &str = "DUO:0000012";
/// DUO:0000015 NMDS, no general methods research.
pub const NMDS: &str = "DUO:0000015";
/// DUO:0000016 GSO, genetic studies only.
pub const GSO: &str = "DUO:0000016";
/// DUO:0000018 NPUNCU, not for profit, non commercial use only.
pub const NPUNCU: &str = "DUO:0000018";
/// DUO:0000019 PUB, publication required.
pub const PUB: &str = "DUO:0000019";
/// DUO:0000020 COL, collaboration required.
pub const COL: &str = "DUO:0000020";
/// DUO:0000021 IRB, ethics approval required.
pub const IRB: &str = "DUO:0000021";
/// DUO:0000022 GS, geographical restriction.
pub const GS: &str = "DUO:0000022";
/// DUO:0000024 MOR, publication moratorium.
pub const MOR: &str = "DUO:0000024";
/// DUO:0000025 TS, time limit on use.
pub const TS: &str = "DUO:0000025";
/// DUO:0000026 US, user specific restriction.
pub const US: &str = "DUO:0000026";
/// DUO:0000027 PS, project specific restriction.
pub const PS: &str = "DUO:0000027";
/// DUO:0000028 IS, institution specific restriction.
pub const IS: &str = "DUO:0000028";
/// DUO:0000029 RTN, return to database or resource.
pub const RTN: &str = "DUO:0000029";
/// DUO:0000043 CC, clinical care use.
pub const CC: &str = "DUO:0000043";
/// DUO:0000044 NPOA, population origins or ancestry research prohibited.
pub const NPOA: &str = "DUO:0000044";
/// DUO:0000045 NPU, not for profit organisation use only.
pub const NPU: &str = "DUO:0000045";
/// DUO:0000046 NCU, non-commercial use only.
pub const NCU: &str = "DUO:0000046";

/// The canonical `DUO:` + seven digits form of a DUO id, or `None` when `id` is not one.
///
/// Accepts `DUO:0000042`, `DUO_0000042` (an IRI fragment) and the eight-digit spelling with an
/// extra leading zero (`DUO:00000044`) that the 2021-02-23 release uses in NPOA's IRI and some
/// third-party code systems use for DUO:0000043..46.
///
/// # Examples
///
/// ```
/// use gemj_duo::ids::normalize_id;
///
/// assert_eq!(normalize_id("DUO:00000044").as_deref(), Some("DUO:0000044"));
/// assert_eq!(normalize_id("DUO_0000042").as_deref(), Some("DUO:0000042"));
/// assert_eq!(normalize_id("MONDO:0000001"), None);
/// ```
#[must_use]
pub fn normalize_id(id: &str) -> Option<String> {
    let id = id.trim();
    let digits = id
        .strip_prefix("DUO:")
        .or_else(|| id.strip_prefix("DUO_"))?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = match digits.len() {
        7 => digits,
        8 => digits.strip_prefix('0')?,
        _ => return None,
    };
    Some(format!("DUO:{digits}"))
}

#[cfg(test)]
mod tests {
    use super::normalize_id;

    #[test]
    fn normalize() {
        let cases = [
            ("DUO:0000042", Some("DUO:0000042")),
            ("  DUO:0000042 ", Some("DUO:0000042")),
            ("DUO_0000007", Some("DUO:0000007")),
            ("DUO:00000044", Some("DUO:0000044")),
            ("DUO_00000044", Some("DUO:0000044")),
            ("DUO:10000044", None),
            ("DUO:000004", None),
            ("DUO:000004x", None),
            ("duo:0000042", None),
            ("DUO:", None),
            ("", None),
            ("MONDO:0000001", None),
            ("DUO:٠٠٠٠٠٠٠", None),
        ];
        for (input, expect) in cases {
            assert_eq!(normalize_id(input).as_deref(), expect, "{input:?}");
        }
    }
}
