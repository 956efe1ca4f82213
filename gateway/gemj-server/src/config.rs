//! Configuration: one [`Config`] struct, layered as defaults < TOML file (`--config`) <
//! `GEMJ_*` environment variables (`__` for nesting, e.g. `GEMJ_DATABASE__URL`) < command-line
//! flags (`--listen`, `--data-dir`). Unknown keys are errors, in the file and in the
//! environment alike.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

/// Environment variables with the `GEMJ_` prefix that are not configuration (they belong to
/// the test suites) and are therefore not read as configuration keys.
pub const NOT_CONFIGURATION: [&str; 4] = [
    "SHARED_DIR",
    "TEST_DATABASE_URL",
    "TEST_OBJECTS",
    "ARTEFACTS_DIR",
];

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: String,
    /// The data folder: the SQLite database, the object storage, the demo cohort.
    pub data_dir: PathBuf,
    /// The base URL clients reach the gateway at (default: `http://` + the bound address;
    /// required when `listen` is every interface, `0.0.0.0` or `[::]`).
    pub public_url: String,
    /// The store.
    pub database: DatabaseConfig,
    /// Where the objects (genome files and their indexes) live.
    pub storage: StorageConfig,
    /// Logging.
    pub log: LogConfig,
    /// How the gateway describes itself in service-info.
    pub service: ServiceConfig,
    /// HTTP server tuning.
    pub server: ServerConfig,
    /// Audit writer tuning.
    pub audit: AuditConfig,
    /// The synthetic demo cohort made by `serve --demo`.
    pub demo: DemoConfig,
    /// Passport verification and the access policy's settings.
    pub auth: AuthConfig,
    /// Data-use matching, consent freshness and recontact.
    pub policy: PolicyConfig,
    /// GA4GH DRS (`/ga4gh/drs/v1`).
    pub drs: DrsConfig,
    /// GA4GH Beacon v2 (`/beacon/v2`): identity, limits, privacy defenses and budgets.
    pub beacon: gemj_core::beacon::BeaconSettings,
    /// Ingest of institutions' files (`gemj-gateway ingest`, `/ingest/v1`).
    pub ingest: IngestConfig,
    /// GA4GH WES (`/ga4gh/wes/v1`): engines, workflow sources, limits.
    pub wes: WesConfig,
    /// GA4GH Data Connect (`/data-connect`): paging and the bounds of a search.
    pub data_connect: gemj_core::data_connect::DataConnectSettings,
    /// The web portal (`/portal`): who signs in where, coordinators, sessions.
    pub portal: PortalConfig,
}

/// The web portal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PortalConfig {
    /// Serve the portal under `/portal`.
    pub enabled: bool,
    /// The issuer of the `auth.brokers` entry people sign in at (Authorization Code with PKCE;
    /// that entry's `client_id` and `client_secret` are this gateway's registration there).
    /// Empty: the demo broker in demo mode, else nobody signs in (public pages still answer).
    pub broker: String,
    /// The hospital coordinators: each person (`issuer#subject` of their passport) and the
    /// institution whose pages they work on. In demo mode the demo's coordinators are added.
    pub coordinators: Vec<PortalCoordinator>,
    /// A session ends after this many minutes without a request.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after signing in, whatever the broker's token says.
    pub session_max_hours: u32,
}

impl Config {
    /// The portal's broker must be a configured broker with a client id; coordinators name an
    /// institution and an `issuer#subject`; sessions last at least a minute.
    fn validate_portal(&self) -> Result<(), ConfigError> {
        let p = &self.portal;
        if !p.broker.is_empty() {
            match self.auth.brokers.iter().find(|b| b.issuer == p.broker) {
                None => {
                    return Err(ConfigError::Invalid(format!(
                        "portal.broker {:?} is not one of auth.brokers",
                        p.broker
                    )));
                }
                Some(b) if b.client_id.is_empty() => {
                    return Err(ConfigError::Invalid(format!(
                        "auth.brokers {:?} needs a client_id for people to sign in to the portal",
                        p.broker
                    )));
                }
                Some(_) => {}
            }
        }
        for c in &p.coordinators {
            let well_formed = c
                .principal
                .split_once('#')
                .is_some_and(|(i, s)| !i.is_empty() && !s.is_empty());
            if gemj_model::InstitutionId::parse(&c.institution).is_err() || !well_formed {
                return Err(ConfigError::Invalid(format!(
                    "portal.coordinators: {:?} needs an institution id and a principal issuer#subject",
                    c.principal
                )));
            }
        }
        if p.session_idle_minutes == 0 || p.session_max_hours == 0 {
            return Err(ConfigError::Invalid(
                "portal.session_idle_minutes and portal.session_max_hours must be at least 1"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            broker: String::new(),
            coordinators: Vec::new(),
            session_idle_minutes: 30,
            session_max_hours: 8,
        }
    }
}

/// A hospital coordinator of the portal.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalCoordinator {
    /// The institution (as registered in `auth.institutions`).
    pub institution: String,
    /// The person: `issuer#subject` of their passport.
    pub principal: String,
}

/// GA4GH WES: the workflow engines and what clients may send them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WesConfig {
    /// Folders searched first for the engines' programs, and put first on the engines' `PATH`
    /// (a virtual environment's `bin`: Toil needs its own tools there). Then `PATH`.
    pub path: Vec<PathBuf>,
    /// The engines offered, the first the default. One that is not found, or does not answer
    /// `--version`, is not offered (a warning at start).
    pub engines: Vec<WesEngineConfig>,
    /// The `https` URL roots workflows may be fetched from (a TRS, approved Git hosts); empty:
    /// workflows come only as attachments or `drs://` ids of this gateway.
    pub workflow_roots: Vec<String>,
    /// The most parts of one `POST /runs` form.
    pub max_parts: usize,
    /// The largest part, in bytes.
    pub max_part_bytes: usize,
    /// The largest form, in bytes.
    pub max_total_bytes: usize,
    /// The longest attachment name, in bytes.
    pub max_name_bytes: usize,
    /// How often active runs are re-checked against consent and cancellation, in ms (a
    /// withdrawal stops a run within this plus the consent poll interval).
    pub watch_interval_ms: u64,
    /// How long, in seconds, an active run may go unconfirmed by the instance running it (it
    /// confirms every watch interval) before any instance reports it as SYSTEM_ERROR: its
    /// instance, and the engine with it, is gone.
    pub stale_after_secs: u64,
    /// Where callers learn to get a passport (`auth_instructions_url`); empty: the gateway's
    /// documentation URL.
    pub auth_instructions_url: String,
    /// Which outputs of runs over analysis-only datasets may leave: `aggregate_reviewed`
    /// (aggregate outputs, once an administrator releases each; individual-level data, reads
    /// or calls with sample columns, never), `aggregate_automatic` (aggregate outputs at once,
    /// individual-level never) or `reviewed` (any output an administrator releases).
    pub release_rule: gemj_core::wes::ReleaseRule,
}

