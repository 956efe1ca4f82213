//! What a `workflow_url` may name, and which network addresses the service never fetches.
//!
//! A workflow is an attachment (a relative path among the request's attachments), an `https`
//! URL under one of the configured roots (a TRS or an approved Git host), or a `drs://` id of
//! this gateway. Everything else is refused: `file:`, `ftp:`, `http:`, other schemes, user
//! information in the URL, and hosts that are loopback, private, link-local or otherwise not
//! public, whether written as an address or resolved from a name (the service re-checks each
//! resolved address at fetch time with [`is_public`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a workflow URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowSource {
    /// An attachment, by its path.
    Attachment(String),
    /// An `https` URL under an allowed root (normalised).
    Https(String),
    /// A `drs://` URI (its object id is resolved by the service).
    Drs(String),
}

/// Why a workflow URL is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlProblem {
    /// A relative path that names no attachment.
    NoSuchAttachment,
    /// A scheme other than `https` and `drs` (`file:`, `ftp:`, `http:`, ...).
    SchemeNotAllowed,
    /// Not a URL that parses, or with user information.
    Malformed,
    /// A host that is an address (or `localhost`) not on the public internet.
    HostNotPublic,
    /// An `https` URL under no configured root.
    NotUnderAllowedRoot,
}

impl UrlProblem {
    /// A stable reason code.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::NoSuchAttachment => "workflow_attachment_missing",
            Self::SchemeNotAllowed => "workflow_url_scheme_not_allowed",
            Self::Malformed => "workflow_url_malformed",
            Self::HostNotPublic => "workflow_url_host_not_public",
            Self::NotUnderAllowedRoot => "workflow_url_not_allowed",
        }
    }
}

impl std::fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoSuchAttachment => {
                "workflow_url is a relative path that names no workflow_attachment."
            }
            Self::SchemeNotAllowed => {
                "workflow_url must be an attachment's relative path, an https URL under an \
                 allowed root, or a drs:// id of this gateway; file:, ftp:, http: and other \
                 schemes are refused."
            }
            Self::Malformed => "workflow_url is not a valid URL (or carries user information).",
            Self::HostNotPublic => {
                "workflow_url names a loopback, private, link-local or otherwise non-public host."
            }
            Self::NotUnderAllowedRoot => {
                "workflow_url is not under any of the workflow roots this service allows \
                 (service-info tags: workflow_url_roots)."
            }
        })
    }
}

impl std::error::Error for UrlProblem {}

/// Classifies a workflow URL.
///
/// # Errors
/// The [`UrlProblem`].
///
/// # Examples
///
/// ```
/// use gemj_wes::url::{classify, WorkflowSource, UrlProblem};
/// let roots = ["https://github.com/gemj/".to_owned()];
/// assert_eq!(classify("count.cwl", &["count.cwl"], &roots), Ok(WorkflowSource::Attachment("count.cwl".into())));
/// assert_eq!(classify("file:///etc/passwd", &[], &roots), Err(UrlProblem::SchemeNotAllowed));
/// assert_eq!(classify("https://127.0.0.1/x.cwl", &[], &roots), Err(UrlProblem::HostNotPublic));
/// ```
pub fn classify(
    workflow_url: &str,
    attachments: &[&str],
    roots: &[String],
) -> Result<WorkflowSource, UrlProblem> {
    let Some((scheme, _)) = workflow_url.split_once(':').filter(|(s, _)| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && s.as_bytes()[0].is_ascii_alphabetic()
    }) else {
        // A relative reference: an attachment, exactly as named.
        return if attachments.contains(&workflow_url) {
            Ok(WorkflowSource::Attachment(workflow_url.to_owned()))
        } else {
            Err(UrlProblem::NoSuchAttachment)
        };
    };
    match scheme.to_ascii_lowercase().as_str() {
        "drs" => Ok(WorkflowSource::Drs(workflow_url.to_owned())),
        "https" => {
            let url = ::url::Url::parse(workflow_url).map_err(|_| UrlProblem::Malformed)?;
            if !url.username().is_empty() || url.password().is_some() {
                return Err(UrlProblem::Malformed);
            }
            match url.host() {
                None => return Err(UrlProblem::Malformed),
                Some(::url::Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
                    return Err(UrlProblem::HostNotPublic);
                }
                Some(::url::Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
                    return Err(UrlProblem::HostNotPublic);
                }
                Some(::url::Host::Domain(d)) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    if d == "localhost" || d.ends_with(".localhost") {
                        return Err(UrlProblem::HostNotPublic);
                    }
                }
                Some(_) => {}
            }
            let normalised = url.as_str();
            if roots.iter().any(|root| under_root(normalised, root)) {
                Ok(WorkflowSource::Https(normalised.to_owned()))
            } else {
                Err(UrlProblem::NotUnderAllowedRoot)
            }
        }
        _ => Err(UrlProblem::SchemeNotAllowed),
    }
}

/// Whether a normalised URL is `root` or under it: `root` is compared after the same
/// normalisation, and a root that does not end in `/` matches only itself or what follows it
/// after a `/`, so `https://h/a` never admits `https://h/ab`.
#[must_use]
pub fn under_root(normalised: &str, root: &str) -> bool {
    let Ok(root) = ::url::Url::parse(root) else {
        return false;
    };
    let root = root.as_str();
    if root.ends_with('/') {
        normalised.starts_with(root)
    } else {
        normalised == root
            || normalised
                .strip_prefix(root)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, unique local),
/// link-local, shared (CGNAT), unspecified, multicast, broadcast, documentation, benchmarking or
/// reserved, and not an IPv4-mapped or -compatible form of one.
#[must_use]
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            public_v6(v6)
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x0064 && s[1] == 0xff9b)
        || (s[..6] == [0, 0, 0, 0, 0, 0]))
}
