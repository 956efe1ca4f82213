//! GA4GH service-info 1.0 wire types, shared by every API, and the service-registry 1.0
//! `ExternalService`.
//!
//! Field names are the spec's (`contactUrl` on the wire, `contact_url` in Rust); optional fields
//! are left out of the JSON when `None`. These are wire types: change them only with the spec
//! (`shared/schemas/service-info/service-info.yaml`, `components/schemas/Service`).
//!
//! An API that extends service-info (htsget, DRS, WES) flattens [`Service`] into its own type:
//!
//! ```
//! #[derive(serde::Serialize)]
//! struct DrsServiceInfo {
//!     #[serde(flatten)]
//!     service: gemj_service_info::Service,
//!     #[serde(rename = "maxBulkRequestLength")]
//!     max_bulk_request_length: u32,
//! }
//! ```

use serde::{Deserialize, Serialize};

/// A GA4GH service (service-info 1.0, `components/schemas/Service`): what `GET /service-info`
/// answers.
///
/// # Examples
///
/// ```
/// use gemj_service_info::{Organization, Service, ServiceType};
///
/// let service = Service {
///     id: "org.example.gateway".to_owned(),
///     name: "Example gateway".to_owned(),
///     r#type: ServiceType::ga4gh("service-registry", "1.0.0"),
///     description: None,
///     organization: Organization {
///         name: "Example".to_owned(),
///         url: "https://example.org".to_owned(),
///     },
///     contact_url: Some("mailto:help@example.org".to_owned()),
///     documentation_url: None,
///     created_at: None,
///     updated_at: None,
///     environment: Some("test".to_owned()),
///     version: "0.1.0".to_owned(),
/// };
/// let json = serde_json::to_value(&service)?;
/// assert_eq!(json["contactUrl"], "mailto:help@example.org");
/// assert_eq!(json["type"]["group"], "org.ga4gh");
/// assert!(json.get("description").is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// Unique ID of this service; reverse domain name notation is recommended.
    pub id: String,
    /// Human-readable name of this service.
    pub name: String,
    /// The API or specification implemented.
    #[serde(rename = "type")]
    pub r#type: ServiceType,
    /// Human-readable description of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The organization providing the service.
    pub organization: Organization,
    /// URL of a contact for the provider (RFC 3986), or an email (`mailto:`, RFC 2368).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_url: Option<String>,
    /// URL of the documentation of this service (RFC 3986).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_url: Option<String>,
    /// When the service was first deployed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When the service was last updated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Where the service runs: `prod`, `test`, `dev`, `staging` are suggested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Version of the service (not of the specification).
    pub version: String,
}

/// The type of a GA4GH service (service-info 1.0, `components/schemas/ServiceType`).
///
/// # Examples
///
/// ```
/// let t = gemj_service_info::ServiceType::ga4gh("htsget", "1.3.0");
/// assert_eq!((t.group.as_str(), t.artifact.as_str()), ("org.ga4gh", "htsget"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceType {
    /// Namespace in reverse domain name format: `org.ga4gh` for implementations of official
    /// GA4GH specifications.
    pub group: String,
    /// Name of the API or GA4GH specification implemented (`htsget`, `drs`, `beacon`, ...).
    pub artifact: String,
    /// Version of the API or specification.
    pub version: String,
}

impl ServiceType {
    /// The group of official GA4GH specifications.
    pub const GA4GH_GROUP: &'static str = "org.ga4gh";

    /// A type in the `org.ga4gh` group.
    #[must_use]
    pub fn ga4gh(artifact: &str, version: &str) -> Self {
        Self {
            group: Self::GA4GH_GROUP.to_owned(),
            artifact: artifact.to_owned(),
            version: version.to_owned(),
        }
    }
}

/// The organization providing a service (service-info 1.0, `Service.organization`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// Name of the organization responsible for the service.
    pub name: String,
    /// URL of the organization's website (RFC 3986).
    pub url: String,
}

