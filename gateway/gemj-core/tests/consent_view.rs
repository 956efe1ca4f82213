//! The consent view: a withdrawal is enforced at once on the instance that received it, on
//! every other instance sharing the PostgreSQL store within 5 s, and a view that cannot confirm
//! it is current refuses to answer.

mod support;

use std::time::{Duration, Instant};

use gemj_core::consent_view::{ConsentView, ConsentViewOptions};
use gemj_model::{
    ConsentEvent, ConsentEventKind, ConsentScopes, InstitutionId, ParticipantId, Recontact,
    WithdrawalLevel,
};
use gemj_store::Store;
use support::{TestResult, seed_participant, sqlite_store, two_postgres_instances};

fn scopes() -> ConsentScopes {
    ConsentScopes {
        research_use: true,
        third_party_academia: true,
        third_party_industry: false,
        international_transfer: false,
        recontact: Recontact {
            allowed: true,
            via_institution: None,
        },
        return_of_secondary_findings: false,
    }
}

fn event(
    id: &str,
    p: &ParticipantId,
    kind: ConsentEventKind,
) -> Result<ConsentEvent, Box<dyn std::error::Error>> {
    Ok(ConsentEvent {
        event_id: id.to_owned(),
        participant: p.clone(),
        institution: InstitutionId::parse("9999999901")?,
        effective_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        kind,
    })
}

/// `p` withdraws from all use (event `c2`).
fn withdrawal(p: &ParticipantId) -> Result<ConsentEvent, Box<dyn std::error::Error>> {
    let kind = ConsentEventKind::Withdrawal {
        level: WithdrawalLevel::StopAllUse,
    };
    event("c2", p, kind)
}

async fn seed(store: &Store, p: &ParticipantId) -> TestResult {
    seed_participant(store, p).await?;
    store
        .append_consent_event(&event(
            "c1",
            p,
            ConsentEventKind::InitialConsent {
                scopes: scopes(),
                by_proxy: false,
            },
        )?)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_is_enforced_at_once_and_a_stale_view_refuses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, store) = sqlite_store(dir.path()).await?;
    let p = ParticipantId::parse("GEMJ-T-0001")?;
    seed(&store, &p).await?;
    let options = ConsentViewOptions {
        poll_interval: Duration::from_millis(50),
        max_staleness: Duration::from_millis(400),
    };
    let view = ConsentView::start(store.clone(), options).await?;
    let before = view.snapshot()?;
    assert!(before.permits_research(&p) && !before.is_withdrawn(&p));

    store.append_consent_event(&withdrawal(&p)?).await?;
    view.refresh().await?; // what the receiving instance does before its POST returns
    let after = view.snapshot()?;
    assert!(after.is_withdrawn(&p) && !after.permits_research(&p));
    assert!(after.epoch > before.epoch);

    // The store goes away: the view cannot confirm it is current and, past the allowed
    // staleness, refuses to answer rather than serve old consent.
    store.close().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let stale = view.snapshot();
    assert!(
        stale.is_err(),
        "a view that cannot reach the store must go stale"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_reaches_a_second_instance_within_five_seconds() -> TestResult {
    let Some((a, b)) = two_postgres_instances("consent", "gemj_cv").await? else {
        return Ok(());
    };
    let p = ParticipantId::parse("GEMJ-T-0002")?;
    seed(&a, &p).await?;
    // Instance B polls only once a second: the notification is what makes it fast.
    let view_b = ConsentView::start(b.clone(), ConsentViewOptions::default()).await?;
    assert!(view_b.snapshot()?.permits_research(&p));

    let started = Instant::now();
    a.append_consent_event(&withdrawal(&p)?).await?;
    let seen =
        support::within_five_seconds(started, async || Ok(view_b.snapshot()?.is_withdrawn(&p)))
            .await?
            .ok_or("instance B still serves the withdrawn participant after 5 s")?;
    eprintln!(
        "withdrawal reached the second instance in {} ms",
        seen.as_millis()
    );
    // The view's background task holds a listening connection of B's pool; it ends within one
    // poll interval of the last view handle being dropped, and then the pool can close.
    drop(view_b);
    tokio::time::timeout(Duration::from_secs(10), b.close()).await?;
    a.drop_schema_and_close().await?;
    Ok(())
}