/// One workflow engine.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WesEngineConfig {
    /// Its WES name (`workflow_engine`).
    pub name: String,
    /// `cwltool` or `toil`.
    pub kind: String,
    /// The program: a name looked up on `wes.path` and `PATH`, or a path.
    pub program: PathBuf,
    /// Toil: the batch system (`single_machine`, `slurm`, ...; default `single_machine`).
    #[serde(default)]
    pub batch_system: String,
    /// Toil: the folder job stores are made in, shared with the cluster's nodes (default: each
    /// run's own folder).
    #[serde(default)]
    pub job_store_dir: PathBuf,
    /// Environment variables the engine gets besides `PATH`, `HOME`, `TMPDIR` and `LANG` (its
    /// environment is otherwise empty): `SLURM_CONF` for a cluster's configuration, for example.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

impl Default for WesConfig {
    fn default() -> Self {
        let limits = gemj_wes::form::Limits::default();
        Self {
            path: Vec::new(),
            engines: vec![
                WesEngineConfig {
                    name: "cwltool".to_owned(),
                    kind: "cwltool".to_owned(),
                    program: PathBuf::from("cwltool"),
                    batch_system: String::new(),
                    job_store_dir: PathBuf::new(),
                    env: std::collections::BTreeMap::new(),
                },
                WesEngineConfig {
                    name: "toil".to_owned(),
                    kind: "toil".to_owned(),
                    program: PathBuf::from("toil-cwl-runner"),
                    batch_system: "single_machine".to_owned(),
                    job_store_dir: PathBuf::new(),
                    env: std::collections::BTreeMap::new(),
                },
            ],
            workflow_roots: Vec::new(),
            max_parts: limits.max_parts,
            max_part_bytes: limits.max_part_bytes,
            max_total_bytes: limits.max_total_bytes,
            max_name_bytes: limits.max_name_bytes,
            watch_interval_ms: 1000,
            stale_after_secs: 60,
            auth_instructions_url: String::new(),
            release_rule: gemj_core::wes::ReleaseRule::default(),
        }
    }
}

impl WesConfig {
    /// The form limits.
    #[must_use]
    pub fn limits(&self) -> gemj_wes::form::Limits {
        gemj_wes::form::Limits {
            max_parts: self.max_parts.max(1),
            max_part_bytes: self.max_part_bytes.max(1),
            max_total_bytes: self.max_total_bytes.max(1),
            max_name_bytes: self.max_name_bytes.max(1),
        }
    }
}

/// Ingest of institutions' files.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// A folder of newer official schemas, laid out as the project's `schemas/official`
    /// (`fhir/r4/fhir.schema.json`, which FHIR bundles are validated against before mapping), or
    /// a folder holding such a `schemas/` sub-folder; empty: the copies shipped with the gateway
    /// (compiled in). A configured folder without the FHIR R4 schema stops the start.
    pub official_schemas: PathBuf,
    /// SS-MIX2 files applied per transaction.
    pub batch_files: usize,
    /// The largest request body `POST /ingest/v1/{kind}` accepts, in bytes.
    pub max_body_bytes: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            official_schemas: PathBuf::new(),
            batch_files: 256,
            max_body_bytes: 64 << 20,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./gemj-data"),
            public_url: String::new(),
            database: DatabaseConfig::default(),
            storage: StorageConfig::default(),
            log: LogConfig::default(),
            service: ServiceConfig::default(),
            server: ServerConfig::default(),
            audit: AuditConfig::default(),
            demo: DemoConfig::default(),
            auth: AuthConfig::default(),
            policy: PolicyConfig::default(),
            drs: DrsConfig::default(),
            beacon: gemj_core::beacon::BeaconSettings::default(),
            ingest: IngestConfig::default(),
            wes: WesConfig::default(),
            data_connect: gemj_core::data_connect::DataConnectSettings::default(),
            portal: PortalConfig::default(),
        }
    }
}

/// GA4GH DRS.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DrsConfig {
    /// The prefix of compact identifiers accepted wherever a DRS id is (`<prefix>:<id>`, as
    /// registered at identifiers.org / n2t.net); lower-case letters, digits, `.` and `_`.
    pub compact_id_prefix: String,
    /// The most ids one bulk request may name (`maxBulkRequestLength`); more is a 413.
    pub max_bulk_request_length: usize,
    /// With objects in S3: answer `/access/https` with a URL presigned by the bucket (for
    /// callers that reach the bucket themselves), valid as long as a data URL. The decision is
    /// made and audited at issue as for a data URL; the fetch then bypasses the gateway, so a
    /// consent change during those minutes is not re-checked. Without S3: ignored.
    pub presigned_urls: bool,
}

impl Default for DrsConfig {
    fn default() -> Self {
        Self {
            compact_id_prefix: gemj_core::drs::DEFAULT_COMPACT_PREFIX.to_owned(),
            max_bulk_request_length: gemj_core::drs::DEFAULT_MAX_BULK,
            presigned_urls: false,
        }
    }
}

/// Object storage.
#[derive(
    Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Empty: the folder `<data_dir>/objects` (the embedded default). `file:/path`: another
    /// folder. `s3://bucket/prefix`: S3 or an S3-compatible server, with the endpoint, region
    /// and credentials from the standard variables `AWS_ENDPOINT_URL`, `AWS_REGION`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (`AWS_ALLOW_HTTP=true` for plain HTTP).
    pub url: String,
}

/// The store.
// `Debug` is written by hand: it hides a password in the URL.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite:` or `postgres://` URL. Empty: the embedded default, `<data_dir>/gemj.sqlite`.
    pub url: String,
    /// Connection pool size. On PostgreSQL the audit appends keep one connection of their own
    /// beside it.
    pub max_connections: u32,
    /// PostgreSQL schema to use (created if missing). Empty: the default `search_path`.
    pub schema: String,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &redact_password(&self.url))
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .finish()
    }
}

/// `scheme://user:password@host/...` with the password replaced, for `Debug` and logs.
fn redact_password(url: &str) -> std::borrow::Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.into();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.into();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:[redacted]{}", &rest[at..]).into(),
        None => url.into(),
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            max_connections: 16,
            schema: String::new(),
        }
    }
}

/// Logging.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `gemj_server=debug,info` (`RUST_LOG` overrides it).
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".to_owned(),
            level: "info".to_owned(),
        }
    }
}

/// How the gateway describes itself.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Reverse-domain id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Organization name.
    pub organization_name: String,
    /// Organization URL.
    pub organization_url: String,
    /// `prod`, `staging`, `test` or `dev`: what `/service-info` and Beacon `/info` both say
    /// (`serve --demo` sets `test`).
    pub environment: String,
    /// Contact URL (empty: none).
    pub contact_url: String,
    /// Documentation URL (empty: none).
    pub documentation_url: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            id: "jp.gemj.gateway".to_owned(),
            name: "GeMJ gateway".to_owned(),
            organization_name: "Genomic Medicine Japan (GeMJ)".to_owned(),
            organization_url: "https://gemj.example.jp".to_owned(),
            environment: "dev".to_owned(),
            contact_url: String::new(),
            documentation_url: String::new(),
        }
    }
}

