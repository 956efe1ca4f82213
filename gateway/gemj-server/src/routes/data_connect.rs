//! GA4GH Data Connect 1.0 under `/data-connect`: `/tables`, `/table/{name}/info`,
//! `/table/{name}/data`, `POST /search`, `/service-info`, and `/search/{page}` for the pages
//! after the first. A next page's URL carries the query, its parameters and where the page
//! starts (JSON, raw DEFLATE, base64url; at most [`MAX_PAGE_TOKEN`] characters): every page
//! re-runs the query under the caller's rights of the moment, on any replica. Errors are Data
//! Connect `ErrorResponse`s.
//!
//! The same endpoints under `/data-connect-network` (with `beacon.network` members that have a
//! `data_connect_url`) run each search over the union of the members' tables: one cross-biobank
//! count from several gateways.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use gemj_core::data_connect::{DataConnect, SearchPage};
use gemj_core::services::ServiceRegistry;
use gemj_data_connect::{Pagination, SearchRequest, TableData};

use super::{BaseUrl, Caller, context, read_body};
use crate::error::ApiError;
use crate::error::data_connect::{api_failure, dc_error, failure};

/// The route prefix.
pub const PREFIX: &str = "/data-connect";

/// The network's route prefix.
pub const NETWORK_PREFIX: &str = "/data-connect-network";

/// This gateway's catalogue, or the network's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Local,
    Network,
}

impl Which {
    fn prefix(self) -> &'static str {
        match self {
            Self::Local => PREFIX,
            Self::Network => NETWORK_PREFIX,
        }
    }
}

type Network = Option<web::Data<gemj_core::beacon::network::BeaconNetwork>>;

/// The largest search body, bytes.
const MAX_BODY: usize = 64 * 1024;

/// The longest page token, characters: the next-page URL stays under the 8 KiB request line
/// that proxies commonly allow. A query whose token would be longer is answered with its first
/// page and a 400 only when it needs a second one (see [`paged`]).
pub const MAX_PAGE_TOKEN: usize = 6 * 1024;

/// A page token: the page's JSON, deflated, base64url.
fn encode_token(page: &PageToken) -> Option<String> {
    use std::io::Write as _;
    let json = serde_json::to_vec(page).ok()?;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    deflate.write_all(&json).ok()?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(deflate.finish().ok()?);
    (token.len() <= MAX_PAGE_TOKEN).then_some(token)
}

/// The page a token names; `None` for anything else (too long, not base64url, not deflate,
/// inflating past [`MAX_BODY`], not a page).
fn decode_token(token: &str) -> Option<PageToken> {
    use std::io::Read as _;
    if token.len() > MAX_PAGE_TOKEN {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let mut json = Vec::new();
    flate2::read::DeflateDecoder::new(bytes.as_slice())
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut json)
        .ok()?;
    if json.len() > MAX_BODY {
        return None;
    }
    serde_json::from_slice(&json).ok()
}

/// Registers Data Connect with the service registry.
pub fn mount(registry: &mut ServiceRegistry) {
    registry.mount(
        "data-connect",
        "Data Connect",
        gemj_service_info::ServiceType::ga4gh("data-connect", "1.0.0"),
        PREFIX,
        "GA4GH Data Connect 1.0: aggregate tables of the catalogue (datasets; participants by \
         sex, age band, diagnosis, specimen type, data type and consent scope; biobank samples), \
         consent-filtered and reported at the caller's level; SQL search over them.",
    );
}

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for which in [Which::Local, Which::Network] {
        cfg.service(
            web::scope(which.prefix())
                .route("/service-info", web::get().to(service_info))
                .route("/tables", web::get().to(tables))
                .route("/table/{name}/info", web::get().to(table_info))
                .route(
                    "/table/{name}/data",
                    web::get().to(move |req, service, network, base, caller| {
                        table_data(req, service, network, base, caller, which)
                    }),
                )
                .route(
                    "/search",
                    web::post().to(move |req, service, network, base, caller, payload| {
                        search(req, service, network, base, caller, payload, which)
                    }),
                )
                .route(
                    "/search/{page}",
                    web::get().to(move |req, service, network, base, caller| {
                        next_page(req, service, network, base, caller, which)
                    }),
                )
                .default_service(web::to(|| async {
                    dc_error(
                        StatusCode::NOT_FOUND,
                        "Not found",
                        "no such Data Connect endpoint: /tables, /table/{name}/info, /table/{name}/data, POST /search",
                    )
                })),
        );
    }
}

