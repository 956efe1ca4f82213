//! The cost of an access decision plus its audit record, per request.
//!
//! * `evaluate/*`: the pure policy alone (no I/O).
//! * `decide/sequential/*`: one request at a time, decision and durable audit record (SQLite
//!   WAL in a temp folder): the latency a lone request pays.
//! * `decide/concurrent64/*`: 64 requests in flight, as under load; the figure is per
//!   request (group commit shares each transaction between the waiting requests).
//!
//! `registered` needs no store read; `controlled` reads the caller's approvals from the store and
//! runs the DUO matcher on the real ontology (the release shipped with the project).
//!
//! Run: `cargo bench -p gemj-core --bench decide`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gemj_core::access::{Facts, evaluate};
use gemj_core::audit::{AuditOptions, AuditSink};
use gemj_core::{AccessPoint, Action, PolicySettings, Principal, RequestContext, Resource};
use gemj_model::{
    AccessLevel, Approval, ApprovalId, ApprovalStatus, DataUseCondition, Dataset, DatasetId,
    DuoCode,
};
use gemj_passport::{VisaClaims, VisaObject, VisaType};

const ISSUER: &str = "https://broker.example";
const PREFIX: &str = "https://gemj.example.jp/datasets/";

struct Fixture {
    access: AccessPoint,
    settings: PolicySettings,
    approvals: Vec<Approval>,
    passport: Principal,
    registered: Resource,
    controlled: Resource,
    _dir: tempfile::TempDir,
}

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn dataset(id: &str, level: AccessLevel, modifiers: &[&str]) -> Res<Dataset> {
    Ok(Dataset {
        id: DatasetId::parse(id)?,
        name: id.into(),
        description: String::new(),
        access_level: level,
        data_use: DataUseCondition {
            permission: DuoCode::parse("DUO:0000042")?,
            modifiers: modifiers
                .iter()
                .map(|m| DuoCode::parse(m))
                .collect::<Result<_, _>>()?,
            disease: None,
            countries: vec!["JP".into()],
            institutions: vec![],
            projects: vec![],
            users: vec![],
        },
    })
}

fn visa(t: VisaType, value: &str) -> gemj_auth::VerifiedVisa {
    gemj_auth::VerifiedVisa {
        hash: format!("{value:0>64}"),
        claims: VisaClaims {
            iss: ISSUER.into(),
            sub: "alice".into(),
            iat: 1_700_000_000,
            exp: 4_000_000_000,
            jti: None,
            ga4gh_visa_v1: VisaObject {
                r#type: t,
                asserted: 1_700_000_000,
                value: value.into(),
                source: "https://dac.example".into(),
                by: Some("dac".into()),
                conditions: None,
            },
        },
        jwt: gemj_auth::SignedVisa::new(""),
    }
}