/// HTTP server tuning.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP worker threads (0: four per core, at most 32 unless there are more cores).
    pub workers: usize,
    /// How far below the rest of the gateway the HTTP workers run, as a nice increment on
    /// Linux (0 to 19; 0: the same priority). Requests wait for their audit batch, which the
    /// audit writer (on PostgreSQL, a thread of the gateway's own runtime) and the store's
    /// server write; when the workers run at the same priority, a batch waits for cores behind
    /// requests that are only starting, and every request in it waits too. A lower priority is
    /// any process's right, so this needs no privilege; it also yields the workers to every
    /// other process at the gateway's priority on the same machine (docs/PERFORMANCE.md, "The
    /// HTTP workers behind the audit").
    #[schemars(range(max = 19))]
    pub worker_nice: u8,
    /// Seconds to finish in-flight requests after SIGTERM or SIGINT.
    pub shutdown_timeout_secs: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Browser origins (`https://portal.example.jp`, or `*` for any) allowed to call the GA4GH
    /// APIs (htsget, DRS, Beacon) from a web page: CORS headers on those paths and preflight
    /// requests answered there. Empty (the default): no CORS; the gateway's own APIs never
    /// answer CORS.
    pub cors_origins: Vec<String>,
    /// Reverse proxies in front of the gateway, as addresses (`10.0.0.5`, `::1`) or networks
    /// (`10.0.0.0/8`): for a connection from one of them, the client is read from
    /// `forwarded_header`, right to left past the trusted proxies, so that Beacon's and Data
    /// Connect's per-address budgets and the refusal limit count each client, not the proxy.
    /// Empty (the default): the TCP peer is the client, whatever it sends.
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies append the client to: `x-forwarded-for` (the default:
    /// nginx, HAProxy, Envoy, the cloud load balancers) or `forwarded` (RFC 7239's
    /// `for=` parameter). Only that header is read; the other is the client's to write and
    /// counts for nothing, so name the one your proxies write.
    pub forwarded_header: ForwardedHeader,
    /// HTTPS on the gateway's own listener; both files empty (the default): plain HTTP, for a
    /// TLS-terminating proxy in front.
    pub tls: TlsConfig,
}

/// The header trusted proxies append the client's address to.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ServerConfig {
    /// The HTTP worker threads on a machine of `cores` cores: `workers`, or by default four per
    /// core, at most 32 (or one per core where there are more). A worker serves the connections
    /// it accepted; while the kernel preempts it (the gateway shares its cores with the audit
    /// writer, PostgreSQL and its clients), they all wait. More workers than cores spread the
    /// connections thinner, so a preemption stalls fewer of them: on 2 cores, 8 workers against
    /// 2 took the Beacon p99 on PostgreSQL from 14 to 5-6 ms (docs/PERFORMANCE.md).
    #[must_use]
    pub fn worker_threads(&self, cores: usize) -> usize {
        if self.workers > 0 {
            return self.workers;
        }
        let cores = cores.max(1);
        (4 * cores).min(cores.max(32))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            worker_nice: 10,
            shutdown_timeout_secs: 30,
            max_body_bytes: 4 * 1024 * 1024,
            cors_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            tls: TlsConfig::default(),
        }
    }
}

/// HTTPS on the gateway's own listener (`server.tls`): rustls, TLS 1.2 and 1.3.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM, the gateway's own certificate first.
    pub certificate: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

impl TlsConfig {
    /// Whether HTTPS is configured (either file named).
    #[must_use]
    pub fn enabled(&self) -> bool {
        !self.certificate.as_os_str().is_empty() || !self.private_key.as_os_str().is_empty()
    }
}

/// Audit writer tuning.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Most audit records written in one transaction (group commit).
    pub max_batch: usize,
    /// Where `gemj-gateway audit archive` puts sealed segments of the audit chain, and where
    /// `audit verify` and the participant access report read them. Empty: the folder
    /// `<data_dir>/audit-archive`. `file:/path`: another folder. `s3://bucket/prefix`: S3, with
    /// the endpoint and credentials of `storage.url`'s variables.
    pub archive_url: String,
    /// PostgreSQL only: a file on this replica's own disk (relative: under `data_dir`) where
    /// each audited answer's events are appended before the answer, then shipped into
    /// PostgreSQL's chain moments later, exactly once, by a task of this process. An answer
    /// then waits for a local append rather than PostgreSQL's commit; the events are kept
    /// through a kill of the process, as the embedded store's are, but the ones not yet
    /// shipped (moments' worth, more while PostgreSQL is out of reach) are lost with the disk
    /// itself. One process per file.
    /// Empty: every answer waits for PostgreSQL's commit.
    pub journal: String,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            max_batch: 1024,
            archive_url: String::new(),
            journal: String::new(),
        }
    }
}

/// The demo cohort.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DemoConfig {
    /// Participants.
    pub participants: usize,
    /// Seed.
    pub seed: u64,
    /// Mean read depth of the per-participant BAM/CRAM.
    pub coverage: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        let d = gemj_demo::DemoOptions::default();
        Self {
            participants: d.participants,
            seed: d.seed,
            coverage: d.coverage,
        }
    }
}

/// A trusted passport or visa issuer: exactly this issuer, keys only from exactly this JWKS URL,
/// and trusted only for what it lists: Passports (a broker), Visas per type with the `source`
/// and `by` values it may claim, and the datasets whose grants it governs (a committee).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuerConfig {
    /// The `iss` claim.
    pub issuer: String,
    /// The JWKS URL (HTTPS; plain http only for loopback with `allow_http_loopback`).
    pub jwks_url: String,
    /// Whether Passports signed by this issuer are accepted (a Passport broker).
    #[serde(default)]
    pub passports: bool,
    /// The Visas this issuer may sign. A Visa of another type, or claiming another `source` or
    /// `by`, is ignored with its reason in the decision.
    #[serde(default)]
    pub visas: Vec<VisaTrustConfig>,
    /// The datasets whose ControlledAccessGrants this issuer governs, as dataset id prefixes
    /// (`GEMJ-CANCER-`; `""` for every dataset of this gateway): a grant is honoured only when
    /// its value is `dataset_grant_prefix` + an id starting with one of them.
    #[serde(default)]
    pub datasets: Vec<String>,
    /// The audience this issuer's Passports must name in `aud`, in place of
    /// `auth.required_audience` (a Beacon network's: the `audience` the network lists for this
    /// gateway, so a passport it cut for another member cannot be replayed here). Empty (the
    /// default): the gateway-wide rule.
    #[serde(default)]
    pub passport_audience: String,
    /// Whether this issuer is a Beacon network this gateway is a member of: each of its
    /// Passports stands for one caller (named by the network's own `LinkedIdentities` Visa),
    /// whose Beacon budgets and risk ledger it spends here, as a direct query would. Needs
    /// `passports = true`.
    #[serde(default)]
    pub beacon_network: bool,
}

