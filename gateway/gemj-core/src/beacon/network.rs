//! A Beacon network: one query fanned out in parallel to configured member beacons (other
//! GeMJ gateways, a biobank's, any Beacon v2 endpoint), each under its own time limit and
//! response-size cap, and one Beacon v2 answer that lists every member's result or error in
//! `info.beaconNetwork.members`.
//!
//! What the network never does:
//! - upgrade granularity: members are asked for at most `count`, each answers at the level it
//!   gives the caller (or an anonymous caller, when the passport is not forwarded to it), and
//!   the network answers a count only when every member that answered gave one;
//! - round more loosely than itself: every member count goes through the network's own
//!   small-cell and rounding rule, and so does the total;
//! - hand the caller's passport to a member: a member configured to receive one gets the
//!   network's own short-lived passport carrying only the Visas its datasets need (as their
//!   issuers signed them) and a `LinkedIdentities` Visa of the network's tying its subject to
//!   the caller's; a member that needs none of them gets none;
//! - wait for a slow member beyond its limit, read more than the cap, or echo a member's body.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use gemj_beacon::{
    BeaconBooleanResponse, BeaconCountResponse, BeaconError, BeaconQuery, EntryType, FilteringTerm,
    Granularity, ResponseMeta,
};
use serde_json::{Map, Value, json};

use super::privacy::DatasetPrivacy;
use super::{Beacon, BeaconFailure};
use crate::Shared;
use crate::access::{Action, Ask, Outcome, Principal, RequestContext, Resource};

/// The network's members and limits (`[beacon.network]`); no members: no network.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// The member beacons.
    pub members: Vec<MemberSettings>,
    /// How long a member may take to answer, milliseconds, unless it sets its own (ELIXIR's
    /// network drops a member after 5 s).
    pub timeout_ms: u64,
    /// The largest member answer read, bytes: a larger one is dropped as `too_large`.
    pub max_response_bytes: u64,
    /// The folder of the key that signs the passports members get (its JWKS is served at
    /// `/beacon-network/.well-known/jwks.json`, its `iss` is the public URL +
    /// `/beacon-network`); replicas of one network share it. Empty: `<data_dir>/beacon-network`.
    pub key_dir: std::path::PathBuf,
    /// A PEM file of CA certificates members' certificates may chain to besides the web's
    /// public roots (a program's own CA). Empty: the public roots only.
    pub ca_file: std::path::PathBuf,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            members: Vec::new(),
            timeout_ms: 5_000,
            max_response_bytes: 1024 * 1024,
            key_dir: std::path::PathBuf::new(),
            ca_file: std::path::PathBuf::new(),
        }
    }
}

/// One member beacon.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct MemberSettings {
    /// Its id in the network's answers (letters, digits, `.`, `-`, `_`).
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The base of its Beacon v2 API (`https://host/beacon/v2`); plain `http` only on
    /// loopback.
    pub url: String,
    /// Its own time limit, milliseconds (default: the network's).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Whether it gets a passport for the caller: the network's own, carrying only the
    /// caller's Visas it needs (it must trust the network's issuer for Passports, naming
    /// `audience` as that issuer's `passport_audience`, and for `LinkedIdentities` Visas whose
    /// `source` is that issuer). Needs `audience` and `passport_visas`.
    #[serde(default)]
    pub forward_passport: bool,
    /// The visas its datasets need, by visa type (`ResearcherStatus`) or value (a dataset's
    /// grant): only these go, and no passport when the caller has none of them. Required with
    /// `forward_passport` (name every type to send them all).
    #[serde(default)]
    pub passport_visas: Vec<String>,
    /// The audience the network's passports for it name in `aud` (the member's
    /// `passport_audience` for the network's issuer), so a passport handed to this member
    /// cannot be replayed at another member, at the network, or at any gateway that does not
    /// expect exactly this audience from the network. Required with `forward_passport`.
    #[serde(default)]
    pub audience: Option<String>,
    /// The base of its GA4GH Data Connect API (`https://host/data-connect`), when network
    /// searches (`/data-connect-network`) should read its catalogue tables; plain `http` only on
    /// loopback.
    #[serde(default)]
    pub data_connect_url: Option<String>,
    /// Whether it is told the caller's address (`X-Forwarded-For` and RFC 7239 `Forwarded`), so
    /// that a member listing the network's address in its `server.trusted_proxies` budgets each
    /// caller's address on its own instead of every anonymous caller of the network as one.
    /// The member learns the callers' addresses: only for members trusted with them.
    #[serde(default)]
    pub forward_client_address: bool,
}

/// Checks a member's URL: https, or plain http on loopback; no credentials.
fn check_url(at: &str, url: &str) -> Result<(), String> {
    let url = url::Url::parse(url).map_err(|e| format!("{at}: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(format!("{at}: https (plain http only on loopback)")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{at}: no credentials in the URL"));
    }
    Ok(())
}

impl NetworkSettings {
    /// Checks ids and URLs.
    ///
    /// # Errors
    /// A message naming the member and what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        let mut audiences = std::collections::HashSet::new();
        for (i, m) in self.members.iter().enumerate() {
            let at = format!("beacon.network.members[{i}]");
            if m.id.is_empty()
                || m.id.len() > 128
                || !m
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
            {
                return Err(format!(
                    "{at}.id: 1 to 128 letters, digits, '.', '-' or '_'"
                ));
            }
            if !seen.insert(m.id.as_str()) {
                return Err(format!("{at}.id: {} is listed twice", m.id));
            }
            check_url(&format!("{at}.url"), &m.url)?;
            if m.forward_passport {
                if m.audience.as_deref().is_none_or(|a| a.trim().is_empty()) {
                    return Err(format!(
                        "{at}.audience: required with forward_passport (the audience the \
                         member's passport_audience for this network names), so a passport \
                         cut for this member cannot be replayed elsewhere"
                    ));
                }
                if m.passport_visas.is_empty() {
                    return Err(format!(
                        "{at}.passport_visas: required with forward_passport (the Visa types \
                         or values the member's datasets need; only these are sent)"
                    ));
                }
                if let Some(audience) = &m.audience
                    && !audiences.insert(audience.as_str())
                {
                    return Err(format!(
                        "{at}.audience: {audience} is another member's too (each member's \
                         passports must be refused by every other)"
                    ));
                }
            }
            if let Some(dc) = &m.data_connect_url {
                check_url(&format!("{at}.data_connect_url"), dc)?;
            }
        }
        if self.timeout_ms == 0 || self.members.iter().any(|m| m.timeout_ms == Some(0)) {
            return Err("beacon.network: a timeout of 0 ms".to_owned());
        }
        Ok(())
    }
}

/// The CA certificates of `ca_file` (`beacon.network.ca_file`); none when it is empty.
fn program_roots(ca_file: &std::path::Path) -> Result<Vec<reqwest::Certificate>, String> {
    if ca_file.as_os_str().is_empty() {
        return Ok(Vec::new());
    }
    let at = format!("beacon.network.ca_file ({})", ca_file.display());
    let pem = std::fs::read(ca_file).map_err(|e| format!("{at}: {e}"))?;
    let roots = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| format!("{at}: {e}"))?;
    if roots.is_empty() {
        return Err(format!("{at}: no PEM certificate in it"));
    }
    Ok(roots)
}

/// How a query reached the network, forwarded in the same form.
#[derive(Debug, Clone)]
pub enum MemberRequest {
    /// A GET with these query parameters.
    Get(Vec<(String, String)>),
    /// A POST with this body (passports already removed).
    Post(Value),
}

/// What happened to one member.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Answered,
    Timeout,
    Unreachable,
    TooLarge,
    Invalid(&'static str),
    Error(u16, String),
}

impl Status {
    fn name(&self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::TooLarge => "too_large",
            Self::Invalid(_) => "invalid",
            Self::Error(..) => "error",
        }
    }
}

