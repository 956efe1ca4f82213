//! The gateway's HTTP server and command line: the only crate that uses actix-web.
//!
//! [`Gateway::boot`] opens the store (applying migrations), starts the audit writer and builds
//! the [`gemj_core::Core`]; [`Gateway::serve`] binds and runs the actix server, which every API
//! plugs into through its `configure` function. Status codes are chosen only in [`error`].

pub mod cli;
pub mod config;
pub mod error;
pub mod middleware;
pub mod routes;
pub mod telemetry;

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use gemj_core::audit::{AuditOptions, AuditSink};
use gemj_core::services::{ServiceIdentity, ServiceRegistry};
use gemj_core::{AccessPoint, Core};
use gemj_store::objects::LocalFolderStorage;
use gemj_store::{Store, StoreOptions};

pub use config::Config;

/// A booted gateway: the store open and migrated, the audit writer running.
#[derive(Debug)]
pub struct Gateway {
    config: Config,
    store: Store,
    audit: AuditSink,
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
        let (audit, _writer) = AuditSink::start(
            store.clone(),
            AuditOptions {
                max_batch: config.audit.max_batch.max(1),
                ..AuditOptions::default()
            },
        );
        Ok(Self {
            config,
            store,
            audit,
        })
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Binds the listener and starts serving in the background.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub fn serve(self) -> anyhow::Result<Running> {
        let listener = TcpListener::bind(&self.config.listen)
            .with_context(|| format!("cannot listen on {}", self.config.listen))?;
        let local = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let base_url = if self.config.public_url.is_empty() {
            format!("http://{local}")
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
        let objects = LocalFolderStorage::new(self.config.data_dir.join("objects"));
        let core = Core {
            store: self.store.clone(),
            objects: Arc::new(objects),
            access: AccessPoint::new(self.audit.clone()),
            services: Arc::new(ServiceRegistry::new(identity, &base_url)),
        };
        let metrics = middleware::Metrics::new().context("cannot register metrics")?;
        let core = web::Data::new(core);
        let metrics = web::Data::new(metrics);
        let max_body = self.config.server.max_body_bytes;
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(core.clone())
                .app_data(metrics.clone())
                .app_data(web::JsonConfig::default().limit(max_body))
                .app_data(web::PayloadConfig::default().limit(max_body))
                .configure(routes::service_info::configure)
                .configure(routes::health::configure)
                .configure(routes::catalogue::configure)
                .configure(routes::openapi::configure)
                .wrap(ErrorHandlers::new().default_handler(error::json_errors))
                .wrap(from_fn(middleware::observe))
        })
        .shutdown_timeout(self.config.server.shutdown_timeout_secs)
        .listen(listener)
        .context("cannot start the HTTP server")?;
        if self.config.server.workers > 0 {
            server = server.workers(self.config.server.workers);
        }
        let server = server.run();
        let handle = server.handle();
        let join = tokio::spawn(server);
        Ok(Running {
            base_url,
            handle,
            join,
        })
    }
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
            "/openapi.json",
            "OpenAPI document of the gateway's own endpoints",
        ),
        ("/healthz", "liveness"),
        ("/readyz", "readiness (store reachable, migrations applied)"),
        ("/metrics", "Prometheus metrics"),
    ]
    .into_iter()
    .map(|(p, what)| (format!("{base_url}{p}"), what))
    .collect()
}
