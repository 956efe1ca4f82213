//! Japanese text in clinical exports: Japanese-era dates (昭和/平成/令和, S50.04.01, R1/5/7) and half-width kana.
//!
//! This crate owns two conversions every Japanese hospital, EDC and biobank export needs and
//! nothing else: [`era`] turns the date spellings of those exports (`S64.01.07`, `令和元年5月1日`,
//! `2024/03/15`) into a [`gemj_model::PartialDate`] that keeps the precision the source gave, and
//! [`kana`] turns half-width katakana (`ﾐﾎﾝ`) into full width (`ミホン`). Both are pure functions
//! over `&str`: no I/O, no clock, no locale.
//!
//! # Examples
//! ```
//! use gemj_japanese::{era, kana};
//! assert_eq!(era::parse("令和元年5月1日")?.to_string(), "2019-05-01");
//! assert_eq!(kana::to_full_width("ﾐﾎﾝ ﾊﾅｺ"), "ミホン ハナコ");
//! # Ok::<(), gemj_japanese::era::ParseError>(())
//! ```

pub mod era;
pub mod kana;