fn fixture(rt: &tokio::runtime::Runtime) -> Res<Fixture> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("bench.sqlite").display());
    let duo = Arc::new(gemj_duo::Ontology::bundled()?);
    let settings = PolicySettings {
        terms_url: String::new(),
        registered_roles: Vec::new(),
        dataset_grant_prefix: PREFIX.into(),
        administrators: vec![],
        duo: Some(duo),
        clock_skew_secs: 60,
        max_grant_age: std::collections::BTreeMap::new(),
        analysis_only: std::collections::BTreeSet::new(),
        refusals: gemj_core::access::RefusalLimit::default(),
    };
    let registered = dataset("REG", AccessLevel::Registered, &[])?;
    let controlled = dataset(
        "CTRL",
        AccessLevel::Controlled,
        &["DUO:0000022", "DUO:0000046"],
    )?;
    let approval = Approval {
        id: ApprovalId::parse("APR-1")?,
        researcher_issuer: ISSUER.into(),
        researcher_subject: "alice".into(),
        institution: "Synthetic University".into(),
        project: "P1".into(),
        purpose: vec![DuoCode::parse("DUO:0000006")?],
        diseases: vec![],
        for_profit: false,
        for_profit_organisation: None,
        country: "JP".into(),
        datasets: vec![controlled.id.clone()],
        valid_from: time::OffsetDateTime::now_utc() - time::Duration::days(1),
        valid_until: time::OffsetDateTime::now_utc() + time::Duration::days(365),
        status: ApprovalStatus::Active,
    };
    let access = rt.block_on(async {
        let store = gemj_store::Store::connect(&url, &gemj_store::StoreOptions::default()).await?;
        store.migrate().await?;
        store.put_dataset(&registered).await?;
        store.put_dataset(&controlled).await?;
        store.put_approval(&approval).await?;
        let audit = AuditSink::new(store.clone(), AuditOptions::default());
        let consent = gemj_core::consent_view::ConsentView::start(
            store.clone(),
            gemj_core::consent_view::ConsentViewOptions::default(),
        )
        .await?;
        Ok::<_, Box<dyn std::error::Error>>(AccessPoint::new(
            audit,
            settings.clone(),
            store,
            consent,
        ))
    })?;
    let passport = Principal::Passport(Arc::new(gemj_auth::VerifiedPassport {
        issuer: ISSUER.into(),
        subject: "alice".into(),
        passport_hash: "0".repeat(64),
        visas: vec![
            visa(VisaType::ResearcherStatus, "https://doi.org/x"),
            visa(VisaType::ControlledAccessGrants, &format!("{PREFIX}CTRL")),
        ],
        rejected: vec![],
        expires_at: 4_000_000_000,
        token_ids: Vec::new(),
        network_caller: None,
    }));
    Ok(Fixture {
        access,
        settings,
        approvals: vec![approval],
        passport,
        registered: Resource::dataset(registered),
        controlled: Resource::dataset(controlled),
        _dir: dir,
    })
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "bench".into(),
        api: "bench",
        endpoint: "/bench".into(),
        client: None,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let f = fixture(&rt).expect("the bench fixture");
    let now = time::OffsetDateTime::now_utc();

    let mut g = c.benchmark_group("evaluate");
    let facts = Facts {
        approvals: f.approvals.clone(),
    };
    for (name, resource) in [("registered", &f.registered), ("controlled", &f.controlled)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(evaluate(
                    &f.settings,
                    &facts,
                    &f.passport,
                    Action::ReadData,
                    resource,
                    now,
                ))
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("decide");
    g.measurement_time(Duration::from_secs(8));
    for (name, resource) in [("registered", &f.registered), ("controlled", &f.controlled)] {
        g.bench_function(format!("sequential/{name}"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let answer = enforce(&f.access, &f.passport, resource).await;
                    assert!(answer.is_ok());
                });
            });
        });
    }
    const IN_FLIGHT: u64 = 64;
    g.throughput(Throughput::Elements(IN_FLIGHT));
    for (name, resource) in [("registered", &f.registered), ("controlled", &f.controlled)] {
        g.bench_function(format!("concurrent64/{name}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut tasks = Vec::with_capacity(IN_FLIGHT as usize);
                        for _ in 0..IN_FLIGHT {
                            let access = f.access.clone();
                            let principal = f.passport.clone();
                            let resource = resource.clone();
                            tasks.push(tokio::spawn(async move {
                                enforce(&access, &principal, &resource).await.is_ok()
                            }));
                        }
                        for t in tasks {
                            assert!(matches!(t.await, Ok(true)));
                        }
                    }
                    start.elapsed()
                })
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// The one enforcement call, serving nothing: decision, consent snapshot and durable audit.
async fn enforce(
    access: &AccessPoint,
    principal: &Principal,
    resource: &Resource,
) -> Result<(), gemj_core::CoreError> {
    let ask = gemj_core::Ask::new(Action::ReadData, resource.clone());
    access
        .enforce(
            &ctx(),
            principal,
            ask,
            gemj_core::OnDenial::Explain,
            async |_: &gemj_core::Permit| Ok(((), gemj_core::Outcome::default())),
        )
        .await
}