#[derive(Debug, Clone)]
struct MemberAnswer {
    status: Status,
    elapsed: Duration,
    passport_sent: bool,
    body: Option<Value>,
    /// The bytes of the body read.
    read: usize,
}

/// Whether `path` is `base` or below it (`/dc` holds `/dc/table/t/data`, not `/dcx` nor
/// `/dc/../x`).
fn under(path: &str, base: Option<&str>) -> bool {
    let Some(base) = base else { return false };
    let Some(rest) = path.strip_prefix(base) else {
        return false;
    };
    (rest.is_empty() || rest.starts_with('/')) && !rest.split('/').any(|s| s == ".." || s == ".")
}

/// The most pages of one table read from one member.
pub const MAX_MEMBER_PAGES: usize = 100;
/// The most rows of one table read from one member.
pub const MAX_MEMBER_ROWS: usize = 100_000;
/// The most bytes read from one member for one network search, every page of every table, in
/// `max_response_bytes` (each page is also within it; by default 16 MiB in all): what a hostile
/// or broken member can make one search hold is bounded by this, not by its pages times its
/// tables.
pub const MEMBER_SEARCH_RESPONSES: usize = 16;

/// What one member gave a network search.
#[derive(Debug, Clone)]
pub struct MemberTables {
    /// The member's id.
    pub id: String,
    /// How long it took.
    pub elapsed: Duration,
    /// Each table's rows, in the order asked, or why none (`timeout`, `unreachable`,
    /// `too_large`, `invalid: ...`, `error (HTTP n)`).
    pub tables: Result<Vec<Vec<Map<String, Value>>>, String>,
}

/// The network.
#[derive(Debug)]
pub struct BeaconNetwork {
    core: Shared,
    /// This gateway's Beacon: its budgets are the network's.
    beacon: std::sync::Arc<Beacon>,
    id: String,
    name: String,
    privacy: DatasetPrivacy,
    settings: NetworkSettings,
    client: reqwest::Client,
    /// Signs the passports members get (see [`BeaconNetwork::passport_for`]).
    issuer: gemj_auth::LocalIssuer,
}

/// Member error messages are cut to this many characters (and control characters dropped).
const MAX_MEMBER_MESSAGE: usize = 200;

impl BeaconNetwork {
    /// The network of `beacon`'s settings, or `None` when it has no members; `issuer` signs
    /// the passports members get (members that receive them trust it for Passports and for
    /// `LinkedIdentities` Visas naming itself as `source`).
    ///
    /// # Errors
    /// A message when `ca_file` cannot be read or holds no certificate, or when the HTTP
    /// client cannot be built.
    pub fn new(
        core: Shared,
        local: std::sync::Arc<Beacon>,
        issuer: gemj_auth::LocalIssuer,
    ) -> Result<Option<Self>, String> {
        let beacon = local.settings();
        let settings = beacon.network.clone();
        if settings.members.is_empty() {
            return Ok(None);
        }
        let mut builder = reqwest::Client::builder();
        for root in program_roots(&settings.ca_file)? {
            builder = builder.add_root_certificate(root);
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_millis(settings.timeout_ms))
            .user_agent(concat!(
                "gemj-gateway/",
                env!("CARGO_PKG_VERSION"),
                " beacon-network"
            ))
            .build()
            .map_err(|e| format!("the Beacon network's HTTP client: {e}"))?;
        Ok(Some(Self {
            core,
            beacon: std::sync::Arc::clone(&local),
            id: format!("{}.network", beacon.id),
            name: format!("{} network", beacon.name),
            privacy: DatasetPrivacy::strictest(&beacon.privacy, beacon.datasets.values()),
            settings,
            client,
            issuer,
        }))
    }

    /// The issuer of the passports members get: its JWKS is served at its `jwks_url`.
    #[must_use]
    pub fn issuer(&self) -> &gemj_auth::LocalIssuer {
        &self.issuer
    }

    /// The network's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The members.
    #[must_use]
    pub fn members(&self) -> &[MemberSettings] {
        &self.settings.members
    }

    /// The passport `member` gets, if any: only for a member configured to receive one, and
    /// only when the caller's passport holds a Visa the member's datasets need. It is the
    /// network's own passport (signed by [`BeaconNetwork::issuer`]) carrying only those Visas,
    /// as their issuers signed them, and a `LinkedIdentities` Visa of the network's tying its
    /// subject to the caller's; never the caller's passport itself.
    /// The caller's passport is the verified one, however it came (`Authorization`, or the
    /// `passports` of a POST body).
    fn passport_for(&self, member: &MemberSettings, principal: &Principal) -> Option<String> {
        let Principal::Passport(p) = principal else {
            return None;
        };
        if !member.forward_passport {
            return None;
        }
        cut_passport(&self.issuer, member, p, gemj_auth::now_unix())
    }

    /// A member's time limit.
    fn limit(&self, member: &MemberSettings) -> Duration {
        Duration::from_millis(member.timeout_ms.unwrap_or(self.settings.timeout_ms))
    }

    /// Sends one request to a member's Beacon within its limits.
    async fn ask_member(
        &self,
        member: &MemberSettings,
        path: &str,
        request: Option<&MemberRequest>,
        sent: Sent<'_>,
    ) -> MemberAnswer {
        let url = format!("{}{path}", member.url.trim_end_matches('/'));
        self.fetch(member, &url, request, sent).await
    }

