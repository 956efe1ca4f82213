//! The end-to-end harness: boots the real gateway on port 0 over a fresh data folder holding
//! a small synthetic demo cohort, as a user would run it, and tears it down after the test.
//!
//! The objects live in the data folder, or, with `GEMJ_TEST_OBJECTS=s3`, in a real S3 server
//! (s3s-fs on a free loopback port, one per gateway, stopped with it): `.ci/run` runs the
//! htsget, DRS and access suites a third time so, after SQLite + folder and PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gemj_demo::{self as demo, DemoOptions};
use gemj_objects::ObjectStorage;
use gemj_server::config::{Config, Overrides};
use gemj_server::{Gateway, Running};
use gemj_store::Store;

/// `N` distinct free loopback ports, all held until all are chosen (so no two are alike), then
/// released for the test's gateways to bind.
///
/// # Errors
/// When the loopback interface has no free port.
pub fn free_ports<const N: usize>() -> std::io::Result<[u16; N]> {
    let held = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&held) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// A loopback port nobody answers on for as long as this lives: it is bound (without
/// `SO_REUSEADDR`, so no other socket, not another test's gateway, can take it) but never
/// listened on, so every connection to it is refused at once. A member that is "down".
#[derive(Debug)]
pub struct RefusingPort {
    /// The port.
    pub port: u16,
    _socket: socket2::Socket,
}

impl RefusingPort {
    /// Binds one.
    ///
    /// # Errors
    /// When the loopback interface has no free port.
    pub fn bind() -> std::io::Result<Self> {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
        let port = socket
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .ok_or_else(|| std::io::Error::other("not an IP socket"))?;
        Ok(Self {
            port,
            _socket: socket,
        })
    }
}

/// A gateway running for one test.
#[derive(Debug)]
pub struct TestGateway {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
    /// A second handle on the same store, for assertions.
    pub store: Store,
    /// The data folder.
    pub data_dir: PathBuf,
    /// Where the objects are (the data folder's `objects`, or S3).
    pub objects: Arc<dyn ObjectStorage>,
    /// Where the gateway's audit archive is (the data folder's `audit-archive`, or, with the
    /// objects in S3, the same S3 server).
    pub audit_archive: Arc<dyn ObjectStorage>,
    running: Running,
    _s3: Option<gemj_s3::s3s_fs::S3sFs>,
    _dir: tempfile::TempDir,
}

/// The object storage the test gateways use when the test names none: `None` (the data
/// folder) unless `GEMJ_TEST_OBJECTS=s3`, then a fresh S3 server and its storage.
fn objects_from_env() -> anyhow::Result<Option<(Arc<dyn ObjectStorage>, gemj_s3::s3s_fs::S3sFs)>> {
    match std::env::var("GEMJ_TEST_OBJECTS").as_deref() {
        Err(_) | Ok("" | "folder") => Ok(None),
        Ok("s3") => {
            let server = gemj_s3::s3s_fs::S3sFs::start("gemj")?
                .ok_or_else(|| anyhow::anyhow!("GEMJ_TEST_OBJECTS=s3 needs s3s-fs on PATH"))?;
            let storage = gemj_s3::S3Storage::new(&server.config("s3://gemj/e2e"))?;
            Ok(Some((Arc::new(storage), server)))
        }
        Ok(other) => anyhow::bail!("GEMJ_TEST_OBJECTS={other}: expected folder or s3"),
    }
}

impl TestGateway {
    /// Generates a demo cohort of `participants` into a temp folder and starts the gateway.
    ///
    /// # Errors
    /// When anything fails to start.
    pub async fn start(participants: usize) -> anyhow::Result<Self> {
        Self::start_with(participants, |_| {}).await
    }

    /// As [`TestGateway::start`], with a consent view that goes stale at once (it is polled once
    /// a minute but may be only 300 ms old); returns once it is stale, 600 ms after the start.
    ///
    /// # Errors
    /// When anything fails to start.
    pub async fn start_stale(participants: usize) -> anyhow::Result<Self> {
        let gw = Self::start_with(participants, |c| {
            c.policy.consent_poll_interval_ms = 60_000;
            c.policy.consent_max_staleness_ms = 300;
        })
        .await?;
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        Ok(gw)
    }

