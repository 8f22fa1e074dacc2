//! How much freed memory the allocator keeps (glibc's malloc; elsewhere these do nothing).
//!
//! Measured through `benches/compare.sh`'s whole scenario sequence on one core, a minute
//! after the load the process held 42–48 MB where it started at 16 MB, for two reasons:
//! - glibc's dynamic mmap threshold: the first argon2 block (19 MiB) is mmapped, and freeing
//!   it raises the threshold to 19 MiB and the trim threshold to twice that, so every later
//!   block comes from an arena heap and stays there after the hashing worker frees it;
//! - free chunks inside the arena heaps (request and connection buffers of a burst), which
//!   glibc gives back only from the top of a heap, or on `malloc_trim`.
//!
//! So [`configure`] fixes the mmap threshold at glibc's default (which turns the dynamic
//! adjustment off: an argon2 block is always its own mapping, returned when freed) and caps
//! the arenas at two per core, and [`release_free_memory`] runs `malloc_trim(0)` from the
//! housekeeping tick (once a minute, on a blocking thread of the main runtime).

/// Requests of this size or more get their own mapping (glibc's default, made fixed).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Sets the allocator's parameters; called once at the start of `main`, before any thread.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // Each HTTP worker shares an arena with its database threads, instead of glibc's
        // default of eight per core, which spreads a burst's garbage over up to 16 heaps here.
        let arenas = (2 * num_cpus::get()).max(2) as libc::c_int;
        // SAFETY: mallopt only sets allocator parameters; a refused value leaves glibc's.
        let set = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_ARENA_MAX, arenas) == 1
        };
        if !set {
            tracing::debug!("glibc refused a malloc parameter; keeping its defaults");
        }
    }
}

/// Gives freed memory back to the system (glibc: every arena, not only the tops of the
/// heaps). Takes the arenas' locks in turn for a few milliseconds at most: call it from a
/// blocking or background thread, never an HTTP worker.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages; allocations stay valid.
    unsafe {
        libc::malloc_trim(0);
    }
}