    /// Sends one request to `url` of a member within its limits.
    async fn fetch(
        &self,
        member: &MemberSettings,
        url: &str,
        request: Option<&MemberRequest>,
        sent: Sent<'_>,
    ) -> MemberAnswer {
        let passport = sent.passport;
        let started = Instant::now();
        let limit = self.limit(member);
        let cap = usize::try_from(self.settings.max_response_bytes).unwrap_or(usize::MAX);
        let exchange = async {
            let mut builder = match request {
                None => self.client.get(url),
                Some(MemberRequest::Get(pairs)) => self.client.get(url).query(pairs),
                Some(MemberRequest::Post(body)) => self.client.post(url).json(body),
            };
            if let Some(jwt) = passport {
                builder = builder.bearer_auth(jwt);
            }
            if let Some(ip) = sent.client.filter(|_| member.forward_client_address) {
                builder = builder
                    .header("X-Forwarded-For", ip.to_string())
                    .header("Forwarded", forwarded_for(ip));
            }
            let Ok(mut res) = builder.send().await else {
                return (Status::Unreachable, None, 0);
            };
            let status = res.status().as_u16();
            let mut bytes = Vec::new();
            loop {
                match res.chunk().await {
                    Ok(Some(chunk)) => {
                        if bytes.len() + chunk.len() > cap {
                            return (Status::TooLarge, None, bytes.len() + chunk.len());
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(_) => return (Status::Unreachable, None, bytes.len()),
                }
            }
            let read = bytes.len();
            let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
                return (Status::Invalid("the answer is not JSON"), None, read);
            };
            if status == 200 {
                (Status::Answered, Some(body), read)
            } else {
                let message = body
                    .pointer("/error/errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_MEMBER_MESSAGE)
                    .collect();
                (Status::Error(status, message), None, read)
            }
        };
        let (status, body, read) =
            tokio::time::timeout(limit, exchange)
                .await
                .unwrap_or((Status::Timeout, None, 0));
        MemberAnswer {
            status,
            elapsed: started.elapsed(),
            passport_sent: passport.is_some(),
            body,
            read,
        }
    }

    /// Asks every member at once, for the caller at `client` (its address goes to the members
    /// told it, `forward_client_address`).
    async fn ask_all(
        &self,
        path: &str,
        request: Option<&MemberRequest>,
        principal: &Principal,
        client: Option<IpAddr>,
    ) -> Vec<MemberAnswer> {
        join_all(self.settings.members.iter().map(|m| {
            let passport = self.passport_for(m, principal);
            async move {
                let sent = Sent {
                    passport: passport.as_deref(),
                    client,
                };
                self.ask_member(m, path, request, sent).await
            }
        }))
        .await
    }

    /// One decision (the caller may query the network at all), audited with the answer given.
    async fn enforce<T>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        serve: impl AsyncFnOnce() -> Result<(T, String), BeaconFailure>,
    ) -> Result<T, BeaconFailure> {
        let mut enforcement = self.core.access.begin(ctx, principal);
        let verdict = enforcement
            .ask(Ask::new(Action::Discover, Resource::Service))
            .await?;
        if !verdict.is_permit() {
            return Err(BeaconFailure::Beacon(
                BeaconError::forbidden("this credential may not query the Beacon network"),
                None,
            ));
        }
        let released = enforcement
            .release(async |_| -> Result<_, BeaconFailure> {
                let (value, answer) = serve().await?;
                let outcome = Outcome {
                    answer: Some(answer),
                    ..Outcome::nothing()
                };
                Ok((value, vec![outcome]))
            })
            .await?;
        Ok(released.value)
    }

    /// A query of one entry type across the members: it spends the caller's Beacon
    /// budget here first, like a query of this gateway's own Beacon.
    ///
    /// # Errors
    /// 429 for a spent budget; 403 for a credential that may not query; 503 when no member
    /// answered; store and audit failures.
    pub async fn query(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        query: &BeaconQuery,
        request: MemberRequest,
    ) -> Result<Value, BeaconFailure> {
        self.beacon.take_budget(ctx, principal).await?;
        let asked = query
            .requested_granularity
            .min(Granularity::Count)
            .min(self.privacy.max_granularity);
        let request = capped(request, asked);
        let path = format!("/{}", query.entry_type.path_segment());
        self.enforce(ctx, principal, async || {
            let answers = self
                .ask_all(&path, Some(&request), principal, ctx.client)
                .await;
            merge(
                &self.id,
                &self.privacy,
                &self.settings.members,
                query,
                asked,
                &answers,
            )
        })
        .await
    }

    /// A Data Connect search across the members with a Data Connect API: it spends the caller's
    /// Beacon budget here, reads each published table the query needs from every such member
    /// (`/table/{name}/data`, every page, within the member's time limit, the size cap, at most
    /// [`MAX_MEMBER_PAGES`] pages and [`MAX_MEMBER_ROWS`] rows; the passport only where it may
    /// go), and hands `run` what each member gave: its tables' rows, or why it gave none.
    ///
    /// # Errors
    /// 429 for a spent budget; 403 for a credential that may not query; `run`'s errors; store
    /// and audit failures.
    pub async fn catalogue_search<T>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        tables: &[&str],
        run: impl AsyncFnOnce(Vec<MemberTables>) -> Result<T, BeaconFailure>,
    ) -> Result<T, BeaconFailure> {
        self.beacon.take_budget(ctx, principal).await?;
        self.enforce(ctx, principal, async || {
            let fetched = join_all(
                self.settings
                    .members
                    .iter()
                    .filter(|m| m.data_connect_url.is_some())
                    .map(|m| {
                        let passport = self.passport_for(m, principal);
                        async move {
                            let sent = Sent {
                                passport: passport.as_deref(),
                                client: ctx.client,
                            };
                            self.member_tables(m, tables, sent).await
                        }
                    }),
            )
            .await;
            let value = run(fetched).await?;
            Ok((value, "network:data_connect".to_owned()))
        })
        .await
    }

    /// Every row of `tables` at one member, or why not.
    async fn member_tables(
        &self,
        member: &MemberSettings,
        tables: &[&str],
        sent: Sent<'_>,
    ) -> MemberTables {
        let started = Instant::now();
        let base = member
            .data_connect_url
            .as_deref()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_owned();
        let parsed = url::Url::parse(&base).ok();
        let origin = parsed.as_ref().map(url::Url::origin);
        let base_path = parsed.map(|u| u.path().trim_end_matches('/').to_owned());
        let most = usize::try_from(self.settings.max_response_bytes)
            .unwrap_or(usize::MAX)
            .saturating_mul(MEMBER_SEARCH_RESPONSES);
        let work = async {
            let mut out = Vec::with_capacity(tables.len());
            let mut read = 0;
            for table in tables {
                let mut url = format!("{base}/table/{table}/data");
                let mut rows: Vec<Map<String, Value>> = Vec::new();
                let mut pages = 0;
                loop {
                    pages += 1;
                    if pages > MAX_MEMBER_PAGES {
                        return Err(Status::TooLarge);
                    }
                    let answer = self.fetch(member, &url, None, sent).await;
                    read += answer.read;
                    if read > most {
                        return Err(Status::TooLarge);
                    }
                    let body = match (answer.status, answer.body) {
                        (Status::Answered, Some(body)) => body,
                        (status, _) => return Err(status),
                    };
                    let Some(data) = body.get("data").and_then(Value::as_array) else {
                        return Err(Status::Invalid("the answer has no data"));
                    };
                    for row in data {
                        let Value::Object(row) = row else {
                            return Err(Status::Invalid("a row is not an object"));
                        };
                        rows.push(row.clone());
                    }
                    if rows.len() > MAX_MEMBER_ROWS {
                        return Err(Status::TooLarge);
                    }
                    let Some(next) = body
                        .pointer("/pagination/next_page_url")
                        .and_then(Value::as_str)
                    else {
                        break;
                    };
                    // Only pages of the member's own Data Connect API are followed: its origin
                    // and under its path (a shared host's other tenants get no passport).
                    let next_url = url::Url::parse(next).ok();
                    let next_origin = next_url.as_ref().map(url::Url::origin);
                    if next_origin.is_none() || next_origin != origin {
                        return Err(Status::Invalid("a next page is on another origin"));
                    }
                    if !next_url.is_some_and(|u| under(u.path(), base_path.as_deref())) {
                        return Err(Status::Invalid(
                            "a next page is outside its Data Connect API",
                        ));
                    }
                    next.clone_into(&mut url);
                }
                out.push(rows);
            }
            Ok(out)
        };
        let tables = tokio::time::timeout(self.limit(member), work)
            .await
            .unwrap_or(Err(Status::Timeout));
        MemberTables {
            id: member.id.clone(),
            elapsed: started.elapsed(),
            tables: tables.map_err(|s| match s {
                Status::Error(code, _) => format!("error (HTTP {code})"),
                Status::Invalid(why) => format!("invalid: {why}"),
                other => other.name().to_owned(),
            }),
        }
    }

    /// The network's count rule, for member counts: the strictest of this gateway's default
    /// dataset privacy and every dataset's own ([`DatasetPrivacy::strictest`]).
    #[must_use]
    pub fn privacy(&self) -> &DatasetPrivacy {
        &self.privacy
    }

    /// `/info`: the network's own description, with each member's id, name and state (its
    /// `/info` read within its limits).
    ///
    /// # Errors
    /// 429 for a spent budget; audit failures.
    pub async fn info(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        local: Value,
    ) -> Result<Value, BeaconFailure> {
        // Every member is asked: the caller's Beacon budget pays for it, as for a query.
        self.beacon.take_budget(ctx, principal).await?;
        self.enforce(ctx, principal, async || {
            let answers = self.ask_all("/info", None, &Principal::Anonymous, ctx.client).await;
            let members: Vec<Value> = self
                .settings
                .members
                .iter()
                .zip(&answers)
                .map(|(m, a)| {
                    let mut entry = member_entry(m, a);
                    if let Some(r) = a.body.as_ref().and_then(|b| b.get("response")) {
                        for (key, field) in [("memberBeaconId", "id"), ("memberName", "name"), ("apiVersion", "apiVersion")] {
                            if let Some(s) = r.get(field).and_then(Value::as_str) {
                                entry.insert(key.into(), json!(clean(s)));
                            }
                        }
                    }
                    Value::Object(entry)
                })
                .collect();
            let mut value = local;
            if let Some(r) = value.get_mut("response").and_then(Value::as_object_mut) {
                r.insert("id".into(), json!(self.id));
                r.insert("name".into(), json!(self.name));
                r.insert(
                    "description".into(),
                    json!("A Beacon network: each query is asked of every member in parallel, each answer kept at the member's granularity and rounded by the network's own rule."),
                );
                let info = r.entry("info").or_insert_with(|| json!({}));
                if let Some(info) = info.as_object_mut() {
                    info.insert("beaconNetwork".into(), json!({"members": members}));
                }
            }
            if let Some(m) = value.get_mut("meta").and_then(Value::as_object_mut) {
                m.insert("beaconId".into(), json!(self.id));
            }
            Ok((value, "network:info".to_owned()))
        })
        .await
    }

