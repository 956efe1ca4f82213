//! Server-side SVG plots for the portal: a horizontal bar chart and a column chart, each drawn
//! by a pure function as `<svg>` text to embed inline in a page.
//!
//! **Safe to embed.** Every caller's text (title, axis labels, bar labels, the withheld and
//! empty texts) is XML-escaped; every number is formatted here; the `id` is reduced to
//! `[A-Za-z0-9_-]` before it reaches an attribute. No script, no style attribute.
//!
//! **Accessible.** The root has `role="img"` and is labelled by its `<title>` and `<desc>`; the
//! desc lists every drawn value in words, so a screen reader gets the data. Text is #1a1a1a and
//! bars #1f4e79 on a white background (both well above 3:1), at least 12px, in the system font.
//!
//! At most 400 bars or columns are drawn (the first 400; the desc says so). Nothing is
//! aggregated here: callers bucket their data first. The output is deterministic.

use std::fmt::Write as _;

/// The most bars or columns drawn.
const MAX_ITEMS: usize = 400;
/// The width of every plot's view box.
const WIDTH: u32 = 640;
/// Text and axis colour.
const INK: &str = "#1a1a1a";
/// Bar colour (about 9:1 against white).
const BAR: &str = "#1f4e79";
/// Gridline colour (decorative).
const GRID: &str = "#d0d0d0";
/// Background colour.
const BG: &str = "#ffffff";
/// The widest a bar chart's label column gets, in pixels.
const LABEL_MAX_PX: u32 = 300;
/// The height of one bar chart row.
const ROW: u32 = 24;

/// One bar: a label and its value; `None` when the value is withheld (a small cell), drawn as
/// a hatched outline bar labelled with [`PlotText::withheld`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar<'a> {
    /// What the bar counts (a category, a month, a position bucket).
    pub label: &'a str,
    /// The count, or `None` when it is withheld.
    pub value: Option<u64>,
}

/// Texts of a plot in the reader's language.
#[derive(Debug, Clone, Copy)]
pub struct PlotText<'a> {
    /// The plot's title: its accessible name, also drawn at the top.
    pub title: &'a str,
    /// The axis of the labels (the categories, time or position).
    pub x_label: &'a str,
    /// The axis of the values (the counts).
    pub y_label: &'a str,
    /// Said in place of a withheld value.
    pub withheld: &'a str,
    /// Said when there is nothing to plot.
    pub empty: &'a str,
}

