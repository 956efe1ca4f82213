//! The gateway's HTTP server and command line: the only crate that uses actix-web.
//!
//! [`Gateway::boot`] opens the store (applying migrations) and starts the audit writer, the
//! consent view, the catalogue cache and the revocation list; [`Gateway::serve`] builds every
//! API's service once over the [`gemj_core::Shared`] parts and binds and runs the actix server,
//! which every API plugs into through its `configure` function; a handler takes the one
//! service it needs. Status codes are chosen only in [`error`].

pub mod cli;
pub mod client;
pub mod config;
pub mod cors;
pub mod error;
pub mod ingest;
pub mod middleware;
pub mod portal;
pub mod routes;
pub mod telemetry;
pub mod tls;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use gemj_core::approvals_api::ApprovalsService;
use gemj_core::audit::{AuditOptions, AuditSink};
use gemj_core::audit_api::AuditService;
use gemj_core::audit_archive::AuditArchive;
use gemj_core::catalogue::CatalogueService;
use gemj_core::catalogue_cache::{CatalogueCache, CatalogueCacheOptions};
use gemj_core::consent_api::ConsentService;
use gemj_core::consent_view::{ConsentView, ConsentViewOptions};
use gemj_core::data::DataService;
use gemj_core::drs::DrsService;
use gemj_core::htsget::HtsgetService;
use gemj_core::phenopacket::PhenopacketService;
use gemj_core::recontact::RecontactService;
use gemj_core::revocations::RevocationsService;
use gemj_core::services::{ServiceIdentity, ServiceRegistry};
use gemj_core::{AccessPoint, Shared, SharedParts};
use gemj_ingest::api::IngestService;
use gemj_objects::{LocalFolderStorage, ObjectStorage};
use gemj_store::{Store, StoreOptions};

pub use config::Config;

/// A booted gateway: the store open and migrated, the audit writer running.
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    store: Store,
    audit: AuditSink,
    consent: ConsentView,
    catalogue: CatalogueCache,
    revocations: gemj_core::revocations::RevocationList,
    duo: Option<Arc<gemj_duo::Ontology>>,
    hpo: Option<Arc<gemj_ontology::hpo::Ontology>>,
    objects: Arc<dyn ObjectStorage>,
    audit_archive: AuditArchive,
    demo_broker: bool,
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The base URL it answers at.
    pub base_url: String,
    /// Stops it gracefully.
    pub handle: actix_web::dev::ServerHandle,
    /// Completes when the server has stopped.
    pub join: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Checks that the data folder exists (creating it) and can be written.
///
/// # Errors
/// When it cannot be created or written.
pub fn ensure_writable_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data folder {} cannot be created", dir.display()))?;
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe")
        .with_context(|| format!("data folder {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The object storage named by `storage.url`: the folder `<data_dir>/objects` by default,
/// another folder for `file:/path`, S3 for `s3://bucket/prefix` (checked to take writes, so a
/// missing bucket or a wrong key stops the start with advice).
///
/// # Errors
/// A bad URL, or S3 that cannot be written.
pub async fn open_objects(config: &Config) -> anyhow::Result<Arc<dyn ObjectStorage>> {
    open_storage(&config.storage.url, config.data_dir.join("objects")).await
}

/// The audit archive named by `audit.archive_url`: the folder `<data_dir>/audit-archive` by
/// default, as [`open_objects`] otherwise.
///
/// # Errors
/// As [`open_objects`].
pub async fn open_audit_archive(config: &Config) -> anyhow::Result<AuditArchive> {
    let storage = open_storage(
        &config.audit.archive_url,
        config.data_dir.join("audit-archive"),
    )
    .await?;
    Ok(AuditArchive::new(storage))
}

async fn open_storage(url: &str, default: PathBuf) -> anyhow::Result<Arc<dyn ObjectStorage>> {
    if url.starts_with("s3://") {
        let s3 = gemj_s3::S3Storage::new(&gemj_s3::S3Config::from_env(url))?;
        s3.check_writable()
            .await
            .with_context(|| format!("object storage {url} is not usable"))?;
        return Ok(Arc::new(s3));
    }
    let folder = match url.strip_prefix("file:") {
        Some(path) => PathBuf::from(path),
        None => default,
    };
    Ok(Arc::new(LocalFolderStorage::new(folder)))
}

/// Opens the store named by the configuration and applies migrations.
///
/// # Errors
/// A bad URL, an unreachable database, or a failed migration.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: config.database.max_connections.max(1),
        schema: (!config.database.schema.is_empty()).then(|| config.database.schema.clone()),
    };
    let store = Store::connect(&config.database_url(), &options)
        .await
        .context("cannot open the store")?;
    store
        .migrate()
        .await
        .context("cannot apply store migrations")?;
    Ok(store)
}

