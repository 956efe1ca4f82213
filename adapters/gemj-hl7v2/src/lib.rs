//! HL7 v2.x messages: segments, fields, repetitions, components and escapes, zero-copy over decoded text.
//!
//! This crate owns the syntax of HL7 v2 (Chapter 2 of the standard): the delimiters a message
//! declares in MSH-1 and MSH-2, segments separated by CR (LF and CRLF are accepted too), fields,
//! repetitions, components and subcomponents, and the escape sequences of §2.7. It knows no
//! message type and no character set: callers decode bytes first (SS-MIX2 files are ISO-2022-JP
//! or CP932, see `gemj-ssmix2`) and give it `&str`.
//!
//! [`Message::parse`] reads the header and builds an index of segments and fields in one pass;
//! everything else is split on demand and borrows from the text. Values are unescaped when asked
//! for, as [`std::borrow::Cow`], so a value without escapes costs no allocation.
//!
//! Invariant: parsing never panics, does work linear in the input, and allocates at most one
//! index entry per input byte. Only an unusable header is an error ([`Error`]); what a segment
//! means is the caller's business.
//!
//! # Examples
//! ```
//! use gemj_hl7v2::{Location, Message};
//! let text = "MSH|^~\\&|GEMJ-TEST-HIS|9999999999|GEMJ-GW|GEMJ|20240220101500||PPR^ZD1^PPR_ZD1|2|P|2.5\r\
//!             PID|0001||9000000001^^^^PI\r\
//!             PRB|AD|20240220101500|20054178^胃癌^MDCDX2|1|||20240220|||C169^^I10\r";
//! let message = Message::parse(text)?;
//! let msh = message.segment("MSH").unwrap();
//! assert_eq!(msh.field(9).unwrap().component(1).unwrap().as_str(), "PPR");
//! for prb in message.segments_named("PRB") {
//!     let icd10 = prb.field(10).and_then(|f| f.component(1)).unwrap();
//!     assert_eq!(icd10.value(), "C169");
//! }
//! assert_eq!(message.get(&Location::parse("PRB-3.2")?).as_deref(), Some("胃癌"));
//! # Ok::<(), gemj_hl7v2::Error>(())
//! ```

mod delimiters;
mod error;
mod escape;
mod location;
mod message;
mod value;

pub use delimiters::Delimiters;
pub use error::Error;
pub use escape::unescape;
pub use location::Location;
pub use message::{Message, Segment, Segments};
pub use value::{
    Component, Components, Field, Repetition, Repetitions, SubComponent, SubComponents,
};
