//! Settings of the process's allocator (mimalloc, installed in `main.rs`).

use libmimalloc_sys::{mi_option_get, mi_option_set, mi_option_t};

/// `mi_option_purge_delay` in mimalloc 3's option list (`mimalloc.h`), which the sys crate has no
/// constant for. A unit test checks that this index still holds the purge delay.
const MI_OPTION_PURGE_DELAY: mi_option_t = 15;

/// Memory the server frees goes back to the OS at once instead of after a delay (mimalloc's
/// default is a second): a server's resident memory then follows what it holds, at the cost of a
/// few more `madvise` calls. Measured under a bulk ingest (BENCHMARKS.md), with the writer's page
/// cache sized down: peak RSS 184 → 60 MiB, ingest as fast.
pub fn return_freed_memory_at_once() {
    // SAFETY: setting an option is a plain store into mimalloc's option table, valid at any time.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
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
        return_freed_memory_at_once();
        assert_eq!(purge_delay_ms(), 0);
    }
}