impl Gateway {
    /// Opens the store, applies migrations and starts the audit writer. Must run inside a
    /// tokio runtime.
    ///
    /// # Errors
    /// A data folder that cannot be written, or a store that cannot be opened or migrated.
    pub async fn boot(config: Config) -> anyhow::Result<Self> {
        ensure_writable_dir(&config.data_dir)?;
        let store = open_store(&config).await?;
        spawn_consent_refresh(store.clone());
        let audit_options = AuditOptions {
            max_batch: config.audit.max_batch.max(1),
            ..AuditOptions::default()
        };
        let audit = if config.audit.journal.is_empty() {
            AuditSink::new(store.clone(), audit_options)
        } else {
            let path = config.data_dir.join(&config.audit.journal);
            // The process before this one (a rolling restart) may still be shipping it: wait
            // for its lock (only that; a file that is not a journal stops the start at once).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let journal = loop {
                match gemj_store::AuditJournal::open(&path) {
                    Ok(journal) => break journal,
                    Err(gemj_store::StoreError::InvalidInput { .. })
                        if std::time::Instant::now() < deadline =>
                    {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot open the audit journal {}", path.display())
                        });
                    }
                }
            };
            AuditSink::with_journal(store.clone(), audit_options, journal)
        };
        let consent = ConsentView::start(
            store.clone(),
            ConsentViewOptions {
                poll_interval: std::time::Duration::from_millis(
                    config.policy.consent_poll_interval_ms.max(10),
                ),
                max_staleness: std::time::Duration::from_millis(
                    config.policy.consent_max_staleness_ms.max(100),
                ),
            },
        )
        .await
        .context("cannot load the consent view")?;
        let catalogue = CatalogueCache::start(store.clone(), CatalogueCacheOptions::default())
            .await
            .context("cannot read the catalogue epoch")?;
        let revocations = gemj_core::revocations::RevocationList::start(
            store.clone(),
            std::time::Duration::from_millis(config.policy.consent_poll_interval_ms.max(10)),
        )
        .await
        .context("cannot read the revocation list")?;
        let duo = Some(load_duo(&config.policy)?);
        let hpo = Some(load_hpo(&config.policy)?);
        let objects = open_objects(&config).await?;
        let audit_archive = open_audit_archive(&config).await?;
        Ok(Self {
            config,
            store,
            audit,
            consent,
            catalogue,
            revocations,
            duo,
            hpo,
            objects,
            audit_archive,
            demo_broker: false,
        })
    }

    /// Runs the local demo passport broker: its key in the data folder, its JWKS served by
    /// the gateway at `/demo-broker/.well-known/jwks.json`, its issuer trusted (in demo mode
    /// only).
    #[must_use]
    pub fn with_demo_broker(mut self) -> Self {
        self.demo_broker = true;
        self
    }

    fn url_signer(&self) -> anyhow::Result<gemj_core::data_url::UrlSigner> {
        let p = &self.config.policy;
        let path = if p.data_url_key_file.as_os_str().is_empty() {
            self.config.data_dir.join("keys").join("data-url.key")
        } else {
            p.data_url_key_file.clone()
        };
        gemj_core::data_url::UrlSigner::load_or_create(
            &path,
            std::time::Duration::from_secs(p.data_url_ttl_secs.max(1)),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The audit writer.
    #[must_use]
    pub fn audit(&self) -> &AuditSink {
        &self.audit
    }

    /// The object storage every API reads through.
    #[must_use]
    pub fn objects(&self) -> &Arc<dyn ObjectStorage> {
        &self.objects
    }

    /// Serves from `objects` instead of the storage `storage.url` names (an embedding program,
    /// or a test that configured its S3 client in code rather than through `AWS_*`).
    #[must_use]
    pub fn with_objects(mut self, objects: Arc<dyn ObjectStorage>) -> Self {
        self.objects = objects;
        self
    }

    /// Where sealed audit segments are kept (`audit.archive_url`).
    #[must_use]
    pub fn audit_archive(&self) -> &AuditArchive {
        &self.audit_archive
    }

    /// Keeps sealed audit segments in `archive` instead of the storage `audit.archive_url`
    /// names (an embedding program, or a test whose S3 client is configured in code).
    #[must_use]
    pub fn with_audit_archive(mut self, archive: AuditArchive) -> Self {
        self.audit_archive = archive;
        self
    }

    /// This instance's consent view (to refresh it after writing to the store directly, as the
    /// demo generator does).
    #[must_use]
    pub fn consent(&self) -> &ConsentView {
        &self.consent
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The WES service's settings from the configuration.
    fn wes_settings(&self, base_url: &str) -> gemj_core::wes::WesSettings {
        use gemj_core::wes::{EngineConfig, EngineKind, ParameterKind, ParameterSpec};
        let w = &self.config.wes;
        let non_empty = |p: &std::path::Path| (!p.as_os_str().is_empty()).then(|| p.to_path_buf());
        gemj_core::wes::WesSettings {
            base_url: base_url.to_owned(),
            drs_prefix: self.config.drs.compact_id_prefix.clone(),
            work_dir: self.config.data_dir.join("wes"),
            instance: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".to_owned()),
            engines: w
                .engines
                .iter()
                .map(|e| EngineConfig {
                    name: e.name.clone(),
                    kind: if e.kind == "toil" {
                        EngineKind::Toil
                    } else {
                        EngineKind::Cwltool
                    },
                    program: e.program.clone(),
                    batch_system: (!e.batch_system.is_empty()).then(|| e.batch_system.clone()),
                    job_store_dir: non_empty(&e.job_store_dir),
                    env: e.env.clone().into_iter().collect(),
                })
                .collect(),
            path: w
                .path
                .iter()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                .collect(),
            workflow_roots: w.workflow_roots.clone(),
            parameters: vec![
                ParameterSpec {
                    name: "--parallel".to_owned(),
                    kind: ParameterKind::Boolean,
                    default: "false".to_owned(),
                    engines: vec!["cwltool".to_owned()],
                },
                ParameterSpec {
                    name: "--maxCores".to_owned(),
                    kind: ParameterKind::Integer { min: 1, max: 64 },
                    default: "1".to_owned(),
                    engines: vec!["toil".to_owned()],
                },
            ],
            watch_interval: std::time::Duration::from_millis(w.watch_interval_ms.max(50)),
            stale_after: std::time::Duration::from_secs(w.stale_after_secs.max(1)),
            auth_instructions_url: if w.auth_instructions_url.is_empty() {
                if self.config.service.documentation_url.is_empty() {
                    format!("{}/openapi.json", base_url.trim_end_matches('/'))
                } else {
                    self.config.service.documentation_url.clone()
                }
            } else {
                w.auth_instructions_url.clone()
            },
            cwl_versions: ["v1.0", "v1.1", "v1.2"].map(str::to_owned).to_vec(),
            release_rule: w.release_rule,
        }
    }

    /// The access policy's settings from the configuration, with these administrators.
    fn policy_settings(&self, administrators: Vec<String>) -> gemj_core::PolicySettings {
        let auth = &self.config.auth;
        gemj_core::PolicySettings {
            terms_url: auth.terms_url.clone(),
            registered_roles: auth.registered_roles.clone(),
            dataset_grant_prefix: auth.dataset_grant_prefix.clone(),
            administrators,
            duo: self.duo.clone(),
            clock_skew_secs: i64::try_from(auth.clock_skew_secs).unwrap_or(i64::MAX),
            refusals: gemj_core::access::RefusalLimit {
                per_address: auth.audited_refusals_per_address,
                window_secs: auth.refusal_window_secs,
            },
            max_grant_age: auth
                .max_grant_age_days
                .iter()
                .map(|(dataset, days)| {
                    (
                        dataset.clone(),
                        std::time::Duration::from_secs(days.saturating_mul(86_400)),
                    )
                })
                .collect(),
            analysis_only: self
                .config
                .policy
                .analysis_only_datasets
                .iter()
                .cloned()
                .collect(),
        }
    }

    /// The phenopacket of participant `id` for the operator `operator` (the CLI's
    /// `export phenopacket`): through the same access point as the API, so the read is
    /// audited (`operator:<name>`) and a withdrawn participant is not exported. `None` when
    /// there is no such participant, or it has withdrawn.
    ///
    /// # Errors
    /// Store and audit failures.
    pub async fn export_phenopacket(
        &self,
        operator: &str,
        id: &str,
    ) -> anyhow::Result<Option<gemj_phenopacket::Phenopacket>> {
        let access = AccessPoint::new(
            self.audit.clone(),
            self.policy_settings(self.config.auth.administrators.clone()),
            self.store.clone(),
            self.consent.clone(),
        );
        let ctx = gemj_core::RequestContext {
            request_id: uuid::Uuid::new_v4().to_string(),
            api: "cli",
            endpoint: "export phenopacket".to_owned(),
            client: None,
        };
        let principal = gemj_core::Principal::Operator(Arc::from(operator));
        match gemj_core::phenopacket::export_from(
            &access,
            &self.store,
            self.hpo.as_deref(),
            &ctx,
            &principal,
            id,
        )
        .await
        {
            Ok(packet) => Ok(Some(packet)),
            Err(gemj_core::CoreError::NotFound) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("cannot export the phenopacket")),
        }
    }

    /// The portal's state: its broker (the configured one, or the demo broker in demo mode,
    /// registered there as [`gemj_demo::oidc::CLIENT_ID`]), its coordinators (configured, and
    /// the demo's), and the administrators for its menus. `None` when the portal is off.
    fn portal(
        &self,
        base_url: &str,
        demo: bool,
        administrators: &[String],
        demo_institutions: &[(gemj_model::InstitutionId, gemj_auth::LocalIssuer)],
    ) -> anyhow::Result<Option<web::Data<portal::Portal>>> {
        let config = &self.config.portal;
        if !config.enabled {
            return Ok(None);
        }
        let broker = if config.broker.is_empty() {
            demo.then(|| {
                gemj_auth::TrustedBroker::new(gemj_demo::broker::issuer(base_url))
                    .with_client(gemj_demo::oidc::CLIENT_ID, None)
            })
        } else {
            build_brokers(&self.config.auth)
                .0
                .into_iter()
                .map(|(b, _)| b)
                .find(|b| b.issuer == config.broker)
        };
        let mut coordinators = std::collections::HashMap::new();
        for c in &config.coordinators {
            let id = gemj_model::InstitutionId::parse(&c.institution)
                .map_err(|e| anyhow::anyhow!("portal.coordinators: {e}"))?;
            coordinators.insert(c.principal.clone(), id);
        }
        if demo {
            let issuer = gemj_demo::broker::issuer(base_url);
            for (id, _) in demo_institutions {
                coordinators.insert(
                    format!(
                        "{issuer}#{}",
                        gemj_demo::oidc::coordinator_subject(id.as_str())
                    ),
                    id.clone(),
                );
            }
        }
        Ok(Some(web::Data::new(portal::Portal::new(
            portal::PortalSettings {
                broker,
                base_url: base_url.to_owned(),
                coordinators,
                administrators: administrators.iter().cloned().collect(),
                idle_secs: i64::from(config.session_idle_minutes) * 60,
                max_secs: i64::from(config.session_max_hours) * 3600,
                duo: self.duo.clone(),
            },
            self.store.clone(),
            self.url_signer()?.sealer("portal"),
        ))))
    }

    /// Binds the listener and starts serving in the background.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn serve(self) -> anyhow::Result<Running> {
        let tls = tls::server_config(&self.config.server.tls)?;
        let listener = TcpListener::bind(&self.config.listen)
            .with_context(|| format!("cannot listen on {}", self.config.listen))?;
        let local = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let base_url = if self.config.public_url.is_empty() {
            let scheme = if tls.is_some() { "https" } else { "http" };
            format!("{scheme}://{local}")
        } else {
            self.config.public_url.trim_end_matches('/').to_owned()
        };
        let s = &self.config.service;
        let identity = ServiceIdentity {
            id: s.id.clone(),
            name: s.name.clone(),
            organization_name: s.organization_name.clone(),
            organization_url: s.organization_url.clone(),
            environment: s.environment.clone(),
            contact_url: (!s.contact_url.is_empty()).then(|| s.contact_url.clone()),
            documentation_url: (!s.documentation_url.is_empty())
                .then(|| s.documentation_url.clone()),
        };
        let demo = if self.demo_broker {
            Some(gemj_demo::broker::load(&self.config.data_dir, &base_url)?)
        } else {
            None
        };
        let verifier = build_verifier(&self.config.auth, demo.as_ref())?;
        let demo_jwks = demo.as_ref().map(|d| web::Data::new(DemoJwks(d.jwks())));
        let demo_institutions = if self.demo_broker {
            gemj_demo::broker::institutions(&self.config.data_dir, &base_url)?
        } else {
            Vec::new()
        };
        let institutions = build_institutions(&self.config.auth, &base_url, &demo_institutions)?
            .map(web::Data::new);
        let institution_jwks: Vec<(String, serde_json::Value)> = demo_institutions
            .iter()
            .map(|(id, b)| {
                (
                    gemj_demo::broker::institution_jwks_path(id.as_str()),
                    b.jwks(),
                )
            })
            .collect();
        let mut administrators = self.config.auth.administrators.clone();
        if let Some(d) = &demo {
            administrators.push(format!(
                "{}#{}",
                d.issuer(),
                gemj_demo::broker::ADMINISTRATOR
            ));
        }
        let portal = self.portal(
            &base_url,
            demo.is_some(),
            &administrators,
            &demo_institutions,
        )?;
        let demo_provider = match (&portal, demo.is_some()) {
            (Some(_), true) => Some(web::Data::new(gemj_demo::oidc::DemoProvider::new(
                gemj_demo::broker::load(&self.config.data_dir, &base_url)?,
                format!("{base_url}/portal/callback"),
                self.config.auth.terms_url.clone(),
                self.config.auth.dataset_grant_prefix.clone(),
                self.store.clone(),
            ))),
            _ => None,
        };
        let settings = self.policy_settings(administrators);
        let mut registry = ServiceRegistry::new(identity, &base_url);
        routes::drs::mount(&mut registry, &self.config);
        routes::htsget::mount(&mut registry);
        routes::beacon::mount(&mut registry);
        routes::wes::mount(&mut registry);
        routes::data_connect::mount(&mut registry);
        let drs_settings = routes::drs::DrsState::settings(
            &self.config,
            &base_url,
            demo.as_ref().map(gemj_auth::LocalIssuer::issuer),
        );
        let shared = Shared::new(SharedParts {
            store: self.store.clone(),
            objects: Arc::clone(&self.objects),
            access: AccessPoint::new(
                self.audit.clone(),
                settings,
                self.store.clone(),
                self.consent.clone(),
            ),
            consent: self.consent.clone(),
            urls: self.url_signer()?,
            genomes: gemj_genomics::slice::FileCache::new(1024),
            catalogue: self.catalogue.clone(),
            revocations: self.revocations.clone(),
            audit_archive: self.audit_archive.clone(),
        });
        let beacon = Arc::new(gemj_core::beacon::Beacon::new(
            shared.clone(),
            gemj_core::beacon::BeaconSettings {
                environment: self.config.service.environment.clone(),
                ..self.config.beacon.clone()
            },
            self.hpo.clone(),
        ));
        let fhir_settings = gemj_core::fhir::FhirSettings {
            assembly: self.config.beacon.assembly.clone(),
            ..gemj_core::fhir::FhirSettings::default()
        };
        let network = &self.config.beacon.network;
        let beacon_network = if network.members.is_empty() {
            None
        } else {
            // The network signs the passports its members get; replicas share its key folder.
            let dir = if network.key_dir.as_os_str().is_empty() {
                self.config.data_dir.join("beacon-network")
            } else {
                network.key_dir.clone()
            };
            let issuer = gemj_auth::LocalIssuer::load_or_create(
                &dir,
                &format!("{base_url}{}", routes::beacon_network::ISSUER_PATH),
            )
            .context("the Beacon network's passport key")?
            .with_jwks_url(format!("{base_url}{}", routes::beacon_network::JWKS_PATH));
            gemj_core::beacon::network::BeaconNetwork::new(
                shared.clone(),
                Arc::clone(&beacon),
                issuer,
            )
            .map_err(anyhow::Error::msg)?
            .map(web::Data::new)
        };
        let wes = gemj_core::wes::WesService::new(shared.clone(), self.wes_settings(&base_url));
        let services = Services {
            wes: web::Data::new(wes),
            wes_state: web::Data::new(routes::wes::WesState {
                limits: self.config.wes.limits(),
            }),
            smart: web::Data::new(gemj_core::smart::SmartTokens::new(&shared, 300)),
            fhir: web::Data::new(gemj_core::fhir::FhirService::new(
                shared.clone(),
                Arc::clone(&beacon),
                fhir_settings,
            )),
            fhir_validator: web::Data::new(gemj_fhir::model::IncomingValidator::new(
                &official_schemas(&self.config)?,
            )),
            registry: web::Data::new(registry),
            catalogue: web::Data::new(CatalogueService::new(shared.clone())),
            data: web::Data::new(DataService::new(shared.clone())),
            drs: web::Data::new(DrsService::new(shared.clone(), drs_settings)),
            htsget: web::Data::new(HtsgetService::new(shared.clone())),
            data_connect: web::Data::new(gemj_core::data_connect::DataConnect::new(
                Arc::clone(&beacon),
                self.config.data_connect,
            )),
            beacon: web::Data::from(beacon),
            beacon_network,
            consent: web::Data::new(ConsentService::new(shared.clone())),
            recontact: web::Data::new(RecontactService::new(
                shared.clone(),
                gemj_core::recontact::RecontactSettings {
                    min_interval: time::Duration::days(i64::from(
                        self.config.policy.recontact_min_interval_days,
                    )),
                },
            )),
            approvals: web::Data::new(ApprovalsService::new(shared.clone())),
            audit: web::Data::new(AuditService::new(shared.clone())),
            revocations: web::Data::new(RevocationsService::new(shared.clone())),
            phenopackets: web::Data::new(PhenopacketService::new(shared.clone(), self.hpo.clone())),
            ingest: web::Data::new(IngestService::new(
                shared.clone(),
                ingest_readers(&self.config)?,
            )),
            shared: web::Data::new(shared),
        };
        let drs = web::Data::new(routes::drs::DrsState {
            max_body: self.config.server.max_body_bytes,
        });
        let base = web::Data::new(routes::BaseUrl(base_url.clone()));
        let brokers = web::Data::new(build_brokers(&self.config.auth));
        let metrics =
            middleware::Metrics::new(self.audit.metrics()).context("cannot register metrics")?;
        let metrics = web::Data::new(metrics);
        let verifier = verifier.map(web::Data::new);
        let max_body = self.config.server.max_body_bytes;
        let ingest_max_body = self.config.ingest.max_body_bytes;
        let cors_origins = self.config.server.cors_origins.clone();
        let proxies = web::Data::new(
            client::TrustedProxies::parse(
                &self.config.server.trusted_proxies,
                self.config.server.forwarded_header,
            )
            .map_err(|e| anyhow::anyhow!(e))?,
        );
        let workers_below = WorkersBelow::new(self.config.server.worker_nice);
        let server = HttpServer::new(move || {
            workers_below.apply();
            // The data-plane APIs first, each one scope: actix tries an app's services in
            // order, a dynamic pattern by a regular expression, a scope by a prefix compare, so
            // a ticket, a DRS object or a Beacon query is dispatched without trying every
            // other API's patterns (no two APIs share a prefix, so order changes no answer).
            let mut app = services
                .register(App::new())
                .app_data(metrics.clone())
                .app_data(base.clone())
                .app_data(drs.clone())
                .app_data(brokers.clone())
                .app_data(proxies.clone())
                .configure(routes::htsget::configure)
                .configure(routes::drs::configure)
                .configure(routes::beacon::configure);
            if let Some(v) = &verifier {
                app = app.app_data(v.clone());
            }
            if let Some(i) = &institutions {
                app = app.app_data(i.clone());
            }
            for (path, jwks) in &institution_jwks {
                let jwks = jwks.clone();
                app = app.service(routes::get_resource(path, move || {
                    let jwks = jwks.clone();
                    async move {
                        actix_web::HttpResponse::Ok()
                            .content_type("application/jwk-set+json")
                            .json(jwks)
                    }
                }));
            }
            if let Some(p) = &portal {
                app = app.app_data(p.clone()).configure(portal::configure);
            }
            if let Some(d) = &demo_provider {
                app = app.app_data(d.clone()).configure(portal::broker::configure);
            }
            if let Some(j) = &demo_jwks {
                app = app.app_data(j.clone()).service(routes::get_resource(
                    gemj_demo::broker::JWKS_PATH,
                    demo_jwks_handler,
                ));
            }
            app.app_data(web::JsonConfig::default().limit(max_body))
                .app_data(web::PayloadConfig::default().limit(max_body))
                .configure(routes::service_info::configure)
                .configure(routes::health::configure)
                .configure(routes::catalogue::configure)
                .configure(routes::audit::configure)
                .configure(routes::consent::configure)
                .configure(routes::recontact::configure)
                .configure(routes::approvals::configure)
                .configure(routes::revocations::configure)
                .configure(routes::data::configure)
                .configure(routes::beacon_network::configure)
                .configure(routes::data_connect::configure)
                .configure(|cfg| routes::ingest::configure(cfg, ingest_max_body))
                .configure(routes::phenopackets::configure)
                .configure(|cfg| routes::fhir::configure(cfg, ingest_max_body))
                .configure(routes::wes::configure)
                .configure(routes::wes::configure_admin)
                .configure(routes::openapi::configure)
                .wrap(cors::middleware(&cors_origins))
                .wrap(ErrorHandlers::new().default_handler(error::json_errors))
                .wrap(from_fn(middleware::observe))
        })
        .shutdown_timeout(self.config.server.shutdown_timeout_secs);
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .context("cannot start the HTTP server")?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let server = server
            .workers(self.config.server.worker_threads(cores))
            .run();
        let handle = server.handle();
        let join = tokio::spawn(server);
        Ok(Running {
            base_url,
            handle,
            join,
        })
    }
}

