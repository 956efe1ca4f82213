//! The end-to-end harness: boots the real gateway on port 0 over a fresh data folder holding
//! a small synthetic demo cohort, as a user would run it, and tears it down after the test.

use std::path::{Path, PathBuf};

use gemj_core::demo::{self, DemoOptions};
use gemj_server::config::{Config, Overrides};
use gemj_server::{Gateway, Running};
use gemj_store::Store;
use gemj_store::objects::LocalFolderStorage;

/// A gateway running for one test.
#[derive(Debug)]
pub struct TestGateway {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
    /// A second handle on the same store, for assertions.
    pub store: Store,
    /// The data folder.
    pub data_dir: PathBuf,
    running: Running,
    _dir: tempfile::TempDir,
}

impl TestGateway {
    /// Generates a demo cohort of `participants` into a temp folder and starts the gateway.
    ///
    /// # Errors
    /// When anything fails to start.
    pub async fn start(participants: usize) -> anyhow::Result<Self> {
        Self::start_with(participants, |_| {}).await
    }

    /// As [`TestGateway::start`], after `adjust` has changed the configuration (the Data Use
    /// Ontology is already set to the shared folder's). With `participants` 0 no demo cohort is
    /// generated: for a second instance over the store and data folder of a first one (set
    /// `database` and `data_dir` in `adjust`).
    ///
    /// # Errors
    /// When anything fails to start.
    pub async fn start_with(
        participants: usize,
        adjust: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().join("data");
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".to_owned()),
            data_dir: Some(data_dir.clone()),
        };
        let mut config = Config::load_with_env(None, &overrides, Vec::new())?;
        config.policy.duo_owl = shared_dir().join("ontologies").join("duo").join("duo.owl");
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        let gateway = Gateway::boot(config).await?.with_demo_broker();
        if participants > 0 {
            let options = DemoOptions {
                participants,
                coverage: 0.5,
                ..DemoOptions::default()
            };
            let objects = LocalFolderStorage::new(data_dir.join("objects"));
            demo::generate(gateway.store(), &objects, &data_dir, &options).await?;
            // The demo wrote consent events behind the view's back: catch up now rather than at
            // the next poll, so the first request already sees them.
            gateway
                .consent()
                .refresh()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let store = gateway.store().clone();
        let running = gateway.serve()?;
        Ok(Self {
            base_url: running.base_url.clone(),
            store,
            data_dir,
            running,
            _dir: dir,
        })
    }

    /// The data folder.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.running.handle.stop(true).await;
        let _ = self.running.join.await;
    }
}

/// The shared folder of official schemas and fixtures (`GEMJ_SHARED_DIR`, default
/// `../shared` from the workspace). Panics with a clear message when it is missing, so that CI
/// fails loudly rather than skipping.
#[must_use]
pub fn shared_dir() -> PathBuf {
    match gemj_schemas::shared_dir() {
        Ok(p) => p,
        Err(e) => panic!("the shared folder is missing ({e}); set GEMJ_SHARED_DIR"),
    }
}