async fn service_info(registry: web::Data<ServiceRegistry>) -> HttpResponse {
    match registry
        .services()
        .iter()
        .find(|s| s.service.r#type.artifact == "data-connect")
    {
        Some(s) => HttpResponse::Ok().json(&s.service),
        None => dc_error(
            StatusCode::NOT_FOUND,
            "Not found",
            "Data Connect is not mounted",
        ),
    }
}

async fn tables(caller: Result<Caller, ApiError>) -> HttpResponse {
    // The list is the same for everyone, but a credential that does not verify is refused
    // here as everywhere.
    if let Err(e) = caller {
        return api_failure(&e);
    }
    HttpResponse::Ok().json(DataConnect::tables())
}

fn table_name(req: &HttpRequest) -> String {
    req.match_info().get("name").unwrap_or_default().to_owned()
}

fn no_table(name: &str) -> HttpResponse {
    let shown: String = name.chars().take(128).collect();
    dc_error(
        StatusCode::NOT_FOUND,
        "Table not found",
        format!("no table is named `{shown}`: GET /tables lists them"),
    )
}

async fn table_info(req: HttpRequest, caller: Result<Caller, ApiError>) -> HttpResponse {
    if let Err(e) = caller {
        return api_failure(&e);
    }
    let name = table_name(&req);
    match DataConnect::table(&name) {
        Some(t) => HttpResponse::Ok().json(t),
        None => no_table(&name),
    }
}

async fn table_data(
    req: HttpRequest,
    service: web::Data<DataConnect>,
    network: Network,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    which: Which,
) -> HttpResponse {
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return api_failure(&e),
    };
    let name = table_name(&req);
    let Some(query) = DataConnect::table_query(&name) else {
        return no_table(&name);
    };
    let request = SearchRequest {
        query,
        parameters: Vec::new(),
    };
    run(&req, &service, network, &base, caller, request, 0, which).await
}

#[allow(clippy::too_many_arguments)] // Reason: an actix handler: its extractors, and which catalogue.
async fn search(
    req: HttpRequest,
    service: web::Data<DataConnect>,
    network: Network,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    payload: web::Payload,
    which: Which,
) -> HttpResponse {
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return api_failure(&e),
    };
    let body = match read_body(&req, payload, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return api_failure(&e),
    };
    let request: SearchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return dc_error(
                StatusCode::BAD_REQUEST,
                "Invalid request body",
                format!(
                    "the body must be a JSON object {{\"query\": string, \"parameters\": [...]}}: {}",
                    json_mistake(&e)
                ),
            );
        }
    };
    run(&req, &service, network, &base, caller, request, 0, which).await
}

/// What a next page's URL carries.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct PageToken {
    /// The query.
    q: String,
    /// Its parameters.
    #[serde(default)]
    p: Vec<serde_json::Value>,
    /// Where the page starts.
    o: usize,
}

/// What kind of mistake a body that did not deserialize holds, without echoing the body.
fn json_mistake(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => "it is not JSON",
        Category::Data => "a field is missing, unknown or of the wrong type",
        Category::Io => "it could not be read",
    }
}

async fn next_page(
    req: HttpRequest,
    service: web::Data<DataConnect>,
    network: Network,
    base: web::Data<BaseUrl>,
    caller: Result<Caller, ApiError>,
    which: Which,
) -> HttpResponse {
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return api_failure(&e),
    };
    let token = req.match_info().get("page").unwrap_or_default();
    let Some(page) = decode_token(token) else {
        return dc_error(
            StatusCode::BAD_REQUEST,
            "Invalid page",
            "this is not a page URL this gateway handed out",
        );
    };
    let request = SearchRequest {
        query: page.q,
        parameters: page.p,
    };
    run(
        &req, &service, network, &base, caller, request, page.o, which,
    )
    .await
}

