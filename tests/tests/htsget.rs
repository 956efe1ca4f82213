//! End-to-end: htsget 1.3 under `/htsget` over HTTP, against a real gateway over the demo
//! cohort, driven by the real clients (samtools and bcftools 1.16 read an htsget URL directly)
//! and by hand (tickets fetched, every URL downloaded and concatenated).
//!
//! What is checked: that a region answer, read by samtools/bcftools, prints exactly what the
//! same tool prints for the same region of the local file (BAM, CRAM, single- and multi-sample
//! VCF, BCF; the synthetic demo files and the real files of `<shared>/data/htsget`); POST
//! regions (overlapping, out of order) merged into one stream with one header and one
//! end-of-file marker; the ticket, error and service-info bodies against the official htsget
//! OpenAPI document; every error of the spec with its status; access (signed data URLs that
//! need no credentials and die with consent) and consent (a joint VCF/BCF re-encoded without the
//! sample columns of withdrawn participants, with AC/AN/AF recomputed); the whole-file MD5.
//!
//! samtools and bcftools must be on the PATH, and the real files need the shared folder: without
//! them the client tests are skipped on a developer machine and fail under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gemj_e2e::http::{Http, Reply};
use gemj_e2e::names::{JOINT, PREFIX};
use gemj_e2e::{Res, TestGateway, TestResult, visas};
use gemj_model::{DataFormat, ObjectId};
use gemj_passport::VisaType;
use gemj_schemas::{SchemaSet, Validator, docs};
use md5::Digest as _;
use serde_json::{Value, json};

/// The ticket media type of htsget 1.3.0.
const TICKET_TYPE: &str = "application/vnd.ga4gh.htsget.v1.3.0+json";
const TEST_PUBLIC: &str = "GEMJ-TEST-HTSGET-PUBLIC";
const JOINT_VCF: &str = "gemj-demo-joint.vcf.gz";
const JOINT_BCF: &str = "gemj-demo-joint.bcf";
/// The BGZF end-of-file marker (an empty block), SAM/BAM spec § 4.1.2.
const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00,
    0x1b, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];
/// The CRAM 3 end-of-file container (CRAM 3.1 § 9).
const CRAM_EOF: [u8; 38] = [
    0x0f, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xe0, 0x45, 0x4f, 0x46, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x05, 0xbd, 0xd9, 0x4f, 0x00, 0x01, 0x00, 0x06, 0x06, 0x01, 0x00, 0x01, 0x00,
    0x01, 0x00, 0xee, 0x63, 0x01, 0x4b,
];

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// Downloads every URL of a ticket in order (decoding `data:` URIs, sending the headers the
/// ticket names and never an `Authorization` of ours) and concatenates them.
trait Download {
    fn download(&self, ticket: &Value) -> Res<Vec<u8>>;
}

impl Download for Http {
    fn download(&self, ticket: &Value) -> Res<Vec<u8>> {
        Ok(self.download_ticket(ticket)?)
    }
}

// ---------------------------------------------------------------------------------------------
// External tools
// ---------------------------------------------------------------------------------------------

/// Whether samtools and bcftools can run. Outside CI a missing tool skips the calling test
/// (with a note on stderr); under `CI=true` it is an error.
fn tools_present() -> Res<bool> {
    for tool in ["samtools", "bcftools"] {
        let ok = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            if gemj_schemas::testing::is_ci() {
                return Err(
                    format!("{tool} is required by the htsget client tests (CI=true)").into(),
                );
            }
            eprintln!("skipped: {tool} is not on the PATH (set CI=true to make this an error)");
            return Ok(false);
        }
    }
    Ok(true)
}

/// What a tool printed.
struct Out {
    ok: bool,
    stdout: Vec<u8>,
    stderr: String,
}

