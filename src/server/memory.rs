//! Keeping a long-running server's memory small with glibc's allocator: at most two malloc arenas
//! (glibc otherwise creates one per thread that meets contention, up to eight per core, each holding
//! freed memory of its own), and the freed memory handed back to the system every
//! [`TRIM_EVERY`], so the resident size falls back after a load (figures in docs/benchmarks.md,
//! "One core, two hops"). Other C libraries: nothing to do.

use std::time::Duration;

/// How often freed memory is handed back.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Limits the allocator to two arenas; call before the server's threads start.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; M_ARENA_MAX with a positive value is valid.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands the allocator's free memory back to the system, every [`TRIM_EVERY`], forever (abort the
/// task to stop it). The trim runs on a blocking thread: it walks the free lists.
pub async fn trim_periodically() {
    loop {
        tokio::time::sleep(TRIM_EVERY).await;
        let _ = tokio::task::spawn_blocking(trim).await;
    }
}

/// Hands the allocator's free memory back to the system once.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}