/// The HTTP workers' lower priority (`server.worker_nice`): made on the thread that starts the
/// server, taken by each worker thread as it builds its app (actix calls the app factory on
/// every worker, once per listener). Nice values are per thread on Linux, so only the workers
/// move: the audit writer's runtime, the store's threads and the main thread keep the
/// gateway's priority, and threads a worker starts later inherit its own.
#[derive(Debug, Clone, Copy)]
struct WorkersBelow {
    /// The workers' nice value (the starting thread's plus the increment, at most 19); `None`
    /// when they keep the gateway's.
    nice: Option<i32>,
    starter: std::thread::ThreadId,
}

impl WorkersBelow {
    fn new(increment: u8) -> Self {
        // Elsewhere than Linux a priority is the whole process's: the workers keep it.
        let nice = if increment == 0 || !cfg!(target_os = "linux") {
            None
        } else {
            match rustix::process::getpriority_process(None) {
                Ok(own) => Some(own.saturating_add(i32::from(increment)).min(19)),
                Err(error) => {
                    tracing::warn!(
                        message = "Cannot read the gateway's priority; the HTTP workers keep it.",
                        %error
                    );
                    None
                }
            }
        };
        Self {
            nice,
            starter: std::thread::current().id(),
        }
    }

    /// Lowers the calling thread, a worker, to the workers' nice value (again on a second
    /// listener: the same value, no change).
    fn apply(&self) {
        let Some(nice) = self.nice else { return };
        if std::thread::current().id() == self.starter {
            return;
        }
        if let Err(error) = lower_this_thread(nice) {
            tracing::warn!(
                message = "Cannot lower an HTTP worker's priority; it keeps the gateway's.",
                nice,
                %error
            );
        }
    }
}

