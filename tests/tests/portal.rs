//! The web portal end to end, over HTTP as a browser speaks it (cookies, forms, redirects not
//! followed): signing in through the demo broker (Authorization Code with PKCE) as each role,
//! each role's task through the same services and audit as the APIs, and what an adversary
//! tries (forged state, a sign-in begun in another browser, a replayed code, a wrong PKCE
//! verifier, an open redirect, forms without the CSRF token or from another site, a researcher
//! at the committee's door, a revoked subject's session). The real-browser walk (Chromium
//! through Playwright, axe-core) is `a_real_browser_walks_every_role_with_no_serious_accessibility_violation`.

use std::collections::BTreeMap;

use gemj_e2e::names::{CANCER, HOSPITAL_A, JOINT, PREFIX};
use gemj_e2e::{Res, TestGateway, TestResult};
use gemj_model::{AccessDecision, ApprovalStatus, ConsentStatus, ParticipantId};

/// One answer, as the browser sees it.
struct Page {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
    body: String,
}

/// A browser: a cookie jar, forms, no redirect followed.
struct Browser {
    base: String,
    cookies: BTreeMap<String, String>,
    language: &'static str,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            language: "en",
        }
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> Res<Page> {
        tokio::task::block_in_place(|| {
            let url = if path.starts_with("http") {
                path.to_owned()
            } else {
                format!("{}{path}", self.base)
            };
            let mut req = ureq::http::Request::builder()
                .method(method)
                .uri(&url)
                .header("Accept-Language", self.language);
            if !self.cookies.is_empty() {
                let jar: Vec<String> = self
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                req = req.header("Cookie", jar.join("; "));
            }
            if let Some(o) = origin {
                req = req.header("Origin", o);
            }
            let body = match form {
                Some(fields) => {
                    req = req.header("Content-Type", "application/x-www-form-urlencoded");
                    serde_urlencoded::to_string(fields)?.into_bytes()
                }
                None => Vec::new(),
            };
            let agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .new_agent();
            let res = agent.run(req.body(body)?)?;
            let status = res.status().as_u16();
            let header = |n: &str| -> Vec<String> {
                res.headers()
                    .get_all(n)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect()
            };
            let location = header("location").into_iter().next().unwrap_or_default();
            let set_cookies = header("set-cookie");
            for c in &set_cookies {
                let pair = c.split(';').next().unwrap_or_default();
                if let Some((k, v)) = pair.split_once('=') {
                    if v.is_empty() || c.contains("Max-Age=0") {
                        self.cookies.remove(k);
                    } else {
                        self.cookies.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
            let body = res.into_body().read_to_string()?;
            Ok(Page {
                status,
                location,
                set_cookies,
                body,
            })
        })
    }

    fn get(&mut self, path: &str) -> Res<Page> {
        self.send("GET", path, None, None)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Res<Page> {
        self.send("POST", path, Some(form), None)
    }

    /// Begins a sign-in: the broker's sign-in page and its hidden fields.
    fn begin(&mut self, next: &str) -> Res<Vec<(String, String)>> {
        let login = self.get(&format!("/portal/login?next={next}"))?;
        assert_eq!(login.status, 303, "{}", login.body);
        assert!(
            login.location.contains("code_challenge_method=S256"),
            "{}",
            login.location
        );
        let page = self.get(&login.location)?;
        assert_eq!(page.status, 200, "{}", page.body);
        Ok(hidden_fields(&page.body))
    }

    /// Signs in as a demo persona and returns where the portal sent the browser.
    fn sign_in(&mut self, persona: &str) -> Res<String> {
        let fields = self.begin("/portal")?;
        let callback = self.choose(&fields, persona)?;
        let done = self.get(&callback)?;
        assert_eq!(done.status, 303, "the callback: {}", done.body);
        assert!(
            self.cookies.contains_key("gemj_session"),
            "no session cookie"
        );
        Ok(done.location)
    }

    /// Chooses a persona on the broker's page: the callback URL with the code.
    fn choose(&mut self, fields: &[(String, String)], persona: &str) -> Res<String> {
        let mut form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        form.push(("persona", persona));
        let chosen = self.post("/demo-broker/authorize", &form)?;
        assert_eq!(chosen.status, 303, "{}", chosen.body);
        Ok(chosen.location)
    }

    /// The CSRF token of the page's forms.
    fn csrf(&mut self, path: &str) -> Res<String> {
        let page = self.get(path)?;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        attribute_after(&page.body, "name=\"_csrf\" value=\"")
            .ok_or_else(|| format!("{path} has no CSRF token").into())
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

/// The value following `marker` up to the next quote.
fn attribute_after(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(unescape(&body[start..end]))
}

/// The hidden inputs of a page, in order.
fn hidden_fields(body: &str) -> Vec<(String, String)> {
    body.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.strip_prefix(" value=\"")?.split('"').next()?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

fn cookie_of<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    page.set_cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(String::as_str)
}

async fn start() -> Res<TestGateway> {
    Ok(TestGateway::start(10).await?)
}

/// The application terms the cancer dataset's conditions ask for (DS with IRB on MONDO:0004992).
fn cancer_application(csrf: &str) -> Vec<(&str, &str)> {
    vec![
        ("_csrf", csrf),
        ("purpose", "DUO:0000007"),
        ("facts", "DUO:0000021"),
        ("project", "Gastric cancer germline study"),
        ("institution", "Synthetic University"),
        ("diseases", "MONDO:0004992"),
        ("country", "JP"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_committee_approves_in_the_portal_and_it_holds_at_once_on_every_api() -> TestResult {
    let gw = start().await?;
    let http = gemj_e2e::http::Http {
        base: gw.base_url.clone(),
    };
    let mut researcher = Browser::new(&gw.base_url);
    assert_eq!(researcher.sign_in("researcher")?, "/portal");

    let home = researcher.get("/portal")?;
    assert!(
        home.body.contains("data-role=\"researcher\""),
        "{}",
        home.body
    );

    // Denied with the reason in words; the decision is audited under the API `portal`.
    let denied = researcher.get(&format!("/portal/datasets/{CANCER}?check=1"))?;
    assert!(
        denied.body.contains("data-decision=\"deny\""),
        "{}",
        denied.body
    );
    assert!(
        denied.body.contains("has not approved you"),
        "{}",
        denied.body
    );
    let subject = format!("{}/demo-broker#demo-researcher", gw.base_url);
    let rows = gw
        .store
        .audit_records_of_principal(&subject, 0, 1000)
        .await?;
    assert!(
        rows.iter().any(|r| r.event.api == "portal"
            && r.event.action == "read_data"
            && r.event.decision == AccessDecision::Deny
            && r.event.reasons.iter().any(|x| x == "no_approval")),
        "the refused check is audited"
    );

    // Forms without the session's CSRF token, or posted from another site, change nothing.
    let csrf = researcher.csrf(&format!("/portal/datasets/{CANCER}"))?;
    let forged = researcher.post(
        &format!("/portal/datasets/{CANCER}/apply"),
        &cancer_application("not-the-token"),
    )?;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let cross_site = researcher.send(
        "POST",
        &format!("/portal/datasets/{CANCER}/apply"),
        Some(&cancer_application(&csrf)),
        Some("https://attacker.example"),
    )?;
    assert_eq!(cross_site.status, 403, "{}", cross_site.body);
    assert!(gw.store.list_applications(true, 100).await?.is_empty());

    // The application, then the researcher at the committee's door.
    let applied = researcher.post(
        &format!("/portal/datasets/{CANCER}/apply"),
        &cancer_application(&csrf),
    )?;
    assert_eq!(applied.status, 201, "{}", applied.body);
    let id = applied
        .body
        .split("id=\"application-id\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_default()
        .to_owned();
    assert!(id.starts_with("APP-"), "{}", applied.body);
    let pending = gw.store.list_applications(true, 100).await?;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].application.researcher_subject, "demo-researcher");
    let not_committee = researcher.get("/portal/committee")?;
    assert_eq!(not_committee.status, 403, "{}", not_committee.body);
    assert!(
        not_committee.body.contains("Only the data-use committee"),
        "{}",
        not_committee.body
    );
    let sneaky = researcher.post(
        &format!("/portal/committee/applications/{id}"),
        &[
            ("_csrf", &csrf),
            ("decision", "approve"),
            ("reason", "self-approved"),
        ],
    )?;
    assert_eq!(sneaky.status, 403, "{}", sneaky.body);
    assert_eq!(gw.store.list_applications(true, 100).await?.len(), 1);

    // The committee approves with a reason.
    let mut committee = Browser::new(&gw.base_url);
    committee.sign_in("committee")?;
    let list = committee.get("/portal/committee")?;
    assert!(
        list.body.contains(&format!("data-application=\"{id}\"")),
        "{}",
        list.body
    );
    let token = committee.csrf("/portal/committee")?;
    let without_reason = committee.post(
        &format!("/portal/committee/applications/{id}"),
        &[("_csrf", &token), ("decision", "approve"), ("reason", " ")],
    )?;
    assert_eq!(without_reason.status, 400, "{}", without_reason.body);
    let approved = committee.post(
        &format!("/portal/committee/applications/{id}"),
        &[
            ("_csrf", &token),
            ("decision", "approve"),
            ("reason", "Ethics approval seen"),
            ("valid_days", "30"),
        ],
    )?;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert_eq!(approved.location, "/portal/committee?done=approved");
    let again = committee.post(
        &format!("/portal/committee/applications/{id}"),
        &[
            ("_csrf", &token),
            ("decision", "reject"),
            ("reason", "twice"),
        ],
    )?;
    assert_eq!(again.status, 409, "decided once: {}", again.body);
    let decided = gw
        .store
        .get_application(&gemj_model::ApprovalId::parse(&id)?)
        .await?
        .ok_or("the application")?;
    let decision = decided.decision.ok_or("a decision")?;
    assert!(decision.approved);
    assert_eq!(decision.reason, "Ethics approval seen");
    let approval_id = decision.approval.ok_or("an approval")?;
    let approval = gw.store.get_approval(&approval_id).await?.ok_or("stored")?;
    assert_eq!(approval.status, ApprovalStatus::Active);
    assert_eq!(
        approval.valid_until - approval.valid_from,
        time::Duration::days(30)
    );

    // At once on the portal and on the API, for the same researcher's passport.
    let permitted = researcher.get(&format!("/portal/datasets/{CANCER}?check=1"))?;
    assert!(
        permitted.body.contains("data-decision=\"permit\""),
        "{}",
        permitted.body
    );
    let broker = gw.demo_broker()?;
    let now = gemj_auth::now_unix();
    let passport = gemj_e2e::visas::controlled_passport(
        &broker,
        "demo-researcher",
        &format!("{PREFIX}{CANCER}"),
        now,
    )?;
    let api = format!("/catalogue/v1/datasets/{CANCER}/participants");
    let reply = http.get(&api, Some(&passport))?;
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Suspended in the portal with a reason: refused on the API at once, the reason kept.
    let change = committee.post(
        &format!("/portal/committee/approvals/{approval_id}"),
        &[
            ("_csrf", &token),
            ("status", "suspended"),
            ("reason", "Audit of the project"),
        ],
    )?;
    assert_eq!(change.status, 303, "{}", change.body);
    let reply = http.get(&api, Some(&passport))?;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(
        reply.text().contains("approval_suspended"),
        "{}",
        reply.text()
    );
    let events = gw.store.approval_events(&approval_id).await?;
    let reasons: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.status.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("active", "Ethics approval seen"),
            ("suspended", "Audit of the project")
        ]
    );
    let me = researcher.get("/portal/me")?;
    assert!(me.body.contains(approval_id.as_str()), "{}", me.body);
    assert!(me.body.contains("suspended"), "{}", me.body);
    gw.stop_with_intact_chains().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_refuses_forged_replayed_and_foreign_attempts() -> TestResult {
    let gw = start().await?;
    let base = gw.base_url.clone();

    // The provider refuses what it must before redirecting anywhere.
    let mut b = Browser::new(&base);
    let fields = b.begin("/portal")?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    for (name, bad) in [
        ("redirect_uri", "https://attacker.example/callback"),
        ("code_challenge_method", "plain"),
        ("client_id", "someone-else"),
        ("code_challenge", ""),
    ] {
        let mut form: Vec<(String, String)> = fields.clone();
        for (k, v) in &mut form {
            if k == name {
                *v = bad.to_owned();
            }
        }
        let q = serde_urlencoded::to_string(&form)?;
        let page = b.get(&format!("/demo-broker/authorize?{q}"))?;
        assert_eq!(page.status, 400, "{name}={bad}: {}", page.body);
        assert!(page.location.is_empty(), "no redirect for a bad {name}");
    }

    // A code is good once, with its verifier only.
    let callback = b.choose(&fields, "researcher")?;
    let code = callback
        .split("code=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .ok_or("a code")?
        .to_owned();
    let redirect = field("redirect_uri");
    let token = |code: &str, verifier: &str| -> Res<(u16, String)> {
        let reply = gemj_e2e::http::Http { base: base.clone() }.send(
            "POST",
            "/demo-broker/token",
            None,
            Some("application/x-www-form-urlencoded"),
            Some(
                serde_urlencoded::to_string([
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect.as_str()),
                    ("client_id", "gemj-portal"),
                    ("code_verifier", verifier),
                ])?
                .into_bytes(),
            ),
        )?;
        Ok((
            reply.status,
            reply.json["error"].as_str().unwrap_or_default().to_owned(),
        ))
    };
    assert_eq!(token(&code, "")?, (400, "invalid_request".to_owned()));
    let wrong = "a".repeat(43);
    assert_eq!(token(&code, &wrong)?, (400, "invalid_grant".to_owned()));
    // The wrong verifier spent the code: the real client's exchange fails too.
    let spent = b.get(&callback)?;
    assert_eq!(spent.status, 400, "{}", spent.body);
    assert!(!b.cookies.contains_key("gemj_session"));

    // A state nobody began, and a sign-in begun in another browser.
    let forged = b.get("/portal/callback?code=x&state=forged")?;
    assert_eq!(forged.status, 400, "{}", forged.body);
    let mut victim = Browser::new(&base);
    let fields = victim.begin("/portal")?;
    let callback = victim.choose(&fields, "committee")?;
    let mut attacker = Browser::new(&base);
    let stolen = attacker.get(&callback)?;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    assert!(!attacker.cookies.contains_key("gemj_session"));

    // No open redirect after signing in; the session cookie's attributes.
    let mut c = Browser::new(&base);
    let login = c.get("/portal/login?next=https://attacker.example/")?;
    let login_cookie = cookie_of(&login, "gemj_login")
        .ok_or("a binding cookie")?
        .to_owned();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Lax"));
    let page = c.get(&login.location)?;
    let callback = c.choose(&hidden_fields(&page.body), "researcher")?;
    let done = c.get(&callback)?;
    assert_eq!(done.location, "/portal");
    let session = cookie_of(&done, "gemj_session").ok_or("a session cookie")?;
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/portal"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }

    // Signed out, a page sends to the sign-in and back.
    let mut anonymous = Browser::new(&base);
    let door = anonymous.get("/portal/committee")?;
    assert_eq!(door.status, 303);
    assert_eq!(door.location, "/portal/login?next=/portal/committee");

    // Sign-out needs the token; then the session is gone on the server too.
    let stale_jar = c.cookies.clone();
    let refused = c.post("/portal/logout", &[("_csrf", "nope")])?;
    assert_eq!(refused.status, 403);
    let token = c.csrf("/portal")?;
    let out = c.post("/portal/logout", &[("_csrf", &token)])?;
    assert_eq!(out.status, 303);
    let mut replay = Browser::new(&base);
    replay.cookies = stale_jar;
    let after = replay.get("/portal/me")?;
    assert_eq!(
        after.status, 303,
        "a signed-out session cookie is worth nothing"
    );

    // A subject revoked by an administrator loses the session at the next page, audited.
    let mut r = Browser::new(&base);
    r.sign_in("researcher")?;
    assert_eq!(r.get("/portal/me")?.status, 200);
    let broker = gw.demo_broker()?;
    let admin =
        gemj_e2e::visas::registered_passport(&broker, "demo-committee", gemj_auth::now_unix())?;
    let revoked = gemj_e2e::http::Http { base: base.clone() }.post(
        "/admin/v1/revocations",
        Some(&admin),
        &serde_json::json!({"kind": "subject", "issuer": broker.issuer(), "value": "demo-researcher", "reason": "test"}),
    )?;
    assert!(
        revoked.status == 201 || revoked.status == 200,
        "{}",
        revoked.text()
    );
    let gone = r.get("/portal/me")?;
    assert_eq!(gone.status, 303, "{}", gone.body);
    let rows = gw
        .store
        .audit_records_of_principal("unauthenticated", 0, 1000)
        .await?;
    assert!(
        rows.iter().any(|row| row.event.api == "portal"
            && row
                .event
                .reasons
                .iter()
                .any(|x| x == "credential_refused:subject_revoked")),
        "the refused session is audited"
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_coordinator_withdraws_their_own_participant_after_confirming() -> TestResult {
    let gw = start().await?;
    let mut c = Browser::new(&gw.base_url);
    c.language = "ja,en;q=0.5";
    c.sign_in(&format!("coordinator:{HOSPITAL_A}"))?;
    let page = c.get("/portal/institution")?;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<html lang=\"ja\">"),
        "Accept-Language chooses Japanese"
    );
    assert!(page.body.contains("data-role=\"coordinator\""));
    let ids: Vec<String> = page
        .body
        .split("data-participant=\"")
        .skip(1)
        .filter_map(|r| r.split('"').next().map(str::to_owned))
        .collect();
    assert!(!ids.is_empty());
    let mut theirs = Vec::new();
    for id in &ids {
        let p = gw
            .store
            .get_participant(&ParticipantId::parse(id)?)
            .await?
            .ok_or("stored")?;
        assert_eq!(
            p.institution.as_str(),
            HOSPITAL_A,
            "only their own participants"
        );
        theirs.push(p.id);
    }
    // Another hospital's participant does not exist for them.
    let all = gw.store.list_participants(None, 100).await?;
    let foreign = all
        .iter()
        .find(|p| p.institution.as_str() != HOSPITAL_A)
        .ok_or("a participant of another hospital")?;
    let hidden = c.get(&format!("/portal/institution/participants/{}", foreign.id))?;
    assert_eq!(hidden.status, 404, "{}", hidden.body);

    // Switching to English is remembered.
    let switched = c.get("/portal/lang?to=en&next=/portal/institution")?;
    assert_eq!(switched.location, "/portal/institution");
    assert!(
        c.get("/portal/institution")?
            .body
            .contains("<html lang=\"en\">")
    );

    // A researcher's recontact request reaches the inbox; the coordinator records an outcome.
    let broker = gw.demo_broker()?;
    let now = gemj_auth::now_unix();
    let http = gemj_e2e::http::Http {
        base: gw.base_url.clone(),
    };
    let admin = gemj_e2e::visas::registered_passport(&broker, "demo-committee", now)?;
    let approval = gemj_e2e::visas::hmb_approval("APR-PORTAL-1", broker.issuer(), "ria", &[JOINT]);
    assert_eq!(
        http.post("/admin/v1/approvals", Some(&admin), &approval)?
            .status,
        201
    );
    let ria =
        gemj_e2e::visas::controlled_passport(&broker, "ria", &format!("{PREFIX}{JOINT}"), now)?;
    let named: Vec<String> = theirs.iter().map(ToString::to_string).collect();
    let asked = http.post(
        "/recontact/v1/requests",
        Some(&ria),
        &serde_json::json!({"dataset": JOINT, "kind": "research_invitation",
            "reason": "Portal inbox study.", "select": {"participants": named}}),
    )?;
    assert_eq!(asked.status, 201, "{}", asked.text());
    let inbox = c.get("/portal/institution")?;
    let fields = hidden_fields(
        inbox
            .body
            .split("id=\"inbox-table\"")
            .nth(1)
            .ok_or("the inbox lists the request")?,
    );
    let request = fields
        .iter()
        .find(|(k, _)| k == "request")
        .ok_or("a request")?
        .1
        .clone();
    let who = fields
        .iter()
        .find(|(k, _)| k == "participant")
        .ok_or("a participant")?
        .1
        .clone();
    let token = c.csrf("/portal/institution")?;
    let recorded = c.post(
        "/portal/institution/recontact",
        &[
            ("_csrf", &token),
            ("request", &request),
            ("participant", &who),
            ("status", "contacted"),
        ],
    )?;
    assert_eq!(recorded.status, 303, "{}", recorded.body);
    let after = c.get(&recorded.location)?;
    assert!(after.body.contains("id=\"flash\""), "{}", after.body);
    let row = after
        .body
        .split(&format!("<tr data-request=\"{request}\"><td>{request}</td><td><a href=\"/portal/institution/participants/{who}\""))
        .nth(1)
        .ok_or("the request's row")?;
    assert!(
        row.split("</tr>")
            .next()
            .unwrap_or_default()
            .contains("contacted"),
        "{row}"
    );

    let id = theirs[0].clone();
    let path = format!("/portal/institution/participants/{id}");
    let token = c.csrf(&path)?;
    let confirm = c.post(
        &format!("{path}/withdraw"),
        &[("_csrf", &token), ("level", "stop_all_use")],
    )?;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("id=\"confirm-withdraw\""));
    let before = gw.store.consent_state(&id).await?.ok_or("a state")?;
    assert_ne!(
        before.status,
        ConsentStatus::Withdrawn,
        "nothing changes before confirming"
    );
    let bad_level = c.post(
        &format!("{path}/withdraw"),
        &[
            ("_csrf", &token),
            ("level", "everything"),
            ("confirm", "yes"),
        ],
    )?;
    assert_eq!(bad_level.status, 400);
    let done = c.post(
        &format!("{path}/withdraw"),
        &[
            ("_csrf", &token),
            ("level", "stop_all_use"),
            ("confirm", "yes"),
        ],
    )?;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = gw.store.consent_state(&id).await?.ok_or("a state")?;
    assert_eq!(after.status, ConsentStatus::Withdrawn);
    let shown = c.get(&done.location)?;
    assert!(
        shown.body.contains("data-state=\"withdrawn\""),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("id=\"flash\""));
    // The coordinator's reads are in the participant's own access report.
    assert!(shown.body.contains(&format!(
        "institution:{HOSPITAL_A}#demo-coordinator-{HOSPITAL_A}"
    )));
    gw.stop_with_intact_chains().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_public_pages_answer_without_javascript_and_without_signing_in() -> TestResult {
    let gw = start().await?;
    let mut b = Browser::new(&gw.base_url);
    let page = b.get("/portal/datasets")?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("data-dataset=\"GEMJ-DEMO-PUBLIC-AF\""));
    assert!(page.body.contains("<svg") && page.body.contains("id=\"counts-plot\""));
    let beacon = b.get("/portal/beacon?referenceName=20&start=1&end=5000000")?;
    assert_eq!(beacon.status, 200, "{}", beacon.body);
    assert!(
        beacon.body.contains("id=\"beacon-results\" data-exists="),
        "{}",
        beacon.body
    );
    let filtered =
        b.get("/portal/beacon?referenceName=20&start=1&end=1000000&filters=NCIT:C16576")?;
    assert_eq!(filtered.status, 200, "{}", filtered.body);
    assert!(
        filtered.body.contains("value=\"NCIT:C16576\""),
        "the form keeps the filter"
    );
    assert!(
        !filtered.body.contains("role=\"alert\""),
        "{}",
        filtered.body
    );
    let unknown = b.get("/portal/beacon?referenceName=20&start=1&filters=NOPE:1")?;
    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert!(
        unknown.body.contains("role=\"alert\""),
        "the Beacon's refusal is shown: {}",
        unknown.body
    );
    let htmx = b.get("/portal/static/htmx.min.js")?;
    assert_eq!(htmx.status, 200);
    let recorded = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../gateway/gemj-server/static/README.md"),
    )?;
    let digest = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(htmx.body.as_bytes()))
    };
    assert!(
        recorded.contains(&digest),
        "the vendored htmx matches its recorded checksum"
    );
    gw.stop().await;
    Ok(())
}

/// Where the run keeps its artefacts (screenshots): `GEMJ_ARTEFACTS_DIR`, else
/// `target/ci-artefacts`.
fn artefacts() -> std::path::PathBuf {
    std::env::var_os("GEMJ_ARTEFACTS_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ci-artefacts"),
        std::path::PathBuf::from,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_browser_walks_every_role_with_no_serious_accessibility_violation() -> TestResult {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("portal");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let ready = dir.join("node_modules/playwright-core").is_dir()
        && dir.join("node_modules/axe-core").is_dir()
        && std::path::Path::new(&chromium).exists();
    if !ready {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: the browser test needs {chromium} and `npm ci` in tests/portal (.ci/run installs both)"
        );
        eprintln!("skipped: no Chromium or no tests/portal/node_modules (run `npm ci` there)");
        return Ok(());
    }
    let gw = start().await?;
    let shots = artefacts().join("portal");
    std::fs::create_dir_all(&shots)?;
    let base = gw.base_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("walk.mjs")
            .arg(&base)
            .arg(&shots)
            .current_dir(&dir)
            .env("CHROMIUM", &chromium)
            .output()
    })
    .await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the browser walk failed:\n{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(summary["ok"], true, "{summary}");
    assert!(
        summary["pagesVisited"]
            .as_array()
            .is_some_and(|p| p.len() >= 25),
        "{summary}"
    );
    assert_eq!(
        summary["violations"].as_array().map(Vec::len),
        Some(0),
        "{summary}"
    );
    gw.stop_with_intact_chains().await?;
    Ok(())
}
