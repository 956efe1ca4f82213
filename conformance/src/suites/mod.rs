//! The check functions of each suite, one module per suite.

pub(crate) mod beacon;
pub(crate) mod data_connect;
pub(crate) mod errors;
pub(crate) mod openapi;
pub(crate) mod service_info;