/// Sets the calling thread's nice value (Linux: priorities are per thread).
#[cfg(target_os = "linux")]
fn lower_this_thread(nice: i32) -> Result<(), String> {
    rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice)
        .map_err(|e| e.to_string())
}

/// Elsewhere a priority is the whole process's ([`WorkersBelow::new`] asks for none).
#[cfg(not(target_os = "linux"))]
fn lower_this_thread(_nice: i32) -> Result<(), String> {
    Err("per-thread priorities are Linux's".to_owned())
}

/// Every API's service, built once at start; each handler takes the one it needs. `shared` is
/// for the access layer (the credential extractors audit refusals and apply revocations
/// through it) and the readiness check.
#[derive(Debug, Clone)]
struct Services {
    shared: web::Data<Shared>,
    registry: web::Data<ServiceRegistry>,
    catalogue: web::Data<CatalogueService>,
    data: web::Data<DataService>,
    drs: web::Data<DrsService>,
    htsget: web::Data<HtsgetService>,
    beacon: web::Data<gemj_core::beacon::Beacon>,
    data_connect: web::Data<gemj_core::data_connect::DataConnect>,
    consent: web::Data<ConsentService>,
    recontact: web::Data<RecontactService>,
    approvals: web::Data<ApprovalsService>,
    audit: web::Data<AuditService>,
    revocations: web::Data<RevocationsService>,
    phenopackets: web::Data<PhenopacketService>,
    ingest: web::Data<IngestService>,
    fhir: web::Data<gemj_core::fhir::FhirService>,
    smart: web::Data<gemj_core::smart::SmartTokens>,
    fhir_validator: web::Data<gemj_fhir::model::IncomingValidator>,
    wes: web::Data<gemj_core::wes::WesService>,
    wes_state: web::Data<routes::wes::WesState>,
    beacon_network: Option<web::Data<gemj_core::beacon::network::BeaconNetwork>>,
}