#[allow(clippy::too_many_arguments)] // Reason: one search, wherever it came from.
async fn run(
    req: &HttpRequest,
    service: &DataConnect,
    network: Network,
    base: &BaseUrl,
    caller: Caller,
    request: SearchRequest,
    offset: usize,
    which: Which,
) -> HttpResponse {
    let ctx = context(req, "data-connect");
    let answer = match which {
        Which::Local => service.search(&ctx, &caller.0, &request, offset).await,
        Which::Network => {
            let Some(network) = network else {
                return dc_error(
                    StatusCode::NOT_FOUND,
                    "Not found",
                    "no Beacon network is configured on this gateway",
                );
            };
            service
                .network_search(&network, &ctx, &caller.0, &request, offset)
                .await
        }
    };
    match answer {
        Ok(page) => match paged(base, which, request, page) {
            Some(data) => HttpResponse::Ok().json(data),
            None => dc_error(
                StatusCode::BAD_REQUEST,
                "Query too long to page",
                "the answer has more than one page and the query is too long to be carried in \
                 a next-page URL; shorten it or narrow it (WHERE, LIMIT)",
            ),
        },
        Err(f) => failure(f),
    }
}

/// The page as answered, with the next page's URL; `None` when there is a next page whose
/// token would be longer than [`MAX_PAGE_TOKEN`] (nothing is silently cut short).
fn paged(
    base: &BaseUrl,
    which: Which,
    request: SearchRequest,
    page: SearchPage,
) -> Option<TableData> {
    let pagination = match page.next_offset {
        Some(o) => {
            let token = encode_token(&PageToken {
                q: request.query,
                p: request.parameters,
                o,
            })?;
            Some(Pagination {
                next_page_url: Some(format!(
                    "{}{}/search/{token}",
                    base.0.trim_end_matches('/'),
                    which.prefix(),
                )),
            })
        }
        None => None,
    };
    Some(TableData {
        data_model: page.data_model,
        data: page.data,
        pagination,
        errors: page.errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(q: String) -> PageToken {
        PageToken {
            q,
            p: vec![serde_json::json!("C34")],
            o: 100,
        }
    }

    /// Tokens round-trip, deflated: a long but ordinary query fits; one that would not fit is
    /// refused rather than cut; a token that is too long, not base64url, not deflate, or
    /// inflates past the body limit names no page.
    #[test]
    fn page_tokens_are_compact_bounded_and_strict() {
        let short = page("SELECT * FROM gemj.datasets".into());
        let token = encode_token(&short).expect("a token");
        assert_eq!(decode_token(&token), Some(short));
        // 24 KiB of SQL with the repetition real filters have deflates under the cap.
        let long = format!(
            "SELECT diagnosis, count FROM gemj.participants_by_diagnosis WHERE {}",
            (0..800)
                .map(|i| format!("diagnosis <> 'C{:02}.{}'", i % 100, i % 10))
                .collect::<Vec<_>>()
                .join(" AND ")
        );
        assert!(long.len() > 16 * 1024);
        let token = encode_token(&page(long.clone())).expect("a long query pages");
        assert!(token.len() < MAX_PAGE_TOKEN / 2, "{}", token.len());
        assert_eq!(decode_token(&token).map(|p| p.q), Some(long));
        // Text that does not compress, past the cap: no token.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: String = (0..12_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + u8::try_from(x % 26).unwrap_or(0))
            })
            .collect();
        assert_eq!(encode_token(&page(noise)), None);
        assert_eq!(decode_token(&"A".repeat(MAX_PAGE_TOKEN + 1)), None);
        assert_eq!(decode_token("not base64!"), None);
        let plain = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"q":"SELECT 1","p":[],"o":1}"#);
        assert_eq!(decode_token(&plain), None, "an undeflated page");
        // A deflate bomb: 1 MiB of spaces inflates past the body limit.
        let bomb = {
            use std::io::Write as _;
            let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            d.write_all(&[b' '; 1 << 20]).expect("deflate");
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.finish().expect("deflate"))
        };
        assert!(bomb.len() <= MAX_PAGE_TOKEN);
        assert_eq!(decode_token(&bomb), None);
    }
}
