//! Which files of a standardized storage to read: the condition flags of all paths of a tree,
//! decided together.
//!
//! Files of one order (same patient, date, data kind and order number) replace or delete each
//! other. Flag `1` is current data, flag `2` superseded, flag `0` deletes the whole order. Of
//! several flag-`1` files of one order only the newest timestamp is current. Once an order has
//! a flag-`0` file, none of its other files is read, whatever their timestamps: deleted data
//! must never come back. Every path ends in exactly one [`Action`].

use std::collections::HashMap;
use std::fmt;

use gemj_model::source::{Diagnostic, Extract, Rejected};

use crate::map::provenance;
use crate::path::{ConditionFlag, DataKind, PathError, StoragePath};

/// Why a file is superseded.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Action, Plan, Superseded};
/// let plan = Plan::new(["900/000/9000000001/-/ADT-00/9000000001_-_ADT-00_000000000000000_20240301090000000_-_2"]);
/// assert_eq!(plan.files()[0].action(), &Action::Superseded(Superseded::Flag));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Superseded {
    /// Its condition flag is `2`.
    Flag,
    /// A newer flag-`1` file of the same order (this path) is current.
    ByNewer(String),
    /// The order was deleted by this flag-`0` file.
    ByDeletion(String),
}

/// Why a file is not read at all.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Action, Plan, Unread};
/// let plan = Plan::new(["a", "a"]);
/// assert_eq!(plan.files()[1].action(), &Action::Unread(Unread::Duplicate));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unread {
    /// The path is not a standardized-storage file path.
    Path(PathError),
    /// This crate does not map the data kind.
    Kind(DataKind),
    /// The same path was listed before.
    Duplicate,
}

/// What becomes of one file; its text form is the reason given in a `Rejected` entry.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Action, Superseded};
/// assert_eq!(Action::Superseded(Superseded::Flag).to_string(), "superseded (condition flag 2)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Current data: decode and map it.
    Read,
    /// Condition flag `0`: the file deletes its order. Its header is read only for the
    /// institution (MSH-4); the result is an `OrderDeletion` record and never a measurement.
    Delete,
    /// Not current: a `Rejected` entry with the reason.
    Superseded(Superseded),
    /// Not read: a `Rejected` entry with the reason.
    Unread(Unread),
}

impl Action {
    /// Whether the file's bytes are needed ([`Action::Read`] and [`Action::Delete`]).
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::{Action, Superseded};
    /// assert!(Action::Delete.needs_bytes());
    /// assert!(!Action::Superseded(Superseded::Flag).needs_bytes());
    /// ```
    #[must_use]
    pub fn needs_bytes(&self) -> bool {
        matches!(self, Self::Read | Self::Delete)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read => f.write_str("read"),
            Self::Delete => f.write_str("deletes its order (condition flag 0)"),
            Self::Superseded(Superseded::Flag) => f.write_str("superseded (condition flag 2)"),
            Self::Superseded(Superseded::ByNewer(p)) => {
                write!(f, "superseded by the newer file {p}")
            }
            Self::Superseded(Superseded::ByDeletion(p)) => {
                write!(f, "its order was deleted (condition flag 0 in {p})")
            }
            Self::Unread(Unread::Path(e)) => write!(f, "not a standardized-storage path: {e}"),
            Self::Unread(Unread::Kind(k)) => write!(f, "data kind {k} is not read"),
            Self::Unread(Unread::Duplicate) => f.write_str("the path was listed twice"),
        }
    }
}

/// One file of a plan.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Action, Plan};
/// let plan = Plan::new(["900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1"]);
/// let file = &plan.files()[0];
/// assert_eq!(file.action(), &Action::Read);
/// assert_eq!(file.storage().map(|s| s.patient()), Some("9000000002"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    path: String,
    storage: Option<StoragePath>,
    action: Action,
    /// A caveat found while planning (two current files with one timestamp).
    note: Option<String>,
}

impl PlannedFile {
    /// The path as given.
    ///
    /// # Examples
    /// ```
    /// let plan = gemj_ssmix2::Plan::new(["x/y"]);
    /// assert_eq!(plan.files()[0].path(), "x/y");
    /// ```
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The parsed path, unless it did not parse.
    ///
    /// # Examples
    /// ```
    /// let plan = gemj_ssmix2::Plan::new(["x/y"]);
    /// assert!(plan.files()[0].storage().is_none());
    /// ```
    #[must_use]
    pub fn storage(&self) -> Option<&StoragePath> {
        self.storage.as_ref()
    }