/// A horizontal bar chart (one row per bar, label at left, value at the bar's end).
///
/// The value axis (`text.y_label`) runs along the bottom; `text.x_label` heads the label
/// column. At most 400 bars are drawn: callers bucket first.
#[must_use]
pub fn bar_chart(id: &str, text: &PlotText<'_>, bars: &[Bar<'_>]) -> String {
    let id = sanitize_id(id);
    if bars.is_empty() {
        return empty_svg(&id, text);
    }
    let shown = &bars[..bars.len().min(MAX_ITEMS)];
    let ticks = nice_ticks(max_value(shown));
    let top = ticks.last().copied().unwrap_or(1);
    let label_w = shown
        .iter()
        .map(|b| text_px(b.label))
        .max()
        .unwrap_or(0)
        .min(LABEL_MAX_PX);
    let value_w = shown
        .iter()
        .filter_map(|b| b.value)
        .map(|v| text_px(&fmt_num(u128::from(v))))
        .max()
        .unwrap_or(0);
    let left = (label_w + 16).max(64);
    let right = (value_w + 12).max(32);
    let plot_w = WIDTH.saturating_sub(left + right).max(80);
    let top_y: u32 = 56;
    let rows = u32::try_from(shown.len()).unwrap_or(u32::MAX);
    let bottom = top_y + rows * ROW;
    let (left_f, plot_wf) = (f64::from(left), f64::from(plot_w));

    let mut out = String::new();
    open_svg(
        &mut out,
        &id,
        text,
        &describe(text, shown, bars.len()),
        bottom + 48,
    );
    let _ = write!(
        out,
        r#"<text x="8" y="44" font-weight="bold">{}</text>"#,
        escape(&clip(text.x_label, LABEL_MAX_PX))
    );
    for &t in &ticks {
        let x = left_f + ratio(t, top) * plot_wf;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{top_y}" x2="{x:.1}" y2="{bottom}" stroke="{GRID}"/><text class="v-tick" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            bottom + 16,
            fmt_num(t)
        );
    }
    let _ = write!(
        out,
        r#"<line x1="{left}" y1="{top_y}" x2="{left}" y2="{bottom}" stroke="{INK}"/><text x="{:.1}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
        left_f + plot_wf / 2.0,
        bottom + 38,
        escape(&clip(text.y_label, plot_w))
    );
    let withheld = escape(&clip(text.withheld, 160));
    for (i, bar) in (0u32..).zip(shown) {
        let row_y = top_y + i * ROW;
        let label = escape(bar.label);
        let _ = write!(
            out,
            r#"<text class="y-tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 8,
            row_y + 16,
            escape(&clip(bar.label, LABEL_MAX_PX))
        );
        if let Some(v) = bar.value {
            let w = scaled(v, top, plot_wf);
            let value = fmt_num(u128::from(v));
            let _ = write!(
                out,
                r#"<rect class="bar" x="{left}" y="{}" width="{w:.1}" height="14" fill="{BAR}"><title>{label}: {value}</title></rect><text class="value" x="{:.1}" y="{}">{value}</text>"#,
                row_y + 5,
                left_f + w + 6.0,
                row_y + 16
            );
        } else {
            let _ = write!(
                out,
                r#"<rect class="bar-withheld" x="{left}" y="{}" width="24" height="14" fill="url(#{id}-hatch)" stroke="{BAR}"><title>{label}: {withheld}</title></rect><text class="value" x="{}" y="{}" font-style="italic">{withheld}</text>"#,
                row_y + 5,
                left + 30,
                row_y + 16
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A column chart over an ordered axis (time or genomic position).
///
/// `points` are (axis label, value), drawn as columns in order, with at most ~8 axis labels
/// shown (evenly thinned) so labels never overlap; each shown label is also shortened to the
/// room it has. Withheld points are hatched stubs, with a legend. At most 400 columns are
/// drawn: callers bucket first.
#[must_use]
pub fn column_chart(id: &str, text: &PlotText<'_>, points: &[Bar<'_>]) -> String {
    let id = sanitize_id(id);
    if points.is_empty() {
        return empty_svg(&id, text);
    }
    let shown = &points[..points.len().min(MAX_ITEMS)];
    let ticks = nice_ticks(max_value(shown));
    let top = ticks.last().copied().unwrap_or(1);
    let tick_w = ticks
        .iter()
        .map(|&t| text_px(&fmt_num(t)))
        .max()
        .unwrap_or(0);
    let left = (tick_w + 32).max(56);
    let plot_w = WIDTH.saturating_sub(left + 40).max(80);
    let (top_y, plot_h): (u32, u32) = (40, 200);
    let bottom = top_y + plot_h;
    let any_withheld = shown.iter().any(|p| p.value.is_none());
    let height = bottom + if any_withheld { 72 } else { 52 };
    let (left_f, plot_wf, plot_hf) = (f64::from(left), f64::from(plot_w), f64::from(plot_h));

    let mut out = String::new();
    open_svg(
        &mut out,
        &id,
        text,
        &describe(text, shown, points.len()),
        height,
    );
    for &t in &ticks {
        let y = f64::from(bottom) - ratio(t, top) * plot_hf;
        let _ = write!(
            out,
            r#"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{GRID}"/><text class="v-tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            left + plot_w,
            left - 6,
            y + 4.0,
            fmt_num(t)
        );
    }
    let _ = write!(
        out,
        r#"<text x="0" y="0" transform="translate(14 {:.1}) rotate(-90)" text-anchor="middle" font-weight="bold">{}</text>"#,
        f64::from(top_y) + plot_hf / 2.0,
        escape(&clip(text.y_label, plot_h))
    );
    let count = u32::try_from(shown.len()).unwrap_or(u32::MAX);
    let slot = plot_wf / f64::from(count);
    let col_w = if slot >= 4.0 { slot * 0.8 } else { slot };
    let withheld = escape(&clip(text.withheld, 400));
    for (i, point) in (0u32..).zip(shown) {
        let x = left_f + f64::from(i) * slot + (slot - col_w) / 2.0;
        let label = escape(point.label);
        if let Some(v) = point.value {
            let h = scaled(v, top, plot_hf);
            let _ = write!(
                out,
                r#"<rect class="bar" x="{x:.1}" y="{:.1}" width="{col_w:.1}" height="{h:.1}" fill="{BAR}"><title>{label}: {}</title></rect>"#,
                f64::from(bottom) - h,
                fmt_num(u128::from(v))
            );
        } else {
            let _ = write!(
                out,
                r#"<rect class="bar-withheld" x="{x:.1}" y="{}" width="{col_w:.1}" height="12" fill="url(#{id}-hatch)" stroke="{BAR}"><title>{label}: {withheld}</title></rect>"#,
                bottom - 12
            );
        }
    }
    let _ = write!(
        out,
        r#"<line x1="{left}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="{INK}"/>"#,
        left + plot_w
    );
    let stride = shown.len().div_ceil(8).max(1);
    let labels = u32::try_from(shown.len().div_ceil(stride))
        .unwrap_or(8)
        .max(1);
    let label_px = (plot_w / labels).saturating_sub(4);
    for (i, point) in (0u32..).zip(shown).step_by(stride) {
        let x = left_f + (f64::from(i) + 0.5) * slot;
        let _ = write!(
            out,
            r#"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{}" stroke="{INK}"/><text class="x-tick" x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
            bottom + 4,
            bottom + 18,
            escape(&clip(point.label, label_px))
        );
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
        left_f + plot_wf / 2.0,
        bottom + 40,
        escape(&clip(text.x_label, plot_w))
    );
    if any_withheld {
        let _ = write!(
            out,
            r#"<rect x="{left}" y="{}" width="12" height="12" fill="url(#{id}-hatch)" stroke="{BAR}"/><text x="{}" y="{}">{withheld}</text>"#,
            bottom + 50,
            left + 18,
            bottom + 60
        );
    }
    out.push_str("</svg>");
    out
}

/// Opens the root element: title, desc, white background, visible title and the hatch pattern.
fn open_svg(out: &mut String, id: &str, text: &PlotText<'_>, desc: &str, height: u32) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="{id}" role="img" aria-labelledby="{id}-title {id}-desc" viewBox="0 0 {WIDTH} {height}" width="100%" font-family="system-ui, sans-serif" font-size="12" fill="{INK}"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc><rect width="{WIDTH}" height="{height}" fill="{BG}"/><text x="8" y="20" font-size="14" font-weight="bold">{}</text><defs><pattern id="{id}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="{BAR}" stroke-width="2"/></pattern></defs>"#,
        escape(text.title),
        escape(desc),
        escape(&clip(text.title, WIDTH - 16))
    );
}

/// The small plot that says there is nothing to plot.
fn empty_svg(id: &str, text: &PlotText<'_>) -> String {
    let mut out = String::new();
    open_svg(&mut out, id, text, text.empty, 64);
    let _ = write!(
        out,
        r#"<text x="8" y="48" font-style="italic">{}</text></svg>"#,
        escape(&clip(text.empty, WIDTH - 16))
    );
    out
}

/// The desc: the axes, then every drawn label with its value in words (unescaped).
fn describe(text: &PlotText<'_>, shown: &[Bar<'_>], total: usize) -> String {
    let mut desc = format!("{} – {}: ", text.x_label, text.y_label);
    for (i, bar) in shown.iter().enumerate() {
        if i > 0 {
            desc.push_str("; ");
        }
        let value = bar
            .value
            .map_or_else(|| text.withheld.to_owned(), |v| fmt_num(u128::from(v)));
        let _ = write!(desc, "{}: {value}", bar.label);
    }
    desc.push('.');
    if total > shown.len() {
        let _ = write!(
            desc,
            " [1–{} / {}]",
            fmt_count(shown.len()),
            fmt_count(total)
        );
    }
    desc
}

