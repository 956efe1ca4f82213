//! Synthetic standardized-storage trees, for benchmarks and load tests. **Everything generated
//! here is invented**: the patients (hospital ids from 9100000000), their names (試験, 見本,
//! ...), the institution code `9999999999` (which does not exist), the diagnoses, the results and
//! the codes beside them. Nothing is derived from a real person.
//!
//! Each patient gets an ADT-00 file, a PPR-01 file with one or two diagnoses, and one or two
//! OML-11 result files; some patients also get older versions (flag `2`, or an older flag `1`)
//! and a deleted order (flag `0`, with its earlier flag-`1` file). Files are ISO-2022-JP, as
//! SS-MIX2 specifies, encoded with `encoding_rs`. The generator is deterministic for a seed and
//! does no I/O: it returns relative paths and bytes.

use encoding_rs::ISO_2022_JP;

/// The institution code of every generated file (prefecture 99: no such hospital).
///
/// # Examples
/// ```
/// use gemj_ssmix2::synthetic::{INSTITUTION, generate_tree};
/// let (_, bytes) = generate_tree(1, 0).next().unwrap();
/// assert!(bytes.windows(INSTITUTION.len()).any(|w| w == INSTITUTION.as_bytes()));
/// ```
pub const INSTITUTION: &str = "9999999999";

/// The hospital patient id of the first generated patient; patient `i` is this plus `i`.
///
/// # Examples
/// ```
/// use gemj_ssmix2::synthetic::{FIRST_PATIENT, generate_tree};
/// let (path, _) = generate_tree(2, 0).last().unwrap();
/// assert!(path.contains(&(FIRST_PATIENT + 1).to_string()));
/// ```
pub const FIRST_PATIENT: u64 = 9_100_000_000;

/// Generates the files of `patients` synthetic patients: `(path relative to standard_root,
/// ISO-2022-JP bytes)`, patient by patient. The same seed gives the same tree.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Plan, read_file, synthetic::generate_tree};
/// let files: Vec<(String, Vec<u8>)> = generate_tree(3, 42).collect();
/// assert!(files.len() >= 9);
/// assert!(files[0].0.starts_with("910/000/9100000000/"));
/// let plan = Plan::new(files.iter().map(|(p, _)| p.clone()));
/// assert_eq!(plan.files().len(), files.len());
/// for (path, bytes) in &files {
///     let extract = read_file(path, bytes);
///     assert!(extract.diagnostics.iter().all(|d| d.severity != gemj_model::source::Severity::Error));
/// }
/// ```
pub fn generate_tree(patients: usize, seed: u64) -> impl Iterator<Item = (String, Vec<u8>)> {
    (0..patients).flat_map(move |i| patient_files(i, seed))
}

/// SplitMix64: a small, good-enough generator, so that the library needs no `rand`.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
        let i = usize::try_from(self.below(len)).unwrap_or(0);
        &items[i.min(items.len() - 1)]
    }
}

const FAMILY: [(&str, &str); 6] = [
    ("試験", "シケン"),
    ("見本", "ミホン"),
    ("仮名", "カメイ"),
    ("模擬", "モギ"),
    ("検証", "ケンショウ"),
    ("架空", "カクウ"),
];
const GIVEN_MALE: [(&str, &str); 4] = [
    ("太郎", "タロウ"),
    ("一郎", "イチロウ"),
    ("次郎", "ジロウ"),
    ("三郎", "サブロウ"),
];
const GIVEN_FEMALE: [(&str, &str); 4] = [
    ("花子", "ハナコ"),
    ("桜", "サクラ"),
    ("葵", "アオイ"),
    ("陽子", "ヨウコ"),
];
const TOWNS: [&str; 4] = ["試験町", "見本町", "模擬町", "架空町"];
const FULL_DIGITS: [char; 10] = ['０', '１', '２', '３', '４', '５', '６', '７', '８', '９'];

/// ICD-10 (as SS-MIX2 writes it), name, PRB-3 code and its table.
const DIAGNOSES: [(&str, &str, &str, &str); 5] = [
    ("C169", "胃癌", "20054178", "MDCDX2"),
    ("Q874", "マルファン症候群", "L-0001", "99Z03"),
    ("C189", "結腸癌", "L-0002", "99Z03"),
    ("E119", "２型糖尿病", "L-0003", "99Z03"),
    ("I10", "本態性高血圧症", "L-0004", "99Z03"),
];