    /// What becomes of the file.
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::{Action, Plan, Unread};
    /// let plan = Plan::new(["x/y"]);
    /// assert!(matches!(plan.files()[0].action(), Action::Unread(Unread::Path(_))));
    /// ```
    #[must_use]
    pub fn action(&self) -> &Action {
        &self.action
    }

    /// The file's share of the extract: its records for [`Action::Read`], an `OrderDeletion`
    /// for [`Action::Delete`], a `Rejected` entry otherwise. `bytes` is ignored when the action
    /// does not need them (pass `&[]`).
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::Plan;
    /// let plan = Plan::new(["900/000/9000000001/-/OMP-01/9000000001_-_OMP-01_000000000000009_20240301090000000_-_1"]);
    /// let extract = plan.files()[0].extract(&[]);
    /// assert_eq!(extract.rejected[0].reason, "data kind OMP-01 is not read");
    /// ```
    #[must_use]
    pub fn extract(&self, bytes: &[u8]) -> Extract {
        let mut out = Extract::default();
        if let Some(note) = &self.note {
            out.diagnostics
                .push(Diagnostic::warning(&self.path, "", "", note.clone()));
        }
        match (&self.action, &self.storage) {
            (Action::Read | Action::Delete, Some(storage)) => {
                crate::read_storage_file(storage, bytes, &mut out);
            }
            (action, _) => {
                let reason = action.to_string();
                if let Action::Unread(Unread::Path(_) | Unread::Duplicate) = action {
                    let d = if matches!(action, Action::Unread(Unread::Duplicate)) {
                        Diagnostic::warning(&self.path, "", "", reason.clone())
                    } else {
                        Diagnostic::error(&self.path, "", "", reason.clone())
                    };
                    out.diagnostics.push(d);
                }
                out.rejected.push(Rejected {
                    provenance: provenance(&self.path, None, None),
                    reason,
                });
            }
        }
        out
    }
}

/// The classified files of a standardized-storage tree.
///
/// # Examples
/// ```
/// use gemj_ssmix2::{Action, Plan, Superseded};
/// let dir = "900/000/9000000001/20240314/OML-11/";
/// let plan = Plan::new([
///     format!("{dir}9000000001_20240314_OML-11_000000000012345_20240314153000000_01_1"),
///     format!("{dir}9000000001_20240314_OML-11_000000000012345_20240314120000000_01_1"),
///     format!("{dir}9000000001_20240314_OML-11_000000000012345_20240314110000000_01_2"),
///     format!("{dir}9000000001_20240314_OML-11_000000000012346_20240314160000000_01_0"),
///     format!("{dir}9000000001_20240314_OML-11_000000000012346_20240314150000000_01_1"),
/// ]);
/// let actions: Vec<_> = plan.files().iter().map(|f| f.action()).collect();
/// assert_eq!(actions[0], &Action::Read);
/// assert!(matches!(actions[1], Action::Superseded(Superseded::ByNewer(_))));
/// assert_eq!(actions[2], &Action::Superseded(Superseded::Flag));
/// assert_eq!(actions[3], &Action::Delete);
/// assert!(matches!(actions[4], Action::Superseded(Superseded::ByDeletion(_))));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    files: Vec<PlannedFile>,
}

impl Plan {
    /// Classifies every path (relative to `standard_root`), keeping their order.
    ///
    /// # Examples
    /// ```
    /// let plan = gemj_ssmix2::Plan::new(Vec::<String>::new());
    /// assert!(plan.files().is_empty());
    /// ```
    pub fn new<I>(paths: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut files: Vec<PlannedFile> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for path in paths {
            let path: String = path.into();
            if seen.contains_key(&path) {
                files.push(PlannedFile {
                    path,
                    storage: None,
                    action: Action::Unread(Unread::Duplicate),
                    note: None,
                });
                continue;
            }
            seen.insert(path.clone(), files.len());
            let (storage, action) = match StoragePath::parse(&path) {
                Err(e) => (None, Action::Unread(Unread::Path(e))),
                Ok(s) => {
                    let action = match s.kind().read_kind() {
                        None => Action::Unread(Unread::Kind(s.kind().clone())),
                        Some(_) => Action::Read,
                    };
                    (Some(s), action)
                }
            };
            files.push(PlannedFile {
                path,
                storage,
                action,
                note: None,
            });
        }
        decide_orders(&mut files);
        Self { files }
    }