    /// As [`TestGateway::start`], after `adjust` has changed the configuration (the ontologies
    /// and official schemas are the ones built into the gateway). With `participants` 0 no demo
    /// cohort is generated: for a second instance over the store and data folder of a first one
    /// (set `database` and `data_dir` in `adjust`).
    ///
    /// # Errors
    /// When anything fails to start.
    pub async fn start_with(
        participants: usize,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        Self::start_on(participants, None, adjust).await
    }

    /// As [`TestGateway::start_with`], with the objects (the demo's, and every API's reads) in
    /// `objects` when given (S3 in the storage tests) instead of the data folder.
    ///
    /// # Errors
    /// When anything fails to start.
    pub async fn start_on(
        participants: usize,
        objects: Option<Arc<dyn ObjectStorage>>,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(data_dir.clone()),
        };
        let mut config = Config::load_with_env(None, &overrides, Vec::new())?;
        // The workers at the test's own priority: a test's client threads and the other tests
        // running beside it would otherwise come first (`server.worker_nice` is for a host the
        // gateway shares with its store, and is tested on the binary).
        config.server.worker_nice = 0;
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        let mut gateway = Gateway::boot(config).await?.with_demo_broker();
        let mut s3 = None;
        let objects = match objects {
            Some(o) => Some(o),
            None => objects_from_env()?.map(|(o, server)| {
                s3 = Some(server);
                o
            }),
        };
        if let Some(objects) = objects {
            gateway = gateway.with_objects(objects);
        }
        if let Some(server) = &s3 {
            let storage = gemj_s3::S3Storage::new(&server.config("s3://gemj/e2e-audit-archive"))?;
            gateway = gateway.with_audit_archive(gemj_core::audit_archive::AuditArchive::new(
                Arc::new(storage),
            ));
        }
        let audit_archive = Arc::clone(gateway.audit_archive().storage());
        if participants > 0 {
            let options = DemoOptions {
                participants,
                coverage: 0.5,
                ..DemoOptions::default()
            };
            demo::generate(gateway.store(), &**gateway.objects(), &data_dir, &options).await?;
            // The demo wrote consent events behind the view's back: catch up now rather than at
            // the next poll, so the first request already sees them.
            gateway
                .consent()
                .refresh()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let store = gateway.store().clone();
        let objects = Arc::clone(gateway.objects());
        let running = gateway.serve()?;
        Ok(Self {
            base_url: running.base_url.clone(),
            store,
            data_dir,
            objects,
            audit_archive,
            running,
            _s3: s3,
            _dir: dir,
        })
    }

    /// A local file holding a stored object's bytes: the object's own file in the data folder,
    /// or a copy read from S3 into the test's folder, with the indexes stored beside it
    /// (`.bai`, `.crai`, `.tbi`, `.csi`, `.fai`, `.gzi` appended to its key) copied beside it.
    ///
    /// # Errors
    /// When the object cannot be read.
    pub async fn local_file(&self, storage_uri: &str) -> anyhow::Result<PathBuf> {
        let folder = gemj_objects::LocalFolderStorage::new(self.data_dir.join("objects"));
        if let Some(key) = folder.key_from_uri(storage_uri) {
            return Ok(folder.path_of(&key));
        }
        let key = self
            .objects
            .key_from_uri(storage_uri)
            .ok_or_else(|| anyhow::anyhow!("{storage_uri} is in no storage of this gateway"))?;
        let name = key.as_str().rsplit('/').next().unwrap_or(key.as_str());
        let dir = self
            ._dir
            .path()
            .join("copies")
            .join(key.as_str().replace('/', "_"));
        std::fs::create_dir_all(&dir)?;
        let target = dir.join(name);
        gemj_objects::copy_to_file(&*self.objects, &key, &target).await?;
        for ext in ["bai", "crai", "tbi", "csi", "fai", "gzi"] {
            let index = gemj_objects::ObjectKey::parse(&format!("{}.{ext}", key.as_str()))?;
            if self.objects.exists(&index).await? {
                gemj_objects::copy_to_file(
                    &*self.objects,
                    &index,
                    &dir.join(format!("{name}.{ext}")),
                )
                .await?;
            }
        }
        Ok(target)
    }