/// One Visa Type a trusted issuer may sign.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisaTrustConfig {
    /// The Visa Type: `ResearcherStatus`, `AffiliationAndRole`, `AcceptedTermsAndPolicies`,
    /// `ControlledAccessGrants` or `LinkedIdentities`.
    #[serde(rename = "type")]
    pub visa_type: String,
    /// The `source` values (exact URLs) the issuer may claim for this type.
    pub sources: Vec<String>,
    /// The `by` values it may claim (`self`, `peer`, `system`, `so`, `dac`); empty: any, or none.
    #[serde(default)]
    pub by: Vec<String>,
}

/// Passport verification and the access policy's settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Trusted (issuer, JWKS URL) pairs. Empty: only anonymous access (and the demo broker in
    /// demo mode).
    pub trusted_issuers: Vec<TrustedIssuerConfig>,
    /// The audience passports must name (empty: passports must carry no `aud`).
    pub required_audience: String,
    /// The longest Passport lifetime accepted (`exp - iat`, seconds).
    pub max_passport_lifetime_secs: u64,
    /// Refuse Passports without a `jti` (which cannot be revoked one by one; a subject can).
    pub require_jti: bool,
    /// Accept only `typ: vnd.ga4gh.visa+jwt` on Visas inside Passports. Default `false`: every
    /// header form Passport 1.0 and 1.2 allow for Visas is accepted (`vnd.ga4gh.visa+jwt`,
    /// `JWT`, none).
    pub strict_visa_typ: bool,
    /// The longest Visa lifetime accepted (`exp - iat`, seconds).
    pub max_visa_lifetime_secs: u64,
    /// Per Visa Type, the oldest `asserted` (days) that still authorises; a type not listed has
    /// no limit.
    pub max_asserted_age_days: std::collections::BTreeMap<String, u64>,
    /// Per dataset id, the oldest `asserted` (days) of a ControlledAccessGrants visa that still
    /// authorises for that dataset. It can only narrow `max_asserted_age_days` for grants.
    pub max_grant_age_days: std::collections::BTreeMap<String, u64>,
    /// The one clock skew (seconds, at most 300) tolerated on `exp`, `iat`, `nbf` and
    /// `asserted` of Passports, Visas and institution tokens, alike on every API.
    pub clock_skew_secs: u64,
    /// Allow plain-http JWKS URLs on loopback addresses (tests and the demo only).
    pub allow_http_loopback: bool,
    /// Refusals of credentials nothing shows a trusted issuer made (unreadable, oversized,
    /// untrusted, a signature that does not verify; answered 401, 431, 413 or 503 before any
    /// decision) that are audited one by one from one address (the TCP peer's; an IPv6 address
    /// by its /64) in each `refusal_window_secs`, counted across every instance sharing the
    /// store. Past it, that address's refusals are answered alike, and only the first past it
    /// on each instance is audited (`credential_refused:refusals_limited`): a flood of forged
    /// tokens grows the audit by a bounded amount per address. A refused credential whose
    /// signature verified is always audited. Behind a reverse proxy every client shares its
    /// address: raise the limit there, or set 0 (every refusal is audited).
    pub audited_refusals_per_address: u32,
    /// The window of `audited_refusals_per_address`, seconds (1 to 86,400).
    #[schemars(range(min = 1, max = 86_400))]
    pub refusal_window_secs: u64,
    /// Removed (trust is per issuer now: `trusted_issuers[].visas`); a configuration that still
    /// sets it stops the start with exit code 2.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub researcher_status_sources: Option<Vec<String>>,
    /// Removed, as `researcher_status_sources`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub terms_sources: Option<Vec<String>>,
    /// Removed, as `researcher_status_sources`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub grant_sources: Option<Vec<String>>,
    /// Removed, as `researcher_status_sources`.
    #[serde(default, skip_serializing)]
    #[schemars(skip)]
    pub linked_identity_sources: Option<Vec<String>>,
    /// The gateway's terms: an AcceptedTermsAndPolicies visa with this value grants REGISTERED
    /// access (empty: none does).
    pub terms_url: String,
    /// Roles whose AffiliationAndRole visa (`role@domain`, from an issuer and source trusted
    /// for that type) grants REGISTERED access, for example `["faculty"]` (empty: none does).
    /// The domains an issuer may vouch for are its trusted `sources`.
    pub registered_roles: Vec<String>,
    /// ControlledAccessGrants visas name datasets as this prefix followed by the dataset id.
    pub dataset_grant_prefix: String,
    /// Administrators of the data-use committee's approvals, as `issuer#subject` of their
    /// passports.
    pub administrators: Vec<String>,
    /// Institutions that post consent events and read their participants, each with the
    /// issuer and JWKS URL of the key that signs its tokens.
    pub institutions: Vec<InstitutionConfig>,
    /// The audience institution tokens must name (empty: the gateway's base URL).
    pub institution_audience: String,
    /// Passport brokers whose OAuth access tokens are accepted as `Authorization: Bearer` (the
    /// Passport v1.0 flow: visas from the broker's userinfo endpoint, or a Passport by RFC 8693
    /// token exchange). The broker's issuer must also be a trusted issuer (it signs the visas).
    pub brokers: Vec<BrokerConfig>,
}

/// The Visa Types a trusted issuer may be configured for.
const VISA_TYPES: [&str; 5] = [
    "ResearcherStatus",
    "AffiliationAndRole",
    "AcceptedTermsAndPolicies",
    "ControlledAccessGrants",
    "LinkedIdentities",
];

