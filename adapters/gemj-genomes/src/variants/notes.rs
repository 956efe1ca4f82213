//! What a record says about an allele beyond who carries it: its identifiers (the ID column:
//! dbSNP `rs…`, COSMIC, ClinVar), its annotations (INFO `GENE`, ClinVar's `GENEINFO`, `CLNSIG`
//! and `CLNDN`, SnpEff's `ANN`, Ensembl VEP's `CSQ` read through the header's `Format:` list),
//! and each sample's depth and allele fraction (FORMAT `DP`, `AD`, `AF`).
//!
//! Annotation values are VCF text (VCFv4.3 §1.2: `%3B`, `%3D`, `%2C`, `%25`… decoded); every
//! string kept is bounded ([`MAX_NOTE`] bytes, longer ones are dropped) and so is the number of
//! effects per allele ([`MAX_EFFECTS`]), whatever the file holds.

use gemj_model::variant::{AlleleNotes, Effect};

/// The longest identifier or annotation value kept, in bytes.
pub const MAX_NOTE: usize = 256;

/// The most transcript effects kept per allele (the first ones, in file order).
pub const MAX_EFFECTS: usize = 64;

/// The INFO keys read for notes.
pub(super) const INFO_KEYS: [&str; 6] = ["GENE", "GENEINFO", "ANN", "CSQ", "CLNSIG", "CLNDN"];

