//! The one error every parser in this crate returns: which parameter was bad and why, in words a
//! client developer can act on. The HTTP layer turns it into a Webex-shaped 400.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter (query parameter, body field or `items[3].actorId`-style path).
    pub param: String,
    pub reason: String,
}

impl ParamError {
    pub fn new(param: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { param: param.into(), reason: reason.into() }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid parameter '{}': {}", self.param, self.reason)
    }
}

impl std::error::Error for ParamError {}