impl AuthConfig {
    /// Checks the trust table: no removed key, every trusted issuer trusted for something,
    /// every Visa rule of a known type with sources, and grants only with the datasets they
    /// govern.
    fn validate_trust(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("researcher_status_sources", &self.researcher_status_sources),
            ("terms_sources", &self.terms_sources),
            ("grant_sources", &self.grant_sources),
            ("linked_identity_sources", &self.linked_identity_sources),
        ] {
            if value.is_some() {
                return Err(ConfigError::Invalid(format!(
                    "auth.{key} was removed: Visa trust is bound to issuers now; move these \
                     sources to auth.trusted_issuers[].visas of the issuer that signs them \
                     (see the trust model in ARCHITECTURE.md)"
                )));
            }
        }
        if self.max_passport_lifetime_secs == 0 || self.max_visa_lifetime_secs == 0 {
            return Err(ConfigError::Invalid(
                "auth.max_passport_lifetime_secs and auth.max_visa_lifetime_secs must be positive"
                    .to_owned(),
            ));
        }
        if let Some(t) = self
            .max_asserted_age_days
            .keys()
            .find(|t| !VISA_TYPES.contains(&t.as_str()))
        {
            return Err(ConfigError::Invalid(format!(
                "auth.max_asserted_age_days: {t:?} is not one of {}",
                VISA_TYPES.join(", ")
            )));
        }
        if !(1..=86_400).contains(&self.refusal_window_secs) {
            return Err(ConfigError::Invalid(format!(
                "auth.refusal_window_secs: {} must be between 1 and 86400",
                self.refusal_window_secs
            )));
        }
        if self.clock_skew_secs > gemj_passport::MAX_CLOCK_SKEW_SECS.unsigned_abs() {
            return Err(ConfigError::Invalid(format!(
                "auth.clock_skew_secs: {} is more than {} seconds",
                self.clock_skew_secs,
                gemj_passport::MAX_CLOCK_SKEW_SECS
            )));
        }
        let grant_limit = self
            .max_asserted_age_days
            .get("ControlledAccessGrants")
            .copied();
        for (dataset, days) in &self.max_grant_age_days {
            if gemj_model::DatasetId::parse(dataset).is_err() {
                return Err(ConfigError::Invalid(format!(
                    "auth.max_grant_age_days: {dataset:?} is not a dataset id"
                )));
            }
            if *days == 0 || grant_limit.is_some_and(|limit| *days > limit) {
                return Err(ConfigError::Invalid(format!(
                    "auth.max_grant_age_days.{dataset}: {days} must be between 1 and \
                     auth.max_asserted_age_days.ControlledAccessGrants ({}): a dataset's limit \
                     narrows the one for every grant",
                    grant_limit.map_or_else(|| "none".to_owned(), |l| l.to_string())
                )));
            }
        }
        for (i, t) in self.trusted_issuers.iter().enumerate() {
            let at = format!("auth.trusted_issuers[{i}]");
            if !t.passports && t.visas.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "{at} ({}) is trusted for nothing: set `passports = true` and/or list the \
                     `visas` it may sign (issuers are no longer trusted for every Visa Type)",
                    t.issuer
                )));
            }
            if t.beacon_network && !t.passports {
                return Err(ConfigError::Invalid(format!(
                    "{at}.beacon_network ({}): needs `passports = true` (a network is known by \
                     the Passports it signs)",
                    t.issuer
                )));
            }
            for (j, v) in t.visas.iter().enumerate() {
                if !VISA_TYPES.contains(&v.visa_type.as_str()) {
                    return Err(ConfigError::Invalid(format!(
                        "{at}.visas[{j}].type: {:?} is not one of {}",
                        v.visa_type,
                        VISA_TYPES.join(", ")
                    )));
                }
                if v.sources.is_empty() || v.sources.iter().any(|s| s.trim().is_empty()) {
                    return Err(ConfigError::Invalid(format!(
                        "{at}.visas[{j}].sources: list the exact `source` URLs it may claim"
                    )));
                }
                if v.visa_type == "ControlledAccessGrants" && t.datasets.is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "{at}.datasets: a ControlledAccessGrants issuer must name the datasets \
                         it governs (dataset id prefixes; \"\" for all)"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A passport broker whose access tokens are accepted.
// `Debug` is written by hand: it hides the client secret.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// The broker's issuer.
    pub issuer: String,
    /// Its userinfo endpoint (empty: OpenID Connect discovery from the issuer).
    #[serde(default)]
    pub userinfo_url: String,
    /// Its token endpoint, for token exchange (empty: discovery).
    #[serde(default)]
    pub token_url: String,
    /// This gateway's client id at the broker (token exchange).
    #[serde(default)]
    pub client_id: String,
    /// This gateway's client secret at the broker (token exchange; prefer the
    /// `GEMJ_AUTH__...` environment to a file).
    #[serde(default)]
    pub client_secret: String,
    /// Exchange access tokens for a Passport (RFC 8693) instead of reading userinfo.
    #[serde(default)]
    pub token_exchange: bool,
}

impl std::fmt::Debug for BrokerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConfig")
            .field("issuer", &self.issuer)
            .field("userinfo_url", &self.userinfo_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &if self.client_secret.is_empty() {
                    ""
                } else {
                    "[redacted]"
                },
            )
            .field("token_exchange", &self.token_exchange)
            .finish()
    }
}

/// An institution and the key that signs its tokens.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstitutionConfig {
    /// The institution id (as participants name it).
    pub id: String,
    /// The `iss` of its tokens.
    pub issuer: String,
    /// The JWKS URL of its keys (HTTPS; plain http only for loopback with
    /// `allow_http_loopback`).
    pub jwks_url: String,
}

/// Data-use matching, consent freshness and recontact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// A newer Data Use Ontology release (`duo.owl`); empty: the release shipped with the
    /// gateway (2021-02-23, compiled in). A configured file that cannot be read stops the start.
    pub duo_owl: PathBuf,
    /// Japanese DUO labels (`duo-japanese.owl`); empty: beside a configured `duo_owl` if there,
    /// else the GEM Japan translation shipped with the gateway.
    pub duo_japanese_owl: PathBuf,
    /// A newer Human Phenotype Ontology release (`hp.obo`, or gzip-compressed `hp.obo.gz`);
    /// empty: the release shipped with the gateway (2025-01-16, compiled in).
    pub hpo_obo: PathBuf,
    /// How often the consent epoch is polled, in milliseconds.
    pub consent_poll_interval_ms: u64,
    /// Older than this (milliseconds), the consent view refuses consent-dependent requests
    /// (503 with Retry-After).
    pub consent_max_staleness_ms: u64,
    /// A participant is asked at most once in this many days by recontact requests.
    pub recontact_min_interval_days: u32,
    /// How long signed data URLs live, in seconds.
    pub data_url_ttl_secs: u64,
    /// The key that signs data URLs (empty: `<data_dir>/keys/data-url.key`, created on first
    /// start). Instances serving the same store must share it.
    pub data_url_key_file: PathBuf,
    /// Datasets whose data may be analysed but never leave (a trusted research environment):
    /// their files are inputs to WES runs of callers the dataset's rule permits, and nothing of
    /// them is served directly (htsget, DRS access, data URLs, FHIR reads); Beacon answers them
    /// with counts at most; a run's outputs are held until the committee releases them
    /// (`/admin/v1/wes/outputs`).
    pub analysis_only_datasets: Vec<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            duo_owl: PathBuf::new(),
            duo_japanese_owl: PathBuf::new(),
            hpo_obo: PathBuf::new(),
            consent_poll_interval_ms: 1000,
            consent_max_staleness_ms: 5000,
            recontact_min_interval_days: 365,
            data_url_ttl_secs: 300,
            data_url_key_file: PathBuf::new(),
            analysis_only_datasets: Vec::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            trusted_issuers: Vec::new(),
            required_audience: String::new(),
            max_passport_lifetime_secs: 3600,
            require_jti: false,
            strict_visa_typ: false,
            max_visa_lifetime_secs: 365 * 86_400,
            max_asserted_age_days: [("ControlledAccessGrants".to_owned(), 365)]
                .into_iter()
                .collect(),
            max_grant_age_days: std::collections::BTreeMap::new(),
            clock_skew_secs: 60,
            allow_http_loopback: false,
            audited_refusals_per_address: 600,
            refusal_window_secs: 60,
            researcher_status_sources: None,
            terms_sources: None,
            grant_sources: None,
            linked_identity_sources: None,
            terms_url: String::new(),
            registered_roles: Vec::new(),
            dataset_grant_prefix: "https://gemj.example.jp/datasets/".to_owned(),
            administrators: Vec::new(),
            institutions: Vec::new(),
            institution_audience: String::new(),
            brokers: Vec::new(),
        }
    }
}

