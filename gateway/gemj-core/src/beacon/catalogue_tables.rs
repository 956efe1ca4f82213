//! The rows of Data Connect's catalogue tables for one caller, from Beacon's discovery views:
//! each dataset is asked (`Discover`, audited with the request), its members are those the
//! caller's consent scope serves, and each cell is reported at the caller's level of the
//! dataset. A small cell and an absent one look the same: below record level a cell under the
//! dataset's small-cell threshold has no row, and at boolean level (public) rows also need the
//! dataset's public minimum cohort and carry no count. Below record level, the participants of
//! a cell with a row and at most `risk_set_size` of them are charged to the caller's risk
//! ledger, once per search, as those of a small Beacon answer are.

use std::collections::BTreeMap;

use gemj_beacon::Granularity;
use gemj_model::{ConsentState, SpecimenType};
use gemj_store::scratch::ScratchValue;
use roaring::RoaringBitmap;

use super::index::BeaconIndex;
use super::{Beacon, BeaconFailure, DatasetView, permitted_views};
use crate::access::{Outcome, Principal, RequestContext, Verdicts};
use crate::consent_view::ConsentSnapshot;
use crate::data_connect::CatalogueTable;

/// Participants and samples of one cell, with who they are.
#[derive(Debug, Default, Clone)]
struct Cell {
    participants: u64,
    samples: u64,
    members: RoaringBitmap,
}

type Row = Vec<ScratchValue>;

fn text(s: impl Into<String>) -> ScratchValue {
    ScratchValue::Text(s.into())
}

fn int(n: u64) -> ScratchValue {
    ScratchValue::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `participants, [samples,] precision, rounding` of a cell as `view` reports it, or `None`
/// when the cell has no row at this level.
fn reported(view: &DatasetView, cell: &Cell, with_samples: bool) -> Option<Row> {
    let p = &view.privacy;
    let n = cell.participants;
    let mut out = Vec::with_capacity(4);
    match view.level {
        Granularity::Record => {
            if n == 0 {
                return None;
            }
            out.push(int(n));
            if with_samples {
                out.push(int(cell.samples));
            }
            out.extend([text("exact"), ScratchValue::Null]);
        }
        Granularity::Count => {
            if !p.count_exists(n) {
                return None;
            }
            let step = p.round_to.max(1);
            out.push(int(p.report_count(n).value));
            if with_samples {
                let s = cell.samples;
                out.push(int(if step == 1 {
                    s
                } else {
                    (s - s % step).max(step)
                }));
            }
            if step == 1 {
                out.extend([text("exact"), ScratchValue::Null]);
            } else {
                out.extend([text("rounded"), int(step)]);
            }
        }
        Granularity::Boolean => {
            if !p.count_exists(n) || view.servable.len() < p.min_cohort_public {
                return None;
            }
            out.push(ScratchValue::Null);
            if with_samples {
                out.push(ScratchValue::Null);
            }
            out.extend([text("withheld"), ScratchValue::Null]);
        }
    }
    Some(out)
}

fn specimen_type(t: &SpecimenType) -> String {
    match t {
        SpecimenType::Other(_) => "other".to_owned(),
        t => serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "other".to_owned()),
    }
}

fn strategy(s: &gemj_model::LibraryStrategy) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned())
}

/// Ten-year age bands, today.
fn age_band(birth: Option<&gemj_model::YearMonth>, today: time::Date) -> String {
    let Some(b) = birth else {
        return "unknown".to_owned();
    };
    let mut age = today.year() - b.year();
    if u8::from(today.month()) < b.month() {
        age -= 1;
    }
    if age < 0 {
        return "unknown".to_owned();
    }
    if age >= 90 {
        return "90+".to_owned();
    }
    let low = age - age % 10;
    format!("{low}-{}", low + 9)
}

fn scopes_of(state: Option<&ConsentState>) -> Vec<&'static str> {
    let Some(s) = state else {
        return Vec::new();
    };
    let c = &s.scopes;
    [
        ("research_use", c.research_use),
        ("third_party_academia", c.third_party_academia),
        ("third_party_industry", c.third_party_industry),
        ("international_transfer", c.international_transfer),
        ("recontact", c.recontact.allowed),
        (
            "return_of_secondary_findings",
            c.return_of_secondary_findings,
        ),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect()
}

