//! Deterministic synthetic audit events for the demo, the tests and the benchmarks.
//!
//! A [`Generator`] produces events of the four kinds it knows, each in the exact wire shape its Webex API
//! serves and `POST /auditrail/v1/ingest/{kind}` accepts: admin audit events (seed 002), compliance events
//! (seed 001), Webex Connect audit logs (seed 003) and security audit events (user sign-ins and sign-outs of
//! `GET /v1/admin/securityAudit/events`). Benchmarks and tests need data that looks real (a stable cast of
//! people, skewed activity, business hours, consistent texts, the WXC failure codes of seed 000) and is
//! reproducible, so:
//!
//! - the same [`GeneratorConfig`] gives byte-identical output: everything comes from ChaCha8 seeded with
//!   `seed`, never from the clock or the OS, and no hash-map order is ever observed;
//! - each kind draws from its own ChaCha stream, so generating admin events does not shift the compliance
//!   sequence; the shared cast (people, rooms, devices, Connect services) comes from stream 0, before them;
//! - the crate depends on no other workspace crate, so any of them can use it in tests.

mod admin;
mod compliance;
mod connect;
mod ids;
mod security;
mod time;
mod world;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

pub use ids::webex_id;

use time::Window;
use world::World;

/// The event kinds, named as in the ingest path (`/auditrail/v1/ingest/{kind}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Admin,
    Compliance,
    Connect,
    /// Security audit events: user sign-ins and sign-outs (`GET /v1/admin/securityAudit/events`).
    Security,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Admin, Kind::Compliance, Kind::Connect, Kind::Security];

    /// `admin`, `compliance`, `connect` or `security`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Admin => "admin",
            Kind::Compliance => "compliance",
            Kind::Connect => "connect",
            Kind::Security => "security",
        }
    }

    /// The ChaCha stream of this kind (stream 0 builds the shared world).
    fn stream(self) -> u64 {
        match self {
            Kind::Admin => 1,
            Kind::Compliance => 2,
            Kind::Connect => 3,
            Kind::Security => 4,
        }
    }
}

/// Everything that determines a generator's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorConfig {
    pub seed: u64,
    /// Canonical Webex org id: `base64("ciscospark://us/ORGANIZATION/<uuid>")`, no padding (see [`org_id`]).
    pub org_id: String,
    pub org_name: String,
    /// Inclusive window of `created`, unix milliseconds. An inverted window collapses to `start_ms`.
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The canonical org id of an organization UUID.
pub fn org_id(uuid: &str) -> String {
    webex_id("ORGANIZATION", &uuid.to_ascii_lowercase())
}

/// The WXC error code table of seed 000: `(code, description)` for all 37 rows, in the seed's order.
pub fn wxc_error_codes() -> &'static [(&'static str, &'static str)] {
    &auditrail_core::wxc::WXC_ERROR_CODES
}

/// A deterministic event source for one organization.
pub struct Generator {
    world: World,
    window: Window,
    admin: ChaCha8Rng,
    compliance: ChaCha8Rng,
    connect: ChaCha8Rng,
    security: ChaCha8Rng,
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl Generator {
    pub fn new(cfg: GeneratorConfig) -> Self {
        let world = World::build(&mut stream(cfg.seed, 0), &cfg.org_id, &cfg.org_name);
        Generator {
            world,
            window: Window::new(cfg.start_ms, cfg.end_ms),
            admin: stream(cfg.seed, Kind::Admin.stream()),
            compliance: stream(cfg.seed, Kind::Compliance.stream()),
            connect: stream(cfg.seed, Kind::Connect.stream()),
            security: stream(cfg.seed, Kind::Security.stream()),
        }
    }

    /// One event in the wire shape of its kind, ready for `POST /auditrail/v1/ingest/{kind}`.
    pub fn next_event(&mut self, kind: Kind) -> Value {
        self.next_with_time(kind).1
    }

    /// `n` events of a kind, sorted ascending by `created` (ties keep generation order).
    pub fn events(&mut self, kind: Kind, n: usize) -> Vec<Value> {
        let mut events: Vec<(i64, Value)> = (0..n).map(|_| self.next_with_time(kind)).collect();
        events.sort_by_key(|(created, _)| *created);
        events.into_iter().map(|(_, event)| event).collect()
    }

    /// `n` events of a kind with `created` inside `[start_ms, end_ms]` (inclusive), sorted ascending.
    ///
    /// Draws from the same per-kind stream as [`Generator::events`], so a long window can be produced
    /// slice by slice (a day at a time, say): memory stays bounded however many events are wanted, and a
    /// store receives them in time order, appending instead of inserting at random. The output depends
    /// only on the config and the sequence of calls.
    pub fn events_between(&mut self, kind: Kind, n: usize, start_ms: i64, end_ms: i64) -> Vec<Value> {
        let window = std::mem::replace(&mut self.window, Window::new(start_ms, end_ms));
        let events = self.events(kind, n);
        self.window = window;
        events
    }

    fn next_with_time(&mut self, kind: Kind) -> (i64, Value) {
        let rng = match kind {
            Kind::Admin => &mut self.admin,
            Kind::Compliance => &mut self.compliance,
            Kind::Connect => &mut self.connect,
            Kind::Security => &mut self.security,
        };
        let created = self.window.sample(rng);
        let id = ids::random_id(rng, "EVENT");
        let event = match kind {
            Kind::Admin => admin::event(&self.world, rng, id, created),
            Kind::Compliance => compliance::event(&self.world, rng, id, created),
            Kind::Connect => connect::event(&self.world, rng, id, created),
            Kind::Security => security::event(&self.world, rng, id, created),
        };
        (created, event)
    }
}

#[cfg(test)]
mod tests;