/// Overrides from command-line flags, applied last.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A source has an unknown key, a wrong type or bad syntax.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The JSON Schema of the configuration file (`schemas/gemj-gateway-config.schema.json`).
    #[must_use]
    pub fn json_schema() -> serde_json::Value {
        let mut schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default();
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "$id".to_owned(),
                serde_json::Value::from(
                    "https://gemj.example.jp/schemas/gemj-gateway-config.schema.json",
                ),
            );
            obj.insert(
                "title".to_owned(),
                serde_json::Value::from("gemj-gateway configuration"),
            );
        }
        schema
    }

    /// Loads the configuration from its layers.
    ///
    /// # Errors
    /// An unreadable file, bad TOML, an unknown key or a wrongly typed value in any layer.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::load_with_env(file, overrides, std::env::vars())
    }

    /// Loads with an explicit environment (for tests).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with_env(
        file: Option<&Path>,
        overrides: &Overrides,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
                path: path.to_owned(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        // The environment is passed in (not read by figment's Env provider) so tests stay
        // hermetic; `__` nests and keys are lower-cased, as figment's Env::split does.
        let mut nested = serde_json::Map::new();
        for (key, value) in env {
            let Some(rest) = key.strip_prefix("GEMJ_") else {
                continue;
            };
            if NOT_CONFIGURATION.contains(&rest) || rest.is_empty() {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
            insert_env(&mut nested, &path, &value);
        }
        figment = figment.merge(Serialized::defaults(serde_json::Value::Object(nested)));
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e.to_string())))?;
        if let Some(listen) = &overrides.listen {
            config.listen.clone_from(listen);
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir.clone_from(dir);
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.server.worker_nice > 19 {
            return Err(ConfigError::Invalid(format!(
                "server.worker_nice: {} must be between 0 and 19",
                self.server.worker_nice
            )));
        }
        if self.server.tls.enabled()
            && (self.server.tls.certificate.as_os_str().is_empty()
                || self.server.tls.private_key.as_os_str().is_empty())
        {
            return Err(ConfigError::Invalid(
                "server.tls: certificate and private_key go together (both empty: plain HTTP)"
                    .to_owned(),
            ));
        }
        self.auth.validate_trust()?;
        self.validate_portal()?;
        self.beacon
            .network
            .validate()
            .map_err(ConfigError::Invalid)?;
        if let Some(e) = self
            .wes
            .engines
            .iter()
            .find(|e| !matches!(e.kind.as_str(), "cwltool" | "toil") || e.name.is_empty())
        {
            return Err(ConfigError::Invalid(format!(
                "wes.engines: {:?} needs a name and a kind of \"cwltool\" or \"toil\"",
                e.name
            )));
        }
        if let Some(root) = self
            .wes
            .workflow_roots
            .iter()
            .find(|r| !r.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(format!(
                "wes.workflow_roots: {root:?} is not an https:// URL"
            )));
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "listen: {:?} is not an address:port such as 127.0.0.1:8080",
                self.listen
            )));
        }
        if !matches!(
            self.service.environment.as_str(),
            "prod" | "staging" | "test" | "dev"
        ) {
            return Err(ConfigError::Invalid(format!(
                "service.environment: {:?} is not one of prod, staging, test, dev (the values \
                 GA4GH service-info and Beacon /info share)",
                self.service.environment
            )));
        }
        if let Some(bad) = self
            .server
            .cors_origins
            .iter()
            .find(|o| !crate::cors::is_origin(o))
        {
            return Err(ConfigError::Invalid(format!(
                "server.cors_origins: {bad:?} is neither `*` nor an origin such as \
                 https://portal.example.jp (scheme, host and optional port; no path)"
            )));
        }
        crate::client::TrustedProxies::parse(
            &self.server.trusted_proxies,
            self.server.forwarded_header,
        )
        .map_err(ConfigError::Invalid)?;
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid(format!(
                "log.format: {:?} is neither \"text\" nor \"json\"",
                self.log.format
            )));
        }
        let url = self.database.url.as_str();
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::Invalid("database.url: expected a sqlite: or postgres:// URL (empty = the embedded SQLite file)".to_owned()));
        }
        if !self.audit.journal.is_empty() && !self.database_url().starts_with("postgres") {
            return Err(ConfigError::Invalid(
                "audit.journal: only with PostgreSQL (database.url postgres://); \
                 the embedded store is already on this disk"
                    .to_owned(),
            ));
        }
        check_storage_url("storage.url", &self.storage.url, "<data_dir>/objects")?;
        check_storage_url(
            "audit.archive_url",
            &self.audit.archive_url,
            "<data_dir>/audit-archive",
        )?;
        if !(self.public_url.is_empty()
            || self.public_url.starts_with("http://")
            || self.public_url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid(
                "public_url: must start with http:// or https://".to_owned(),
            ));
        }
        // The answers carry absolute URLs (htsget tickets, DRS access URLs, WES task and log
        // URLs, Data Connect next pages): made from an address no client can reach, every one
        // of them would be broken.
        if self.public_url.is_empty()
            && self
                .listen
                .parse::<std::net::SocketAddr>()
                .is_ok_and(|a| a.ip().is_unspecified())
        {
            return Err(ConfigError::Invalid(format!(
                "public_url: required when listening on every interface ({}): answers carry \
                 absolute URLs (htsget tickets, DRS access, next pages), and no client can reach \
                 {}; set public_url (GEMJ_PUBLIC_URL) to the URL clients use",
                self.listen, self.listen
            )));
        }
        let prefix = &self.drs.compact_id_prefix;
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_'))
        {
            return Err(ConfigError::Invalid(format!(
                "drs.compact_id_prefix: {prefix:?} must be lower-case letters, digits, '.' or '_'"
            )));
        }
        if self.drs.max_bulk_request_length == 0 {
            return Err(ConfigError::Invalid(
                "drs.max_bulk_request_length: must be at least 1".to_owned(),
            ));
        }
        if self.demo.participants == 0 || !(self.demo.coverage > 0.0 && self.demo.coverage <= 100.0)
        {
            return Err(ConfigError::Invalid(
                "demo: participants must be at least 1 and coverage in (0, 100]".to_owned(),
            ));
        }
        Ok(())
    }

    /// The database URL in force: the configured one, or the embedded SQLite file in the
    /// data folder.
    #[must_use]
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("gemj.sqlite").display())
        } else {
            self.database.url.clone()
        }
    }

    /// The default configuration as commented TOML (`print-default-config`).
    ///
    /// # Errors
    /// Never in practice (the defaults always serialize).
    pub fn default_toml() -> Result<String, toml::ser::Error> {
        let body = toml::to_string_pretty(&Config::default())?;
        Ok(format!(
            "# gemj-gateway default configuration.\n\
             # Layers: these defaults < this file (--config) < GEMJ_* environment variables\n\
             # (`__` nests: GEMJ_DATABASE__URL) < --listen / --data-dir flags.\n\
             # database.url empty = the embedded SQLite file <data_dir>/gemj.sqlite;\n\
             # public_url empty = http:// + the bound address.\n\n{body}"
        ))
    }
}

