//! The report of a run: one result per check, rendered as text (one line per check and a
//! summary line) or as JSON.

use serde::Serialize;

use crate::Suite;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The suite the check belongs to.
    pub suite: Suite,
    /// The check's name, unique within its suite (`service-info-schema`,
    /// `listed-service:org.example.drs`).
    pub name: String,
    /// Whether the server passed.
    pub passed: bool,
    /// What was seen: the evidence for a pass, the reason for a failure.
    pub detail: String,
}

/// Every check of a run, in the order they ran.
///
/// # Examples
///
/// ```
/// use gemj_conformance::{CheckResult, Report, Suite};
///
/// let report = Report {
///     checks: vec![CheckResult {
///         suite: Suite::ServiceInfo,
///         name: "service-info-status".to_owned(),
///         passed: true,
///         detail: "200".to_owned(),
///     }],
/// };
/// assert_eq!(report.render_text(), "PASS service-info/service-info-status: 200\n1 passed, 0 failed\n");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The results.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// How many checks passed.
    #[must_use]
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// How many checks failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.checks.len() - self.passed()
    }

    /// The result of the check `name` of `suite`, if it ran.
    #[must_use]
    pub fn get(&self, suite: Suite, name: &str) -> Option<&CheckResult> {
        self.checks
            .iter()
            .find(|c| c.suite == suite && c.name == name)
    }

    /// One line per check, `PASS|FAIL <suite>/<check>: <detail>`, then `<N> passed, <M> failed`.
    /// Line breaks inside a detail become spaces.
    #[must_use]
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let verdict = if check.passed { "PASS" } else { "FAIL" };
            let detail = check.detail.replace(['\r', '\n'], " ");
            out.push_str(&format!(
                "{verdict} {}/{}: {detail}\n",
                check.suite, check.name
            ));
        }
        out.push_str(&format!(
            "{} passed, {} failed\n",
            self.passed(),
            self.failed()
        ));
        out
    }

    /// The report as pretty JSON: `{"base_url", "passed", "failed", "checks": [{"suite", "name",
    /// "passed", "detail"}]}`.
    #[must_use]
    pub fn render_json(&self, base_url: &str) -> String {
        let value = serde_json::json!({
            "base_url": base_url,
            "passed": self.passed(),
            "failed": self.failed(),
            "checks": self.checks,
        });
        // Reason: a `Value` built from strings, numbers and bools always serializes.
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}