impl Out {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Runs a tool to completion. htslib never looks for references on the network (`REF_PATH`
/// and `REF_CACHE` point nowhere) and never goes through a proxy to the local gateway.
fn run(program: &str, args: &[&str]) -> Res<Out> {
    tokio::task::block_in_place(|| {
        let out = Command::new(program)
            .args(args)
            .env("REF_PATH", "/nonexistent/gemj-no-ref-path")
            .env("REF_CACHE", "/nonexistent/gemj-no-ref-cache")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env_remove("HTS_AUTH_LOCATION")
            .output()
            .map_err(|e| format!("{program}: {e}"))?;
        Ok(Out {
            ok: out.status.success(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    })
}

/// Runs a tool on local files: it must succeed.
fn run_local(program: &str, args: &[&str]) -> Res<Out> {
    let out = run(program, args)?;
    if !out.ok {
        return Err(format!("{program} {}: {}", args.join(" "), out.stderr).into());
    }
    Ok(out)
}

fn path_str(p: &Path) -> Res<&str> {
    Ok(p.to_str().ok_or("a non-UTF-8 path")?)
}

/// The first difference of two outputs, for a failure message.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    let (g, w): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    let cut = |s: &str| s.chars().take(160).collect::<String>();
    let at = g.iter().zip(&w).position(|(a, b)| a != b);
    match at {
        Some(i) => format!(
            "{} lines over htsget, {} locally; line {} differs:\n  htsget: {}\n  local:  {}",
            g.len(),
            w.len(),
            i + 1,
            cut(g[i]),
            cut(w[i])
        ),
        None => format!(
            "{} lines over htsget, {} locally (the shorter is a prefix of the longer); next: {}",
            g.len(),
            w.len(),
            cut(g.get(w.len()).or(w.get(g.len())).copied().unwrap_or(""))
        ),
    }
}

/// The number of non-overlapping occurrences of `needle` in `hay`.
fn occurrences(hay: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

/// The text of a BGZF (multi-member gzip) stream.
fn gunzip(bytes: &[u8]) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// The local path of a stored object.
async fn object_path(gw: &TestGateway, id: &str) -> Res<PathBuf> {
    let object = gw
        .store
        .get_object(&ObjectId::parse(id)?)
        .await?
        .ok_or_else(|| format!("no object {id}"))?;
    Ok(gw.local_file(&object.storage_uri).await?)
}

/// A file and its index to register.
struct Publish {
    id: String,
    file: PathBuf,
    format: DataFormat,
    index: PathBuf,
}

fn publish(id: &str, file: &Path, format: DataFormat, index: &Path) -> Publish {
    Publish {
        id: id.to_owned(),
        file: file.to_owned(),
        format,
        index: index.to_owned(),
    }
}

fn index_format(index: &Path) -> Res<DataFormat> {
    let name = index.to_string_lossy();
    Ok(match name.rsplit('.').next() {
        Some("bai") => DataFormat::Bai,
        Some("crai") => DataFormat::Crai,
        Some("tbi") => DataFormat::Tbi,
        Some("csi") => DataFormat::Csi,
        _ => return Err(format!("unknown index {name}").into()),
    })
}

/// Registers files (with their indices) in a new PUBLIC dataset, with the demo PUBLIC
/// dataset's terms, so that samtools and bcftools need no credentials. The objects name no
/// participant: consent does not apply to them.
async fn publish_all(gw: &TestGateway, dataset: &str, files: &[Publish]) -> Res<()> {
    let mut d = gw.demo_public_as(dataset).await?;
    d.name = "htsget end-to-end test files".to_owned();
    gw.store.put_dataset(&d).await?;
    let mut ids = Vec::new();
    for f in files {
        let objects = gemj_ingest::genomes::register_pair(
            &*gw.objects,
            &gw.store,
            (&f.file, f.format),
            (&f.index, index_format(&f.index)?),
            &format!("test-htsget/{}", f.id),
            &f.id,
            |_| {},
        )
        .await?;
        ids.extend(objects.into_iter().map(|o| o.id));
    }
    gw.store.add_dataset_objects(&d.id, &ids).await?;
    Ok(())
}

/// The path of a file next to a stored object: the index registered with it.
fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

// ---------------------------------------------------------------------------------------------
// Regions
// ---------------------------------------------------------------------------------------------

/// SplitMix64: a seeded generator, so a failing region can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A width from 1 to `max`, log-uniform.
    fn width(&mut self, max: u64) -> u64 {
        ((max as f64).powf(self.unit()).floor() as u64).clamp(1, max)
    }
}

/// An htsget region: `referenceName`, optional 0-based `start` and exclusive `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Region {
    name: String,
    start: Option<u64>,
    end: Option<u64>,
}

impl Region {
    fn new(name: &str, start: Option<u64>, end: Option<u64>) -> Self {
        Self {
            name: name.to_owned(),
            start,
            end,
        }
    }

    /// The query parameters.
    fn query(&self) -> String {
        let mut q = format!("referenceName={}", self.name);
        if let Some(s) = self.start {
            q.push_str(&format!("&start={s}"));
        }
        if let Some(e) = self.end {
            q.push_str(&format!("&end={e}"));
        }
        q
    }

    /// The same region as samtools/bcftools write it (1-based, inclusive).
    fn local(&self) -> String {
        match (self.start, self.end) {
            (None, None) => self.name.clone(),
            (Some(s), None) => format!("{}:{}-", self.name, s + 1),
            (None, Some(e)) => format!("{}:1-{e}", self.name),
            (Some(s), Some(e)) => format!("{}:{}-{e}", self.name, s + 1),
        }
    }

    /// As [`Region::local`], always with both ends (`samtools view -M` reads no open end).
    fn local_closed(&self) -> String {
        format!(
            "{}:{}-{}",
            self.name,
            self.start.unwrap_or(0) + 1,
            self.end.unwrap_or(i32::MAX as u64)
        )
    }

    /// The POST body form.
    fn json(&self) -> Value {
        let mut v = json!({"referenceName": self.name});
        if let Some(s) = self.start {
            v["start"] = json!(s);
        }
        if let Some(e) = self.end {
            v["end"] = json!(e);
        }
        v
    }
}

/// One query to compare: a region (`None`: the whole file).
struct Probe {
    label: String,
    region: Option<Region>,
    /// The region was built to hold no record (before the first or after the last).
    expect_empty: bool,
}

/// The reference sequences of a file and the 1-based positions of its placed records.
struct Layout {
    contigs: Vec<(String, u64)>,
    records: Vec<(String, u64)>,
}

impl Layout {
    fn extents(&self) -> BTreeMap<&str, (u64, u64)> {
        let mut m: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for (c, p) in &self.records {
            let e = m.entry(c.as_str()).or_insert((*p, *p));
            e.0 = e.0.min(*p);
            e.1 = e.1.max(*p);
        }
        m
    }

    fn length(&self, name: &str) -> u64 {
        self.contigs
            .iter()
            .find(|(c, _)| c == name)
            .map_or(0, |(_, l)| *l)
    }
}

/// The layout of an alignment file, from samtools.
fn reads_layout(path: &Path, reference: Option<&Path>) -> Res<Layout> {
    let mut args = vec!["view", "--no-PG", "-H"];
    if let Some(r) = reference {
        args.extend(["-T", path_str(r)?]);
    }
    args.push(path_str(path)?);
    let mut contigs = Vec::new();
    for line in run_local("samtools", &args)?.lines() {
        if let Some(rest) = line.strip_prefix("@SQ\t") {
            let field = |k: &str| {
                rest.split('\t')
                    .find_map(|f| f.strip_prefix(k))
                    .map(str::to_owned)
            };
            let name = field("SN:").ok_or("@SQ without SN")?;
            let len = field("LN:").ok_or("@SQ without LN")?.parse()?;
            contigs.push((name, len));
        }
    }
    args.retain(|a| *a != "-H");
    let mut records = Vec::new();
    for line in run_local("samtools", &args)?.lines() {
        let mut f = line.split('\t');
        let (Some(name), Some(pos)) = (f.nth(2), f.next()) else {
            continue;
        };
        if name != "*" {
            records.push((name.to_owned(), pos.parse()?));
        }
    }
    Ok(Layout { contigs, records })
}

/// The layout of a variant file, from bcftools (contig lengths from the header, else the last
/// record plus a margin).
fn variants_layout(path: &Path) -> Res<Layout> {
    let p = path_str(path)?;
    let mut contigs = Vec::new();
    for line in run_local("bcftools", &["view", "-h", p])?.lines() {
        if let Some(rest) = line.strip_prefix("##contig=<") {
            let rest = rest.trim_end_matches('>');
            let field = |k: &str| {
                rest.split(',')
                    .find_map(|f| f.strip_prefix(k))
                    .map(str::to_owned)
            };
            let name = field("ID=").ok_or("##contig without ID")?;
            let len = field("length=").and_then(|l| l.parse().ok()).unwrap_or(0);
            contigs.push((name, len));
        }
    }
    let mut records = Vec::new();
    for line in run_local("bcftools", &["query", "-f", "%CHROM\t%POS\n", p])?.lines() {
        let (c, pos) = line.split_once('\t').ok_or("bcftools query")?;
        records.push((c.to_owned(), pos.parse()?));
    }
    let mut layout = Layout { contigs, records };
    let extents: BTreeMap<String, u64> = layout
        .extents()
        .into_iter()
        .map(|(c, (_, last))| (c.to_owned(), last))
        .collect();
    for (c, last) in extents {
        match layout.contigs.iter_mut().find(|(n, _)| *n == c) {
            Some((_, len)) if *len == 0 => *len = last + 10_000,
            Some(_) => {}
            None => layout.contigs.push((c, last + 10_000)),
        }
    }
    Ok(layout)
}

/// The probes for a file: the whole file, every reference sequence with records (and one
/// without), the stretch before the first and after the last record of each, an end past the
/// sequence, `*` for reads, and `random` seeded regions (widths 1 bp to `max_width`, log-uniform;
/// half anchored on a record so most hold some, half anywhere; some open-ended).
fn probes(layout: &Layout, reads: bool, random: usize, max_width: u64, seed: u64) -> Vec<Probe> {
    let mut out = vec![Probe {
        label: "the whole file".to_owned(),
        region: None,
        expect_empty: false,
    }];
    let extents = layout.extents();
    let probe = |label: String, r: Region, expect_empty: bool| Probe {
        label,
        region: Some(r),
        expect_empty,
    };
    for (c, (first, last)) in &extents {
        let len = layout.length(c);
        out.push(probe(
            format!("all of {c}"),
            Region::new(c, None, None),
            false,
        ));
        if *first > 1 {
            out.push(probe(
                format!("{c} before its first record"),
                Region::new(c, Some(0), Some(first - 1)),
                true,
            ));
        }
        if last + 2_000 < len {
            out.push(probe(
                format!("{c} after its last record"),
                Region::new(c, Some(last + 2_000), Some(len)),
                true,
            ));
        }
    }
    if let Some((c, _)) = layout
        .contigs
        .iter()
        .find(|(c, _)| !extents.contains_key(c.as_str()))
    {
        out.push(probe(
            format!("{c}, a reference without records"),
            Region::new(c, None, None),
            true,
        ));
    }
    if let Some((c, (_, last))) = extents.iter().next() {
        let len = layout.length(c).max(*last);
        out.push(probe(
            format!("{c} from its last record to past its end"),
            Region::new(c, Some(last.saturating_sub(5_000)), Some(len + 10_000)),
            false,
        ));
    }
    if reads {
        out.push(probe(
            "unplaced reads (*)".to_owned(),
            Region::new("*", None, None),
            false,
        ));
    }
    let mut rng = Rng(seed);
    let placed: Vec<&(String, u64)> = layout.records.iter().collect();
    let with_records: Vec<&(String, u64)> = layout
        .contigs
        .iter()
        .filter(|(c, _)| extents.contains_key(c.as_str()))
        .collect();
    for i in 0..random {
        let w = rng.width(max_width);
        let pick = |rng: &mut Rng, n: usize| usize::try_from(rng.below(n as u64)).unwrap_or(0);
        let region = if i % 2 == 0 && !placed.is_empty() {
            // Anchored on a record; one in three ends or starts exactly at its first base.
            let (c, pos) = placed[pick(&mut rng, placed.len())];
            let at = pos - 1;
            match rng.below(6) {
                0 => Region::new(c, Some(at.saturating_sub(w)), Some(at.max(1))),
                1 => Region::new(c, Some(at.saturating_sub(w)), Some(at + 1)),
                _ => {
                    let start = at.saturating_sub(rng.below(w));
                    match rng.below(20) {
                        0 => Region::new(c, Some(start), None),
                        1 => Region::new(c, None, Some(start + w)),
                        _ => Region::new(c, Some(start), Some(start + w)),
                    }
                }
            }
        } else {
            let (c, len) = with_records[pick(&mut rng, with_records.len())];
            let start = rng.below(len.saturating_sub(w).max(1));
            match rng.below(20) {
                0 => Region::new(c, Some(start), None),
                1 => Region::new(c, None, Some(start + w)),
                _ => Region::new(c, Some(start), Some(start + w)),
            }
        };
        out.push(probe(format!("random #{i}"), region, false));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Comparing a client over htsget with the same client on the local file
// ---------------------------------------------------------------------------------------------

/// An htsget id served as one format, and the local file it must match.
struct Target {
    endpoint: &'static str,
    id: String,
    format: &'static str,
    local: PathBuf,
    /// A FASTA for CRAM (`-T`).
    reference: Option<PathBuf>,
}

impl Target {
    fn url(&self, base: &str, query: &str) -> String {
        let mut url = format!(
            "{base}/htsget/{}/{}?format={}",
            self.endpoint, self.id, self.format
        );
        if !query.is_empty() {
            url.push('&');
            url.push_str(query);
        }
        url
    }

    fn reads(&self) -> bool {
        self.endpoint == "reads"
    }

    /// The tool's arguments to print the records of `source` (a URL or the local file),
    /// limited to `region` when given (local file only).
    fn args(&self, source: &str, region: Option<&str>, header: bool) -> Res<Vec<String>> {
        let mut a: Vec<String> = vec!["view".into()];
        if self.reads() {
            a.push("--no-PG".into());
            if header {
                a.push("-H".into());
            }
            if let Some(r) = &self.reference {
                a.extend(["-T".into(), path_str(r)?.to_owned()]);
            }
            a.push(source.to_owned());
            if let Some(r) = region {
                a.push(r.to_owned());
            }
        } else {
            a.push(if header { "-h" } else { "-H" }.into());
            a.push(source.to_owned());
            if let Some(r) = region {
                a.extend(["-r".into(), r.to_owned()]);
            }
        }
        Ok(a)
    }

    fn tool(&self) -> &'static str {
        if self.reads() { "samtools" } else { "bcftools" }
    }
}

fn run_args(tool: &str, args: &[String]) -> Res<Out> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(tool, &a)
}

/// A header as printed, without the lines bcftools adds about its own command line.
fn header_lines(out: &Out) -> Vec<String> {
    out.lines()
        .into_iter()
        .filter(|l| !l.starts_with("##bcftools_view"))
        .collect()
}

/// Compares every probe of a target; returns the failures (and the number of records seen).
fn compare(base: &str, target: &Target, probes: &[Probe]) -> Res<(Vec<String>, usize)> {
    let local = path_str(&target.local)?.to_owned();
    let tool = target.tool();
    let mut failures = Vec::new();
    let mut records = 0usize;
    let what = format!("{} {} ({})", target.endpoint, target.id, target.format);

    // One header, equal to the file's, and nothing on stderr.
    let first_region = probes
        .iter()
        .find_map(|p| p.region.as_ref())
        .map(Region::query)
        .unwrap_or_default();
    let url = target.url(base, &first_region);
    let remote = run_args(tool, &target.args(&url, None, true)?)?;
    let want = run_args(tool, &target.args(&local, None, true)?)?;
    let marker = if target.reads() {
        "@HD"
    } else {
        "##fileformat"
    };
    let count = remote
        .lines()
        .iter()
        .filter(|l| l.starts_with(marker))
        .count();
    if !remote.ok || !remote.stderr.is_empty() || count != 1 {
        failures.push(format!(
            "{what}: the header over {url}: exit ok {}, {count} {marker} lines, stderr: {}",
            remote.ok, remote.stderr
        ));
    } else if header_lines(&remote) != header_lines(&want) {
        failures.push(format!(
            "{what}: the header over {url} is not the file's: {}",
            first_difference(&remote.stdout, &want.stdout)
        ));
    }

    for p in probes {
        let (query, region) = match &p.region {
            Some(r) => (r.query(), Some(r.local())),
            None => (String::new(), None),
        };
        let url = target.url(base, &query);
        let remote = run_args(tool, &target.args(&url, None, false)?)?;
        let want = run_args(tool, &target.args(&local, region.as_deref(), false)?)?;
        if !want.ok {
            return Err(format!("{what}: local {region:?}: {}", want.stderr).into());
        }
        if p.expect_empty && !want.stdout.is_empty() {
            return Err(format!("{what}: {}: the local file has records there", p.label).into());
        }
        if !remote.ok || !remote.stderr.is_empty() {
            failures.push(format!(
                "{what}: {} ({query}): {tool} over htsget failed or complained: {}",
                p.label,
                remote.stderr.trim()
            ));
        } else if remote.stdout != want.stdout {
            failures.push(format!(
                "{what}: {} ({query}, local {}): {}",
                p.label,
                region.as_deref().unwrap_or("whole file"),
                first_difference(&remote.stdout, &want.stdout)
            ));
        }
        records += want.stdout.iter().filter(|b| **b == b'\n').count();
    }
    Ok((failures, records))
}

/// Compares every target and fails with every mismatch listed.
fn compare_all(base: &str, targets: &[(Target, Vec<Probe>)]) -> TestResult {
    let mut failures = Vec::new();
    for (target, probes) in targets {
        let started = Instant::now();
        let (f, records) = compare(base, target, probes)?;
        eprintln!(
            "{} {} ({}): {} regions, {records} records, {} mismatches, {:.1} s",
            target.endpoint,
            target.id,
            target.format,
            probes.len(),
            f.len(),
            started.elapsed().as_secs_f64()
        );
        failures.extend(f);
    }
    if !failures.is_empty() {
        let shown: Vec<&String> = failures.iter().take(12).collect();
        return Err(format!(
            "{} regions differ between htsget and the local file; the first:\n{}",
            failures.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        )
        .into());
    }
    Ok(())
}

/// Asserts that a ticket was issued for a format (the slicer answered), with a clear message.
fn ticket_ok(http: &Http, target: &Target, query: &str) -> Res<Value> {
    let reply = http.get(&target.url(&http.base, query), None)?;
    if reply.status != 200 {
        return Err(format!(
            "no {} ticket for {} ({query}): {} {}",
            target.format,
            target.id,
            reply.status,
            reply.text()
        )
        .into());
    }
    Ok(reply.json)
}

// ---------------------------------------------------------------------------------------------
// 1. Real clients over the synthetic demo files
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samtools_and_bcftools_read_random_regions_of_the_demo_files_over_htsget() -> TestResult {
    if !tools_present()? {
        return Ok(());
    }
    let gw = TestGateway::start(4).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let sample = "GEMJ-DEMO-0001";
    let bam = object_path(&gw, &format!("{sample}.bam")).await?;
    let cram = object_path(&gw, &format!("{sample}.cram")).await?;
    let vcf = object_path(&gw, &format!("{sample}.vcf.gz")).await?;
    let joint_vcf = object_path(&gw, JOINT_VCF).await?;
    let joint_bcf = object_path(&gw, JOINT_BCF).await?;
    let reference = object_path(&gw, "gemj-synthetic-ref.fa").await?;
    publish_all(
        &gw,
        TEST_PUBLIC,
        &[
            publish(
                "pub-reads.bam",
                &bam,
                DataFormat::Bam,
                &with_suffix(&bam, ".bai"),
            ),
            publish(
                "pub-reads.cram",
                &cram,
                DataFormat::Cram,
                &with_suffix(&cram, ".crai"),
            ),
            publish(
                "pub-single.vcf.gz",
                &vcf,
                DataFormat::Vcf,
                &with_suffix(&vcf, ".tbi"),
            ),
            publish(
                "pub-joint.vcf.gz",
                &joint_vcf,
                DataFormat::Vcf,
                &with_suffix(&joint_vcf, ".tbi"),
            ),
            publish(
                "pub-joint.bcf",
                &joint_bcf,
                DataFormat::Bcf,
                &with_suffix(&joint_bcf, ".csi"),
            ),
        ],
    )
    .await?;
    let target = |endpoint, id: &str, format, local: &Path, reference: Option<&Path>| Target {
        endpoint,
        id: id.to_owned(),
        format,
        local: local.to_owned(),
        reference: reference.map(Path::to_owned),
    };
    let targets = [
        target("reads", "pub-reads", "BAM", &bam, None),
        target("reads", "pub-reads", "CRAM", &cram, Some(&reference)),
        target("variants", "pub-single", "VCF", &vcf, None),
        target("variants", "pub-joint", "VCF", &joint_vcf, None),
        target("variants", "pub-joint", "BCF", &joint_bcf, None),
    ];
    // CRAM slicing must be served at all before 200 regions are compared.
    ticket_ok(
        &http,
        &targets[1],
        "referenceName=chr20&start=100000&end=200000",
    )?;

    let bam_layout = reads_layout(&bam, None)?;
    let cram_layout = reads_layout(&cram, Some(&reference))?;
    let single_layout = variants_layout(&vcf)?;
    let joint_layout = variants_layout(&joint_vcf)?;
    let mut planned = Vec::new();
    for (i, t) in targets.into_iter().enumerate() {
        let layout = match i {
            0 => &bam_layout,
            1 => &cram_layout,
            2 => &single_layout,
            _ => &joint_layout,
        };
        let seed = 0x6874_7367_6574 + i as u64;
        let p = probes(layout, t.reads(), 200, 1_000_000, seed);
        assert!(p.len() >= 200 + 5, "{} probes", p.len());
        planned.push((t, p));
    }
    let started = Instant::now();
    compare_all(&gw.base_url, &planned)?;
    eprintln!(
        "demo files: {} comparisons in {:.1} s",
        planned.iter().map(|(_, p)| p.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    gw.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Real clients over the real test files of the shared folder
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samtools_and_bcftools_read_the_shared_htsget_test_files_over_htsget() -> TestResult {
    if !tools_present()? {
        return Ok(());
    }
    let Some(shared) = gemj_schemas::testing::shared_dir()? else {
        return Ok(());
    };
    let dir = shared.join("data").join("htsget");
    let gw = TestGateway::start(2).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let f = |name: &str| dir.join(name);
    let files = [
        (
            "htsnexus_test_NA12878.bam",
            "htsnexus_test_NA12878.bam",
            DataFormat::Bam,
            ".bai",
        ),
        (
            "htsnexus_test_NA12878.cram",
            "htsnexus_test_NA12878.cram",
            DataFormat::Cram,
            ".crai",
        ),
        (
            "spec-v4.3.vcf.gz",
            "spec-v4.3.vcf.gz",
            DataFormat::Vcf,
            ".tbi",
        ),
        ("spec-v4.3.bcf", "spec-v4.3.bcf", DataFormat::Bcf, ".csi"),
        (
            "sample1-bcbio-cancer.vcf.gz",
            "sample1-bcbio-cancer.vcf.gz",
            DataFormat::Vcf,
            ".tbi",
        ),
        (
            "sample1-bcbio-cancer.bcf",
            "sample1-bcbio-cancer.bcf",
            DataFormat::Bcf,
            ".csi",
        ),
        (
            "HG002_GIAB.filtered.vcf.gz",
            "giab/HG002_GIAB.filtered.vcf.gz",
            DataFormat::Vcf,
            ".tbi",
        ),
        (
            "HG002_GIAB.filtered.bcf",
            "giab/HG002_GIAB.filtered.bcf",
            DataFormat::Bcf,
            ".csi",
        ),
        ("range.bam", "htslib/range.bam", DataFormat::Bam, ".bai"),
        ("range.cram", "htslib/range.cram", DataFormat::Cram, ".crai"),
    ];
    let mut to_publish = Vec::new();
    for (id, file, format, index) in &files {
        let path = f(file);
        if !path.is_file() {
            return Err(format!("{} is missing from the shared folder", path.display()).into());
        }
        to_publish.push(publish(id, &path, *format, &with_suffix(&path, index)));
    }
    publish_all(&gw, TEST_PUBLIC, &to_publish).await?;
    let ce = f("htslib/ce.fa");
    let target = |endpoint, id: &str, format, file: &str, reference: Option<&Path>| Target {
        endpoint,
        id: id.to_owned(),
        format,
        local: f(file),
        reference: reference.map(Path::to_owned),
    };
    let mut planned: Vec<(Target, Vec<Probe>)> = Vec::new();
    let named = |list: &[(&str, Region)]| -> Vec<Probe> {
        list.iter()
            .map(|(label, r)| Probe {
                label: (*label).to_owned(),
                region: Some(r.clone()),
                expect_empty: false,
            })
            .collect()
    };
    // The flat ids: one id, the format picks the file.
    let nexus = [
        (
            "htsget-rs README",
            Region::new("11", Some(5_015_000), Some(5_050_000)),
        ),
        ("all of 20", Region::new("20", None, None)),
        ("unplaced", Region::new("*", None, None)),
        ("end of 20", Region::new("20", Some(6_099_000), None)),
        ("1 bp", Region::new("11", Some(5_030_000), Some(5_030_001))),
    ];
    for (format, file, reference) in [
        ("BAM", "htsnexus_test_NA12878.bam", None),
        ("CRAM", "htsnexus_test_NA12878.cram", None),
    ] {
        let t = target("reads", "htsnexus_test_NA12878", format, file, reference);
        let layout = reads_layout(&t.local, None)?;
        let mut p = named(&nexus);
        p.extend(probes(
            &layout,
            true,
            60,
            100_000,
            11 + planned.len() as u64,
        ));
        planned.push((t, p));
    }
    for (format, file) in [("BAM", "htslib/range.bam"), ("CRAM", "htslib/range.cram")] {
        let t = target("reads", "range", format, file, Some(&ce));
        let layout = reads_layout(&t.local, Some(&ce))?;
        let mut p = named(&[
            ("CHROMOSOME_I", Region::new("CHROMOSOME_I", None, None)),
            (
                "CHROMOSOME_II",
                Region::new("CHROMOSOME_II", Some(1_000), Some(4_000)),
            ),
            ("no unplaced reads", Region::new("*", None, None)),
        ]);
        p.extend(probes(
            &layout,
            true,
            60,
            1_000_000,
            23 + planned.len() as u64,
        ));
        planned.push((t, p));
    }
    for (id, regions) in [
        (
            "spec-v4.3",
            vec![
                ("all of 20", Region::new("20", None, None)),
                (
                    "20:14370-17330",
                    Region::new("20", Some(14_369), Some(17_330)),
                ),
                (
                    "the microsatellite (3 bp REF)",
                    Region::new("20", Some(1_234_568), Some(1_234_569)),
                ),
            ],
        ),
        (
            "sample1-bcbio-cancer",
            vec![
                (
                    "htsget-rs benchmark chrM:151-153",
                    Region::new("chrM", Some(150), Some(153)),
                ),
                ("chr22", Region::new("chr22", None, None)),
            ],
        ),
        (
            "HG002_GIAB.filtered",
            vec![
                ("all of 1", Region::new("1", None, None)),
                ("all of 22", Region::new("22", None, None)),
                ("20:1-10 Mb", Region::new("20", Some(0), Some(10_000_000))),
            ],
        ),
    ] {
        for (format, suffix) in [("VCF", ".vcf.gz"), ("BCF", ".bcf")] {
            let file = files
                .iter()
                .find(|(i, ..)| *i == format!("{id}{suffix}"))
                .map(|(_, file, ..)| *file)
                .ok_or("file")?;
            let t = target("variants", id, format, file, None);
            let layout = variants_layout(&t.local)?;
            let mut p = named(&regions);
            p.extend(probes(
                &layout,
                false,
                60,
                1_000_000,
                37 + planned.len() as u64,
            ));
            planned.push((t, p));
        }
    }
    ticket_ok(
        &http,
        &planned[1].0,
        "referenceName=11&start=5015000&end=5050000",
    )?;
    ticket_ok(
        &http,
        &planned[3].0,
        "referenceName=CHROMOSOME_I&start=1000&end=2000",
    )?;
    let started = Instant::now();
    compare_all(&gw.base_url, &planned)?;
    eprintln!(
        "shared files: {} comparisons in {:.1} s",
        planned.iter().map(|(_, p)| p.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    gw.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3 and 7. POST regions by hand; the whole-file MD5
// ---------------------------------------------------------------------------------------------

/// What two sorted multisets of lines do not share, a few lines of each, for a failure message.
fn multiset_difference(got: &[String], want: &[String]) -> String {
    let count = |v: &[String]| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for l in v {
            *m.entry(l.clone()).or_default() += 1;
        }
        m
    };
    let (g, w) = (count(got), count(want));
    let cut = |s: &str| s.chars().take(120).collect::<String>();
    let extra: Vec<String> = g
        .iter()
        .filter(|(l, n)| w.get(*l).copied().unwrap_or(0) < **n)
        .map(|(l, _)| cut(l))
        .collect();
    let missing: Vec<String> = w
        .iter()
        .filter(|(l, n)| g.get(*l).copied().unwrap_or(0) < **n)
        .map(|(l, _)| cut(l))
        .collect();
    format!(
        "{} lines only over htsget, e.g.\n  {}\n{} lines only locally, e.g.\n  {}",
        extra.len(),
        extra
            .iter()
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  "),
        missing.len(),
        missing
            .iter()
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  ")
    )
}

/// Sorted lines: a multiset.
fn sorted(lines: Vec<String>) -> Vec<String> {
    let mut l = lines;
    l.sort();
    l
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_regions_merge_into_one_stream_and_whole_files_carry_their_md5() -> TestResult {
    if !tools_present()? {
        return Ok(());
    }
    let gw = TestGateway::start(4).await?;
    let http = Http {
        base: gw.base_url.clone(),
    };
    let sample = "GEMJ-DEMO-0002";
    let bam = object_path(&gw, &format!("{sample}.bam")).await?;
    let cram = object_path(&gw, &format!("{sample}.cram")).await?;
    let joint_vcf = object_path(&gw, JOINT_VCF).await?;
    let joint_bcf = object_path(&gw, JOINT_BCF).await?;
    let reference = object_path(&gw, "gemj-synthetic-ref.fa").await?;
    publish_all(
        &gw,
        TEST_PUBLIC,
        &[
            publish(
                "post-reads.bam",
                &bam,
                DataFormat::Bam,
                &with_suffix(&bam, ".bai"),
            ),
            publish(
                "post-reads.cram",
                &cram,
                DataFormat::Cram,
                &with_suffix(&cram, ".crai"),
            ),
            publish(
                "post-joint.vcf.gz",
                &joint_vcf,
                DataFormat::Vcf,
                &with_suffix(&joint_vcf, ".tbi"),
            ),
            publish(
                "post-joint.bcf",
                &joint_bcf,
                DataFormat::Bcf,
                &with_suffix(&joint_bcf, ".csi"),
            ),
        ],
    )
    .await?;
    let tmp = tempfile::tempdir()?;
    let refs = path_str(&reference)?.to_owned();

    // Several regions, out of order, overlapping, nested, repeated and open-ended.
    let regions = [
        Region::new("chr21", Some(400_000), Some(650_000)),
        Region::new("chr20", Some(300_000), Some(500_000)),
        Region::new("chr20", Some(100_000), Some(350_000)),
        Region::new("chr20", Some(420_000), Some(420_001)),
        Region::new("chr22", Some(1_050_000), None),
        Region::new("chr20", Some(100_000), Some(350_000)),
        Region::new("chr21", Some(600_000), Some(600_100)),
    ];
    let body = |format: &str, extra: Option<Region>| {
        let mut list: Vec<Value> = regions.iter().map(Region::json).collect();
        if let Some(r) = extra {
            list.insert(2, r.json());
        }
        json!({"format": format, "regions": list})
    };
    let local_regions: Vec<String> = regions.iter().map(Region::local).collect();

    for (format, local, eof) in [("BAM", &bam, &BGZF_EOF[..]), ("CRAM", &cram, &CRAM_EOF[..])] {
        let reply = http.post(
            "/htsget/reads/post-reads",
            None,
            &body(format, Some(Region::new("*", None, None))),
        )?;
        assert_eq!(reply.status, 200, "POST {format}: {}", reply.text());
        assert_eq!(reply.json["htsget"]["format"], format);
        let bytes = http.download(&reply.json)?;
        assert_eq!(
            occurrences(&bytes, eof),
            1,
            "{format}: one end-of-file marker in the concatenated stream"
        );
        assert!(
            bytes.ends_with(eof),
            "{format}: the stream ends with the end-of-file marker"
        );
        let file = tmp.path().join(format!("post.{}", format.to_lowercase()));
        std::fs::write(&file, &bytes)?;
        let fp = path_str(&file)?;
        let lp = path_str(local)?;
        let got_header = run_local("samtools", &["view", "--no-PG", "-H", "-T", &refs, fp])?;
        let want_header = run_local("samtools", &["view", "--no-PG", "-H", "-T", &refs, lp])?;
        assert_eq!(
            got_header
                .lines()
                .iter()
                .filter(|l| l.starts_with("@HD"))
                .count(),
            1,
            "{format}: one header"
        );
        assert_eq!(
            got_header.lines(),
            want_header.lines(),
            "{format}: the file's header"
        );
        let got = run("samtools", &["view", "-T", &refs, fp])?;
        assert!(
            got.ok && got.stderr.is_empty(),
            "{format}: samtools: {}",
            got.stderr
        );
        let mut args = vec!["view", "-M", "-T", &refs, lp];
        let closed: Vec<String> = regions.iter().map(Region::local_closed).collect();
        args.extend(closed.iter().map(String::as_str));
        args.push("*");
        let want = run_local("samtools", &args)?;
        assert!(want.stderr.is_empty(), "samtools view -M: {}", want.stderr);
        let (g, w) = (sorted(got.lines()), sorted(want.lines()));
        let unique: BTreeSet<&String> = g.iter().collect();
        assert_eq!(unique.len(), g.len(), "{format}: a record is served twice");
        assert!(g.len() > 1_000, "{format}: only {} records", g.len());
        // samtools view -M prints in file order, unplaced reads last: so must the stream.
        assert!(
            got.lines() == want.lines(),
            "{format}: the records are not in file order"
        );
        assert!(
            g == w,
            "{format}: POST regions: {} records over htsget, {} from samtools view -M; {}",
            g.len(),
            w.len(),
            multiset_difference(&g, &w)
        );
    }

    for (format, local) in [("VCF", &joint_vcf), ("BCF", &joint_bcf)] {
        let reply = http.post("/htsget/variants/post-joint", None, &body(format, None))?;
        assert_eq!(reply.status, 200, "POST {format}: {}", reply.text());
        let bytes = http.download(&reply.json)?;
        assert_eq!(
            occurrences(&bytes, &BGZF_EOF),
            1,
            "{format}: one end-of-file marker"
        );
        assert!(
            bytes.ends_with(&BGZF_EOF),
            "{format}: ends with the end-of-file marker"
        );
        let file = tmp.path().join(format!("post.{}", format.to_lowercase()));
        std::fs::write(&file, &bytes)?;
        let fp = path_str(&file)?;
        let lp = path_str(local)?;
        let got_header = run_local("bcftools", &["view", "-h", fp])?;
        assert_eq!(
            got_header
                .lines()
                .iter()
                .filter(|l| l.starts_with("##fileformat"))
                .count(),
            1,
            "{format}: one header"
        );
        assert_eq!(
            header_lines(&got_header),
            header_lines(&run_local("bcftools", &["view", "-h", lp])?),
            "{format}: the file's header"
        );
        let got = run("bcftools", &["view", "-H", fp])?;
        assert!(
            got.ok && got.stderr.is_empty(),
            "{format}: bcftools: {}",
            got.stderr
        );
        let want = run_local(
            "bcftools",
            &["view", "-H", lp, "-r", &local_regions.join(",")],
        )?;
        let (g, w) = (sorted(got.lines()), sorted(want.lines()));
        assert!(g.len() > 20, "{format}: only {} records", g.len());
        assert!(
            g == w,
            "{format}: POST regions: {} records over htsget, {} from bcftools view -r; {}",
            g.len(),
            w.len(),
            multiset_difference(&g, &w)
        );
        // Records come in file order, whatever the order of the regions (htsget 1.3).
        let wanted: BTreeSet<&String> = w.iter().collect();
        let in_file_order: Vec<String> = run_local("bcftools", &["view", "-H", lp])?
            .lines()
            .into_iter()
            .filter(|l| wanted.contains(l))
            .collect();
        assert!(
            got.lines() == in_file_order,
            "{format}: the records are not in file order"
        );
    }

    // 7. A whole-file ticket names the file's MD5, and the download is the file.
    for (endpoint, id, format, local) in [
        ("reads", "post-reads", "BAM", &bam),
        ("reads", "post-reads", "CRAM", &cram),
        ("variants", "post-joint", "VCF", &joint_vcf),
        ("variants", "post-joint", "BCF", &joint_bcf),
    ] {
        let reply = http.get(&format!("/htsget/{endpoint}/{id}?format={format}"), None)?;
        assert_eq!(reply.status, 200, "{format}: {}", reply.text());
        let md5 = reply.json["htsget"]["md5"]
            .as_str()
            .ok_or_else(|| format!("{format}: no md5 in a whole-file ticket: {}", reply.json))?
            .to_owned();
        let bytes = http.download(&reply.json)?;
        let digest = hex::encode(md5::Md5::digest(&bytes));
        assert_eq!(
            md5, digest,
            "{format}: the md5 of the concatenated download"
        );
        let file = std::fs::read(local)?;
        assert!(
            bytes == file,
            "{format}: a whole-file download is the stored file"
        );
        // A region ticket serves other bytes: it must not claim the file's MD5.
        let region = http.get(
            &format!(
                "/htsget/{endpoint}/{id}?format={format}&referenceName=chr20&start=1000&end=50000"
            ),
            None,
        )?;
        assert_eq!(region.status, 200, "{}", region.text());
        if let Some(m) = region.json["htsget"]["md5"].as_str() {
            let bytes = http.download(&region.json)?;
            assert_eq!(
                m,
                hex::encode(md5::Md5::digest(&bytes)),
                "{format}: region md5"
            );
        }
    }
    gw.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4 and 5. Schemas, service-info and every error of the spec
// ---------------------------------------------------------------------------------------------

/// The compiled validators of the htsget OpenAPI document.
struct Htsget {
    schemas: SchemaSet,
    /// By (endpoint, method).
    tickets: BTreeMap<(&'static str, &'static str), Validator>,
    /// By htsget error name: the `{name}Error` component.
    errors: BTreeMap<&'static str, Validator>,
}

impl Htsget {
    fn new(schemas: SchemaSet) -> Res<Self> {
        let mut errors = BTreeMap::new();
        for kind in [
            "InvalidAuthentication",
            "PermissionDenied",
            "NotFound",
            "UnsupportedFormat",
            "InvalidInput",
            "InvalidRange",
            "PayloadTooLarge",
        ] {
            errors.insert(
                kind,
                schemas.validator(docs::HTSGET, &format!("/components/schemas/{kind}Error"))?,
            );
        }
        let mut tickets = BTreeMap::new();
        for endpoint in ["reads", "variants"] {
            for method in ["get", "post"] {
                let path = format!("/{endpoint}/{{id}}");
                tickets.insert(
                    (endpoint, method),
                    schemas.openapi_response(docs::HTSGET, &path, method, "200")?,
                );
            }
        }
        Ok(Self {
            schemas,
            tickets,
            errors,
        })
    }

    fn ticket(&self, endpoint: &str, method: &str, reply: &Reply, what: &str) -> Res<()> {
        assert_eq!(reply.status, 200, "{what}: {}", reply.text());
        let ct = reply.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with(TICKET_TYPE),
            "{what}: the ticket's Content-Type is {ct:?}, not {TICKET_TYPE}"
        );
        let v = self
            .tickets
            .get(&(endpoint, method))
            .ok_or("no such ticket schema")?;
        if let Err(e) = v.validate(&reply.json) {
            return Err(format!("{what}: the ticket is not valid: {e:?}\n{}", reply.json).into());
        }
        Ok(())
    }
}

/// One error case: a request and the status and htsget error it must answer.
struct ErrorCase {
    name: &'static str,
    method: &'static str,
    path: String,
    bearer: Option<String>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    error: &'static str,
}

#[allow(clippy::too_many_arguments)]
fn err_case(
    name: &'static str,
    method: &'static str,
    path: impl Into<String>,
    bearer: Option<&str>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    error: &'static str,
) -> ErrorCase {
    ErrorCase {
        name,
        method,
        path: path.into(),
        bearer: bearer.map(str::to_owned),
        content_type,
        body,
        status,
        error,
    }
}

fn get_case(
    name: &'static str,
    path: impl Into<String>,
    bearer: Option<&str>,
    status: u16,
    error: &'static str,
) -> ErrorCase {
    err_case(name, "GET", path, bearer, None, None, status, error)
}

fn post_case(
    name: &'static str,
    path: impl Into<String>,
    bearer: Option<&str>,
    body: &Value,
    status: u16,
    error: &'static str,
) -> ErrorCase {
    err_case(
        name,
        "POST",
        path,
        bearer,
        Some("application/json"),
        Some(body.to_string().into_bytes()),
        status,
        error,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_errors_and_service_info_follow_the_htsget_schema() -> TestResult {
    let schemas = gemj_schemas::testing::schemas();
    let h = Htsget::new(schemas)?;
    let gw = TestGateway::start(4).await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let status_visa = visas::researcher_status(&broker, "so", now);
    let registered = broker.issue_passport("reg", std::slice::from_ref(&status_visa), hour, now)?;
    let expired =
        broker.issue_passport("reg", std::slice::from_ref(&status_visa), hour, now - 7300)?;
    let (head, sig) = registered.rsplit_once('.').ok_or("jwt")?;
    let forged = format!(
        "{head}.{}{}",
        if sig.starts_with('A') { "B" } else { "A" },
        &sig[1..]
    );

    let bam = object_path(&gw, "GEMJ-DEMO-0001.bam").await?;
    let joint_vcf = object_path(&gw, JOINT_VCF).await?;
    publish_all(
        &gw,
        TEST_PUBLIC,
        &[
            publish(
                "err-reads.bam",
                &bam,
                DataFormat::Bam,
                &with_suffix(&bam, ".bai"),
            ),
            publish(
                "err-joint.vcf.gz",
                &joint_vcf,
                DataFormat::Vcf,
                &with_suffix(&joint_vcf, ".tbi"),
            ),
        ],
    )
    .await?;

    // 4. Tickets of every shape are valid against the official document.
    let reads = "/htsget/reads/err-reads";
    let variants = "/htsget/variants/err-joint";
    for (endpoint, path) in [
        ("reads", reads.to_owned()),
        (
            "reads",
            format!("{reads}?format=BAM&referenceName=chr20&start=1000&end=200000"),
        ),
        ("reads", format!("{reads}?class=header")),
        ("reads", format!("{reads}?referenceName=*")),
        (
            "reads",
            format!("{reads}.bam?referenceName=chr21&fields=QNAME,SEQ&tags=NM&notags=OQ"),
        ),
        ("variants", variants.to_owned()),
        (
            "variants",
            format!("{variants}?format=VCF&referenceName=chr22&start=5&end=900000"),
        ),
        ("variants", format!("{variants}?class=header")),
    ] {
        let reply = http.get(&path, None)?;
        h.ticket(endpoint, "get", &reply, &path)?;
        let urls = reply.json["htsget"]["urls"].as_array().ok_or("urls")?;
        assert!(!urls.is_empty(), "{path}: a ticket without urls");
        if path.contains("class=header") {
            assert!(
                urls.iter().all(|u| u["class"] == "header"),
                "{path}: a header ticket's URLs are class header: {}",
                reply.json
            );
        }
        for u in urls {
            let url = u["url"].as_str().unwrap_or_default();
            assert!(
                url.starts_with("data:") || url.starts_with(&format!("{base}/data/v1/objects/")),
                "{path}: an unexpected URL {url}"
            );
        }
    }
    for (endpoint, body) in [
        (
            "reads",
            json!({"format": "BAM", "regions": [{"referenceName": "chr20", "start": 5, "end": 900}, {"referenceName": "chr22"}]}),
        ),
        ("reads", json!({})),
        ("reads", json!({"class": "header"})),
        (
            "variants",
            json!({"format": "VCF", "regions": [{"referenceName": "chr21", "end": 400000}]}),
        ),
    ] {
        let path = if endpoint == "reads" { reads } else { variants };
        let reply = http.post(path, None, &body)?;
        h.ticket(endpoint, "post", &reply, &format!("POST {path} {body}"))?;
    }

    // Service-info: the service-info schema, the htsget extension, the endpoint's formats.
    let service_info = h.schemas.service_info()?;
    for (endpoint, formats) in [("reads", ["BAM", "CRAM"]), ("variants", ["VCF", "BCF"])] {
        let path = format!("/htsget/{endpoint}/service-info");
        let reply = http.get(&path, None)?;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let v = h.schemas.openapi_response(
            docs::HTSGET,
            &format!("/{endpoint}/service-info"),
            "get",
            "200",
        )?;
        if let Err(e) = v.validate(&reply.json) {
            return Err(format!("{path}: not htsget service-info: {e:?}").into());
        }
        if let Err(e) = service_info.validate(&reply.json) {
            return Err(format!("{path}: not GA4GH service-info: {e:?}").into());
        }
        let info = &reply.json;
        assert_eq!(info["type"]["group"], "org.ga4gh", "{info}");
        assert_eq!(info["type"]["artifact"], "htsget", "{info}");
        assert_eq!(info["type"]["version"], "1.3.0", "{info}");
        assert_eq!(info["htsget"]["datatype"], endpoint, "{info}");
        assert_eq!(info["htsget"]["formats"], json!(formats), "{info}");
        assert!(
            info["htsget"]["fieldsParameterEffective"].is_boolean(),
            "{info}"
        );
        assert!(
            info["htsget"]["tagsParametersEffective"].is_boolean(),
            "{info}"
        );
    }

    // 5. Every error of the spec, with its status.
    let reg = Some(registered.as_str());
    let rd_bam = "/htsget/reads/GEMJ-DEMO-0002";
    let too_many: Vec<Value> = (0..101)
        .map(|i| json!({"referenceName": "chr20", "start": i * 1000, "end": i * 1000 + 10}))
        .collect();
    let huge = json!({"format": "BAM", "tags": vec!["XX"; 20_000]});
    assert!(huge.to_string().len() > 64 * 1024);
    let cases = vec![
        get_case(
            "a forged passport",
            reads.to_owned(),
            Some(&forged),
            401,
            "InvalidAuthentication",
        ),
        get_case(
            "an expired passport",
            reads.to_owned(),
            Some(&expired),
            401,
            "InvalidAuthentication",
        ),
        post_case(
            "a forged passport (POST)",
            reads,
            Some(&forged),
            &json!({}),
            401,
            "InvalidAuthentication",
        ),
        get_case(
            "anonymous on REGISTERED data",
            rd_bam,
            None,
            401,
            "InvalidAuthentication",
        ),
        get_case(
            "anonymous on REGISTERED data, a region",
            format!("{rd_bam}?referenceName=chr20&start=0&end=1000"),
            None,
            401,
            "InvalidAuthentication",
        ),
        get_case(
            "an unknown id",
            "/htsget/reads/GEMJ-NO-SUCH-OBJECT",
            reg,
            404,
            "NotFound",
        ),
        get_case(
            "an unknown id (variants)",
            "/htsget/variants/GEMJ-NO-SUCH-OBJECT",
            reg,
            404,
            "NotFound",
        ),
        get_case(
            "an id that is not an object id",
            "/htsget/reads/no%20such%20thing",
            reg,
            404,
            "NotFound",
        ),
        get_case(
            "a REGISTERED caller on a CONTROLLED object",
            "/htsget/variants/gemj-demo-joint",
            reg,
            404,
            "NotFound",
        ),
        get_case(
            "a REGISTERED caller on a CONTROLLED object (BCF)",
            "/htsget/variants/gemj-demo-joint?format=BCF",
            reg,
            404,
            "NotFound",
        ),
        // The format is checked only for objects the caller may read: otherwise an
        // UnsupportedFormat would tell that a hidden object exists.
        get_case(
            "a REGISTERED caller, a CONTROLLED object id, another format",
            "/htsget/variants/gemj-demo-joint.vcf.gz?format=BCF",
            reg,
            404,
            "NotFound",
        ),
        get_case(
            "anonymous, a REGISTERED object id, another format",
            "/htsget/reads/GEMJ-DEMO-0002.bam?format=CRAM",
            None,
            401,
            "InvalidAuthentication",
        ),
        get_case(
            "an unknown referenceName",
            format!("{reads}?referenceName=chr99"),
            None,
            404,
            "NotFound",
        ),
        get_case(
            "an unknown referenceName with a range",
            format!("{reads}?referenceName=20&start=1&end=100"),
            None,
            404,
            "NotFound",
        ),
        get_case(
            "an unknown referenceName (variants)",
            format!("{variants}?referenceName=chrZ"),
            None,
            404,
            "NotFound",
        ),
        post_case(
            "an unknown referenceName among regions",
            reads,
            None,
            &json!({"regions": [{"referenceName": "chr20"}, {"referenceName": "chr99"}]}),
            404,
            "NotFound",
        ),
        get_case(
            "an alignment file on the variants endpoint",
            "/htsget/variants/err-reads.bam",
            reg,
            404,
            "NotFound",
        ),
        get_case(
            "format=CRAM on variants",
            format!("{variants}?format=CRAM"),
            None,
            400,
            "UnsupportedFormat",
        ),
        get_case(
            "format=VCF on reads",
            format!("{reads}?format=VCF"),
            None,
            400,
            "UnsupportedFormat",
        ),
        get_case(
            "format=SAM on reads",
            format!("{reads}?format=SAM"),
            None,
            400,
            "UnsupportedFormat",
        ),
        post_case(
            "format CRAM on variants (POST)",
            variants,
            None,
            &json!({"format": "CRAM"}),
            400,
            "UnsupportedFormat",
        ),
        get_case(
            "format=CRAM for an object id that is a BAM",
            "/htsget/reads/err-reads.bam?format=CRAM",
            None,
            400,
            "UnsupportedFormat",
        ),
        get_case(
            "format=CRAM for an id that exists only as BAM",
            format!("{reads}?format=CRAM"),
            reg,
            400,
            "UnsupportedFormat",
        ),
        get_case(
            "format=BCF for an id that exists only as VCF",
            format!("{variants}?format=BCF"),
            reg,
            400,
            "UnsupportedFormat",
        ),
        get_case(
            "class=header with referenceName",
            format!("{reads}?class=header&referenceName=chr20"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "start without referenceName",
            format!("{reads}?start=10"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "end without referenceName",
            format!("{reads}?end=10"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "referenceName=* with start",
            format!("{reads}?referenceName=*&start=5"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "referenceName=* on variants",
            format!("{variants}?referenceName=*"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "an unknown parameter",
            format!("{reads}?referenceName=chr20&colour=blue"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "a repeated parameter",
            format!("{reads}?referenceName=chr20&referenceName=chr21"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "a repeated format",
            format!("{reads}?format=BAM&format=BAM"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "tags and notags intersect",
            format!("{reads}?tags=NM,MD&notags=MD"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "an unknown field name",
            format!("{reads}?fields=QNAME,COLOUR"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "a variant field on reads",
            format!("{reads}?fields=CHROM"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "a negative start",
            format!("{reads}?referenceName=chr20&start=-1&end=10"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "a start that is not a number",
            format!("{reads}?referenceName=chr20&start=ten"),
            None,
            400,
            "InvalidInput",
        ),
        get_case(
            "a class that is not header",
            format!("{reads}?class=middle"),
            None,
            400,
            "InvalidInput",
        ),
        err_case(
            "POST with query parameters",
            "POST",
            format!("{reads}?format=BAM"),
            None,
            Some("application/json"),
            Some(b"{}".to_vec()),
            400,
            "InvalidInput",
        ),
        post_case(
            "POST with an empty regions list",
            reads,
            None,
            &json!({"regions": []}),
            400,
            "InvalidInput",
        ),
        post_case(
            "POST class header with regions",
            reads,
            None,
            &json!({"class": "header", "regions": [{"referenceName": "chr20"}]}),
            400,
            "InvalidInput",
        ),
        post_case(
            "POST a region without referenceName",
            reads,
            None,
            &json!({"regions": [{"start": 5, "end": 10}]}),
            400,
            "InvalidInput",
        ),
        post_case(
            "POST an unknown member",
            reads,
            None,
            &json!({"colour": "blue"}),
            400,
            "InvalidInput",
        ),
        post_case(
            "POST tags and notags intersect",
            reads,
            None,
            &json!({"tags": ["NM"], "notags": ["NM"]}),
            400,
            "InvalidInput",
        ),
        post_case(
            "POST an unknown field",
            reads,
            None,
            &json!({"fields": ["QNAME", "COLOUR"]}),
            400,
            "InvalidInput",
        ),
        err_case(
            "POST malformed JSON",
            "POST",
            reads,
            None,
            Some("application/json"),
            Some(b"{\"regions\": [".to_vec()),
            400,
            "InvalidInput",
        ),
        err_case(
            "POST a body that is not JSON",
            "POST",
            reads,
            None,
            Some("text/plain"),
            Some(b"{}".to_vec()),
            400,
            "InvalidInput",
        ),
        err_case(
            "POST without a Content-Type",
            "POST",
            reads,
            None,
            None,
            Some(b"{}".to_vec()),
            400,
            "InvalidInput",
        ),
        get_case(
            "start equal to end",
            format!("{reads}?referenceName=chr20&start=100&end=100"),
            None,
            400,
            "InvalidRange",
        ),
        get_case(
            "start after end",
            format!("{reads}?referenceName=chr20&start=200&end=100"),
            None,
            400,
            "InvalidRange",
        ),
        get_case(
            "start after end (variants)",
            format!("{variants}?referenceName=chr20&start=200&end=100"),
            None,
            400,
            "InvalidRange",
        ),
        post_case(
            "start after end (POST)",
            reads,
            None,
            &json!({"regions": [{"referenceName": "chr20", "start": 200, "end": 100}]}),
            400,
            "InvalidRange",
        ),
        post_case(
            "start after end among good regions (POST)",
            variants,
            None,
            &json!({"regions": [{"referenceName": "chr20"}, {"referenceName": "chr21", "start": 9, "end": 9}]}),
            400,
            "InvalidRange",
        ),
        post_case(
            "101 regions",
            reads,
            None,
            &json!({"regions": too_many}),
            413,
            "PayloadTooLarge",
        ),
        post_case(
            "a body over 64 KiB",
            reads,
            None,
            &huge,
            413,
            "PayloadTooLarge",
        ),
    ];
    let mut failures = Vec::new();
    let mut bodies: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for c in &cases {
        let mut headers = Vec::new();
        if let Some(t) = &c.bearer {
            headers.push(("Authorization", format!("Bearer {t}")));
        }
        if let Some(ct) = c.content_type {
            headers.push(("Content-Type", ct.to_owned()));
        }
        let reply = http.send_with(c.method, &c.path, &headers, c.body.clone())?;
        let got = reply.json["htsget"]["error"].as_str().unwrap_or("(none)");
        if reply.status >= 500 {
            failures.push(format!(
                "{}: a server error {}: {}",
                c.name,
                reply.status,
                reply.text()
            ));
            continue;
        }
        if reply.status != c.status || got != c.error {
            failures.push(format!(
                "{}: {} {} answered {} {got}, expected {} {}: {}",
                c.name,
                c.method,
                c.path,
                reply.status,
                c.status,
                c.error,
                reply.text()
            ));
            continue;
        }
        if !reply
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("application/json"))
        {
            failures.push(format!("{}: the error is not application/json", c.name));
        }
        if !reply.json["htsget"]["message"].is_string() {
            failures.push(format!("{}: no message: {}", c.name, reply.text()));
        }
        if let Some(v) = h.errors.get(c.error)
            && let Err(e) = v.validate(&reply.json)
        {
            failures.push(format!("{}: not a valid {}Error: {e:?}", c.name, c.error));
        }
        if c.status != 400 {
            let method = c.method.to_lowercase();
            let endpoint = if c.path.contains("/variants/") {
                "variants"
            } else {
                "reads"
            };
            if let Ok(v) = h.schemas.openapi_response(
                docs::HTSGET,
                &format!("/{endpoint}/{{id}}"),
                &method,
                &c.status.to_string(),
            ) && let Err(e) = v.validate(&reply.json)
            {
                failures.push(format!(
                    "{}: not the spec's {} body: {e:?}",
                    c.name, c.status
                ));
            }
        }
        if let Some(t) = &c.bearer {
            let sig = t.rsplit('.').next().unwrap_or_default();
            if String::from_utf8_lossy(&reply.raw).contains(sig) {
                failures.push(format!("{}: the answer echoes the token", c.name));
            }
        }
        bodies.insert(c.name, reply.raw);
    }
    // Hidden and absent look the same, byte for byte.
    let same = |a: &str, b: &str| match (bodies.get(a), bodies.get(b)) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    if !same(
        "a REGISTERED caller on a CONTROLLED object",
        "an unknown id (variants)",
    ) {
        failures
            .push("a CONTROLLED object answers a REGISTERED caller unlike an unknown id".into());
    }
    let anonymous_unknown = http.get("/htsget/reads/GEMJ-NO-SUCH-OBJECT", None)?;
    let anonymous_registered = http.get(rd_bam, None)?;
    if anonymous_unknown.status != anonymous_registered.status
        || anonymous_unknown.raw != anonymous_registered.raw
    {
        failures.push(format!(
            "anonymous: an unknown id ({} {}) answers unlike a REGISTERED one ({} {})",
            anonymous_unknown.status,
            anonymous_unknown.text(),
            anonymous_registered.status,
            anonymous_registered.text()
        ));
    }
    eprintln!("{} error cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} error cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    gw.stop().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6. Access and consent
// ---------------------------------------------------------------------------------------------

/// One VCF record as compared: the site, AC, AN, AF and the genotypes.
#[derive(Debug, Clone, PartialEq)]
struct Site {
    ac: Vec<u64>,
    an: Option<u64>,
    af: Vec<Option<f64>>,
    gts: Vec<String>,
}

const SITE_FORMAT: &str = "%CHROM\t%POS\t%REF\t%ALT\t%INFO/AC\t%INFO/AN\t%INFO/AF[\t%GT]\n";

/// The sites of a VCF/BCF by `CHROM POS REF ALT`, in file order.
fn sites(path: &Path) -> Res<Vec<(String, Site)>> {
    let out = run_local("bcftools", &["query", "-f", SITE_FORMAT, path_str(path)?])?;
    let mut v = Vec::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 {
            return Err(format!("a short query line: {line}").into());
        }
        let nums = |s: &str| -> Vec<u64> { s.split(',').filter_map(|x| x.parse().ok()).collect() };
        v.push((
            f[..4].join(" "),
            Site {
                ac: nums(f[4]),
                an: f[5].parse().ok(),
                af: f[6].split(',').map(|x| x.parse().ok()).collect(),
                gts: f[7..].iter().map(|s| (*s).to_owned()).collect(),
            },
        ));
    }
    Ok(v)
}

fn sample_list(path: &Path) -> Res<Vec<String>> {
    Ok(run_local("bcftools", &["query", "-l", path_str(path)?])?.lines())
}

/// Checks a re-encoded joint slice against the local file without the excluded columns.
fn check_consent_slice(
    what: &str,
    stream: &Path,
    local: &Path,
    region: &Region,
    excluded: &BTreeSet<String>,
    tmp: &Path,
) -> Res<usize> {
    let all = sample_list(local)?;
    let want_samples: Vec<String> = all
        .iter()
        .filter(|s| !excluded.contains(*s))
        .cloned()
        .collect();
    assert_eq!(
        sample_list(stream)?,
        want_samples,
        "{what}: the sample columns"
    );
    let raw = std::fs::read(stream)?;
    let text = gunzip(&raw)?;
    for s in excluded {
        assert!(
            occurrences(&text, s.as_bytes()) == 0 && occurrences(&raw, s.as_bytes()) == 0,
            "{what}: the stream names the excluded specimen {s}"
        );
    }
    // bcftools view -s ^X recomputes AC and AN over the remaining samples.
    let subset = tmp.join(format!("subset-{}.vcf.gz", what.replace([' ', '/'], "_")));
    let exclude = format!(
        "^{}",
        excluded.iter().cloned().collect::<Vec<_>>().join(",")
    );
    run_local(
        "bcftools",
        &[
            "view",
            "-s",
            &exclude,
            "-r",
            &region.local(),
            "-Oz",
            "-o",
            path_str(&subset)?,
            path_str(local)?,
        ],
    )?;
    let got = sites(stream)?;
    let want = sites(&subset)?;
    let want_map: BTreeMap<&String, &Site> = want.iter().map(|(k, s)| (k, s)).collect();
    let got_keys: BTreeSet<&String> = got.iter().map(|(k, _)| k).collect();
    assert!(!got.is_empty(), "{what}: no records");
    for (k, s) in &got {
        let w = want_map
            .get(k)
            .ok_or_else(|| format!("{what}: {k} is not a record of the local region"))?;
        assert_eq!(s.gts, w.gts, "{what}: {k}: genotypes");
        assert_eq!(s.ac, w.ac, "{what}: {k}: AC over the remaining samples");
        assert_eq!(s.an, w.an, "{what}: {k}: AN over the remaining samples");
        let an = s.an.unwrap_or(0);
        for (i, af) in s.af.iter().enumerate() {
            if an == 0 {
                continue;
            }
            let want_af = s.ac.get(i).copied().unwrap_or(0) as f64 / an as f64;
            let got_af = af.ok_or_else(|| format!("{what}: {k}: AF missing"))?;
            assert!(
                (got_af - want_af).abs() < 1e-4,
                "{what}: {k}: AF {got_af} is not AC/AN {want_af}"
            );
        }
    }
    // Which records the excluded samples alone carry: those must be dropped (their existence
    // would reveal an excluded person's variant); every other record stays.
    let full = tmp.join(format!("full-{}.vcf.gz", what.replace([' ', '/'], "_")));
    run_local(
        "bcftools",
        &[
            "view",
            "-r",
            &region.local(),
            "-Oz",
            "-o",
            path_str(&full)?,
            path_str(local)?,
        ],
    )?;
    let original: BTreeMap<String, Site> = sites(&full)?.into_iter().collect();
    let mut dropped = 0usize;
    for (k, w) in &want {
        let served_carry = w.ac.iter().sum::<u64>() > 0;
        let anyone_carries = original
            .get(k)
            .is_some_and(|o| o.ac.iter().sum::<u64>() > 0);
        if served_carry || !anyone_carries {
            assert!(got_keys.contains(k), "{what}: {k} is missing");
        } else {
            assert!(
                !got_keys.contains(k),
                "{what}: {k}, carried only by excluded samples, is served"
            );
            dropped += 1;
        }
    }
    let order: Vec<&String> = got.iter().map(|(k, _)| k).collect();
    let want_order: Vec<&String> = want
        .iter()
        .map(|(k, _)| k)
        .filter(|k| got_keys.contains(k))
        .collect();
    assert_eq!(order, want_order, "{what}: records in file order");
    eprintln!(
        "{what}: {} records served, {dropped} carried only by excluded samples dropped",
        got.len()
    );
    Ok(got.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_and_joint_slices_follow_access_and_consent() -> TestResult {
    if !tools_present()? {
        return Ok(());
    }
    let gw = TestGateway::start(8).await?;
    let base = gw.base_url.clone();
    let http = Http { base: base.clone() };
    let broker = gemj_demo::broker::load(gw.data_dir(), &base)?;
    let institutions = gemj_demo::broker::institutions(gw.data_dir(), &base)?;
    let now = gemj_auth::now_unix();
    let hour = Duration::from_secs(3600);
    let tmp = tempfile::tempdir()?;
    let visa = |t: VisaType, value: &str| visas::visa(&broker, t, value, "dac", now);
    let status_visa = visa(VisaType::ResearcherStatus, visas::BONA_FIDE);
    let registered = broker.issue_passport("reg", std::slice::from_ref(&status_visa), hour, now)?;
    let alice = broker.issue_passport(
        "alice",
        &[
            status_visa.clone(),
            visa(
                VisaType::ControlledAccessGrants,
                &format!("{PREFIX}{JOINT}"),
            ),
        ],
        hour,
        now,
    )?;
    let admin = broker.issue_passport(gemj_demo::broker::ADMINISTRATOR, &[], hour, now)?;
    let approval = visas::hmb_approval("APR-HTSGET", broker.issuer(), "alice", &[JOINT]);
    let r = http.post("/admin/v1/approvals", Some(&admin), &approval)?;
    assert_eq!(r.status, 201, "approval: {}", r.text());

    let participants = gw.store.list_participants(None, 1000).await?;
    let institution_of = |p: &str| -> Res<String> {
        Ok(participants
            .iter()
            .find(|x| x.id.as_str() == p)
            .ok_or_else(|| format!("no participant {p}"))?
            .institution
            .to_string())
    };
    let institution_token =
        |code: &str| gemj_e2e::institution_token(&institutions, code, "consent-system", &base, now);
    let withdraw = |p: &str| -> Res<()> {
        let inst = institution_of(p)?;
        let event = json!({"event_id": format!("htsget-w-{p}"), "participant": p, "institution": inst, "effective_at": "2026-01-01T00:00:00Z", "kind": "withdrawal", "level": "stop_all_use"});
        let r = http.post(
            "/consent/v1/events",
            Some(&institution_token(&inst)?),
            &event,
        )?;
        assert_eq!(r.status, 201, "withdrawing {p}: {}", r.text());
        assert_eq!(r.json["state"]["status"], "withdrawn", "{}", r.json);
        Ok(())
    };
    let audit = |p: &str| -> Res<Vec<Value>> {
        let r = http.get(
            &format!("/audit/v1/participants/{p}"),
            Some(&institution_token(&institution_of(p)?)?),
        )?;
        assert_eq!(r.status, 200, "audit of {p}: {}", r.text());
        Ok(r.json["records"].as_array().cloned().unwrap_or_default())
    };

    // A REGISTERED researcher, a rare-disease participant's BAM: a ticket whose URLs need no
    // credentials, and which stop working when the participant withdraws.
    let rd = "GEMJ-DEMO-0002";
    let states = gw.store.all_consent_states().await?;
    assert!(
        states
            .iter()
            .any(|s| s.participant.as_str() == rd && s.permits_research()),
        "{rd} consents"
    );
    let rd_bam = object_path(&gw, &format!("{rd}.bam")).await?;
    // The harness generates the demo cohort after the gateway booted: its consent view (polled,
    // SQLite has no notifications) learns the demo's consent events within a poll interval.
    let started = Instant::now();
    loop {
        let r = http.get(
            "/catalogue/v1/datasets/GEMJ-DEMO-RD-REG/participants",
            Some(&registered),
        )?;
        let listed = r.json["participants"]
            .as_array()
            .is_some_and(|a| a.iter().any(|p| p == rd));
        if listed {
            break;
        }
        if started.elapsed() > Duration::from_secs(15) {
            return Err(format!("the consent view never served {rd}: {}", r.text()).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let region = Region::new("chr20", Some(200_000), Some(400_000));
    let path = format!("/htsget/reads/{rd}?{}", region.query());
    let anonymous = http.get(&path, None)?;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text());
    assert!(anonymous.header("www-authenticate").is_some());
    let ticket = http.get(&path, Some(&registered))?;
    assert_eq!(ticket.status, 200, "a REGISTERED ticket: {}", ticket.text());
    let urls: Vec<String> =
        gemj_e2e::field_strings(&ticket.json["htsget"]["urls"], "url", "urls")?.collect();
    assert!(
        ticket.json["htsget"]["urls"]
            .as_array()
            .is_some_and(|a| a.iter().all(|u| u
                .get("headers")
                .is_none_or(|h| h.get("Authorization").is_none()))),
        "a ticket URL asks for the caller's credentials: {}",
        ticket.json
    );
    let signed: Vec<&String> = urls.iter().filter(|u| u.starts_with("http")).collect();
    assert!(
        !signed.is_empty(),
        "a region of a BAM without a byte range: {}",
        ticket.json
    );
    let bytes = http.download(&ticket.json)?;
    let file = tmp.path().join("rd.bam");
    std::fs::write(&file, &bytes)?;
    let got = run("samtools", &["view", path_str(&file)?])?;
    let want = run_local("samtools", &["view", path_str(&rd_bam)?, &region.local()])?;
    assert!(got.ok && got.stderr.is_empty(), "samtools: {}", got.stderr);
    assert!(
        got.stdout == want.stdout,
        "the REGISTERED slice: {}",
        first_difference(&got.stdout, &want.stdout)
    );
    withdraw(rd)?;
    for u in &signed {
        let r = http.get(u, None)?;
        assert_eq!(r.status, 404, "a signed URL after withdrawal: {}", r.text());
    }
    let after = http.get(&path, Some(&registered))?;
    assert_eq!(
        (after.status, after.json["htsget"]["error"].as_str()),
        (404, Some("NotFound")),
        "a new ticket after withdrawal: {}",
        after.text()
    );
    let reg_name = format!("{}#reg", broker.issuer());
    let rd_records = audit(rd)?;
    assert!(
        rd_records
            .iter()
            .any(|r| r["principal"] == reg_name.as_str()
                && r["api"] == "htsget"
                && r["decision"] == "permit"),
        "the ticket is in {rd}'s audit trail: {rd_records:?}"
    );

    // A CONTROLLED joint VCF/BCF for a researcher with an approval: the columns of participants
    // who may not be served are gone, at ticket time and again at fetch time.
    let joint_vcf = object_path(&gw, JOINT_VCF).await?;
    let joint_bcf = object_path(&gw, JOINT_BCF).await?;
    let specimen_of = |p: &str| format!("SP-DEMO-{}-B-DNA", p.trim_start_matches("GEMJ-DEMO-"));
    let served_now = |states: &[gemj_model::ConsentState]| -> BTreeSet<String> {
        states
            .iter()
            .filter(|s| !(s.permits_research() && s.scopes.third_party_academia))
            .map(|s| specimen_of(s.participant.as_str()))
            .collect()
    };
    let excluded_before = served_now(&gw.store.all_consent_states().await?);
    assert!(
        excluded_before.contains(&specimen_of(rd)) && excluded_before.len() >= 2,
        "the demo's withdrawn participant and {rd} are excluded: {excluded_before:?}"
    );
    let victim = "GEMJ-DEMO-0003";
    let victim_specimen = specimen_of(victim);
    assert!(
        !excluded_before.contains(&victim_specimen),
        "{victim} is served before"
    );
    let all_samples = sample_list(&joint_vcf)?;
    assert!(all_samples.contains(&victim_specimen), "{all_samples:?}");

    let region = Region::new("chr21", Some(100_000), Some(700_000));
    let joint_path =
        |format: &str, q: &str| format!("/htsget/variants/gemj-demo-joint?format={format}&{q}");
    let fetch_one = |ticket: &Value, name: &str| -> Res<PathBuf> {
        let urls = ticket["htsget"]["urls"].as_array().ok_or("urls")?;
        assert_eq!(urls.len(), 1, "a re-encoded slice is one URL: {ticket}");
        let bytes = http.download(ticket)?;
        assert!(
            bytes.ends_with(&BGZF_EOF),
            "{name}: the stream ends with the BGZF EOF"
        );
        let p = tmp.path().join(name);
        std::fs::write(&p, &bytes)?;
        Ok(p)
    };
    let early = http.get(&joint_path("VCF", &region.query()), Some(&alice))?;
    assert_eq!(early.status, 200, "alice's joint ticket: {}", early.text());
    let hidden = http.get(
        "/htsget/variants/gemj-demo-joint?referenceName=chr21",
        Some(&registered),
    )?;
    assert_eq!(
        hidden.status,
        404,
        "a REGISTERED caller does not see the CONTROLLED joint file: {}",
        hidden.text()
    );
    let before = fetch_one(&early.json, "before.vcf.gz")?;
    check_consent_slice(
        "before the withdrawal",
        &before,
        &joint_vcf,
        &region,
        &excluded_before,
        tmp.path(),
    )?;
    assert!(sample_list(&before)?.contains(&victim_specimen));

    withdraw(victim)?;
    let mut excluded = excluded_before.clone();
    excluded.insert(victim_specimen.clone());
    assert_eq!(served_now(&gw.store.all_consent_states().await?), excluded);

    let mut checked = 0;
    for (format, local, name) in [
        ("VCF", &joint_vcf, "after.vcf.gz"),
        ("BCF", &joint_bcf, "after.bcf"),
    ] {
        let t = http.get(&joint_path(format, &region.query()), Some(&alice))?;
        assert_eq!(t.status, 200, "{format} after the withdrawal: {}", t.text());
        assert_eq!(t.json["htsget"]["format"], format);
        let stream = fetch_one(&t.json, name)?;
        checked += check_consent_slice(
            &format!("{format} after"),
            &stream,
            local,
            &region,
            &excluded,
            tmp.path(),
        )?;
        let header = http.get(
            &format!("/htsget/variants/gemj-demo-joint?format={format}&class=header"),
            Some(&alice),
        )?;
        assert_eq!(header.status, 200, "{format} header: {}", header.text());
        let h = fetch_one(&header.json, &format!("header-{name}"))?;
        let want: Vec<String> = all_samples
            .iter()
            .filter(|s| !excluded.contains(*s))
            .cloned()
            .collect();
        assert_eq!(
            sample_list(&h)?,
            want,
            "{format}: class=header omits the columns"
        );
        let text = gunzip(&std::fs::read(&h)?)?;
        assert_eq!(
            occurrences(&text, victim_specimen.as_bytes()),
            0,
            "{format}: header names {victim_specimen}"
        );
        let records = run_local("bcftools", &["view", "-H", path_str(&h)?])?;
        assert!(
            records.stdout.is_empty(),
            "{format}: class=header carries records"
        );
    }
    // The URL signed before the withdrawal is decided again when fetched.
    let replay = fetch_one(&early.json, "replayed.vcf.gz")?;
    check_consent_slice(
        "a URL signed before the withdrawal",
        &replay,
        &joint_vcf,
        &region,
        &excluded,
        tmp.path(),
    )?;
    eprintln!("{checked} re-encoded records checked");

    let alice_name = format!("{}#alice", broker.issuer());
    let records = audit(victim)?;
    let htsget: Vec<&Value> = records
        .iter()
        .filter(|r| r["principal"] == alice_name.as_str() && r["api"] == "htsget")
        .collect();
    assert!(
        htsget
            .iter()
            .any(|r| r["decision"] == "permit" && r["approval"] == "APR-HTSGET"),
        "alice's joint tickets are in {victim}'s audit trail: {records:?}"
    );
    assert!(
        htsget
            .iter()
            .any(|r| r["records_filtered"].as_u64().is_some_and(|n| n >= 3)),
        "a ticket after the withdrawal records the filtered participants: {htsget:?}"
    );
    gw.stop().await;
    Ok(())
}