    /// `/map`: the network's own endpoints (collection queries only: it answers no lookup by id
    /// and no collections), for the entry types at least one member's `/map` lists.
    ///
    /// # Errors
    /// 429 for a spent budget; audit failures.
    pub async fn map(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        local: Value,
    ) -> Result<Value, BeaconFailure> {
        // Every member is asked: the caller's Beacon budget pays for it, as for a query.
        self.beacon.take_budget(ctx, principal).await?;
        self.enforce(ctx, principal, async || {
            let answers = self
                .ask_all("/map", None, &Principal::Anonymous, ctx.client)
                .await;
            let listed: std::collections::HashSet<String> = answers
                .iter()
                .filter_map(|a| {
                    a.body
                        .as_ref()?
                        .pointer("/response/endpointSets")?
                        .as_object()
                })
                .flat_map(|sets| {
                    sets.values()
                        .filter_map(|s| Some(s.get("entryType")?.as_str()?.to_owned()))
                })
                .collect();
            let mut value = local;
            if let Some(sets) = value
                .pointer_mut("/response/endpointSets")
                .and_then(Value::as_object_mut)
            {
                sets.retain(|_, set| {
                    set.get("entryType")
                        .and_then(Value::as_str)
                        .is_some_and(|t| !matches!(t, "dataset" | "cohort") && listed.contains(t))
                });
                for set in sets.values_mut().filter_map(Value::as_object_mut) {
                    set.remove("singleEntryUrl");
                    set.remove("endpoints");
                }
            }
            if let Some(m) = value.get_mut("meta").and_then(Value::as_object_mut) {
                m.insert("beaconId".into(), json!(self.id));
            }
            Ok((value, "network:map".to_owned()))
        })
        .await
    }

    /// `/filtering_terms`: the union of the members' terms ([`merge_terms`]: each id once,
    /// with every member's scopes and values, named as most members name it) and ontologies,
    /// asked with the caller's passport where it may go.
    ///
    /// # Errors
    /// 429 for a spent budget; audit failures.
    pub async fn filtering_terms(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
    ) -> Result<gemj_beacon::BeaconFilteringTermsResponse, BeaconFailure> {
        // Every member is asked: the caller's Beacon budget pays for it, as for a query.
        self.beacon.take_budget(ctx, principal).await?;
        self.enforce(ctx, principal, async || {
            let answers = self
                .ask_all("/filtering_terms", None, principal, ctx.client)
                .await;
            let mut listed: Vec<Vec<FilteringTerm>> = Vec::with_capacity(answers.len());
            let mut resources: BTreeMap<String, gemj_beacon::Resource> = BTreeMap::new();
            for body in answers.iter().filter_map(|a| a.body.as_ref()) {
                let response = body.get("response");
                listed.push(
                    response
                        .and_then(|r| r.get("filteringTerms"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(term_of)
                        .collect(),
                );
                for r in response
                    .and_then(|r| r.get("resources"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(resource) = resource_of(r) {
                        resources.entry(resource.id.clone()).or_insert(resource);
                    }
                }
            }
            let response = gemj_beacon::filtering_terms_response(
                &self.id,
                merge_terms(listed),
                resources.into_values().collect(),
            );
            Ok((response, "network:filtering_terms".to_owned()))
        })
        .await
    }
}

/// The network's answer (`id`, rounding by `privacy`) from its members' answers.
fn merge(
    id: &str,
    privacy: &DatasetPrivacy,
    members_asked: &[MemberSettings],
    query: &BeaconQuery,
    asked: Granularity,
    answers: &[MemberAnswer],
) -> Result<(Value, String), BeaconFailure> {
    let mut members = Vec::new();
    let mut exists = false;
    let mut all_counted = asked == Granularity::Count;
    let mut total = 0_u64;
    let mut answered = 0;
    for (m, a) in members_asked.iter().zip(answers) {
        let mut entry = member_entry(m, a);
        if let (Status::Answered, Some(body)) = (&a.status, &a.body) {
            match read_summary(body) {
                Ok((level, member_exists, count)) => {
                    answered += 1;
                    let level = level.min(asked);
                    entry.insert("returnedGranularity".into(), json!(level));
                    match (level, count) {
                        (Granularity::Count, Some(n)) => {
                            // The network's own rule over the member's (already
                            // adjusted) count: never less strict than either.
                            let reported = privacy.report_count(n);
                            let said = member_exists && privacy.count_exists(n);
                            exists |= said;
                            total = total.saturating_add(reported.value);
                            entry.insert("exists".into(), json!(said));
                            entry.insert("numTotalResults".into(), json!(reported.value));
                            if let Some(adjusted) = reported.adjusted_to {
                                entry.insert("countAdjustedTo".into(), json!(adjusted));
                            }
                        }
                        _ => {
                            // A count sent anyway (a boolean was asked) still passes the
                            // network's small-cell rule: a "yes" of three people is a "no".
                            let said =
                                member_exists && count.is_none_or(|n| privacy.count_exists(n));
                            all_counted = false;
                            exists |= said;
                            entry.insert("returnedGranularity".into(), json!("boolean"));
                            entry.insert("exists".into(), json!(said));
                        }
                    }
                }
                Err(why) => {
                    entry.insert("status".into(), json!("invalid"));
                    entry.insert("error".into(), json!(why));
                }
            }
        }
        members.push(Value::Object(entry));
    }
    if answered == 0 {
        return Err(BeaconFailure::Beacon(
            BeaconError::unavailable(format!(
                "no member of the network answered ({} asked)",
                members_asked.len()
            )),
            Some(5),
        ));
    }
    let mut info = Map::new();
    info.insert(
        "beaconNetwork".into(),
        json!({"id": id, "membersAsked": members.len(), "membersAnswered": answered, "members": members}),
    );
    let (value, answer) = if all_counted {
        let count = privacy.report_count(total);
        let exists = exists && privacy.count_exists(total);
        let meta = ResponseMeta::new(id, query, Granularity::Count);
        let mut response = BeaconCountResponse::new(meta, exists, count);
        response.info = Some(info);
        (serde_json::to_value(response), "network:count")
    } else {
        let meta = ResponseMeta::new(id, query, Granularity::Boolean);
        let mut response = BeaconBooleanResponse::new(meta, exists);
        response.info = Some(info);
        (serde_json::to_value(response), "network:boolean")
    };
    let value =
        value.map_err(|e| BeaconFailure::Beacon(BeaconError::internal(e.to_string()), None))?;
    Ok((value, answer.to_owned()))
}

/// The request with `requestedGranularity` set to `asked` (never more than `count`).
fn capped(request: MemberRequest, asked: Granularity) -> MemberRequest {
    let level = match asked {
        Granularity::Boolean => "boolean",
        _ => "count",
    };
    match request {
        MemberRequest::Get(mut pairs) => {
            pairs.retain(|(k, _)| k != "requestedGranularity");
            pairs.push(("requestedGranularity".to_owned(), level.to_owned()));
            MemberRequest::Get(pairs)
        }
        MemberRequest::Post(mut body) => {
            if let Some(root) = body.as_object_mut() {
                let query = root.entry("query").or_insert_with(|| json!({}));
                if let Some(q) = query.as_object_mut() {
                    q.insert("requestedGranularity".into(), json!(level));
                }
                root.entry("meta")
                    .or_insert_with(|| json!({"apiVersion": gemj_beacon::API_VERSION}));
            }
            MemberRequest::Post(body)
        }
    }
}

/// The part of a member's entry every answer has.
fn member_entry(m: &MemberSettings, a: &MemberAnswer) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("id".into(), json!(m.id));
    if !m.name.is_empty() {
        entry.insert("name".into(), json!(m.name));
    }
    entry.insert("status".into(), json!(a.status.name()));
    entry.insert(
        "elapsedMs".into(),
        json!(u64::try_from(a.elapsed.as_millis()).unwrap_or(u64::MAX)),
    );
    entry.insert("passportSent".into(), json!(a.passport_sent));
    match &a.status {
        Status::Error(code, message) => {
            entry.insert("httpStatus".into(), json!(code));
            if !message.is_empty() {
                entry.insert("error".into(), json!(message));
            }
        }
        Status::Invalid(why) => {
            entry.insert("error".into(), json!(why));
        }
        _ => {}
    }
    entry
}

/// A member's granularity, `exists` and count, from a Beacon v2 query response.
fn read_summary(body: &Value) -> Result<(Granularity, bool, Option<u64>), &'static str> {
    let exists = body
        .pointer("/responseSummary/exists")
        .and_then(Value::as_bool)
        .ok_or("no responseSummary.exists")?;
    let level = match body
        .pointer("/meta/returnedGranularity")
        .and_then(Value::as_str)
    {
        Some("count") => Granularity::Count,
        Some("record") => Granularity::Record,
        Some("boolean") | None => Granularity::Boolean,
        Some(_) => return Err("an unknown returnedGranularity"),
    };
    let count = body
        .pointer("/responseSummary/numTotalResults")
        .and_then(Value::as_u64);
    Ok((level, exists, count))
}

/// What goes to a member with a request besides the request: the network's passport for it,
/// and the caller's address (sent only to members with `forward_client_address`).
#[derive(Debug, Clone, Copy)]
struct Sent<'a> {
    passport: Option<&'a str>,
    client: Option<IpAddr>,
}