    /// The data folder.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The demo broker of this gateway (its keys in the data folder, its issuer under the base
    /// URL), which the gateway trusts.
    ///
    /// # Errors
    /// When its keys cannot be read.
    pub fn demo_broker(&self) -> anyhow::Result<gemj_auth::LocalIssuer> {
        Ok(demo::broker::load(self.data_dir(), &self.base_url)?)
    }

    /// The demo PUBLIC dataset under the id `id`, with its terms (not stored).
    ///
    /// # Errors
    /// When `id` is not a dataset id or the demo PUBLIC dataset cannot be read.
    pub async fn demo_public_as(&self, id: &str) -> anyhow::Result<gemj_model::Dataset> {
        let mut d = self
            .store
            .get_dataset(&gemj_model::DatasetId::parse(names::PUBLIC)?)
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo PUBLIC dataset"))?;
        d.id = gemj_model::DatasetId::parse(id)?;
        Ok(d)
    }

    /// Checks that every audit chain is intact, then stops the server gracefully.
    ///
    /// # Errors
    /// When a chain is broken (naming where) or cannot be read.
    pub async fn stop_with_intact_chains(self) -> anyhow::Result<()> {
        let report = self.store.verify_chains().await?;
        anyhow::ensure!(
            report.broken.is_none(),
            "broken audit chain: {:?}",
            report.broken
        );
        self.stop().await;
        Ok(())
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.running.handle.stop(true).await;
        let _ = self.running.join.await;
    }
}

/// A blocking HTTP client for the tests, run off the runtime's worker threads (the server runs
/// on the others): status, headers, raw body and the body as JSON (`Null` when it is not).
pub mod http {
    use serde_json::Value;

    /// One HTTP answer.
    #[derive(Debug)]
    pub struct Reply {
        /// The status code.
        pub status: u16,
        /// The headers.
        pub headers: ureq::http::HeaderMap,
        /// The body.
        pub raw: Vec<u8>,
        /// The body as JSON (`Null` when it is not JSON).
        pub json: Value,
    }

    impl Reply {
        /// A header's value.
        #[must_use]
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers.get(name).and_then(|v| v.to_str().ok())
        }