/// Decodes VCF's percent escapes; `None` when the value is too long or not UTF-8.
fn decode(raw: &[u8]) -> Option<String> {
    if raw.is_empty() || raw.len() > MAX_NOTE || raw == b"." {
        return None;
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%'
            && let Some(hex) = raw.get(i + 1..i + 3)
            && let Ok(text) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(text, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    let s = String::from_utf8(out).ok()?;
    (!s.chars().any(char::is_control)).then_some(s)
}

/// `HGNC:nnnn` of an annotation's gene id (`HGNC:11998`, or VEP's bare `11998` under `HGNC_ID`).
fn hgnc(raw: &str, bare_is_hgnc: bool) -> Option<String> {
    let digits = raw.strip_prefix("HGNC:").or(bare_is_hgnc.then_some(raw))?;
    (!digits.is_empty() && digits.len() <= 9 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("HGNC:{digits}"))
}

/// The CSQ field names of a header's `##INFO=<ID=CSQ,…,Description="… Format: A|B|C">`.
pub(super) fn csq_format(description: &str) -> Vec<String> {
    description
        .split_once("Format: ")
        .map(|(_, f)| {
            f.trim_end_matches(['"', '>'])
                .split('|')
                .map(|s| s.trim().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The `Description` of a `##INFO=<ID=CSQ,…>` header line, if `line` is one.
pub(super) fn csq_header_description(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"##INFO=<ID=CSQ,")?;
    let text = std::str::from_utf8(rest).ok()?;
    let start = text.find("Description=\"")? + "Description=\"".len();
    let end = text[start..].find('"').map_or(text.len(), |e| start + e);
    Some(text[start..end].to_owned())
}

/// Whether an annotation's allele names this ALT (SnpEff writes the ALT; VEP drops a base
/// shared with REF and writes `-` for nothing).
fn names_allele(given: &str, reference: &str, alternate: &str) -> bool {
    if given == alternate {
        return true;
    }
    let (r, a) = (reference.as_bytes(), alternate.as_bytes());
    if r.first().is_some_and(|b| a.first() == Some(b)) {
        let trimmed = &alternate[1..];
        return given == trimmed || (trimmed.is_empty() && given == "-");
    }
    false
}

/// Fills `out` with what `info` (the kept INFO entries, `KEY=value` joined by `;`) and `ids` say
/// about ALT number `alt_index` (1-based), spelled `alternate` against `reference`.
pub(super) fn notes_for(
    info: &[u8],
    ids: &[String],
    csq_fields: &[String],
    (alt_index, reference, alternate): (u32, &str, &str),
    out: &mut AlleleNotes,
) {
    out.clear();
    out.ids.extend(ids.iter().cloned());
    let mut gene_info = None;
    for entry in info.split(|&b| b == b';') {
        let Some(eq) = entry.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (&entry[..eq], &entry[eq + 1..]);
        match key {
            b"GENE" => out.gene = decode(value),
            b"GENEINFO" => {
                gene_info = value
                    .split(|&b| b == b'|')
                    .next()
                    .and_then(|g| g.split(|&b| b == b':').next())
                    .and_then(decode);
            }
            b"CLNSIG" => {
                for term in value.split(|&b| matches!(b, b',' | b'|' | b'/')) {
                    if let Some(t) = decode(term.strip_prefix(b"_").unwrap_or(term)) {
                        let t = t.replace('_', " ");
                        if !out.clinical_significance.contains(&t) {
                            out.clinical_significance.push(t);
                        }
                    }
                }
            }
            b"CLNDN" => {
                for name in value.split(|&b| matches!(b, b',' | b'|')) {
                    if let Some(n) = decode(name) {
                        let n = n.replace('_', " ");
                        if n != "not provided"
                            && n != "not specified"
                            && !out.conditions.contains(&n)
                        {
                            out.conditions.push(n);
                        }
                    }
                }
            }
            b"ANN" => {
                for item in value.split(|&b| b == b',') {
                    if out.effects.len() >= MAX_EFFECTS {
                        break;
                    }
                    let f: Vec<&[u8]> = item.split(|&b| b == b'|').collect();
                    let field = |i: usize| f.get(i).and_then(|v| decode(v));
                    if !field(0).is_some_and(|a| names_allele(&a, reference, alternate)) {
                        continue;
                    }
                    out.effects.push(Effect {
                        consequences: field(1)
                            .map(|c| c.split('&').map(str::to_owned).collect())
                            .unwrap_or_default(),
                        impact: field(2),
                        gene: field(3),
                        gene_id: field(4).and_then(|g| hgnc(&g, false)),
                        transcript: field(6),
                        hgvs_c: field(9),
                        hgvs_p: field(10),
                    });
                }
            }
            b"CSQ" if !csq_fields.is_empty() => {
                let at = |name: &str| csq_fields.iter().position(|f| f == name);
                let (allele, num) = (at("Allele"), at("ALLELE_NUM"));
                let (cons, impact, symbol, feature) =
                    (at("Consequence"), at("IMPACT"), at("SYMBOL"), at("Feature"));
                let (hgvsc, hgvsp, hgnc_id) = (at("HGVSc"), at("HGVSp"), at("HGNC_ID"));
                for item in value.split(|&b| b == b',') {
                    if out.effects.len() >= MAX_EFFECTS {
                        break;
                    }
                    let f: Vec<&[u8]> = item.split(|&b| b == b'|').collect();
                    let field = |i: Option<usize>| i.and_then(|i| f.get(i)).and_then(|v| decode(v));
                    let ours = match field(num) {
                        Some(n) => n.parse::<u32>().ok() == Some(alt_index),
                        None => {
                            field(allele).is_some_and(|a| names_allele(&a, reference, alternate))
                        }
                    };
                    if !ours {
                        continue;
                    }
                    let transcript = field(feature);
                    // VEP writes `Feature:c.…`: the part after the accession.
                    let hgvs_c = field(hgvsc).map(|h| match h.split_once(':') {
                        Some((_, c)) => c.to_owned(),
                        None => h,
                    });
                    out.effects.push(Effect {
                        consequences: field(cons)
                            .map(|c| c.split('&').map(str::to_owned).collect())
                            .unwrap_or_default(),
                        impact: field(impact),
                        gene: field(symbol),
                        gene_id: field(hgnc_id).and_then(|g| hgnc(&g, true)),
                        transcript,
                        hgvs_c,
                        hgvs_p: field(hgvsp),
                    });
                }
            }
            _ => {}
        }
    }
    if out.gene.is_none() {
        out.gene = gene_info.or_else(|| out.effects.iter().find_map(|e| e.gene.clone()));
    }
    if let Some(gene) = &out.gene {
        out.gene_id = out
            .effects
            .iter()
            .find(|e| e.gene.as_ref() == Some(gene))
            .and_then(|e| e.gene_id.clone());
    }
}

/// The ID column's identifiers (`.` is none; overlong or non-UTF-8 ones are dropped).
pub(super) fn parse_ids(raw: &[u8], out: &mut Vec<String>) {
    out.clear();
    if raw == b"." {
        return;
    }
    out.extend(raw.split(|&b| b == b';').filter_map(decode));
}

/// Appends `key=value;` to the kept INFO text when `key` is one of [`INFO_KEYS`].
pub(super) fn keep_info(key: &str, value: &str, info: &mut Vec<u8>) {
    if INFO_KEYS.contains(&key) {
        info.extend_from_slice(key.as_bytes());
        info.push(b'=');
        info.extend_from_slice(value.as_bytes());
        info.push(b';');
    }
}

/// Keeps the INFO entries of [`INFO_KEYS`] from a VCF INFO column.
pub(super) fn keep_vcf_info(column: &[u8], info: &mut Vec<u8>) {
    info.clear();
    if column == b"." {
        return;
    }
    for entry in column.split(|&b| b == b';') {
        let key = entry.split(|&b| b == b'=').next().unwrap_or_default();
        if INFO_KEYS.iter().any(|k| k.as_bytes() == key) && entry.len() > key.len() {
            info.extend_from_slice(entry);
            info.push(b';');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes(info: &str, csq: &[&str], alt: (u32, &str, &str)) -> AlleleNotes {
        let mut kept = Vec::new();
        keep_vcf_info(info.as_bytes(), &mut kept);
        let fields: Vec<String> = csq.iter().map(|s| (*s).to_owned()).collect();
        let mut out = AlleleNotes::default();
        notes_for(&kept, &["rs1".to_owned()], &fields, alt, &mut out);
        out
    }

    #[test]
    fn snpeff_ann_is_read_for_its_allele_only() {
        let n = notes(
            "DP=3;ANN=T|missense_variant|MODERATE|TP53|HGNC:11998|transcript|NM_000546.6|protein_coding|5/11|c.524G>A|p.Arg175His|,G|synonymous_variant|LOW|TP53|HGNC:11998|transcript|NM_000546.6|protein_coding|5/11|c.524G>C|p.Arg175%3D|",
            &[],
            (1, "C", "T"),
        );
        assert_eq!(n.ids, ["rs1"]);
        assert_eq!(n.gene.as_deref(), Some("TP53"));
        assert_eq!(n.gene_id.as_deref(), Some("HGNC:11998"));
        assert_eq!(n.effects.len(), 1);
        assert_eq!(n.effects[0].hgvs_c.as_deref(), Some("c.524G>A"));
        assert_eq!(n.effects[0].consequences, ["missense_variant"]);
        let g = notes(
            "ANN=G|synonymous_variant|LOW|TP53||transcript|NM_000546.6||5/11|c.524G>C|p.Arg175%3D|",
            &[],
            (2, "C", "G"),
        );
        assert_eq!(g.effects[0].hgvs_p.as_deref(), Some("p.Arg175="));
        assert_eq!(g.gene_id, None);
    }

    #[test]
    fn vep_csq_follows_the_header_format_and_trims_shared_bases() {
        let format = csq_format(
            "Consequence annotations from Ensembl VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|HGVSc|HGVSp|HGNC_ID",
        );
        let fields: Vec<&str> = format.iter().map(String::as_str).collect();
        // VEP drops the base shared with REF: AAG>A is `-`, and a `T` item is another allele's.
        let n = notes(
            "CSQ=-|frameshift_variant|HIGH|BRCA1|ENSG1|Transcript|ENST00000357654.9|protein_coding|ENST00000357654.9:c.68_69del|ENSP00000350283.3:p.Glu23ValfsTer17|1100,T|stop_gained|HIGH|BRCA1|ENSG1|Transcript|ENST00000357654.9|protein_coding|ENST00000357654.9:c.70A>T|ENSP00000350283.3:p.Lys24Ter|1100",
            &fields,
            (1, "AAG", "A"),
        );
        assert_eq!(n.effects.len(), 1, "{n:?}");
        assert_eq!(n.effects[0].hgvs_c.as_deref(), Some("c.68_69del"));
        let n = notes(
            "CSQ=-|frameshift_variant|HIGH|BRCA1|ENSG1|Transcript|ENST00000357654.9|protein_coding|ENST00000357654.9:c.68del|ENSP00000350283.3:p.Glu23fs|1100",
            &fields,
            (1, "AG", "A"),
        );
        assert_eq!(n.effects[0].hgvs_c.as_deref(), Some("c.68del"));
        assert_eq!(n.gene_id.as_deref(), Some("HGNC:1100"));
        assert_eq!(
            n.effects[0].hgvs_p.as_deref(),
            Some("ENSP00000350283.3:p.Glu23fs")
        );
    }

    #[test]
    fn clinvar_terms_and_conditions_are_words() {
        let n = notes(
            "GENEINFO=TP53:7157;CLNSIG=Pathogenic/Likely_pathogenic;CLNDN=Li-Fraumeni_syndrome|not_provided",
            &[],
            (1, "C", "T"),
        );
        assert_eq!(n.gene.as_deref(), Some("TP53"));
        assert_eq!(n.clinical_significance, ["Pathogenic", "Likely pathogenic"]);
        assert_eq!(n.conditions, ["Li-Fraumeni syndrome"]);
    }

    #[test]
    fn effects_per_allele_are_capped() {
        let item = "T|missense_variant|MODERATE|G||transcript|NM_1.1||1/1|c.1A>T||";
        let many = vec![item; MAX_EFFECTS + 40].join(",");
        let n = notes(&format!("ANN={many}"), &[], (1, "A", "T"));
        assert_eq!(n.effects.len(), MAX_EFFECTS);
    }

    #[test]
    fn overlong_and_control_values_are_dropped() {
        let long = "A".repeat(MAX_NOTE + 1);
        let n = notes(&format!("GENE={long};CLNDN=a%0Ab"), &[], (1, "C", "T"));
        assert!(n.gene.is_none() && n.conditions.is_empty());
        let mut ids = Vec::new();
        parse_ids(b"rs1;.;COSV2", &mut ids);
        assert_eq!(ids, ["rs1", "COSV2"]);
    }
}
