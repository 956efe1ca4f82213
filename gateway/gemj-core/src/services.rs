//! GA4GH service-info for the gateway and the registry of the services it mounts. Each API
//! registers its `ExternalService` at start-up; `/service-info` describes the gateway (a GA4GH
//! service registry) and `/services` lists what is mounted.

use gemj_service_info::{ExternalService, Organization, Service, ServiceType};

/// What the operator says about the deployment (from the configuration).
#[derive(Debug, Clone)]
pub struct ServiceIdentity {
    /// Reverse-domain id of this deployment, e.g. `jp.gemj.gateway`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// Organization name.
    pub organization_name: String,
    /// Organization URL.
    pub organization_url: String,
    /// `prod`, `staging`, `test` or `dev` (Beacon `/info` says the same).
    pub environment: String,
    /// Contact URL (`mailto:` or `https:`).
    pub contact_url: Option<String>,
    /// Documentation URL.
    pub documentation_url: Option<String>,
}

/// The gateway's service description and the services it mounts.
#[derive(Debug, Clone)]
pub struct ServiceRegistry {
    identity: ServiceIdentity,
    base_url: String,
    started_at: String,
    mounted: Vec<ExternalService>,
}

/// The gateway's software version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl ServiceRegistry {
    /// A registry for a gateway reachable at `base_url` (no trailing slash).
    #[must_use]
    pub fn new(identity: ServiceIdentity, base_url: &str) -> Self {
        let started_at = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let mut reg = Self {
            identity,
            base_url: base_url.trim_end_matches('/').to_owned(),
            started_at,
            mounted: Vec::new(),
        };
        let own = reg.gateway_service();
        reg.mounted.push(ExternalService {
            service: own,
            url: reg.base_url.clone(),
        });
        reg
    }

    /// Registers a mounted GA4GH service under `path` (for example `/ga4gh/drs/v1`).
    pub fn mount(
        &mut self,
        id_suffix: &str,
        name: &str,
        service_type: ServiceType,
        path: &str,
        description: &str,
    ) {
        let mut s = self.gateway_service();
        s.id = format!("{}.{id_suffix}", self.identity.id);
        s.name = format!("{} {name}", self.identity.name);
        s.r#type = service_type;
        s.description = Some(description.to_owned());
        self.mounted.push(ExternalService {
            service: s,
            url: format!("{}{path}", self.base_url),
        });
    }

    /// The gateway's own service-info: a GA4GH service registry of its APIs.
    #[must_use]
    pub fn gateway_service(&self) -> Service {
        let names: Vec<&str> = self
            .mounted
            .iter()
            .skip(1)
            .map(|m| m.service.r#type.artifact.as_str())
            .collect();
        let description = if names.is_empty() {
            "GeMJ gateway: the door to Japan's national whole-genome program. /services lists the mounted APIs.".to_owned()
        } else {
            format!(
                "GeMJ gateway: the door to Japan's national whole-genome program. Mounted APIs: {}. /services lists them.",
                names.join(", ")
            )
        };
        Service {
            id: self.identity.id.clone(),
            name: self.identity.name.clone(),
            r#type: ServiceType {
                group: "org.ga4gh".to_owned(),
                artifact: "service-registry".to_owned(),
                version: "1.0.0".to_owned(),
            },
            description: Some(description),
            organization: Organization {
                name: self.identity.organization_name.clone(),
                url: self.identity.organization_url.clone(),
            },
            contact_url: self.identity.contact_url.clone(),
            documentation_url: self.identity.documentation_url.clone(),
            created_at: Some(self.started_at.clone()),
            updated_at: Some(self.started_at.clone()),
            environment: Some(self.identity.environment.clone()),
            version: VERSION.to_owned(),
        }
    }

    /// Every service the gateway serves, the gateway itself first.
    #[must_use]
    pub fn services(&self) -> &[ExternalService] {
        &self.mounted
    }

    /// The base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// When this instance started (RFC 3339, whole seconds): the date of its service-info and
    /// of its FHIR CapabilityStatement.
    #[must_use]
    pub fn started_at(&self) -> &str {
        &self.started_at
    }
}