        /// The start of the body as text, for assertion messages.
        #[must_use]
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.raw[..self.raw.len().min(2000)]).into_owned()
        }
    }

    /// A client for one gateway.
    #[derive(Debug, Clone)]
    pub struct Http {
        /// The base URL.
        pub base: String,
    }

    impl Http {
        /// Sends a request with a bearer token and a content type, either optional; `path` is
        /// relative to the base URL unless it is absolute.
        ///
        /// # Errors
        /// Transport failures (an HTTP error status is an answer, not an error).
        pub fn send(
            &self,
            method: &str,
            path: &str,
            bearer: Option<&str>,
            content_type: Option<&str>,
            body: Option<Vec<u8>>,
        ) -> anyhow::Result<Reply> {
            let mut headers = Vec::new();
            if let Some(t) = bearer {
                headers.push(("Authorization", format!("Bearer {t}")));
            }
            if let Some(ct) = content_type {
                headers.push(("Content-Type", ct.to_owned()));
            }
            self.send_with(method, path, &headers, body)
        }

        /// Downloads every URL of an htsget ticket in order (decoding `data:` URIs, sending the
        /// headers the ticket names and never an `Authorization` of ours) and concatenates them.
        ///
        /// # Errors
        /// A malformed ticket, a transport failure, or a URL answered other than 200 or 206.
        pub fn download_ticket(&self, ticket: &Value) -> anyhow::Result<Vec<u8>> {
            use base64::Engine as _;
            let urls = ticket["htsget"]["urls"]
                .as_array()
                .ok_or_else(|| anyhow::anyhow!("a ticket without urls: {ticket}"))?;
            let mut out = Vec::new();
            for u in urls {
                let url = u["url"]
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("a url that is not a string"))?;
                if let Some(rest) = url.strip_prefix("data:") {
                    let (meta, data) = rest
                        .split_once(',')
                        .ok_or_else(|| anyhow::anyhow!("a data: URI without a comma"))?;
                    anyhow::ensure!(
                        meta.ends_with(";base64"),
                        "a data: URI that is not base64: {meta}"
                    );
                    out.extend(base64::engine::general_purpose::STANDARD.decode(data)?);
                    continue;
                }
                let headers: Vec<(&str, String)> = u["headers"]
                    .as_object()
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let reply = self.send_with("GET", url, &headers, None)?;
                anyhow::ensure!(
                    reply.status == 200 || reply.status == 206,
                    "GET {url}: {} {}",
                    reply.status,
                    reply.text()
                );
                out.extend(reply.raw);
            }
            Ok(out)
        }

        /// Sends a request with any headers.
        ///
        /// # Errors
        /// Transport failures (an HTTP error status is an answer, not an error).
        pub fn send_with(
            &self,
            method: &str,
            path: &str,
            headers: &[(&str, String)],
            body: Option<Vec<u8>>,
        ) -> anyhow::Result<Reply> {
            tokio::task::block_in_place(|| {
                let url = if path.starts_with("http") {
                    path.to_owned()
                } else {
                    format!("{}{path}", self.base)
                };
                let mut req = ureq::http::Request::builder().method(method).uri(&url);
                for (k, v) in headers {
                    req = req.header(*k, v);
                }
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .new_agent();
                let res = agent
                    .run(req.body(body.unwrap_or_default())?)
                    .map_err(|e| anyhow::anyhow!("{method} {path}: {e}"))?;
                let status = res.status().as_u16();
                let headers = res.headers().clone();
                let raw = res
                    .into_body()
                    .with_config()
                    .limit(256 * 1024 * 1024)
                    .read_to_vec()
                    .map_err(|e| anyhow::anyhow!("{method} {path}: {e}"))?;
                let json = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                Ok(Reply {
                    status,
                    headers,
                    raw,
                    json,
                })
            })
        }

        /// OPTIONS, with an optional JSON body.
        ///
        /// # Errors
        /// Transport failures.
        pub fn options(&self, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
            match body {
                Some(b) => self.send(
                    "OPTIONS",
                    path,
                    None,
                    Some("application/json"),
                    Some(b.to_string().into_bytes()),
                ),
                None => self.send("OPTIONS", path, None, None, None),
            }
        }

        /// GET.
        ///
        /// # Errors
        /// Transport failures.
        pub fn get(&self, path: &str, bearer: Option<&str>) -> anyhow::Result<Reply> {
            self.send("GET", path, bearer, None, None)
        }

        /// POST of a JSON body.
        ///
        /// # Errors
        /// Transport failures.
        pub fn post(
            &self,
            path: &str,
            bearer: Option<&str>,
            body: &Value,
        ) -> anyhow::Result<Reply> {
            self.send(
                "POST",
                path,
                bearer,
                Some("application/json"),
                Some(body.to_string().into_bytes()),
            )
        }
    }
}

/// The result of a test.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The result of a test's helper.
pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The claims of a JWT: its payload read, not verified (what a test was handed or sent).
///
/// # Errors
/// When `jwt` has no base64url JSON payload.
pub fn jwt_claims(jwt: &str) -> Res<serde_json::Value> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).ok_or("a JWT has a payload")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Names in the demo cohort that the tests address.
pub mod names {
    /// The URL prefix of a dataset in a `ControlledAccessGrants` visa.
    pub const PREFIX: &str = "https://gemj.example.jp/datasets/";
    /// The CONTROLLED joint-call dataset.
    pub const JOINT: &str = "GEMJ-DEMO-JOINT-CTRL";
    /// The CONTROLLED cancer dataset.
    pub const CANCER: &str = "GEMJ-DEMO-CANCER-CTRL";
    /// The PUBLIC allele-frequency dataset.
    pub const PUBLIC: &str = "GEMJ-DEMO-PUBLIC-AF";
    /// The first demo hospital.
    pub const HOSPITAL_A: &str = "9999000001";
}