fn insert_env(map: &mut serde_json::Map<String, serde_json::Value>, path: &[String], value: &str) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), parse_env_value(value));
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = serde_json::Value::Object(serde_json::Map::new());
            }
            if let serde_json::Value::Object(inner) = entry {
                insert_env(inner, rest, value);
            }
        }
    }
}

/// Environment values are text; numbers and booleans are recognised as such, everything else
/// stays a string (so `GEMJ_SERVER__WORKERS=4` is a number and `GEMJ_LISTEN=…` a string).
fn parse_env_value(value: &str) -> serde_json::Value {
    if let Ok(i) = value.parse::<i64>() {
        return serde_json::Value::from(i);
    }
    if let Ok(f) = value.parse::<f64>()
        && f.is_finite()
        && value.contains('.')
    {
        return serde_json::Value::from(f);
    }
    match value {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::String(value.to_owned()),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks an object storage URL: empty (the folder `default`), `file:/path` or
/// `s3://bucket/prefix`.
fn check_storage_url(field: &str, url: &str, default: &str) -> Result<(), ConfigError> {
    if url.starts_with("s3://") {
        gemj_s3::S3Config {
            url: url.to_owned(),
            ..gemj_s3::S3Config::default()
        }
        .bucket_and_prefix()
        .map_err(|e| ConfigError::Invalid(format!("{field}: {e}")))?;
    } else if !(url.is_empty() || url.starts_with("file:/")) {
        return Err(ConfigError::Invalid(format!(
            "{field}: expected file:/absolute/folder or s3://bucket/prefix (empty = {default})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let mut config = Config::default();
        config.database.url = "postgres://gemj:s3cr3t-pw@db.example:5432/gemj".to_owned();
        config.auth.brokers.push(BrokerConfig {
            issuer: "https://broker.example".to_owned(),
            userinfo_url: String::new(),
            token_url: String::new(),
            client_id: "gateway".to_owned(),
            client_secret: "client-s3cr3t".to_owned(),
            token_exchange: true,
        });
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("postgres://gemj:[redacted]@db.example:5432/gemj"));
        assert!(shown.contains("client_id: \"gateway\""));
        for (url, shown) in [
            ("", ""),
            ("sqlite:/tmp/x.sqlite", "sqlite:/tmp/x.sqlite"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://u:p@h/db?x=a@b",
                "postgres://u:[redacted]@h/db?x=a@b",
            ),
            ("postgres://u:p:q@h", "postgres://u:[redacted]@h"),
        ] {
            assert_eq!(redact_password(url), shown, "{url}");
        }
    }

    #[test]
    fn layers_apply_in_order() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\n[database]\nmax_connections = 4\n[log]\nformat = \"json\"\n",
        )?;
        let c = Config::load_with_env(
            Some(&file),
            &Overrides::default(),
            env(&[
                ("GEMJ_DATABASE__MAX_CONNECTIONS", "7"),
                ("GEMJ_SHARED_DIR", "/x"),
                ("GEMJ_ARTEFACTS_DIR", "/y"),
                ("GEMJ_TEST_OBJECTS", "s3"),
                ("OTHER", "1"),
            ]),
        )?;
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.database.max_connections, 7);
        assert_eq!(c.log.format, "json");
        let o = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some("/tmp/d".into()),
        };
        let c = Config::load_with_env(Some(&file), &o, env(&[("GEMJ_LISTEN", "127.0.0.1:1")]))?;
        assert_eq!(c.listen, "127.0.0.1:0");
        assert_eq!(c.database_url(), "sqlite:///tmp/d/gemj.sqlite");
        Ok(())
    }

    #[test]
    fn workers_default_to_four_per_core_within_bounds() {
        let default = ServerConfig::default();
        assert_eq!(default.worker_threads(2), 8);
        assert_eq!(default.worker_threads(0), 4);
        assert_eq!(default.worker_threads(8), 32);
        assert_eq!(default.worker_threads(16), 32);
        assert_eq!(default.worker_threads(64), 64);
        let set = ServerConfig {
            workers: 3,
            ..ServerConfig::default()
        };
        assert_eq!(set.worker_threads(2), 3);
    }

    #[test]
    fn bad_sources_are_errors() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let unknown = dir.path().join("u.toml");
        std::fs::write(&unknown, "lisen = \"127.0.0.1:9000\"\n")?;
        let bad_toml = dir.path().join("b.toml");
        std::fs::write(&bad_toml, "listen = \n")?;
        let nested_unknown = dir.path().join("n.toml");
        std::fs::write(&nested_unknown, "[database]\nurll = \"x\"\n")?;
        let o = Overrides::default();
        assert!(matches!(
            Config::load_with_env(Some(&unknown), &o, env(&[])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::load_with_env(Some(&bad_toml), &o, env(&[])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::load_with_env(Some(&nested_unknown), &o, env(&[])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::load_with_env(Some(&dir.path().join("missing.toml")), &o, env(&[])),
            Err(ConfigError::Unreadable { .. })
        ));
        assert!(matches!(
            Config::load_with_env(None, &o, env(&[("GEMJ_NO_SUCH_KEY", "1")])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::load_with_env(None, &o, env(&[("GEMJ_SERVER__WORKERS", "many")])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::load_with_env(None, &o, env(&[("GEMJ_LISTEN", "localhost")])),
            Err(ConfigError::Invalid(_))
        ));
        // Trusted proxies are addresses or networks, never host names.
        let proxies = dir.path().join("p.toml");
        std::fs::write(
            &proxies,
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.example.jp\"]\n",
        )?;
        match Config::load_with_env(Some(&proxies), &o, env(&[])) {
            Err(ConfigError::Invalid(m)) => assert!(m.contains("proxy.example.jp"), "{m}"),
            other => panic!("a host name as a trusted proxy: {other:?}"),
        }
        std::fs::write(
            &proxies,
            "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n",
        )?;
        assert_eq!(
            Config::load_with_env(Some(&proxies), &o, env(&[]))?
                .server
                .trusted_proxies
                .len(),
            2
        );
        // RFC 7239's header may be named instead; nothing else.
        let c = Config::load_with_env(
            Some(&proxies),
            &o,
            env(&[("GEMJ_SERVER__FORWARDED_HEADER", "forwarded")]),
        )?;
        assert_eq!(c.server.forwarded_header, ForwardedHeader::Forwarded);
        assert!(
            Config::load_with_env(
                Some(&proxies),
                &o,
                env(&[("GEMJ_SERVER__FORWARDED_HEADER", "x-real-ip")]),
            )
            .is_err()
        );
        // Every interface needs the URL clients use: no answer may point at 0.0.0.0.
        for any in ["0.0.0.0:8080", "[::]:8080"] {
            match Config::load_with_env(None, &o, env(&[("GEMJ_LISTEN", any)])) {
                Err(ConfigError::Invalid(m)) => assert!(m.contains("public_url"), "{m}"),
                other => panic!("{any} without public_url: {other:?}"),
            }
            let set = Config::load_with_env(
                None,
                &o,
                env(&[
                    ("GEMJ_LISTEN", any),
                    ("GEMJ_PUBLIC_URL", "https://gateway.example.jp"),
                ]),
            )?;
            assert_eq!(set.public_url, "https://gateway.example.jp");
        }
        // A local audit journal is for PostgreSQL: the embedded store is already local.
        match Config::load_with_env(None, &o, env(&[("GEMJ_AUDIT__JOURNAL", "j.sqlite")])) {
            Err(ConfigError::Invalid(m)) => assert!(m.contains("audit.journal"), "{m}"),
            other => panic!("a journal on SQLite: {other:?}"),
        }
        let pg = Config::load_with_env(
            None,
            &o,
            env(&[
                ("GEMJ_AUDIT__JOURNAL", "j.sqlite"),
                ("GEMJ_DATABASE__URL", "postgres://gemj@db.example.jp/gemj"),
            ]),
        )?;
        assert_eq!(pg.audit.journal, "j.sqlite");
        Ok(())
    }

    /// The trust table: an old configuration stops with the key to change; an issuer trusted
    /// for nothing, an unknown Visa Type and a grant issuer without datasets are refused; the
    /// documented example loads.
    #[test]
    fn trust_configuration_is_checked() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let load = |name: &str, text: &str| -> Result<Config, ConfigError> {
            let path = dir.path().join(name);
            std::fs::write(&path, text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            Config::load_with_env(Some(&path), &Overrides::default(), env(&[]))
        };
        let message = |r: Result<Config, ConfigError>| match r {
            Err(ConfigError::Invalid(m)) => m,
            other => format!("unexpected: {other:?}"),
        };
        for key in [
            "researcher_status_sources",
            "terms_sources",
            "grant_sources",
            "linked_identity_sources",
        ] {
            let m = message(load(
                "old.toml",
                &format!("[auth]\n{key} = [\"https://dac.example\"]\n"),
            ));
            assert!(m.contains(&format!("auth.{key} was removed")), "{m}");
            assert!(m.contains("trusted_issuers[].visas"), "{m}");
        }
        let issuer = "[[auth.trusted_issuers]]\nissuer = \"https://b.example\"\njwks_url = \"https://b.example/jwks\"\n";
        let m = message(load("nothing.toml", issuer));
        assert!(
            m.contains("auth.trusted_issuers[0] (https://b.example) is trusted for nothing"),
            "{m}"
        );
        let m = message(load(
            "type.toml",
            &format!(
                "{issuer}visas = [{{ type = \"Researcher\", sources = [\"https://b.example\"] }}]\n"
            ),
        ));
        assert!(m.contains("auth.trusted_issuers[0].visas[0].type"), "{m}");
        let m = message(load(
            "grant.toml",
            &format!(
                "{issuer}visas = [{{ type = \"ControlledAccessGrants\", sources = [\"https://b.example\"] }}]\n"
            ),
        ));
        assert!(m.contains("auth.trusted_issuers[0].datasets"), "{m}");
        let ok = load(
            "ok.toml",
            &format!(
                "{issuer}visas = [{{ type = \"ControlledAccessGrants\", sources = [\"https://b.example\"], by = [\"dac\"] }}]\ndatasets = [\"GEMJ-CANCER-\"]\n"
            ),
        )?;
        assert_eq!(ok.auth.trusted_issuers[0].datasets, ["GEMJ-CANCER-"]);
        assert!(!ok.auth.trusted_issuers[0].passports);
        Ok(())
    }

    /// The clock skew is bounded; a dataset's grant age names a dataset and only narrows the
    /// age limit of every grant.
    #[test]
    fn time_limits_are_checked() -> Result<(), Box<dyn std::error::Error>> {
        let o = Overrides::default();
        let message = |pairs: &[(&str, &str)]| match Config::load_with_env(None, &o, env(pairs)) {
            Err(ConfigError::Invalid(m)) => m,
            other => format!("unexpected: {other:?}"),
        };
        let m = message(&[("GEMJ_AUTH__CLOCK_SKEW_SECS", "301")]);
        assert!(m.contains("auth.clock_skew_secs"), "{m}");
        let c = Config::load_with_env(None, &o, env(&[("GEMJ_AUTH__CLOCK_SKEW_SECS", "0")]))?;
        assert_eq!(c.auth.clock_skew_secs, 0);
        assert_eq!(Config::default().auth.clock_skew_secs, 60);
        // Map keys are dataset ids, case and all: set them in the file (the environment
        // lower-cases keys).
        let dir = tempfile::tempdir()?;
        let file = |days: &str, dataset: &str| -> Result<PathBuf, std::io::Error> {
            let path = dir.path().join("grant.toml");
            std::fs::write(
                &path,
                format!("[auth.max_grant_age_days]\n\"{dataset}\" = {days}\n"),
            )?;
            Ok(path)
        };
        let from_file = |path: PathBuf| match Config::load_with_env(Some(&path), &o, env(&[])) {
            Err(ConfigError::Invalid(m)) => m,
            other => format!("unexpected: {other:?}"),
        };
        let m = from_file(file("400", "GEMJ-RARE-001")?);
        assert!(m.contains("auth.max_grant_age_days.GEMJ-RARE-001"), "{m}");
        let m = from_file(file("0", "GEMJ-RARE-001")?);
        assert!(m.contains("must be between 1 and"), "{m}");
        let m = from_file(file("10", "not a dataset")?);
        assert!(m.contains("is not a dataset id"), "{m}");
        let c = Config::load_with_env(Some(&file("180", "GEMJ-RARE-001")?), &o, env(&[]))?;
        assert_eq!(c.auth.max_grant_age_days.get("GEMJ-RARE-001"), Some(&180));
        Ok(())
    }

    /// `schemas/gemj-gateway-config.schema.json` must equal the generated schema. Regenerate
    /// with `GEMJ_BLESS=1 cargo test -p gemj-server config`.
    #[test]
    fn committed_schema_is_current() -> Result<(), Box<dyn std::error::Error>> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schemas/gemj-gateway-config.schema.json");
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&Config::json_schema())?
        );
        if std::env::var_os("GEMJ_BLESS").is_some() {
            std::fs::write(&path, &generated)?;
        }
        let committed = std::fs::read_to_string(&path)?;
        assert!(
            committed == generated,
            "schemas/gemj-gateway-config.schema.json is stale: run GEMJ_BLESS=1 cargo test -p gemj-server config"
        );
        assert_eq!(
            Config::json_schema()["additionalProperties"],
            false,
            "unknown keys must be rejected by the schema too"
        );
        Ok(())
    }

    #[test]
    fn default_toml_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let text = Config::default_toml()?;
        let parsed: Config = toml::from_str(&text)?;
        assert_eq!(parsed, Config::default());
        Ok(())
    }
}