/// Nice ticks from 0: a step of 1, 2 or 5 × 10^k and 2 to 5 intervals (3 to 6 gridlines), the
/// last at or above `max` (taken as at least 1).
fn nice_ticks(max: u64) -> Vec<u128> {
    let max = u128::from(max.max(1));
    let mut magnitude: u128 = 1;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            let intervals = max.div_ceil(step).max(2);
            if intervals <= 5 {
                return (0..=intervals).map(|i| i * step).collect();
            }
        }
        magnitude *= 10;
    }
}

/// The largest present value, at least 1.
fn max_value(bars: &[Bar<'_>]) -> u64 {
    bars.iter()
        .filter_map(|b| b.value)
        .max()
        .unwrap_or(0)
        .max(1)
}

/// `v / top` as a fraction of the axis.
#[allow(
    clippy::cast_precision_loss,
    reason = "counts past 2^53 lose digits far below a pixel of the plot"
)]
fn ratio(v: u128, top: u128) -> f64 {
    if top == 0 { 0.0 } else { v as f64 / top as f64 }
}

/// The length of a bar of `v` on an axis of `span` pixels; a nonzero value gets at least 1.
fn scaled(v: u64, top: u128, span: f64) -> f64 {
    let len = ratio(u128::from(v), top) * span;
    if v > 0 { len.max(1.0) } else { len }
}