/// JLAC10-like code, name, unit, reference low and high (tenths), and typical value (tenths).
const TESTS: [(&str, &str, &str, u32, u32); 6] = [
    ("3A015000002327101", "アルブミン", "g/dL", 37, 55),
    ("3A010000002327101", "総蛋白", "g/dL", 67, 83),
    ("3B035000002327201", "ＡＳＴ", "U/L", 130, 300),
    ("3B045000002327201", "ＡＬＴ", "U/L", 70, 230),
    ("3C015000002327101", "クレアチニン", "mg/dL", 6, 11),
    ("3D010000001926101", "グルコース", "mg/dL", 730, 1090),
];

const HEADER_TAIL: &str =
    "|P|2.5||||||~ISO IR87||ISO 2022-1994|SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO";

/// Tenths as decimal text (`32` → `3.2`).
fn tenths(v: u32) -> String {
    format!("{}.{}", v / 10, v % 10)
}

fn full_width_number(n: u64) -> String {
    n.to_string()
        .bytes()
        .map(|b| FULL_DIGITS[usize::from(b - b'0')])
        .collect()
}

/// A day of 2024 and a time on it, as `YYYYMMDD` and `YYYYMMDDHHMMSS`.
fn day_2024(rng: &mut Rng) -> time::Date {
    let ordinal = u16::try_from(1 + rng.below(360)).unwrap_or(1);
    time::Date::from_ordinal_date(2024, ordinal).unwrap_or(time::Date::MIN)
}