/// Visas, passports and committee approvals for the tests' researchers, signed by the demo
/// broker of a gateway.
/// What a Beacon network's member configures to accept the network's passports: the network
/// gateway whose public URL is `public` (its JWKS served on loopback `port`) signs Passports
/// naming `audience` (the member's `audience` in the network's list), and `LinkedIdentities`
/// Visas naming itself as source.
#[must_use]
pub fn network_trust(
    public: &str,
    port: u16,
    audience: &str,
) -> gemj_server::config::TrustedIssuerConfig {
    let issuer = format!("{}/beacon-network", public.trim_end_matches('/'));
    gemj_server::config::TrustedIssuerConfig {
        issuer: issuer.clone(),
        jwks_url: format!("http://127.0.0.1:{port}/beacon-network/.well-known/jwks.json"),
        passports: true,
        visas: vec![gemj_server::config::VisaTrustConfig {
            visa_type: "LinkedIdentities".to_owned(),
            sources: vec![issuer],
            by: vec![],
        }],
        datasets: vec![],
        passport_audience: audience.to_owned(),
        beacon_network: true,
    }
}

/// What a gateway configures to trust the demo broker of another gateway whose public URL is
/// `public` (its JWKS served on loopback `port`): Passports, and Visas of every type naming it as
/// source, grants for every dataset.
#[must_use]
pub fn broker_trust(public: &str, port: u16) -> gemj_server::config::TrustedIssuerConfig {
    let issuer = gemj_demo::broker::issuer(public);
    gemj_server::config::TrustedIssuerConfig {
        issuer: issuer.clone(),
        jwks_url: format!("http://127.0.0.1:{port}{}", gemj_demo::broker::JWKS_PATH),
        passports: true,
        visas: [
            "ResearcherStatus",
            "AffiliationAndRole",
            "AcceptedTermsAndPolicies",
            "ControlledAccessGrants",
            "LinkedIdentities",
        ]
        .into_iter()
        .map(|t| gemj_server::config::VisaTrustConfig {
            visa_type: t.to_owned(),
            sources: vec![issuer.clone()],
            by: vec![],
        })
        .collect(),
        datasets: vec![String::new()],
        passport_audience: String::new(),
        beacon_network: false,
    }
}

pub mod visas {
    use std::time::Duration;

    use gemj_auth::LocalIssuer;
    use gemj_passport::{VisaObject, VisaType};
    use serde_json::{Value, json};

    /// The `ResearcherStatus` value the tests assert: the Bona Fide researcher definition of the
    /// GA4GH registered-access paper.
    pub const BONA_FIDE: &str = "https://doi.org/10.1038/s41431-018-0219-y";

    /// A visa of type `r#type` and `value` under `broker`'s issuer, asserted at `now` by `by`.
    #[must_use]
    pub fn visa(
        broker: &LocalIssuer,
        r#type: VisaType,
        value: &str,
        by: &str,
        now: i64,
    ) -> VisaObject {
        VisaObject {
            r#type,
            asserted: now,
            value: value.to_owned(),
            source: broker.issuer().to_owned(),
            by: Some(by.to_owned()),
            conditions: None,
        }
    }

    /// A Bona Fide `ResearcherStatus` visa under `broker`'s issuer, asserted at `now` by `by`.
    #[must_use]
    pub fn researcher_status(broker: &LocalIssuer, by: &str, now: i64) -> VisaObject {
        visa(broker, VisaType::ResearcherStatus, BONA_FIDE, by, now)
    }

    /// A passport for `subject` carrying only a Bona Fide `ResearcherStatus` asserted by a
    /// signing official (REGISTERED access), issued by `broker` at `now` for an hour.
    ///
    /// # Errors
    /// When the broker cannot sign.
    pub fn registered_passport(
        broker: &LocalIssuer,
        subject: &str,
        now: i64,
    ) -> Result<String, gemj_auth::AuthError> {
        let status = researcher_status(broker, "so", now);
        broker.issue_passport(subject, &[status], Duration::from_secs(3600), now)
    }