/// The RFC 7239 `Forwarded` element naming `ip` (an IPv6 address quoted in brackets).
fn forwarded_for(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("for={v4}"),
        IpAddr::V6(v6) => format!("for=\"[{v6}]\""),
    }
}

/// A member's text, without control characters and cut short.
fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_MEMBER_MESSAGE)
        .collect()
}

/// At most this many values of one alphanumeric term are kept from all members together.
const MAX_TERM_VALUES: usize = 256;

/// The members' filtering terms (in the members' configured order) as one list, each id once:
/// the entry types any member queries it on (a term one member filters individuals by and
/// another biosamples is both); the values any member lists (at most [`MAX_TERM_VALUES`]); the
/// type and label most members give, ties going to the member configured first, so one member
/// cannot rename a term the others agree on, and the answer does not depend on which member
/// answered first.
fn merge_terms(members: Vec<Vec<FilteringTerm>>) -> Vec<FilteringTerm> {
    use std::collections::BTreeSet;
    #[derive(Default)]
    struct Votes {
        types: Vec<(String, usize)>,
        labels: Vec<(String, usize)>,
        scopes: BTreeSet<EntryType>,
        values: BTreeSet<String>,
    }
    fn vote(tally: &mut Vec<(String, usize)>, choice: String) {
        match tally.iter_mut().find(|(c, _)| *c == choice) {
            Some((_, n)) => *n += 1,
            None => tally.push((choice, 1)),
        }
    }
    fn winner(tally: Vec<(String, usize)>) -> Option<String> {
        // The first of the most voted: `max_by_key` keeps the last maximum, so go in reverse.
        tally
            .into_iter()
            .rev()
            .max_by_key(|(_, n)| *n)
            .map(|(choice, _)| choice)
    }
    let mut merged: BTreeMap<String, Votes> = BTreeMap::new();
    for terms in members {
        // A member listing one id twice counts once.
        let mut seen = BTreeSet::new();
        for term in terms {
            if !seen.insert(term.id.clone()) {
                continue;
            }
            let votes = merged.entry(term.id).or_default();
            vote(&mut votes.types, term.term_type);
            if let Some(label) = term.label {
                vote(&mut votes.labels, label);
            }
            votes.scopes.extend(term.scopes);
            for value in term.values {
                if votes.values.len() >= MAX_TERM_VALUES {
                    break;
                }
                votes.values.insert(value);
            }
        }
    }
    merged
        .into_iter()
        .filter_map(|(id, votes)| {
            Some(FilteringTerm {
                term_type: winner(votes.types)?,
                id,
                label: winner(votes.labels),
                scopes: votes.scopes.into_iter().collect(),
                values: votes.values.into_iter().collect(),
            })
        })
        .collect()
}

fn term_of(t: &Value) -> Option<FilteringTerm> {
    let id = clean(t.get("id")?.as_str()?);
    let term_type = clean(t.get("type")?.as_str()?);
    if id.is_empty() || term_type.is_empty() {
        return None;
    }
    Some(FilteringTerm {
        term_type,
        id,
        label: t.get("label").and_then(Value::as_str).map(clean),
        scopes: strings(t, "scopes")
            .filter_map(|s| EntryType::ALL.into_iter().find(|t| t.id() == s))
            .collect(),
        values: strings(t, "values")
            .take(MAX_TERM_VALUES)
            .map(clean)
            .collect(),
    })
}

/// The strings of the array `key` of `t` (none when it is absent or not an array).
fn strings<'a>(t: &'a Value, key: &str) -> impl Iterator<Item = &'a str> {
    t.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn resource_of(r: &Value) -> Option<gemj_beacon::Resource> {
    let text = |k: &str| r.get(k).and_then(Value::as_str).map(clean);
    Some(gemj_beacon::Resource {
        id: text("id").filter(|s| !s.is_empty())?,
        name: text("name"),
        url: text("url"),
        version: text("version"),
        name_space_prefix: text("namespacePrefix").or_else(|| text("nameSpacePrefix")),
        iri_prefix: text("iriPrefix"),
    })
}

/// The longest a member's passport lives, seconds (never past the caller's passport).
pub const MEMBER_PASSPORT_SECS: i64 = 300;

