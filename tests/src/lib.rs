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