impl Services {
    /// Hands every service to the app.
    fn register<T>(&self, app: App<T>) -> App<T>
    where
        T: actix_web::dev::ServiceFactory<
                actix_web::dev::ServiceRequest,
                Config = (),
                Error = actix_web::Error,
                InitError = (),
            >,
    {
        // The network exists only when members are configured; its routes answer 404 without.
        let app = match &self.beacon_network {
            Some(network) => app.app_data(network.clone()),
            None => app,
        };
        app.app_data(self.shared.clone())
            .app_data(self.registry.clone())
            .app_data(self.catalogue.clone())
            .app_data(self.data.clone())
            .app_data(self.drs.clone())
            .app_data(self.htsget.clone())
            .app_data(self.beacon.clone())
            .app_data(self.data_connect.clone())
            .app_data(self.consent.clone())
            .app_data(self.recontact.clone())
            .app_data(self.approvals.clone())
            .app_data(self.audit.clone())
            .app_data(self.revocations.clone())
            .app_data(self.phenopackets.clone())
            .app_data(self.ingest.clone())
            .app_data(self.fhir.clone())
            .app_data(self.smart.clone())
            .app_data(self.fhir_validator.clone())
            .app_data(self.wes.clone())
            .app_data(self.wes_state.clone())
    }
}