/// Counts `servable` into cells keyed by what `keys` says of each participant: each key once
/// per participant, with the samples it brings.
fn cells<F>(servable: &RoaringBitmap, mut keys: F) -> BTreeMap<String, Cell>
where
    F: FnMut(u32) -> Vec<(String, u64)>,
{
    let mut out: BTreeMap<String, Cell> = BTreeMap::new();
    for ordinal in servable {
        let mut mine: BTreeMap<String, u64> = BTreeMap::new();
        for (key, samples) in keys(ordinal) {
            *mine.entry(key).or_default() += samples;
        }
        for (key, samples) in mine {
            let cell = out.entry(key).or_default();
            cell.participants += 1;
            cell.samples += samples;
            cell.members.insert(ordinal);
        }
    }
    out
}

/// The rows of one table for one dataset view. Below record level, the members of every cell
/// a row shows that has at most `risk_set` participants are added to `charged` (a row that
/// small singles them out, as a small Beacon answer does).
fn rows_of(
    table: CatalogueTable,
    index: &BeaconIndex,
    view: &DatasetView,
    consent: &ConsentSnapshot,
    today: time::Date,
    (risk_set, charged): (u64, &mut RoaringBitmap),
) -> Vec<Row> {
    let id = view.dataset.id.as_str();
    let person = |o: u32| index.person(o);
    let mut charge = |cell: &Cell| {
        if view.level < Granularity::Record && cell.participants <= risk_set {
            *charged |= &cell.members;
        }
    };
    let mut keyed = |key_cells: BTreeMap<String, Cell>, with_samples: bool| -> Vec<Row> {
        key_cells
            .into_iter()
            .filter_map(|(key, cell)| {
                let mut row = vec![text(id)];
                if with_samples && key.contains('\u{1f}') {
                    row.extend(key.split('\u{1f}').map(text));
                } else {
                    row.push(text(key));
                }
                row.extend(reported(view, &cell, with_samples)?);
                charge(&cell);
                Some(row)
            })
            .collect()
    };
    let one = |k: String| vec![(k, 0)];
    match table {
        CatalogueTable::Datasets => {
            let d = &view.dataset;
            let mut codes = vec![d.data_use.permission.as_str().to_owned()];
            codes.extend(d.data_use.modifiers.iter().map(|m| m.as_str().to_owned()));
            let mut row = vec![
                text(id),
                text(d.name.clone()),
                text(d.description.clone()),
                text(d.access_level.as_str()),
                text(codes.join(" ")),
            ];
            let cell = Cell {
                participants: view.servable.len(),
                samples: 0,
                members: view.servable.clone(),
            };
            // At record level a dataset's count is exact, 0 included.
            let shown = if view.level == Granularity::Record {
                Some(vec![
                    int(cell.participants),
                    text("exact"),
                    ScratchValue::Null,
                ])
            } else {
                reported(view, &cell, false)
            };
            if shown.is_some() && view.level == Granularity::Count {
                charge(&cell);
            }
            row.extend(
                shown.unwrap_or_else(|| {
                    vec![ScratchValue::Null, text("withheld"), ScratchValue::Null]
                }),
            );
            // A dataset's row always exists; its count may not be released.
            if view.level == Granularity::Boolean {
                row[5] = ScratchValue::Null;
                row[6] = text("withheld");
                row[7] = ScratchValue::Null;
            }
            vec![row]
        }
        CatalogueTable::BySex => keyed(
            cells(&view.servable, |o| {
                person(o).map_or_else(Vec::new, |p| one(p.participant.sex.as_str().to_owned()))
            }),
            false,
        ),
        CatalogueTable::ByAgeBand => keyed(
            cells(&view.servable, |o| {
                person(o).map_or_else(Vec::new, |p| {
                    one(age_band(p.participant.birth.as_ref(), today))
                })
            }),
            false,
        ),
        CatalogueTable::ByDiagnosis => keyed(
            cells(&view.servable, |o| {
                person(o).map_or_else(Vec::new, |p| {
                    p.icd10
                        .iter()
                        .map(|c| (c.split('.').next().unwrap_or(c).to_owned(), 0))
                        .collect()
                })
            }),
            false,
        ),
        CatalogueTable::BySpecimenType => keyed(
            cells(&view.servable, |o| {
                index
                    .specimens_of(o)
                    .into_iter()
                    .map(|s| (specimen_type(&s.specimen_type), 1))
                    .collect()
            }),
            true,
        ),
        CatalogueTable::ByDataType => keyed(
            cells(&view.servable, |o| {
                index
                    .specimens_of(o)
                    .into_iter()
                    .flat_map(|s| index.runs_of(s.id.as_str()))
                    .map(|r| (strategy(&r.library_strategy), 0))
                    .collect()
            }),
            false,
        ),
        CatalogueTable::ByConsentScope => keyed(
            cells(&view.servable, |o| {
                person(o).map_or_else(Vec::new, |p| {
                    scopes_of(consent.state(&p.participant.id))
                        .into_iter()
                        .map(|s| (s.to_owned(), 0))
                        .collect()
                })
            }),
            false,
        ),
        CatalogueTable::BiobankSamples => keyed(
            cells(&view.servable, |o| {
                let Some(p) = person(o) else {
                    return Vec::new();
                };
                index
                    .specimens_of(o)
                    .into_iter()
                    .filter(|s| s.biobank_sample)
                    .map(|s| {
                        (
                            format!(
                                "{}\u{1f}{}",
                                p.participant.institution.as_str(),
                                specimen_type(&s.specimen_type)
                            ),
                            1,
                        )
                    })
                    .collect()
            }),
            true,
        ),
    }
}