fn ymd(d: time::Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Who a synthetic patient is.
struct Person {
    pid: String,
    names: String,
    birth: String,
    sex: &'static str,
}

impl Person {
    fn pid_segment(&self) -> String {
        format!(
            "PID|0001||{}^^^^PI||{}||{}|{}",
            self.pid, self.names, self.birth, self.sex
        )
    }

    fn dir(&self, date: Option<&str>, kind: &str) -> String {
        format!(
            "{}/{}/{}/{}/{kind}/",
            &self.pid[..3],
            &self.pid[3..6],
            self.pid,
            date.unwrap_or("-")
        )
    }

    fn file(
        &self,
        date: Option<&str>,
        kind: &str,
        order: &str,
        stamp: &str,
        dept: &str,
        flag: u8,
    ) -> String {
        format!(
            "{}{}_{}_{kind}_{order}_{stamp}000_{dept}_{flag}",
            self.dir(date, kind),
            self.pid,
            date.unwrap_or("-")
        )
    }
}

fn msh(app: &str, stamp: &str, kind: &str, id: &str) -> String {
    format!("MSH|^~\\&|{app}|{INSTITUTION}|GEMJ-GW|GEMJ|{stamp}||{kind}|{id}{HEADER_TAIL}")
}

fn encode(segments: &[String]) -> Vec<u8> {
    let mut text = segments.join("\r");
    text.push('\r');
    ISO_2022_JP.encode(&text).0.into_owned()
}

fn patient_files(i: usize, seed: u64) -> Vec<(String, Vec<u8>)> {
    let index = u64::try_from(i).unwrap_or(u64::MAX);
    let mut rng = Rng(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let male = rng.chance(2);
    let (family, family_kana) = *rng.pick(&FAMILY);
    let (given, given_kana) = if male {
        *rng.pick(&GIVEN_MALE)
    } else {
        *rng.pick(&GIVEN_FEMALE)
    };
    let birth_year = 1930 + rng.below(80);
    let birth = format!(
        "{birth_year}{:02}{:02}",
        1 + rng.below(12),
        1 + rng.below(28)
    );
    let person = Person {
        pid: (FIRST_PATIENT.saturating_add(index)).to_string(),
        names: format!("{family}^{given}^^^^^L^I~{family_kana}^{given_kana}^^^^^L^P"),
        birth,
        sex: if male { "M" } else { "F" },
    };
    let mut files = Vec::new();
    let mut message_id = 0_u32;
    let mut next_id = || {
        message_id += 1;
        format!("SYN{index:010}{message_id:04}")
    };
    let order_base = index.wrapping_mul(100);
    let order = |k: u64| format!("{:015}", order_base.wrapping_add(k) % 1_000_000_000_000_000);

    // ADT-00, sometimes with an older version flagged 2.
    let adt_day = ymd(day_2024(&mut rng));
    let mut adt_versions = Vec::new();
    if rng.chance(5) {
        adt_versions.push(("080000", 2_u8));
    }
    adt_versions.push(("090000", 1));
    for (time_of_day, flag) in adt_versions {
        let stamp = format!("{adt_day}{time_of_day}");
        let address = format!(
            "東京都千代田区{}{}－{}－{}",
            rng.pick(&TOWNS),
            full_width_number(1 + rng.below(9)),
            full_width_number(1 + rng.below(20)),
            full_width_number(1 + rng.below(30)),
        );
        let height = 1450 + u32::try_from(rng.below(400)).unwrap_or(0);
        let weight = 400 + u32::try_from(rng.below(500)).unwrap_or(0);
        let text = [
            msh("GEMJ-SYNTH-HIS", &stamp, "ADT^A08^ADT_A01", &next_id()),
            format!("EVN||{stamp}"),
            format!(
                "{}|||^^^^100-{:04}^JPN^H^{address}||^PRN^PH^^^^^^^^^03-0000-{:04}",
                person.pid_segment(),
                rng.below(10_000),
                rng.below(10_000)
            ),
            "PV1|0001|O".to_owned(),
            format!(
                "OBX|1|NM|9N001000000000001^身長^JC10||{}|cm^cm^ISO+|||||F",
                tenths(height)
            ),
            format!(
                "OBX|2|NM|9N006000000000001^体重^JC10||{}|kg^kg^ISO+|||||F",
                tenths(weight)
            ),
        ];
        files.push((
            person.file(None, "ADT-00", "000000000000000", &stamp, "-", flag),
            encode(&text),
        ));
    }

    // PPR-01 with one or two diagnoses, the first the main one.
    let ppr_order = order(1);
    let ppr_day = day_2024(&mut rng);
    let ppr_stamp = format!("{}101500", ymd(ppr_day));
    let mut text = vec![
        msh("GEMJ-SYNTH-HIS", &ppr_stamp, "PPR^ZD1^PPR_ZD1", &next_id()),
        person.pid_segment(),
    ];
    let count = 1 + rng.below(2);
    let first = rng.below(5);
    // The second diagnosis, if any, differs from the first.
    let second = (first + 1 + rng.below(4)) % 5;
    for (k, pick) in [first, second]
        .into_iter()
        .take(usize::try_from(count).unwrap_or(1))
        .enumerate()
    {
        let (icd, name, code, table) =
            DIAGNOSES[usize::try_from(pick).unwrap_or(0) % DIAGNOSES.len()];
        let onset = if rng.chance(3) {
            format!("{}", 1990 + rng.below(30))
        } else {
            ymd(ppr_day)
        };
        let rank = if k == 0 { "1^主診断" } else { "2^副診断" };
        text.push(format!(
            "PRB|AD|{ppr_stamp}|{code}^{name}^{table}|{ppr_order}|||{}|||{icd}^^I10^O^外来時^JHSD0004||||||{onset}|{name}|{rank}^JHSD0007",
            ymd(ppr_day)
        ));
    }
    text.push(format!(
        "ORC|NW|{ppr_order}||||||||||^試験^医師^^^^^^^L^^^^^I|||||01^内科^99Z01"
    ));
    files.push((
        person.file(None, "PPR-01", &ppr_order, &ppr_stamp, "01", 1),
        encode(&text),
    ));

    // OML-11 results: one or two orders, some with older versions, some deleted.
    let lab_orders = 1 + rng.below(2);
    for k in 0..lab_orders {
        let lab_order = order(10 + k);
        let day = day_2024(&mut rng);
        let date = ymd(day);
        let collected = format!("{date}090000");
        let specimen = format!("LS-{:06}{k}", index % 1_000_000);
        let tests = 2 + rng.below(4);
        // An older version, flagged 2 or (as some systems leave it) still 1.
        let mut versions = Vec::new();
        if rng.chance(4) {
            versions.push(("120000", 2_u8));
        } else if rng.chance(6) {
            versions.push(("120000", 1));
        }
        versions.push(("153000", 1));
        for (time_of_day, flag) in versions {
            let stamp = format!("{date}{time_of_day}");
            let mut text = vec![
                msh("GEMJ-SYNTH-LIS", &stamp, "OUL^R22^OUL_R22", &next_id()),
                person.pid_segment(),
                "PV1|0001|O|01^^^^^C".to_owned(),
                format!("SPM|1|{specimen}||023^血清^JC10|||||||||||||{collected}"),
                format!(
                    "OBR|1|{lab_order}|{specimen}|L001^生化学検査^99Z02|||{collected}|||||||||||||||{stamp}"
                ),
                format!("ORC|SC|{lab_order}|{specimen}||CM||||{stamp}"),
            ];
            for t in 0..tests {
                let (code, name, unit, low, high) =
                    TESTS[usize::try_from(t).unwrap_or(0) % TESTS.len()];
                let span = u64::from(high - low);
                let value = u32::try_from(u64::from(low) * 8 / 10 + rng.below(span + span / 2 + 1))
                    .unwrap_or(low);
                let flag_text = if value < low {
                    "L"
                } else if value > high {
                    "H"
                } else {
                    "N"
                };
                text.push(format!(
                    "OBX|{}|NM|{code}^{name}^JC10||{}|{unit}^{unit}^ISO+|{}-{}|{flag_text}|||F|||{collected}",
                    t + 1,
                    tenths(value),
                    tenths(low),
                    tenths(high)
                ));
            }
            files.push((
                person.file(Some(&date), "OML-11", &lab_order, &stamp, "01", flag),
                encode(&text),
            ));
        }
    }

    // A deleted order: the original result, then the deletion.
    if rng.chance(5) {
        let lab_order = order(20);
        let day = day_2024(&mut rng);
        let date = ymd(day);
        let collected = format!("{date}090000");
        let specimen = format!("LS-{:06}9", index % 1_000_000);
        for (stamp_time, flag, control, status) in
            [("150000", 1_u8, "SC", "F"), ("160000", 0, "CA", "D")]
        {
            let stamp = format!("{date}{stamp_time}");
            let text = [
                msh("GEMJ-SYNTH-LIS", &stamp, "OUL^R22^OUL_R22", &next_id()),
                person.pid_segment(),
                "PV1|0001|O|01^^^^^C".to_owned(),
                format!("SPM|1|{specimen}||023^血清^JC10|||||||||||||{collected}"),
                format!("OBR|1|{lab_order}|{specimen}|L002^免疫血清検査^99Z02|||{collected}"),
                format!("ORC|{control}|{lab_order}|{specimen}||{control}||||{stamp}"),
                format!(
                    "OBX|1|NM|5C070000002327101^ＣＲＰ^JC10||{}|mg/dL^mg/dL^ISO+|0.00-0.14|H|||{status}|||{collected}",
                    tenths(u32::try_from(rng.below(100)).unwrap_or(0))
                ),
            ];
            files.push((
                person.file(Some(&date), "OML-11", &lab_order, &stamp, "01", flag),
                encode(&text),
            ));
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use gemj_model::source::{RecordBody, Severity};

    use super::*;
    use crate::{Action, Plan, StoragePath};

    #[test]
    fn deterministic() {
        let a: Vec<_> = generate_tree(5, 7).collect();
        let b: Vec<_> = generate_tree(5, 7).collect();
        let c: Vec<_> = generate_tree(5, 8).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn tree_reads_cleanly() -> Result<(), Box<dyn std::error::Error>> {
        let files: Vec<_> = generate_tree(60, 1).collect();
        let plan = Plan::new(files.iter().map(|(p, _)| p.clone()));
        let mut kinds = std::collections::HashSet::new();
        let mut deletes = 0;
        let mut superseded = 0;
        for (planned, (path, bytes)) in plan.files().iter().zip(&files) {
            StoragePath::parse(path)?;
            assert!(
                bytes.contains(&0x1B),
                "ISO-2022-JP escape sequences expected"
            );
            match planned.action() {
                Action::Delete => deletes += 1,
                Action::Superseded(_) => superseded += 1,
                _ => {}
            }
            let extract = planned.extract(bytes);
            for d in &extract.diagnostics {
                assert_ne!(d.severity, Severity::Error, "{path}: {d:?}");
            }
            for record in &extract.records {
                kinds.insert(record.body.kind());
                if let RecordBody::Measurement(m) = &record.body {
                    assert!(m.effective.is_some());
                }
            }
        }
        assert!(deletes > 0);
        assert!(superseded > 0);
        for kind in ["subject", "diagnosis", "measurement", "delete_order"] {
            assert!(kinds.contains(kind), "{kind}");
        }
        Ok(())
    }
}