/// The verifier of institution tokens, for the configured institutions and the demo ones;
/// `None` when there are none (then every institution token is refused).
fn build_institutions(
    auth: &config::AuthConfig,
    base_url: &str,
    demo: &[(gemj_model::InstitutionId, gemj_auth::LocalIssuer)],
) -> anyhow::Result<Option<routes::Institutions>> {
    let mut by_issuer = std::collections::HashMap::new();
    let mut trusted = Vec::new();
    for i in &auth.institutions {
        let id = gemj_model::InstitutionId::parse(&i.id)
            .map_err(|e| anyhow::anyhow!("invalid [[auth.institutions]] id {:?}: {e}", i.id))?;
        trusted.push(gemj_auth::TrustedIssuer::new(&i.issuer, &i.jwks_url));
        by_issuer.insert(i.issuer.clone(), id);
    }
    let fetcher = Arc::new(gemj_auth::StaticJwksFetcher::default());
    for (id, broker) in demo {
        trusted.push(broker.trusted_issuer());
        by_issuer.insert(broker.issuer().to_owned(), id.clone());
        fetcher.set(broker.jwks_url(), broker.jwks().to_string().into_bytes());
    }
    if trusted.is_empty() {
        return Ok(None);
    }
    let audience = if auth.institution_audience.is_empty() {
        base_url.trim_end_matches('/').to_owned()
    } else {
        auth.institution_audience.clone()
    };
    let config = gemj_auth::AuthConfig {
        trusted,
        required_audience: Some(audience),
        allow_http_loopback: auth.allow_http_loopback || !demo.is_empty(),
        clock_skew: std::time::Duration::from_secs(auth.clock_skew_secs),
        ..gemj_auth::AuthConfig::default()
    };
    let verifier = if demo.is_empty() {
        gemj_auth::Verifier::new(config)
    } else {
        gemj_auth::Verifier::with_local_key_sets(config, fetcher)
    }
    .map_err(|e| anyhow::anyhow!("invalid [[auth.institutions]] configuration: {e}"))?;
    Ok(Some(routes::Institutions {
        verifier,
        by_issuer,
    }))
}