    /// A passport for `subject` with a Bona Fide `ResearcherStatus` and a `ControlledAccessGrants`
    /// visa for `dataset` (its URI), both asserted at `now`, issued by `broker` for ten minutes.
    ///
    /// # Errors
    /// When the broker cannot sign.
    pub fn controlled_passport(
        broker: &LocalIssuer,
        subject: &str,
        dataset: &str,
        now: i64,
    ) -> Result<String, gemj_auth::AuthError> {
        let grant = visa(
            broker,
            VisaType::ControlledAccessGrants,
            dataset,
            "dac",
            now,
        );
        let status = researcher_status(broker, "so", now);
        broker.issue_passport(subject, &[status, grant], Duration::from_secs(600), now)
    }

    /// A committee approval of `subject` of `issuer` on `datasets` for health, medical and
    /// biomedical research (DUO:0000006), as `POST /admin/v1/approvals` takes it.
    #[must_use]
    pub fn hmb_approval(id: &str, issuer: &str, subject: &str, datasets: &[&str]) -> Value {
        approval(id, issuer, subject, &["DUO:0000006"], &[], datasets)
    }

    /// A committee approval of `subject` of `issuer` on `datasets` for cancer research
    /// (DUO:0000007 with DUO:0000021, MONDO:0004992), as `POST /admin/v1/approvals` takes it.
    #[must_use]
    pub fn cancer_approval(id: &str, issuer: &str, subject: &str, datasets: &[&str]) -> Value {
        approval(
            id,
            issuer,
            subject,
            &["DUO:0000007", "DUO:0000021"],
            &["MONDO:0004992"],
            datasets,
        )
    }

    /// A committee approval: `subject` of `issuer` approved for `purpose` (DUO
    /// codes) and `diseases` on `datasets`, not for profit, in Japan, active from 2020 to 2099,
    /// for a project of Synthetic University.
    fn approval(
        id: &str,
        issuer: &str,
        subject: &str,
        purpose: &[&str],
        diseases: &[&str],
        datasets: &[&str],
    ) -> Value {
        json!({
            "id": id, "researcher_issuer": issuer, "researcher_subject": subject,
            "institution": "Synthetic University", "project": "P1", "purpose": purpose,
            "diseases": diseases, "for_profit": false, "country": "JP", "datasets": datasets,
            "valid_from": "2020-01-01T00:00:00Z", "valid_until": "2099-01-01T00:00:00Z",
            "status": "active"
        })
    }
}

/// Which participants a requester may be served, from the consent states in `store`:
/// `academia` for an approved Japanese non-profit requester, else the strictest scope (industry
/// and abroad), which applies below record level.
///
/// # Errors
/// When the store cannot be read.
pub async fn servable(
    store: &gemj_store::Store,
    academia: bool,
) -> Res<std::collections::BTreeSet<gemj_model::ParticipantId>> {
    Ok(store
        .all_consent_states()
        .await?
        .into_iter()
        .filter(|s| {
            s.permits_research()
                && if academia {
                    s.scopes.third_party_academia
                } else {
                    s.scopes.third_party_industry && s.scopes.international_transfer
                }
        })
        .map(|s| s.participant)
        .collect())
}

/// A token for `client` (`consent-system`, `ehr-gateway`) of the demo institution `code`
/// among `institutions` (as `gemj_demo::broker::institutions` gives them), for the gateway at
/// `base`, valid for five minutes from `now`.
///
/// # Errors
/// When `code` is not among them or the token cannot be signed.
pub fn institution_token(
    institutions: &[(gemj_model::InstitutionId, gemj_auth::LocalIssuer)],
    code: &str,
    client: &str,
    base: &str,
    now: i64,
) -> anyhow::Result<String> {
    let (_, broker) = institutions
        .iter()
        .find(|(id, _)| id.as_str() == code)
        .ok_or_else(|| anyhow::anyhow!("institution"))?;
    Ok(broker.issue_token(client, base, std::time::Duration::from_secs(300), now)?)
}