/// The passport `member` gets for the caller `p` at `now` (see [`BeaconNetwork::passport_for`]):
/// `None` when none of `p`'s accepted Visas is one the member needs, or signing fails.
/// The caller's own `LinkedIdentities` Visas go along only when a chosen Visa is of a linked
/// identity (then the member needs them to know it is the same person).
fn cut_passport(
    issuer: &gemj_auth::LocalIssuer,
    member: &MemberSettings,
    p: &gemj_auth::VerifiedPassport,
    now: i64,
) -> Option<String> {
    use gemj_passport::VisaType;
    let needs = |v: &gemj_auth::VerifiedVisa| {
        let visa = &v.claims.ga4gh_visa_v1;
        visa.r#type != VisaType::LinkedIdentities
            && member
                .passport_visas
                .iter()
                .any(|n| n == visa.r#type.as_str() || *n == visa.value)
    };
    let chosen: Vec<&gemj_auth::VerifiedVisa> = p.visas.iter().filter(|v| needs(v)).collect();
    if chosen.is_empty() {
        return None;
    }
    let linked = chosen
        .iter()
        .any(|v| v.claims.iss != p.issuer || v.claims.sub != p.subject);
    let mut jwts: Vec<String> = Vec::with_capacity(chosen.len() + 1);
    let ttl = p.expires_at.min(now + MEMBER_PASSPORT_SECS) - now;
    let ttl = std::time::Duration::from_secs(u64::try_from(ttl).ok().filter(|t| *t > 0)?);
    let link = gemj_passport::VisaObject {
        r#type: VisaType::LinkedIdentities,
        asserted: now,
        value: gemj_passport::format_linked_identities(&[gemj_passport::LinkedIdentity {
            sub: p.subject.clone(),
            iss: p.issuer.clone(),
        }]),
        source: issuer.issuer().to_owned(),
        by: Some("system".to_owned()),
        conditions: None,
    };
    // The network's subject for the caller: one per (issuer, subject), so two brokers' `alice`
    // stay two people at the member.
    let subject = format!(
        "net-{}",
        crate::drs::sha256_hex(format!("{}\0{}", p.issuer, p.subject).as_bytes())
            .get(..32)
            .unwrap_or_default()
    );
    jwts.push(issuer.issue_visa(&subject, &link, ttl, now).ok()?);
    jwts.extend(chosen.iter().map(|v| v.jwt.as_str().to_owned()));
    if linked {
        jwts.extend(
            p.visas
                .iter()
                .filter(|v| v.claims.ga4gh_visa_v1.r#type == VisaType::LinkedIdentities)
                .map(|v| v.jwt.as_str().to_owned()),
        );
    }
    issuer
        .issue_passport_for(&subject, jwts, ttl, now, member.audience.as_deref())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller's address goes to a member as RFC 7239 writes it: IPv6 quoted in brackets.
    #[test]
    fn forwarded_elements_follow_rfc_7239() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("an address");
        assert_eq!(forwarded_for(ip("203.0.113.9")), "for=203.0.113.9");
        assert_eq!(forwarded_for(ip("2001:db8::1")), "for=\"[2001:db8::1]\"");
    }

    /// Members' terms merge by id: scopes and values unite, the type and label most members give
    /// win (the first configured member breaks a tie), a member cannot rename a term by
    /// listing it first or twice, and a term no member names keeps no label.
    #[test]
    fn members_terms_merge_by_majority_and_unite_scopes() {
        let term =
            |id: &str, label: Option<&str>, scopes: &[EntryType], values: &[&str]| FilteringTerm {
                term_type: if values.is_empty() {
                    "ICD-10".to_owned()
                } else {
                    "alphanumeric".to_owned()
                },
                id: id.to_owned(),
                label: label.map(str::to_owned),
                scopes: scopes.to_vec(),
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            };
        let (ind, bio) = (EntryType::Individual, EntryType::Biosample);
        let merged = merge_terms(vec![
            // The first member (a spy) names C34 otherwise, twice over.
            vec![
                term("ICD10:C34", Some("Free samples here"), &[ind], &[]),
                term("ICD10:C34", Some("Free samples here"), &[ind], &[]),
                term("sex", None, &[ind], &["female"]),
                term("ICD10:C50", Some("Breast cancer"), &[], &[]),
            ],
            vec![
                term("ICD10:C34", Some("Lung cancer"), &[bio], &[]),
                term("sex", None, &[ind], &["male", "female"]),
                term("ICD10:C50", Some("Malignant neoplasm of breast"), &[], &[]),
            ],
            vec![
                term("ICD10:C34", Some("Lung cancer"), &[ind], &[]),
                term("HP:0000001", None, &[], &[]),
            ],
        ]);
        let by_id = |id: &str| merged.iter().find(|t| t.id == id).cloned();
        let c34 = by_id("ICD10:C34").expect("C34 listed");
        assert_eq!(c34.label.as_deref(), Some("Lung cancer"));
        assert!(c34.scopes.len() == 2 && c34.scopes.contains(&ind) && c34.scopes.contains(&bio));
        let c50 = by_id("ICD10:C50").expect("C50 listed");
        assert_eq!(
            c50.label.as_deref(),
            Some("Breast cancer"),
            "a tie goes to the first member"
        );
        let sex = by_id("sex").expect("sex listed");
        assert_eq!(sex.term_type, "alphanumeric");
        assert_eq!(sex.values, ["female", "male"]);
        assert_eq!(by_id("HP:0000001").and_then(|t| t.label), None);
        assert_eq!(merged.len(), 4, "each id once: {merged:?}");
        // Values are bounded whatever the members send.
        let many: Vec<String> = (0..MAX_TERM_VALUES + 50).map(|i| format!("v{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let merged = merge_terms(vec![
            vec![term("f", None, &[ind], &many)],
            vec![term("f", None, &[ind], &many)],
        ]);
        assert_eq!(merged[0].values.len(), MAX_TERM_VALUES);
    }

    /// A member gets the network's passport, not the caller's: verified as a member verifies
    /// it (trusting the caller's broker for its Visas, the network for Passports and its own
    /// links), it holds the network's link and the Visas the member needs, nothing else; a
    /// member that needs none gets none; a member that does not trust the network's links
    /// accepts none of the caller's Visas.
    #[tokio::test]
    async fn members_get_the_networks_passport_with_only_the_visas_they_need()
    -> Result<(), Box<dyn std::error::Error>> {
        use gemj_passport::{Matcher, SourcePolicy, SourceRule, VisaObject, VisaType};
        let dir = tempfile::tempdir()?;
        let broker = gemj_auth::LocalIssuer::load_or_create(
            &dir.path().join("broker"),
            "https://broker.example",
        )?;
        let net = gemj_auth::LocalIssuer::load_or_create(
            &dir.path().join("net"),
            "https://net.example/beacon-network",
        )?;
        let now = gemj_auth::now_unix();
        let visa = |t: VisaType, value: &str| VisaObject {
            r#type: t,
            asserted: now - 10,
            value: value.to_owned(),
            source: broker.issuer().to_owned(),
            by: Some("so".to_owned()),
            conditions: None,
        };
        let grant_value = "https://gemj.example/datasets/GEMJ-X";
        let passport = broker.issue_passport(
            "alice",
            &[
                visa(
                    VisaType::ResearcherStatus,
                    "https://doi.org/10.1038/s41431-018-0219-y",
                ),
                visa(VisaType::ControlledAccessGrants, grant_value),
            ],
            std::time::Duration::from_secs(3600),
            now,
        )?;
        let fetcher = gemj_auth::StaticJwksFetcher::default();
        fetcher.set(broker.jwks_url(), broker.jwks().to_string().into_bytes());
        fetcher.set(net.jwks_url(), net.jwks().to_string().into_bytes());
        let fetcher = std::sync::Arc::new(fetcher);
        let links = SourcePolicy::default().with_rule(SourceRule::new(
            VisaType::LinkedIdentities,
            [Matcher::Const(net.issuer().to_owned())],
        ));
        let verifier_for = |net_links: bool, audience: Option<&str>| {
            let network = gemj_auth::TrustedIssuer::new(net.issuer(), net.jwks_url())
                .signing_passports()
                .as_beacon_network();
            let network = if net_links {
                network.with_visas(links.clone())
            } else {
                network
            };
            let network = match audience {
                Some(a) => network.with_passport_audience(a),
                None => network,
            };
            gemj_auth::Verifier::with_fetcher(
                gemj_auth::AuthConfig {
                    trusted: vec![
                        broker
                            .trusted_issuer()
                            .with_grant_prefixes(["https://gemj.example/datasets/".to_owned()]),
                        network,
                    ],
                    ..gemj_auth::AuthConfig::default()
                },
                fetcher.clone(),
            )
        };
        let verifier = |net_links: bool| verifier_for(net_links, None);
        let member_verifier = verifier(true)?;
        let caller = member_verifier.verify_passport(&passport, now).await?;
        assert_eq!(caller.visas.len(), 2, "{:?}", caller.rejected);
        let wants = |needed: &[&str]| MemberSettings {
            forward_passport: true,
            passport_visas: needed.iter().map(|n| (*n).to_owned()).collect(),
            ..member("https://m.example/beacon/v2")
        };
        let types = |p: &gemj_auth::VerifiedPassport| -> Vec<VisaType> {
            p.visas
                .iter()
                .map(|v| v.claims.ga4gh_visa_v1.r#type.clone())
                .collect()
        };
        let cut = cut_passport(&net, &wants(&["ResearcherStatus"]), &caller, now)
            .ok_or("a passport for the member")?;
        assert!(
            !cut.contains(caller.visas[1].jwt.as_str()),
            "the grant stays home"
        );
        let seen = member_verifier.verify_passport(&cut, now).await?;
        assert_eq!(seen.issuer, net.issuer());
        assert!(seen.subject.starts_with("net-") && seen.subject.len() == 36);
        assert_eq!(
            types(&seen),
            [VisaType::LinkedIdentities, VisaType::ResearcherStatus],
            "{:?}",
            seen.rejected
        );
        assert!(seen.rejected.is_empty());
        assert!(seen.expires_at <= now + MEMBER_PASSPORT_SECS);
        // At the member, the network's pseudonym for the caller is audited as itself but
        // spends the caller's own budget and risk ledger, as a direct query would.
        let via_network = Principal::Passport(std::sync::Arc::new(seen.clone()));
        let direct = Principal::Passport(std::sync::Arc::new(caller.clone()));
        assert_ne!(via_network.audit_name(), direct.audit_name());
        assert_eq!(via_network.budget_name(), direct.budget_name());
        assert_eq!(direct.budget_name(), direct.audit_name());
        // Links a broker signs about its own subject (accounts the user linked) are no network's:
        // they never change the name a caller is budgeted under.
        let throwaway = VisaObject {
            r#type: VisaType::LinkedIdentities,
            value: gemj_passport::format_linked_identities(&[gemj_passport::LinkedIdentity {
                sub: "aaa-throwaway".to_owned(),
                iss: broker.issuer().to_owned(),
            }]),
            by: Some("system".to_owned()),
            ..visa(VisaType::LinkedIdentities, "")
        };
        let linked = broker.issue_passport(
            "alice",
            &[
                visa(
                    VisaType::ResearcherStatus,
                    "https://doi.org/10.1038/s41431-018-0219-y",
                ),
                throwaway,
            ],
            std::time::Duration::from_secs(3600),
            now,
        )?;
        let linked = member_verifier.verify_passport(&linked, now).await?;
        assert_eq!(
            linked.visas.len(),
            2,
            "the link is accepted: {:?}",
            linked.rejected
        );
        assert_eq!(linked.network_caller, None);
        assert_eq!(
            Principal::Passport(std::sync::Arc::new(linked)).budget_name(),
            direct.audit_name()
        );
        // A member that does not take the network as a Beacon network counts its pseudonym.
        let plain = gemj_auth::Verifier::with_fetcher(
            gemj_auth::AuthConfig {
                trusted: vec![
                    broker.trusted_issuer(),
                    gemj_auth::TrustedIssuer::new(net.issuer(), net.jwks_url())
                        .signing_passports()
                        .with_visas(links.clone()),
                ],
                ..gemj_auth::AuthConfig::default()
            },
            fetcher.clone(),
        )?
        .verify_passport(&cut, now)
        .await?;
        assert_eq!(plain.network_caller, None);
        // By the grant's value: the grant only.
        let cut = cut_passport(&net, &wants(&[grant_value]), &caller, now).ok_or("grant")?;
        let seen = member_verifier.verify_passport(&cut, now).await?;
        assert_eq!(
            types(&seen),
            [VisaType::LinkedIdentities, VisaType::ControlledAccessGrants]
        );
        // Nothing the member needs: no passport at all.
        assert!(cut_passport(&net, &wants(&["AffiliationAndRole"]), &caller, now).is_none());
        // A member that does not trust the network's links accepts none of the caller's Visas.
        let cut = cut_passport(
            &net,
            &wants(&["ResearcherStatus", "ControlledAccessGrants"]),
            &caller,
            now,
        )
        .ok_or("any")?;
        let seen = verifier(false)?.verify_passport(&cut, now).await?;
        assert!(seen.visas.is_empty(), "{:?}", types(&seen));
        // Two brokers' `alice` are two subjects at the member.
        let other = gemj_auth::VerifiedPassport {
            issuer: "https://other-broker.example".to_owned(),
            ..caller.clone()
        };
        let a = member_verifier
            .verify_passport(
                &cut_passport(
                    &net,
                    &wants(&["ResearcherStatus", "ControlledAccessGrants"]),
                    &caller,
                    now,
                )
                .ok_or("a")?,
                now,
            )
            .await?;
        let b = member_verifier
            .verify_passport(
                &cut_passport(
                    &net,
                    &wants(&["ResearcherStatus", "ControlledAccessGrants"]),
                    &other,
                    now,
                )
                .ok_or("b")?,
                now,
            )
            .await?;
        assert_ne!(a.subject, b.subject);
        assert_ne!(
            Principal::Passport(std::sync::Arc::new(a.clone())).budget_name(),
            Principal::Passport(std::sync::Arc::new(b.clone())).budget_name(),
            "two brokers' alice keep two budgets"
        );
        // A member that expects its audience of the network gets a passport naming it, which
        // another member (or one expecting no audience of the network) refuses: no replay from
        // one member to the next. The member's own researchers' passports, which name no
        // audience, are still taken there: the audience is asked of the network's alone.
        let bound = MemberSettings {
            audience: Some("https://m.example".to_owned()),
            ..wants(&["ResearcherStatus"])
        };
        let cut = cut_passport(&net, &bound, &caller, now).ok_or("bound")?;
        let seen = verifier_for(true, Some("https://m.example"))?
            .verify_passport(&cut, now)
            .await?;
        assert_eq!(seen.visas.len(), 2, "{:?}", seen.rejected);
        for elsewhere in [Some("https://other.example"), None] {
            assert!(
                verifier_for(true, elsewhere)?
                    .verify_passport(&cut, now)
                    .await
                    .is_err(),
                "replayed at {elsewhere:?}"
            );
        }
        let at_member = verifier_for(true, Some("https://m.example"))?;
        assert_eq!(
            at_member.verify_passport(&passport, now).await?.visas.len(),
            2
        );
        assert!(
            b.visas.len() <= 1,
            "visas of broker's alice are not other's alice's"
        );
        Ok(())
    }

    fn member(url: &str) -> MemberSettings {
        MemberSettings {
            id: "m1".to_owned(),
            name: String::new(),
            url: url.to_owned(),
            timeout_ms: None,
            forward_passport: false,
            passport_visas: Vec::new(),
            audience: None,
            data_connect_url: None,
            forward_client_address: false,
        }
    }

    #[test]
    fn a_program_ca_file_must_hold_certificates() {
        assert!(matches!(program_roots(std::path::Path::new("")), Ok(r) if r.is_empty()));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let missing = dir.path().join("absent.pem");
        let refused = program_roots(&missing).err().unwrap_or_default();
        assert!(refused.starts_with("beacon.network.ca_file"), "{refused}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").unwrap_or_else(|e| panic!("{e}"));
        let refused = program_roots(&empty).err().unwrap_or_default();
        assert!(refused.contains("no PEM certificate"), "{refused}");
    }

    #[test]
    fn members_need_https_except_on_loopback_and_unique_ids() {
        let ok = |url: &str| {
            NetworkSettings {
                members: vec![member(url)],
                ..NetworkSettings::default()
            }
            .validate()
        };
        assert!(ok("https://beacon.example.org/beacon/v2").is_ok());
        assert!(ok("http://127.0.0.1:8080/beacon/v2").is_ok());
        assert!(ok("http://localhost:8080/beacon/v2").is_ok());
        assert!(ok("http://beacon.example.org/beacon/v2").is_err());
        assert!(ok("ftp://beacon.example.org/").is_err());
        assert!(ok("https://user:pw@beacon.example.org/").is_err());
        let twice = NetworkSettings {
            members: vec![member("https://a.example/"), member("https://b.example/")],
            ..NetworkSettings::default()
        };
        assert!(twice.validate().is_err_and(|e| e.contains("twice")));
        // A member sent passports names the audience they are bound to and the Visas it needs.
        let forward = |audience: Option<&str>, visas: &[&str]| {
            NetworkSettings {
                members: vec![MemberSettings {
                    forward_passport: true,
                    audience: audience.map(str::to_owned),
                    passport_visas: visas.iter().map(|v| (*v).to_owned()).collect(),
                    ..member("https://a.example/beacon/v2")
                }],
                ..NetworkSettings::default()
            }
            .validate()
        };
        assert!(forward(Some("https://a.example"), &["ResearcherStatus"]).is_ok());
        assert!(forward(None, &["ResearcherStatus"]).is_err_and(|e| e.contains("audience")));
        assert!(forward(Some(" "), &["ResearcherStatus"]).is_err_and(|e| e.contains("audience")));
        assert!(
            forward(Some("https://a.example"), &[]).is_err_and(|e| e.contains("passport_visas"))
        );
        let shared = NetworkSettings {
            members: ["https://a.example/", "https://b.example/"]
                .iter()
                .enumerate()
                .map(|(i, url)| MemberSettings {
                    id: format!("m{i}"),
                    forward_passport: true,
                    audience: Some("https://shared.example".to_owned()),
                    passport_visas: vec!["ResearcherStatus".to_owned()],
                    ..member(url)
                })
                .collect(),
            ..NetworkSettings::default()
        };
        assert!(
            shared
                .validate()
                .is_err_and(|e| e.contains("another member"))
        );
        // A Data Connect URL is held to the same rules.
        let dc = |url: &str| {
            NetworkSettings {
                members: vec![MemberSettings {
                    data_connect_url: Some(url.to_owned()),
                    ..member("https://a.example/beacon/v2")
                }],
                ..NetworkSettings::default()
            }
            .validate()
        };
        assert!(dc("https://a.example/data-connect").is_ok());
        assert!(dc("http://127.0.0.1:1/data-connect").is_ok());
        assert!(dc("http://a.example/data-connect").is_err_and(|e| e.contains("data_connect_url")));
    }

    #[test]
    fn members_are_asked_for_at_most_a_count() {
        let get = capped(
            MemberRequest::Get(vec![("requestedGranularity".into(), "record".into())]),
            Granularity::Record.min(Granularity::Count),
        );
        let MemberRequest::Get(pairs) = get else {
            panic!("a GET stays a GET");
        };
        assert_eq!(
            pairs,
            vec![("requestedGranularity".to_owned(), "count".to_owned())]
        );
        let post = capped(
            MemberRequest::Post(json!({"query": {"requestedGranularity": "record"}})),
            Granularity::Boolean,
        );
        let MemberRequest::Post(body) = post else {
            panic!("a POST stays a POST");
        };
        assert_eq!(body["query"]["requestedGranularity"], "boolean");
        assert_eq!(body["meta"]["apiVersion"], gemj_beacon::API_VERSION);
    }

    #[test]
    fn summaries_are_read_strictly() {
        assert_eq!(
            read_summary(
                &json!({"meta": {"returnedGranularity": "count"}, "responseSummary": {"exists": true, "numTotalResults": 7}})
            ),
            Ok((Granularity::Count, true, Some(7)))
        );
        assert!(read_summary(&json!({"responseSummary": {}})).is_err());
        assert!(read_summary(&json!({"meta": {"returnedGranularity": "lots"}, "responseSummary": {"exists": true}})).is_err());
        assert_eq!(clean("a\u{0}b\nc"), "abc");
    }

    #[test]
    fn next_pages_are_followed_only_under_the_members_api() {
        assert!(under("/dc/table/t/data", Some("/dc")));
        assert!(under("/dc", Some("/dc")));
        assert!(
            under("/x/table/t/data", Some("")),
            "an API at the root holds every path"
        );
        assert!(!under("/dcx/table/t/data", Some("/dc")));
        assert!(!under("/other/dc/table", Some("/dc")));
        assert!(!under("/dc/../admin", Some("/dc")));
        assert!(!under("/dc/table", None));
    }

    fn answered(body: Value) -> MemberAnswer {
        MemberAnswer {
            status: Status::Answered,
            elapsed: Duration::from_millis(3),
            passport_sent: false,
            body: Some(body),
            read: 0,
        }
    }

    fn count(exists: bool, n: u64) -> Value {
        json!({"meta": {"returnedGranularity": "count"}, "responseSummary": {"exists": exists, "numTotalResults": n}})
    }

    #[test]
    fn counts_are_rounded_by_the_network_and_a_boolean_member_makes_the_answer_boolean()
    -> Result<(), Box<dyn std::error::Error>> {
        let privacy = DatasetPrivacy::default();
        let query = BeaconQuery::from_get(
            &[],
            EntryType::Individual,
            &gemj_beacon::QueryLimits::default(),
        )?;
        let mut one = member("https://a.example/");
        one.id = "a".to_owned();
        let mut two = member("https://b.example/");
        two.id = "b".to_owned();
        let mut three = member("https://c.example/");
        three.id = "c".to_owned();
        let asked = [one, two, three];
        let merged = |answers: &[MemberAnswer]| {
            merge("net", &privacy, &asked, &query, Granularity::Count, answers)
        };
        // 12 and 3 (below the small cell) and a timeout: 10 + 0, a count.
        let answers = [
            answered(count(true, 12)),
            answered(count(true, 3)),
            MemberAnswer {
                status: Status::Timeout,
                elapsed: Duration::from_secs(5),
                passport_sent: false,
                body: None,
                read: 0,
            },
        ];
        let Ok((value, answer)) = merged(&answers) else {
            panic!("two members answered");
        };
        assert_eq!(answer, "network:count");
        assert_eq!(value["meta"]["returnedGranularity"], "count");
        assert_eq!(value["responseSummary"]["numTotalResults"], 10);
        let members = &value["info"]["beaconNetwork"]["members"];
        assert_eq!(members[0]["numTotalResults"], 10);
        assert_eq!(members[1]["numTotalResults"], 0);
        assert_eq!(members[1]["exists"], false);
        assert_eq!(members[2]["status"], "timeout");
        // A member that answers a boolean (or claims a count without one) makes it boolean.
        let answers = [
            answered(count(true, 12)),
            answered(
                json!({"meta": {"returnedGranularity": "count"}, "responseSummary": {"exists": true}}),
            ),
            answered(json!({"responseSummary": {"exists": false}})),
        ];
        let Ok((value, answer)) = merged(&answers) else {
            panic!("three members answered");
        };
        assert_eq!(answer, "network:boolean");
        assert_eq!(value["responseSummary"]["exists"], true);
        assert!(value["responseSummary"].get("numTotalResults").is_none());
        // Asked for a boolean, a member that sends a small count anyway says "no" through the
        // network; a large one says "yes".
        let boolean = |answers: &[MemberAnswer]| {
            merge(
                "net",
                &privacy,
                &asked,
                &query,
                Granularity::Boolean,
                answers,
            )
        };
        let Ok((value, answer)) = boolean(&[
            answered(count(true, 3)),
            answered(count(true, 4)),
            answered(json!({"responseSummary": {"exists": false}})),
        ]) else {
            panic!("three members answered");
        };
        assert_eq!(answer, "network:boolean");
        assert_eq!(value["responseSummary"]["exists"], false, "{value}");
        assert_eq!(
            value["info"]["beaconNetwork"]["members"][0]["exists"],
            false
        );
        let Ok((value, _)) = boolean(&[
            answered(count(true, 3)),
            answered(count(true, 40)),
            answered(json!({"responseSummary": {"exists": false}})),
        ]) else {
            panic!("three members answered");
        };
        assert_eq!(value["responseSummary"]["exists"], true, "{value}");
        // Nobody answered: 503, not a "no".
        let answers = [
            answered(json!({"nonsense": 1})),
            answered(json!([])),
            answered(json!(null)),
        ];
        assert!(merged(&answers).is_err());
        Ok(())
    }
}
