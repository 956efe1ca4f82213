//! Tickets: the answer to a request, a list of URLs whose concatenation is the slice.

use std::collections::BTreeMap;

/// The ticket media type (htsget 1.3.0).
pub const TICKET_MEDIA_TYPE: &str = "application/vnd.ga4gh.htsget.v1.3.0+json; charset=utf-8";

/// One URL of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TicketUrl {
    /// An `https:`/`http:` URL, or a `data:` URI.
    pub url: String,
    /// Headers the client must send with the URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// `header` or `body`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<&'static str>,
}

/// The ticket body (`{"htsget": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TicketBody {
    /// The format of the concatenated data.
    pub format: &'static str,
    /// The URLs, in order.
    pub urls: Vec<TicketUrl>,
    /// MD5 of the concatenated data, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
}

/// A ticket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ticket {
    /// The ticket.
    pub htsget: TicketBody,
}