/// The string `field` of each member of `array`, a JSON array named `what` (members without
/// one are skipped).
///
/// # Errors
/// When `array` is not an array.
pub fn field_strings<'a>(
    array: &'a serde_json::Value,
    field: &'a str,
    what: &str,
) -> anyhow::Result<impl Iterator<Item = String> + 'a> {
    let members = array
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{what} is not an array"))?;
    Ok(members
        .iter()
        .filter_map(move |m| m[field].as_str().map(str::to_owned)))
}

/// Serves JSON on a free loopback port, for the mock endpoints of brokers and key sets: each
/// request's head (its first 16 KiB) goes to `answer`, which gives the status line
/// (`200 OK`) and the body. Returns the base URL.
///
/// # Errors
/// When no loopback port can be bound.
pub async fn serve_json<F>(answer: F) -> anyhow::Result<String>
where
    F: Fn(&str) -> (&'static str, String) + Send + Sync + 'static,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let Ok(n) = socket.read(&mut buf).await else {
                    return;
                };
                let (status, body) = answer(&String::from_utf8_lossy(&buf[..n]));
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok(base)
}

/// The Genomics Reporting IG's profiles (from the IG package in the shared folder), checked on
/// resources the gateway serves: every element a profile of `meta.profile` (or a profile it
/// derives from, within the IG) requires is present, fixed codes are those the profile fixes,
/// and required component slices are there. A check of the profiles' constraints a resource
/// can break by omission or a wrong code; terminology bindings are not checked.
pub mod ig {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use serde_json::Value;

    use crate::Res;

    const BASE: &str = "http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/";

    /// The IG's StructureDefinitions, by canonical URL.
    #[derive(Debug)]
    pub struct Profiles {
        definitions: HashMap<String, Value>,
    }

    impl Profiles {
        /// Reads the IG package's StructureDefinitions; `None` when there is no shared folder
        /// and this is not a CI run (the IG package is one of the large corpora that do not
        /// ship with the project: [`gemj_schemas::testing::shared_dir`]).
        ///
        /// # Errors
        /// When the shared folder (under CI) or the package cannot be read.
        pub fn load() -> Res<Option<Self>> {
            let Some(shared) = gemj_schemas::testing::shared_dir()? else {
                return Ok(None);
            };
            let dir: PathBuf = shared.join("schemas/fhir/genomics-reporting/conformance");
            let mut definitions = HashMap::new();
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if !name.starts_with("StructureDefinition-") {
                    continue;
                }
                let sd: Value = serde_json::from_slice(&std::fs::read(&path)?)?;
                if let Some(url) = sd["url"].as_str() {
                    definitions.insert(url.to_owned(), sd);
                }
            }
            if definitions.len() < 20 {
                return Err(format!(
                    "{}: the IG's StructureDefinitions are missing",
                    dir.display()
                )
                .into());
            }
            Ok(Some(Self { definitions }))
        }