    /// The files, in the order given.
    ///
    /// # Examples
    /// ```
    /// let plan = gemj_ssmix2::Plan::new(["a", "b"]);
    /// assert_eq!(plan.files().len(), 2);
    /// ```
    #[must_use]
    pub fn files(&self) -> &[PlannedFile] {
        &self.files
    }

    /// The paths whose bytes the caller must load ([`Action::needs_bytes`]).
    ///
    /// # Examples
    /// ```
    /// let plan = gemj_ssmix2::Plan::new(["900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1"]);
    /// assert_eq!(plan.paths_to_load().count(), 1);
    /// ```
    pub fn paths_to_load(&self) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(|f| f.action.needs_bytes())
            .map(|f| f.path.as_str())
    }

    /// Reads the whole tree: `load` is called once for each path that needs bytes, and every
    /// file contributes its share ([`PlannedFile::extract`]). A file that cannot be loaded is
    /// an error diagnostic and a `Rejected` entry.
    ///
    /// # Examples
    /// ```
    /// use gemj_ssmix2::Plan;
    /// let plan = Plan::new(["900/000/9000000002/-/ADT-00/9000000002_-_ADT-00_000000000000000_20190501090000000_-_1"]);
    /// let extract = plan.extract_with(|_path| Err::<Vec<u8>, _>("gone"));
    /// assert_eq!(extract.rejected.len(), 1);
    /// ```
    pub fn extract_with<F, E>(&self, mut load: F) -> Extract
    where
        F: FnMut(&str) -> Result<Vec<u8>, E>,
        E: fmt::Display,
    {
        let mut out = Extract::default();
        for file in &self.files {
            if !file.action.needs_bytes() {
                out.append(file.extract(&[]));
                continue;
            }
            match load(&file.path) {
                Ok(bytes) => out.append(file.extract(&bytes)),
                Err(error) => {
                    let reason = format!("the file could not be loaded: {error}");
                    out.diagnostics
                        .push(Diagnostic::error(&file.path, "", "", reason.clone()));
                    out.rejected.push(Rejected {
                        provenance: provenance(&file.path, None, None),
                        reason,
                    });
                }
            }
        }
        out
    }
}