/// The configured passport brokers (the v1.0 access-token flow).
fn build_brokers(auth: &config::AuthConfig) -> routes::Brokers {
    routes::Brokers(
        auth.brokers
            .iter()
            .map(|b| {
                let mut broker = gemj_auth::TrustedBroker::new(&b.issuer);
                if !b.userinfo_url.is_empty() {
                    broker = broker.with_userinfo_url(&b.userinfo_url);
                }
                if !b.token_url.is_empty() {
                    broker = broker.with_token_url(&b.token_url);
                }
                if !b.client_id.is_empty() {
                    let secret = (!b.client_secret.is_empty())
                        .then(|| gemj_auth::Secret::new(b.client_secret.clone()));
                    broker = broker.with_client(&b.client_id, secret);
                }
                (broker, b.token_exchange)
            })
            .collect(),
    )
}

/// Reads a configured run-time file (an ontology release that replaces the shipped one).
fn read_configured(path: &std::path::Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// A configured run-time text file, as UTF-8.
fn read_configured_text(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    String::from_utf8(read_configured(path, what)?)
        .map_err(|_| anyhow::anyhow!("the {what} {} is not UTF-8 text", path.display()))
}

/// The official schemas the gateway validates against: the copies shipped with it (compiled in),
/// or `ingest.official_schemas`, a folder laid out as the project's `schemas/official`
/// (`fhir/r4/fhir.schema.json`, ...) or a folder holding such a `schemas/` sub-folder.
///
/// # Errors
/// When the configured folder cannot be opened or lacks the FHIR R4 schema.
pub fn official_schemas(config: &Config) -> anyhow::Result<gemj_schemas::SchemaSet> {
    let configured = &config.ingest.official_schemas;
    if configured.as_os_str().is_empty() {
        return Ok(gemj_schemas::SchemaSet::embedded());
    }
    let set = if configured.join("schemas").is_dir() {
        gemj_schemas::SchemaSet::open(configured)
    } else {
        gemj_schemas::SchemaSet::open_folder(configured)
    }
    .with_context(|| {
        format!(
            "cannot open ingest.official_schemas {}",
            configured.display()
        )
    })?;
    set.document_bytes(gemj_schemas::docs::FHIR_R4)
        .with_context(|| {
            format!(
                "ingest.official_schemas {} has no {}",
                configured.display(),
                gemj_schemas::docs::FHIR_R4
            )
        })?;
    Ok(set)
}

/// The ingest readers of a configuration (the FHIR schema is compiled on first use).
///
/// # Errors
/// As [`official_schemas`].
pub fn ingest_readers(config: &Config) -> anyhow::Result<gemj_ingest::sources::Readers> {
    Ok(gemj_ingest::sources::Readers::new(
        official_schemas(config)?,
        config.ingest.batch_files,
    ))
}

/// The Human Phenotype Ontology for Beacon's HPO filters: `policy.hpo_obo` (`hp.obo`, or
/// `hp.obo.gz`) when configured, else the release shipped with the gateway.
pub(crate) fn load_hpo(
    policy: &config::PolicyConfig,
) -> anyhow::Result<Arc<gemj_ontology::hpo::Ontology>> {
    let path = &policy.hpo_obo;
    let shipped = path.as_os_str().is_empty();
    let ontology = if shipped {
        gemj_ontology::hpo::Ontology::bundled().context("cannot parse the shipped HPO release")?
    } else {
        let what = "Human Phenotype Ontology (policy.hpo_obo)";
        let bytes = read_configured(path, what)?;
        if bytes.starts_with(&[0x1f, 0x8b]) {
            gemj_ontology::hpo::Ontology::parse_obo_gz(&bytes)
        } else {
            gemj_ontology::hpo::Ontology::parse_obo(&read_configured_text(path, what)?)
        }
        .with_context(|| format!("cannot parse {}", path.display()))?
    };
    tracing::info!(
        message = "Human Phenotype Ontology loaded.",
        version = ontology.data_version().unwrap_or("unknown"),
        terms = ontology.len(),
        shipped
    );
    Ok(Arc::new(ontology))
}

/// The Data Use Ontology: `policy.duo_owl` (with `policy.duo_japanese_owl`, else a
/// `duo-japanese.owl` beside it, else the shipped translation) when configured, else the release
/// shipped with the gateway and its Japanese translation.
fn load_duo(policy: &config::PolicyConfig) -> anyhow::Result<Arc<gemj_duo::Ontology>> {
    let owl_path = &policy.duo_owl;
    let shipped = owl_path.as_os_str().is_empty();
    let owl = if shipped {
        gemj_duo::BUNDLED_OWL.to_owned()
    } else {
        read_configured_text(owl_path, "Data Use Ontology (policy.duo_owl)")?
    };
    let beside = owl_path.with_file_name("duo-japanese.owl");
    let ja = if !policy.duo_japanese_owl.as_os_str().is_empty() {
        read_configured_text(
            &policy.duo_japanese_owl,
            "Japanese DUO labels (policy.duo_japanese_owl)",
        )?
    } else if !shipped && beside.is_file() {
        read_configured_text(&beside, "Japanese DUO labels")?
    } else {
        gemj_duo::BUNDLED_JAPANESE_OWL.to_owned()
    };
    let ontology = gemj_duo::Ontology::parse(&owl, Some(&ja)).with_context(|| {
        if shipped {
            "cannot parse the shipped Data Use Ontology".to_owned()
        } else {
            format!("cannot parse the Data Use Ontology {}", owl_path.display())
        }
    })?;
    tracing::info!(
        message = "Data Use Ontology loaded.",
        version = ontology.version_iri().unwrap_or("unknown"),
        shipped
    );
    Ok(Arc::new(ontology))
}

#[derive(Debug)]
struct DemoJwks(serde_json::Value);

async fn demo_jwks_handler(jwks: web::Data<DemoJwks>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/jwk-set+json")
        .json(&jwks.0)
}

/// The passport verifier for the configured trusted issuers (and the demo broker), or `None`
/// when nothing is trusted: then every presented credential is refused.
fn build_verifier(
    auth: &config::AuthConfig,
    demo: Option<&gemj_auth::LocalIssuer>,
) -> anyhow::Result<Option<gemj_auth::Verifier>> {
    let mut trusted: Vec<gemj_auth::TrustedIssuer> = auth
        .trusted_issuers
        .iter()
        .map(|t| trusted_issuer(t, &auth.dataset_grant_prefix))
        .collect();
    if let Some(d) = demo {
        trusted.push(
            d.trusted_issuer()
                .with_grant_prefixes([auth.dataset_grant_prefix.clone()]),
        );
    }
    if trusted.is_empty() {
        return Ok(None);
    }
    let config = gemj_auth::AuthConfig {
        trusted,
        required_audience: (!auth.required_audience.is_empty())
            .then(|| auth.required_audience.clone()),
        allow_http_loopback: auth.allow_http_loopback || demo.is_some(),
        require_jti: auth.require_jti,
        accept_jwt_typ_visas: !auth.strict_visa_typ,
        max_passport_lifetime: std::time::Duration::from_secs(auth.max_passport_lifetime_secs),
        max_visa_lifetime: std::time::Duration::from_secs(auth.max_visa_lifetime_secs),
        max_asserted_age: auth
            .max_asserted_age_days
            .iter()
            .map(|(t, days)| {
                (
                    gemj_passport::VisaType::parse(t),
                    std::time::Duration::from_secs(days.saturating_mul(86_400)),
                )
            })
            .collect(),
        clock_skew: std::time::Duration::from_secs(auth.clock_skew_secs),
        ..gemj_auth::AuthConfig::default()
    };
    let verifier = match demo {
        Some(d) => gemj_auth::Verifier::with_local_key_sets(config, d.static_fetcher()),
        None => gemj_auth::Verifier::new(config),
    }
    .map_err(|e| anyhow::anyhow!("invalid [auth] configuration: {e}"))?;
    Ok(Some(verifier))
}

/// What one configured issuer may sign, as the verifier's trust entry: Passports, each listed
/// Visa Type with its `source` and `by` values (exact), and the grants of the datasets it
/// governs (`dataset_grant_prefix` + each dataset id prefix).
fn trusted_issuer(
    t: &config::TrustedIssuerConfig,
    dataset_grant_prefix: &str,
) -> gemj_auth::TrustedIssuer {
    use gemj_passport::{Matcher, SourcePolicy, SourceRule, VisaType};
    let exact = |list: &[String]| {
        list.iter()
            .map(|s| Matcher::Const(s.clone()))
            .collect::<Vec<_>>()
    };
    let visas = t.visas.iter().fold(SourcePolicy::default(), |policy, v| {
        policy.with_rule(
            SourceRule::new(VisaType::parse(&v.visa_type), exact(&v.sources)).with_by(exact(&v.by)),
        )
    });
    let mut issuer = gemj_auth::TrustedIssuer::new(&t.issuer, &t.jwks_url)
        .with_visas(visas)
        .with_grant_prefixes(
            t.datasets
                .iter()
                .map(|d| format!("{dataset_grant_prefix}{d}")),
        );
    if t.passports {
        issuer = issuer.signing_passports();
    }
    if !t.passport_audience.is_empty() {
        issuer = issuer.with_passport_audience(&t.passport_audience);
    }
    if t.beacon_network {
        issuer = issuer.as_beacon_network();
    }
    issuer
}

/// Re-projects consent states whose future-dated events have come into effect, once a minute,
/// so a withdrawal dated ahead applies on its day without waiting for another event.
fn spawn_consent_refresh(store: Store) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match store.refresh_consent_states().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(message = "Consent states re-projected.", participants = n),
                Err(error) => tracing::warn!(message = "Consent refresh failed.", %error),
            }
        }
    });
}

/// What is served where, for the start-up banner and the README.
#[must_use]
pub fn endpoints(base_url: &str) -> Vec<(String, &'static str)> {
    [
        ("/service-info", "GA4GH service-info 1.0 of the gateway"),
        ("/services", "GA4GH service registry: every mounted API"),
        (
            "/catalogue/v1/datasets",
            "dataset catalogue (as far as the caller may see)",
        ),
        (
            "/ga4gh/drs/v1/service-info",
            "GA4GH DRS 1.5: stored files and indices, bundles per specimen, participant, dataset",
        ),
        (
            "/openapi.json",
            "OpenAPI 3.1 document of every endpoint, the standard APIs included",
        ),
        ("/healthz", "liveness"),
        ("/readyz", "readiness (store reachable, migrations applied)"),
        ("/metrics", "Prometheus metrics"),
    ]
    .into_iter()
    .map(|(p, what)| (format!("{base_url}{p}"), what))
    .collect()
}
