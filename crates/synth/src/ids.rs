//! Identifiers and the small random helpers every generator shares.
//!
//! Every id is built from bytes of the caller's ChaCha stream, never from the OS, so ids are part of the
//! deterministic output. Webex ids are `base64("ciscospark://us/<TYPE>/<uuid>")`, standard alphabet, no padding.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;

/// A lower-case RFC 4122 version 4 UUID from 16 random bytes.
pub(crate) fn uuid_v4(rng: &mut ChaCha8Rng) -> String {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// `base64("ciscospark://us/<kind>/<uuid>")` without padding, the canonical Webex id form.
pub fn webex_id(kind: &str, uuid: &str) -> String {
    STANDARD_NO_PAD.encode(format!("ciscospark://us/{kind}/{uuid}"))
}

/// A fresh Webex id of `kind` with a random UUID.
pub(crate) fn random_id(rng: &mut ChaCha8Rng, kind: &str) -> String {
    webex_id(kind, &uuid_v4(rng))
}

/// `n` random lower-case hex digits.
pub(crate) fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16usize)])).collect()
}

/// `n` random decimal digits (the first one non-zero).
pub(crate) fn digits(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|i| {
            let d: u8 = if i == 0 { rng.random_range(1..10) } else { rng.random_range(0..10) };
            char::from(b'0' + d)
        })
        .collect()
}

/// A uniformly chosen element. Callers only pass non-empty constant tables.
pub(crate) fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// A uniformly chosen copy of an element (for tables of `&'static str`).
pub(crate) fn one_of<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    *pick(rng, items)
}

/// An element chosen with probability proportional to its weight (the last one if all weights are zero).
pub(crate) fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if roll < *w {
            return item;
        }
        roll -= w;
    }
    &items[items.len() - 1].0
}