/// A service listed by a service registry (service-registry 1.0,
/// `components/schemas/ExternalService`): a [`Service`] and the base URL where it is reachable.
///
/// # Examples
///
/// ```
/// use gemj_service_info::{ExternalService, Organization, Service, ServiceType};
///
/// let listed = ExternalService {
///     service: Service {
///         id: "org.example.drs".to_owned(),
///         name: "Example DRS".to_owned(),
///         r#type: ServiceType::ga4gh("drs", "1.5.0"),
///         description: None,
///         organization: Organization { name: "Example".to_owned(), url: "https://example.org".to_owned() },
///         contact_url: None,
///         documentation_url: None,
///         created_at: None,
///         updated_at: None,
///         environment: None,
///         version: "0.1.0".to_owned(),
///     },
///     url: "https://example.org/ga4gh/drs/v1".to_owned(),
/// };
/// let json = serde_json::to_value(&listed)?;
/// assert_eq!(json["url"], "https://example.org/ga4gh/drs/v1");
/// assert_eq!(json["id"], "org.example.drs");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalService {
    /// The service's own description, flattened into the same JSON object.
    #[serde(flatten)]
    pub service: Service,
    /// Base URL of the service (RFC 3986).
    pub url: String,
}

/// Whether `name` is in reverse domain name notation, as service-info asks of `type.group` (and
/// recommends for `id`): at least two dot-separated labels of ASCII letters, digits, `-` and
/// `_`, none empty, none starting or ending with `-`, the first (the top-level domain) starting
/// with a letter.
///
/// # Examples
///
/// ```
/// use gemj_service_info::is_reverse_domain_name;
///
/// assert!(is_reverse_domain_name("org.ga4gh"));
/// assert!(is_reverse_domain_name("jp.example.gemj"));
/// assert!(!is_reverse_domain_name("ga4gh"));
/// assert!(!is_reverse_domain_name("GA4GH!"));
/// ```
#[must_use]
pub fn is_reverse_domain_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && labels
            .first()
            .is_some_and(|tld| tld.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_domain_names() {
        let check =
            |name: &str, expect: bool| assert_eq!(is_reverse_domain_name(name), expect, "{name}");
        check("org.ga4gh", true);
        check("com.example.my_service", true);
        check("jp.ac.example-univ.gemj", true);
        check("ORG.GA4GH", true);
        check("org.ga4gh.", false);
        check(".org.ga4gh", false);
        check("org..ga4gh", false);
        check("org", false);
        check("", false);
        check("1org.ga4gh", false);
        check("org.-ga4gh", false);
        check("org.ga4gh-", false);
        check("org.ga 4gh", false);
        check("org.ga4gh!", false);
        check("https://example.org", false);
    }

    #[test]
    fn optional_fields_are_left_out_and_names_are_the_spec_names() -> Result<(), serde_json::Error>
    {
        let service = Service {
            id: "org.example.x".to_owned(),
            name: "X".to_owned(),
            r#type: ServiceType::ga4gh("drs", "1.5.0"),
            description: None,
            organization: Organization {
                name: "Example".to_owned(),
                url: "https://example.org".to_owned(),
            },
            contact_url: Some("mailto:a@example.org".to_owned()),
            documentation_url: Some("https://docs.example.org".to_owned()),
            created_at: Some("2025-01-01T00:00:00Z".to_owned()),
            updated_at: None,
            environment: None,
            version: "1".to_owned(),
        };
        let json = serde_json::to_value(&service)?;
        let mut keys: Vec<&str> = json
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "contactUrl",
                "createdAt",
                "documentationUrl",
                "id",
                "name",
                "organization",
                "type",
                "version"
            ]
        );
        let back: Service = serde_json::from_value(json)?;
        assert_eq!(back, service);
        Ok(())
    }

    #[test]
    fn external_service_round_trips() -> Result<(), serde_json::Error> {
        let text = r#"{"id":"a.b","name":"n","type":{"group":"org.ga4gh","artifact":"htsget","version":"1.3.0"},
            "organization":{"name":"o","url":"https://o.example"},"version":"1","url":"https://x.example/reads","extra":1}"#;
        let listed: ExternalService = serde_json::from_str(text)?;
        assert_eq!(listed.url, "https://x.example/reads");
        assert_eq!(listed.service.r#type.artifact, "htsget");
        let json = serde_json::to_value(&listed)?;
        assert_eq!(json["url"], "https://x.example/reads");
        assert!(json.get("extra").is_none());
        Ok(())
    }
}