/// Decides current, superseded and deleted among the files of each order.
fn decide_orders(files: &mut [PlannedFile]) {
    let mut orders: HashMap<(String, Option<time::Date>, String, String), Vec<usize>> =
        HashMap::new();
    for (i, file) in files.iter().enumerate() {
        if let (Action::Read, Some(s)) = (&file.action, &file.storage) {
            let (patient, date, kind, order) = s.order_key();
            orders
                .entry((
                    patient.to_owned(),
                    date,
                    kind.as_str().to_owned(),
                    order.to_owned(),
                ))
                .or_default()
                .push(i);
        }
    }
    for members in orders.values() {
        let flag = |i: usize| files[i].storage.as_ref().map(StoragePath::flag);
        let stamp = |i: usize| {
            files[i]
                .storage
                .as_ref()
                .map(|s| (s.timestamp().to_owned(), files[i].path.clone()))
        };
        let newest_deletion = members
            .iter()
            .copied()
            .filter(|&i| flag(i) == Some(ConditionFlag::Deleted))
            .max_by_key(|&i| stamp(i));
        let newest_current = members
            .iter()
            .copied()
            .filter(|&i| flag(i) == Some(ConditionFlag::Current))
            .max_by_key(|&i| stamp(i));
        let winner_stamp = newest_current
            .and_then(|w| files[w].storage.as_ref().map(|s| s.timestamp().to_owned()));
        let mut actions = Vec::with_capacity(members.len());
        for &i in members {
            let action = match (flag(i), newest_deletion, newest_current) {
                (Some(ConditionFlag::Deleted), _, _) => Action::Delete,
                (_, Some(d), _) => {
                    Action::Superseded(Superseded::ByDeletion(files[d].path.clone()))
                }
                (Some(ConditionFlag::Superseded), _, _) => Action::Superseded(Superseded::Flag),
                (_, None, Some(w)) if w == i => Action::Read,
                (_, None, Some(w)) => {
                    Action::Superseded(Superseded::ByNewer(files[w].path.clone()))
                }
                _ => Action::Superseded(Superseded::Flag),
            };
            let tie = matches!(action, Action::Superseded(Superseded::ByNewer(_)))
                && files[i].storage.as_ref().map(|s| s.timestamp().to_owned()) == winner_stamp;
            actions.push((i, action, tie));
        }
        for (i, action, tie) in actions {
            files[i].action = action;
            if tie {
                files[i].note = Some(
                    "another current file of the same order has the same timestamp; the one with the greater path is read"
                        .to_owned(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIR: &str = "900/000/9000000001/20240314/OML-11/9000000001_20240314_OML-11_";

    fn file(order: &str, stamp: &str, flag: &str) -> String {
        format!("{DIR}{order}_{stamp}000_01_{flag}")
    }

    fn actions(paths: &[String]) -> Vec<String> {
        Plan::new(paths.iter().cloned())
            .files()
            .iter()
            .map(|f| match f.action() {
                Action::Read => "read".to_owned(),
                Action::Delete => "delete".to_owned(),
                Action::Superseded(Superseded::Flag) => "flag2".to_owned(),
                Action::Superseded(Superseded::ByNewer(_)) => "older".to_owned(),
                Action::Superseded(Superseded::ByDeletion(_)) => "deleted".to_owned(),
                Action::Unread(Unread::Path(_)) => "path".to_owned(),
                Action::Unread(Unread::Kind(_)) => "kind".to_owned(),
                Action::Unread(Unread::Duplicate) => "dup".to_owned(),
            })
            .collect()
    }

    const A: &str = "000000000000001";
    const B: &str = "000000000000002";

    #[test]
    fn flags_per_order() {
        let check = |paths: Vec<String>, expect: &[&str]| {
            assert_eq!(actions(&paths), expect, "{paths:?}");
        };
        check(vec![file(A, "20240314100000", "1")], &["read"]);
        check(vec![file(A, "20240314100000", "2")], &["flag2"]);
        check(vec![file(A, "20240314100000", "0")], &["delete"]);
        check(
            vec![
                file(A, "20240314100000", "1"),
                file(A, "20240314110000", "1"),
            ],
            &["older", "read"],
        );
        check(
            vec![
                file(A, "20240314110000", "1"),
                file(A, "20240314100000", "2"),
            ],
            &["read", "flag2"],
        );
        check(
            vec![
                file(A, "20240314100000", "1"),
                file(A, "20240314110000", "0"),
            ],
            &["deleted", "delete"],
        );
        // A current file newer than the deletion is still not read.
        check(
            vec![
                file(A, "20240314120000", "1"),
                file(A, "20240314110000", "0"),
            ],
            &["deleted", "delete"],
        );
        check(
            vec![
                file(A, "20240314100000", "0"),
                file(A, "20240314110000", "0"),
                file(A, "20240314090000", "2"),
            ],
            &["delete", "delete", "deleted"],
        );
        // Orders are independent.
        check(
            vec![
                file(A, "20240314100000", "1"),
                file(B, "20240314110000", "0"),
            ],
            &["read", "delete"],
        );
        check(
            vec![
                file(A, "20240314100000", "1"),
                file(A, "20240314100000", "1"),
            ],
            &["read", "dup"],
        );
        check(vec!["not/a/path".to_owned()], &["path"]);
        check(
            vec!["900/000/9000000001/-/OMP-01/9000000001_-_OMP-01_000000000000009_20240301090000000_-_0".to_owned()],
            &["kind"],
        );
    }

    #[test]
    fn same_timestamp_tie_is_noted() {
        let a = format!("{DIR}{A}_20240314100000000_01_1");
        let b = format!("{DIR}{A}_20240314100000000_02_1");
        let plan = Plan::new([a.clone(), b.clone()]);
        assert!(
            matches!(plan.files()[0].action(), Action::Superseded(Superseded::ByNewer(p)) if *p == b)
        );
        assert_eq!(plan.files()[1].action(), &Action::Read);
        let extract = plan.files()[0].extract(&[]);
        assert_eq!(extract.diagnostics.len(), 1);
        assert_eq!(extract.rejected.len(), 1);
    }

    #[test]
    fn every_file_accounted_once() {
        let paths = vec![
            file(A, "20240314100000", "1"),
            file(A, "20240314110000", "1"),
            file(A, "20240314090000", "2"),
            file(B, "20240314100000", "0"),
            "garbage".to_owned(),
        ];
        let plan = Plan::new(paths.clone());
        let extract = plan.extract_with(|_| Ok::<_, std::convert::Infallible>(Vec::new()));
        // Read files with no bytes are rejected as not HL7, the deletion cannot be attributed,
        // and the rest are rejections from the plan: one entry per file.
        assert_eq!(extract.rejected.len() + extract.records.len(), paths.len());
    }
}