/// A count with thousands separators: `12,345`.
fn fmt_num(v: u128) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// [`fmt_num`] for a length.
fn fmt_count(n: usize) -> String {
    fmt_num(u128::try_from(n).unwrap_or(u128::MAX))
}

/// `id` with every character outside `[A-Za-z0-9_-]` replaced by `-` (`plot` when empty).
fn sanitize_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if clean.is_empty() {
        "plot".to_owned()
    } else {
        clean
    }
}

/// XML-escapes `&<>"'`; control characters become spaces.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The estimated width of a character at 12px: ASCII narrow, the rest (kana, kanji) full.
fn char_px(c: char) -> u32 {
    if c.is_ascii_uppercase() || c.is_ascii_digit() {
        9
    } else if c.is_ascii() {
        7
    } else {
        13
    }
}

/// The estimated width of a text at 12px.
fn text_px(s: &str) -> u32 {
    s.chars()
        .fold(0u32, |acc, c| acc.saturating_add(char_px(c)))
}

/// `s` shortened with `…` to fit `max_px` (before escaping, so no entity is cut).
fn clip(s: &str, max_px: u32) -> String {
    if text_px(s) <= max_px {
        return s.to_owned();
    }
    let budget = max_px.saturating_sub(12);
    let mut used: u32 = 0;
    let mut out = String::new();
    for c in s.chars() {
        used += char_px(c);
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts() -> PlotText<'static> {
        PlotText {
            title: "Cases by site",
            x_label: "Site",
            y_label: "Cases",
            withheld: "withheld",
            empty: "Nothing to show",
        }
    }

    fn bar(label: &str, value: Option<u64>) -> Bar<'_> {
        Bar { label, value }
    }

    fn desc_of(svg: &str) -> &str {
        let after = svg.split_once("<desc").map_or("", |(_, rest)| rest);
        after.split_once("</desc>").map_or("", |(desc, _)| desc)
    }

    #[test]
    fn labels_are_escaped() {
        let bars = [bar("<script>&\"'", Some(3))];
        for svg in [
            bar_chart("p", &texts(), &bars),
            column_chart("p", &texts(), &bars),
        ] {
            assert!(!svg.contains("<script"));
            assert!(!svg.contains("&\""));
            assert!(svg.contains("&lt;script&gt;&amp;&quot;&#39;"));
        }
    }

    #[test]
    fn id_is_sanitized() {
        let svg = bar_chart("a b\"<x>", &texts(), &[bar("a", Some(1))]);
        assert!(svg.contains(r#"id="a-b--x-""#));
        assert!(svg.contains(r#"aria-labelledby="a-b--x--title a-b--x--desc""#));
        assert!(!svg.contains("a b"));
        assert_eq!(sanitize_id(""), "plot");
    }

    #[test]
    fn withheld_bars_are_drawn_and_described() {
        let bars = [bar("A", Some(5)), bar("B", None)];
        for svg in [
            bar_chart("w", &texts(), &bars),
            column_chart("w", &texts(), &bars),
        ] {
            assert!(svg.contains(r#"class="bar-withheld""#));
            assert!(svg.contains("url(#w-hatch)"));
            assert!(desc_of(&svg).contains("A: 5; B: withheld."));
        }
    }

    #[test]
    fn empty_input_says_so() {
        for svg in [
            bar_chart("e", &texts(), &[]),
            column_chart("e", &texts(), &[]),
        ] {
            assert!(svg.contains(">Nothing to show</text>"));
            assert!(desc_of(&svg).contains("Nothing to show"));
            assert!(!svg.contains(r#"class="bar""#));
            assert!(svg.ends_with("</svg>"));
        }
    }

    #[test]
    fn root_is_an_accessible_image() {
        let svg = column_chart("r", &texts(), &[bar("2024-01", Some(12_345))]);
        assert!(svg.starts_with("<svg "));
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"aria-labelledby="r-title r-desc""#));
        assert!(svg.contains(r#"<title id="r-title">Cases by site</title>"#));
        assert!(desc_of(&svg).contains("2024-01: 12,345"));
    }

    #[test]
    fn ticks_are_nice() {
        assert_eq!(nice_ticks(7), vec![0, 2, 4, 6, 8]);
        assert_eq!(nice_ticks(1), vec![0, 1, 2]);
        assert_eq!(nice_ticks(0), vec![0, 1, 2]);
        assert_eq!(nice_ticks(12_345), vec![0, 5_000, 10_000, 15_000]);
        for max in [1, 2, 3, 7, 10, 11, 99, 100, 101, 12_345, 999_999, u64::MAX] {
            let ticks = nice_ticks(max);
            assert!((3..=6).contains(&ticks.len()), "{max}: {ticks:?}");
            assert!(ticks.last().copied().unwrap_or(0) >= u128::from(max));
            let mut step = ticks[1];
            while step.is_multiple_of(10) {
                step /= 10;
            }
            assert!([1, 2, 5].contains(&step), "{max}: {ticks:?}");
        }
    }

    #[test]
    fn column_labels_are_thinned() {
        let labels: Vec<String> = (0..100).map(|i| format!("chr1:{i}000000")).collect();
        let points: Vec<Bar<'_>> = labels.iter().map(|l| bar(l.as_str(), Some(7))).collect();
        let svg = column_chart("c", &texts(), &points);
        let shown = svg.matches(r#"<text class="x-tick""#).count();
        assert!((2..=8).contains(&shown), "{shown}");
        assert_eq!(svg.matches(r#"class="bar""#).count(), 100);
    }

    #[test]
    fn at_most_400_are_drawn_and_the_desc_says_so() {
        let points = vec![bar("x", Some(1)); 401];
        let svg = bar_chart("m", &texts(), &points);
        assert_eq!(svg.matches(r#"class="bar""#).count(), 400);
        assert!(desc_of(&svg).contains("[1–400 / 401]"));
        assert_eq!(svg, bar_chart("m", &texts(), &points));
    }
}