        /// Checks `resource` against each IG profile it claims and their IG ancestors.
        ///
        /// # Errors
        /// Naming the profile and the element that is missing or wrong.
        pub fn check(&self, resource: &Value) -> Res<()> {
            let claimed: Vec<&str> = resource["meta"]["profile"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for url in claimed {
                let mut next = Some(url.to_owned());
                while let Some(url) = next.take() {
                    if !url.starts_with(BASE) {
                        break;
                    }
                    let sd = self
                        .definitions
                        .get(&url)
                        .ok_or_else(|| format!("{url} is not a profile of the IG"))?;
                    self.check_one(sd, resource)
                        .map_err(|e| format!("{} ({url}): {e}", resource["id"]))?;
                    next = sd["baseDefinition"].as_str().map(str::to_owned);
                }
            }
            Ok(())
        }

        fn check_one(&self, sd: &Value, resource: &Value) -> Result<(), String> {
            let elements = sd["differential"]["element"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let pattern_of = |id: &str| -> Option<Value> {
                elements.iter().find(|e| e["id"] == id).and_then(|e| {
                    e.get("patternCodeableConcept")
                        .or_else(|| e.get("fixedCodeableConcept"))
                        .cloned()
                })
            };
            for e in &elements {
                let id = e["id"].as_str().unwrap_or_default();
                let parts: Vec<&str> = id.split('.').collect();
                let min = e["min"].as_u64().unwrap_or(0);
                match parts.as_slice() {
                    // A top-level element.
                    [_, field] if !field.contains(':') => {
                        let present = if let Some(stem) = field.strip_suffix("[x]") {
                            resource
                                .as_object()
                                .is_some_and(|o| o.keys().any(|k| k.starts_with(stem)))
                        } else {
                            resource.get(*field).is_some_and(|v| !v.is_null())
                        };
                        if min >= 1 && !present {
                            return Err(format!("{id} is required"));
                        }
                        if let Some(pattern) = e.get("patternCodeableConcept") {
                            codes_match(&resource[*field], pattern)
                                .map_err(|why| format!("{id}: {why}"))?;
                        }
                    }
                    // A required component slice: some component carries the slice's code.
                    [_, slice] if slice.starts_with("component:") && min >= 1 => {
                        let pattern = pattern_of(&format!("{id}.code"))
                            .ok_or_else(|| format!("{id}: no code pattern"))?;
                        let found = resource["component"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|c| codes_match(&c["code"], &pattern).is_ok());
                        if !found {
                            return Err(format!("{id} is required"));
                        }
                    }
                    _ => {}
                }
            }
            // Every component that claims a slice's code has the value the slice requires.
            for e in &elements {
                let id = e["id"].as_str().unwrap_or_default();
                let Some(slice) = id.strip_suffix(".value[x]") else {
                    continue;
                };
                if e["min"].as_u64().unwrap_or(0) < 1 || !slice.contains("component:") {
                    continue;
                }
                let Some(pattern) = pattern_of(&format!("{slice}.code")) else {
                    continue;
                };
                for c in resource["component"].as_array().into_iter().flatten() {
                    let has_value = c
                        .as_object()
                        .is_some_and(|o| o.keys().any(|k| k.starts_with("value")));
                    if codes_match(&c["code"], &pattern).is_ok() && !has_value {
                        return Err(format!("{slice} has no value"));
                    }
                }
            }
            Ok(())
        }
    }

    /// Whether a CodeableConcept carries every coding a pattern names (system and code).
    fn codes_match(concept: &Value, pattern: &Value) -> Result<(), String> {
        for want in pattern["coding"].as_array().into_iter().flatten() {
            let found = concept["coding"].as_array().into_iter().flatten().any(|c| {
                c["system"] == want["system"]
                    && (want.get("code").is_none() || c["code"] == want["code"])
            });
            if !found {
                return Err(format!("no coding {} {}", want["system"], want["code"]));
            }
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use serde_json::json;

        #[test]
        fn missing_or_wrong_elements_fail() -> crate::Res<()> {
            let Some(profiles) = super::Profiles::load()? else {
                return Ok(()); // Skipped: no shared folder on this machine.
            };
            let consequence = json!({
                "resourceType": "Observation",
                "meta": {"profile": [format!("{}molecular-consequence", super::BASE)]},
                "status": "final",
                "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
                "code": {"coding": [{"system": "http://hl7.org/fhir/uv/genomics-reporting/CodeSystem/tbd-codes-cs", "code": "molecular-consequence"}]},
                "subject": {"reference": "Patient/p"},
                "derivedFrom": [{"reference": "Observation/v"}],
            });
            profiles.check(&consequence)?;
            let mut underived = consequence.clone();
            underived.as_object_mut().map(|o| o.remove("derivedFrom"));
            assert!(
                profiles.check(&underived).is_err(),
                "implications derive from something"
            );
            let mut miscoded = consequence;
            miscoded["code"]["coding"][0]["code"] = json!("diagnostic-implication");
            assert!(
                profiles.check(&miscoded).is_err(),
                "the profile fixes the code"
            );
            let unknown = json!({"meta": {"profile": [format!("{}nothing", super::BASE)]}});
            assert!(profiles.check(&unknown).is_err());
            Ok(())
        }
    }
}
