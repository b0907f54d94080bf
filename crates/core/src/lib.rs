//! Domain types of auditrail: everything a request becomes once it has been parsed at the edge.
//!
//! Nothing in this crate does I/O. Raw strings from HTTP, the CLI or the store enter through the
//! `parse` constructors here and leave as typed values (an [`OrgId`] is always canonical, a
//! [`Timestamp`] always has millisecond resolution, a [`PageSize`] is always within its endpoint's
//! bounds), so inner code never re-checks a raw string.

pub mod canonical;
pub mod checkpoint;
pub mod connect_stream;
pub mod cursor;
pub mod error;
pub mod event;
pub mod ids;
pub mod merkle;
pub mod numbers;
pub mod outcome;
pub mod query;
pub mod scope;
pub mod search;
pub mod session;
pub mod sink;
pub mod time;
pub mod token;
pub mod wxc;

pub use cursor::{Cursor, CursorKey, Endpoint};
pub use error::ParamError;
pub use event::{Kind, KindSet, NormalizedEvent};
pub use ids::{EventId, OrgId};
pub use query::{Category, EventQuery, EventType, Filters, Order, PageSize, Position, Resource, ServiceType};
pub use scope::Scope;
pub use search::SearchText;
pub use time::{TimeRange, Timestamp};
