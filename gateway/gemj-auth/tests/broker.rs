//! The HTTP paths against a local loopback server: JWKS over HTTP, OpenID Connect discovery,
//! userinfo (the v1.0 flow), RFC 8693 token exchange, redirects and size limits.

mod support;

use std::error::Error;
use std::sync::{Arc, Mutex};

use gemj_auth::{AuthConfig, Secret, TrustedBroker, Verifier};
use serde_json::json;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type TestResult = Result<(), Box<dyn Error>>;

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

/// Starts a tiny HTTP/1.1 server on 127.0.0.1; returns its base URL and the requests it saw.
async fn serve(
    passport: String,
    visa: String,
) -> Result<(String, Arc<Mutex<Vec<Seen>>>), Box<dyn Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (base2, seen2) = (base.clone(), seen.clone());
    let jwks = json!({"keys": [jwk("b1", &keys().broker_rsa)]}).to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (base, seen, jwks, passport, visa) = (
                base2.clone(),
                seen2.clone(),
                jwks.clone(),
                passport.clone(),
                visa.clone(),
            );
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let Ok(n) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_string();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break (head, text[end + 4..].to_string());
                        }
                    }
                };
                let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                let auth = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("authorization: ")
                            .or_else(|| l.strip_prefix("Authorization: "))
                    })
                    .unwrap_or("")
                    .to_string();
                seen.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(Seen {
                        head: head.clone(),
                        body: body.clone(),
                    });
                let discovery = |issuer: &str| {
                    json!({
                        "issuer": issuer, "authorization_endpoint": format!("{base}/auth"),
                        "token_endpoint": format!("{base}/token"), "userinfo_endpoint": format!("{base}/userinfo"),
                        "jwks_uri": format!("{base}/jwks"), "response_types_supported": ["code"],
                        "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]
                    })
                    .to_string()
                };
                let (status, ctype, extra, body): (&str, &str, String, String) = match path.as_str() {
                    "/.well-known/openid-configuration" => ("200 OK", "application/json", String::new(), discovery(&base)),
                    "/liar/.well-known/openid-configuration" => ("200 OK", "application/json", String::new(), discovery(&base)),
                    "/jwks" => ("200 OK", "application/json", String::new(), jwks),
                    "/huge" => ("200 OK", "application/json", String::new(), format!(r#"{{"keys":[],"pad":"{}"}}"#, "x".repeat(70_000))),
                    "/userinfo" if auth == "Bearer good" => (
                        "200 OK", "application/json", String::new(),
                        json!({"sub": USER, "ga4gh_passport_v1": [visa]}).to_string(),
                    ),
                    "/userinfo-jwt" => ("200 OK", "application/jwt", String::new(), "a.b.c".into()),
                    "/userinfo" => ("401 Unauthorized", "application/json", String::new(), r#"{"error":"invalid_token"}"#.into()),
                    "/token" => (
                        "200 OK", "application/json", String::new(),
                        json!({"access_token": passport, "issued_token_type": "urn:ga4gh:params:oauth:token-type:passport", "token_type": "N_A"}).to_string(),
                    ),
                    "/token-wrong-type" => (
                        "200 OK", "application/json", String::new(),
                        json!({"access_token": "x", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}).to_string(),
                    ),
                    "/redirect" => ("302 Found", "text/plain", format!("Location: {base}/userinfo\r\n"), String::new()),
                    _ => ("404 Not Found", "text/plain", String::new(), String::new()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok((base, seen))
}

fn loopback_config(base: &str) -> AuthConfig {
    let mut config = config();
    config.allow_http_loopback = true;
    config.trusted[0] = trusted_for_all(BROKER, &format!("{base}/jwks"));
    config
}

#[tokio::test]
async fn http_jwks_discovery_userinfo_and_token_exchange() -> TestResult {
    let visa = visa(USER, grant("D1"));
    let passport = passport(std::slice::from_ref(&visa));
    let (base, seen) = serve(passport.clone(), visa.clone()).await?;
    let verifier = Verifier::new(loopback_config(&base))?;

    // JWKS over HTTP.
    let result = verifier.verify_passport(&passport, NOW).await?;
    assert_eq!(result.visas.len(), 1);

    // Discovery, then userinfo with the bearer token.
    let broker = TrustedBroker::new(base.clone());
    let info = verifier.passport_from_userinfo(&broker, "good").await?;
    assert_eq!(info.subject, USER);
    assert_eq!(info.visas, vec![visa.clone()]);
    let verified = verifier
        .verify_visas(BROKER, &info.subject, &info.visas, NOW)
        .await?;
    assert_eq!(verified.visas.len(), 1);
    let e = verifier.passport_from_userinfo(&broker, "bad").await.err();
    assert_eq!(e.map(|e| e.code()), Some("broker_rejected"));

    // Token exchange with client credentials.
    let broker =
        TrustedBroker::new(base.clone()).with_client("gemj client", Some(Secret::new("s3cr&t")));
    let exchanged = verifier.exchange_token(&broker, "good").await?;
    assert_eq!(exchanged, passport);
    let requests = seen.lock().map_err(|_| "poisoned")?.clone();
    let token_request = requests
        .iter()
        .find(|r| r.head.starts_with("POST /token"))
        .ok_or("no token request")?;
    for pair in [
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange",
        "subject_token=good",
        "subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token",
        "requested_token_type=urn%3Aga4gh%3Aparams%3Aoauth%3Atoken-type%3Apassport",
        "audience=https%3A%2F%2Fgemj.example.jp",
    ] {
        assert!(
            token_request.body.split('&').any(|p| p == pair),
            "{pair} in {}",
            token_request.body
        );
    }
    // RFC 6749 2.3.1: id and secret are form-urlencoded, then Basic-encoded.
    let basic = format!("Basic {}", base64_std("gemj+client:s3cr%26t"));
    assert!(
        token_request
            .head
            .to_ascii_lowercase()
            .contains(&format!("authorization: {}", basic.to_ascii_lowercase()))
    );
    // A public client sends its id in the form.
    let public = TrustedBroker::new(base.clone()).with_client("pub", None);
    verifier.exchange_token(&public, "good").await?;
    let requests = seen.lock().map_err(|_| "poisoned")?.clone();
    assert!(
        requests
            .iter()
            .rev()
            .any(|r| r.body.split('&').any(|p| p == "client_id=pub"))
    );
    let wrong = TrustedBroker::new(base.clone()).with_token_url(format!("{base}/token-wrong-type"));
    let e = verifier.exchange_token(&wrong, "good").await.err();
    assert_eq!(e.map(|e| e.code()), Some("broker_response_invalid"));
    Ok(())
}

#[tokio::test]
async fn http_failures() -> TestResult {
    let (base, _) = serve(String::new(), String::new()).await?;
    let verifier = Verifier::new(loopback_config(&base))?;
    #[track_caller]
    fn code<T>(r: Result<T, gemj_auth::AuthError>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }
    // Redirects are not followed.
    let redirect = TrustedBroker::new(base.clone())
        .with_userinfo_url(format!("{base}/redirect"))
        .with_token_url(format!("{base}/token"));
    assert_eq!(
        code(verifier.passport_from_userinfo(&redirect, "good").await),
        "broker_rejected"
    );
    // Signed userinfo is not supported.
    let jwt = TrustedBroker::new(base.clone())
        .with_userinfo_url(format!("{base}/userinfo-jwt"))
        .with_token_url(format!("{base}/token"));
    assert_eq!(
        code(verifier.passport_from_userinfo(&jwt, "good").await),
        "broker_response_invalid"
    );
    // A discovery document naming another issuer.
    let liar = TrustedBroker::new(format!("{base}/liar"));
    assert_eq!(
        code(verifier.passport_from_userinfo(&liar, "good").await),
        "discovery_failed"
    );
    // A non-loopback http broker.
    let http = TrustedBroker::new("http://broker.example.jp");
    assert_eq!(
        code(verifier.passport_from_userinfo(&http, "good").await),
        "untrusted_url"
    );
    let fixed_http =
        TrustedBroker::new(base.clone()).with_userinfo_url("http://broker.example.jp/userinfo");
    assert_eq!(
        code(verifier.passport_from_userinfo(&fixed_http, "good").await),
        "invalid_config"
    );
    // Without allow_http_loopback, loopback http is refused too.
    let strict = Verifier::new(config())?;
    assert_eq!(
        code(
            strict
                .passport_from_userinfo(&TrustedBroker::new(base.clone()), "good")
                .await
        ),
        "untrusted_url"
    );
    // A key set over the size limit fails closed; so does a 404.
    for path in ["/huge", "/missing"] {
        let mut config = loopback_config(&base);
        config.trusted[0].jwks_url = format!("{base}{path}");
        let verifier = Verifier::new(config)?;
        assert_eq!(
            code(verifier.verify_passport(&passport(&[]), NOW).await),
            "jwks_unavailable"
        );
    }
    Ok(())
}

fn base64_std(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn access_tokens_verify_through_the_broker_and_are_cached_for_a_minute() -> TestResult {
    let visa = visa(USER, grant("D1"));
    let passport = passport(std::slice::from_ref(&visa));
    let (base, seen) = serve(passport.clone(), visa.clone()).await?;
    let verifier = Verifier::new(loopback_config(&base))?;
    let broker = TrustedBroker::new(BROKER)
        .with_userinfo_url(format!("{base}/userinfo"))
        .with_token_url(format!("{base}/token"));
    let count = |what: &str| {
        seen.lock()
            .map(|s| s.iter().filter(|r| r.head.starts_with(what)).count())
            .unwrap_or(0)
    };
    let v = verifier
        .verify_access_token(&broker, "good", false, NOW)
        .await?;
    assert_eq!(
        (v.issuer.as_str(), v.subject.as_str(), v.visas.len()),
        (BROKER, USER, 1)
    );
    verifier
        .verify_access_token(&broker, "good", false, NOW + 30)
        .await?;
    assert_eq!(
        count("GET /userinfo"),
        1,
        "a repeated token is answered from the cache"
    );
    verifier
        .verify_access_token(&broker, "good", false, NOW + 61)
        .await?;
    assert_eq!(
        count("GET /userinfo"),
        2,
        "the broker is asked again after a minute"
    );
    let e = verifier
        .verify_access_token(&broker, "bad", false, NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("broker_rejected"));
    let exchanged = verifier
        .verify_access_token(&broker, "good", true, NOW)
        .await?;
    assert_eq!(exchanged.visas.len(), 1);
    assert_eq!(count("POST /token"), 1);
    let too_long = "x".repeat(20_000);
    let e = verifier
        .verify_access_token(&broker, &too_long, false, NOW)
        .await
        .err();
    assert_eq!(e.map(|e| e.code()), Some("token_too_large"));
    Ok(())
}
