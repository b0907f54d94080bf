//! Settings of the process's allocator (mimalloc, installed in `main.rs`).

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc 3's option list (`mimalloc.h`), which the sys crate has no
/// constant for. A unit test checks that this index still holds the purge delay.
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// How long freed memory may stay with the process before it goes back to the OS. mimalloc's
/// default (a second) let a bulk ingest's peak RSS reach 184 MiB; returning it at once kept it at
/// 60 MiB but halved the streamed export (every page's buffers faulted in anew: 300 000 instead
/// of 600 000 events/s); 10 ms keeps both (65 MiB, 600 000/s; measured in BENCHMARKS.md).
const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Freed memory goes back to the OS within [`PURGE_DELAY_MS`], so a server's resident memory
/// follows what it holds.
pub fn return_freed_memory_promptly() {
    // SAFETY: setting an option is a plain store into mimalloc's option table, valid at any time.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
}

/// The purge delay now in force, in milliseconds.
pub fn purge_delay_ms() -> std::ffi::c_long {
    // SAFETY: reading an option is always valid.
    unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mimalloc 3 documents the purge delay's default as 1000 ms (`options.c`): if the index
    /// named another option, its default would differ, or setting it would not read back.
    #[test]
    fn the_index_is_the_purge_delay() {
        assert_eq!(purge_delay_ms(), 1000, "mimalloc's option list changed: fix MI_OPTION_PURGE_DELAY");
        return_freed_memory_promptly();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