impl Beacon {
    /// Data Connect's search: builds the rows of `tables` for the caller (every dataset asked
    /// for discovery, under the caller's query budget, as a Beacon query is) and hands them to
    /// `run`, whose answer is released once every dataset's decision is audited.
    ///
    /// # Errors
    /// [`BeaconFailure`]: a spent query budget (429), the audit or the store.
    pub async fn catalogue_search<T>(
        &self,
        ctx: &RequestContext,
        principal: &Principal,
        tables: &[CatalogueTable],
        run: impl AsyncFnOnce(Vec<Vec<Row>>) -> Result<T, BeaconFailure>,
    ) -> Result<T, BeaconFailure> {
        let requester = principal.requester(ctx.client);
        self.take_budget(ctx, principal).await?;
        let index = self.index().await?;
        let mut enforcement = self.core.access.begin(ctx, principal);
        let views = self
            .views(&mut enforcement, &index, &[], None, &requester)
            .await?;
        let consent = enforcement.consent()?;
        let today = time::OffsetDateTime::now_utc().date();
        enforcement
            .release(async |verdicts: &Verdicts| -> Result<_, BeaconFailure> {
                permitted_views(&views, verdicts)?;
                let served: Vec<&DatasetView> = views
                    .iter()
                    .filter(|v| verdicts.permit(v.ask).is_some())
                    .collect();
                let mut per_view = vec![0_u64; views.len()];
                let mut out = Vec::with_capacity(tables.len());
                let risk_set = self.budgets.risk_set_size();
                let mut charged = RoaringBitmap::new();
                for &table in tables {
                    let mut rows = Vec::new();
                    for v in &served {
                        let mine =
                            rows_of(table, &index, v, &consent, today, (risk_set, &mut charged));
                        if let Some(i) = views.iter().position(|x| std::ptr::eq(x, *v)) {
                            per_view[i] += mine.len() as u64;
                        }
                        rows.extend(mine);
                    }
                    out.push(rows);
                }
                // Small cells are charged to their participants before anything is answered.
                self.budgets
                    .charge_members(&requester, &charged)
                    .await
                    .map_err(crate::CoreError::from)?;
                let answer = run(out).await?;
                let outcomes = views
                    .iter()
                    .zip(per_view)
                    .map(|(v, rows)| Outcome {
                        consent_epoch: Some(consent.epoch),
                        participants: Vec::new(),
                        returned: Some(rows),
                        filtered: Some(v.withheld),
                        answer: Some(format!("aggregate:{}", v.level.as_str())),
                    })
                    .collect();
                Ok((answer, outcomes))
            })
            .await
            .map(|r| r.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_are_ten_years_wide_from_the_birth_month() {
        let today = time::macros::date!(2026 - 11 - 24);
        let ym = |y, m| gemj_model::YearMonth::new(y, m).ok();
        assert_eq!(age_band(ym(1980, 11).as_ref(), today), "40-49");
        assert_eq!(age_band(ym(1986, 12).as_ref(), today), "30-39");
        assert_eq!(age_band(ym(1930, 1).as_ref(), today), "90+");
        assert_eq!(age_band(ym(2026, 1).as_ref(), today), "0-9");
        assert_eq!(age_band(None, today), "unknown");
    }
}
