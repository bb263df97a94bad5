//! Where a process's heap goes: the bytes the program holds versus what the allocator
//! keeps for them, for telling the storage engine's structures apart from allocator slack
//! in RSS (the `footprint` bin).
//!
//! [`Counting`] wraps a global allocator and counts live requested bytes and live
//! allocations (two relaxed atomic adds per call). [`malloc_info`] reads glibc's own
//! accounting, which adds what the program cannot see: per-chunk headers and rounding,
//! and free memory the allocator holds without returning it to the kernel.
//!
//! The bench's allocator is chosen at build time (see [`Inner`]): mimalloc by default, as
//! in the tianshu binary; glibc's malloc without default features; jemalloc with the
//! `jemalloc` feature and without default features.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The allocator [`Counting`] wraps in the bins that install it.
#[cfg(feature = "mimalloc")]
pub type Inner = mimalloc::MiMalloc;
#[cfg(feature = "mimalloc")]
pub const INNER: Inner = mimalloc::MiMalloc;
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
pub type Inner = tikv_jemallocator::Jemalloc;
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
pub const INNER: Inner = tikv_jemallocator::Jemalloc;
#[cfg(not(any(feature = "mimalloc", feature = "jemalloc")))]
pub type Inner = std::alloc::System;
#[cfg(not(any(feature = "mimalloc", feature = "jemalloc")))]
pub const INNER: Inner = std::alloc::System;

/// Name of [`Inner`], for reports.
pub const INNER_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else if cfg!(feature = "jemalloc") {
    "jemalloc"
} else {
    "system"
};

/// Sum of the sizes of the live allocations, as requested (not as rounded up).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// Live allocations.
static LIVE_ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// Highest `LIVE_BYTES` seen since the last [`reset_peak`].
static PEAK_BYTES: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE_BYTES.fetch_add(by, Ordering::Relaxed) + by;
    PEAK_BYTES.fetch_max(now, Ordering::Relaxed);
}

/// A global allocator that counts what passes through it to `A`.
pub struct Counting<A>(pub A);

// SAFETY: every call is forwarded unchanged to `A`, itself a `GlobalAlloc`; the counters
// are only read for reports.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
            LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
            LIVE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_ALLOCS.fetch_sub(1, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                LIVE_BYTES.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

/// Live requested bytes and live allocations, through [`Counting`] (zero when it is not
/// the global allocator).
pub fn live() -> (usize, usize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_ALLOCS.load(Ordering::Relaxed),
    )
}

/// Highest live requested bytes since the last call (or the start).
pub fn take_peak() -> usize {
    PEAK_BYTES.swap(LIVE_BYTES.load(Ordering::Relaxed), Ordering::Relaxed)
}

/// glibc malloc's accounting of its heap, in bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct MallocInfo {
    /// In allocated chunks, headers and rounding included (`uordblks`).
    pub in_use: u64,
    /// Free in the heap's arenas, held by the allocator (`fordblks`).
    pub free_held: u64,
    /// In chunks served by their own `mmap` (`hblkhd`), which are returned on free.
    pub mmapped: u64,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    /// `struct mallinfo2` (glibc ≥ 2.33): ten `size_t` fields.
    #[repr(C)]
    pub(super) struct Mallinfo2 {
        pub arena: usize,
        pub ordblks: usize,
        pub smblks: usize,
        pub hblks: usize,
        pub hblkhd: usize,
        pub usmblks: usize,
        pub fsmblks: usize,
        pub uordblks: usize,
        pub fordblks: usize,
        pub keepcost: usize,
    }

    extern "C" {
        pub(super) fn mallinfo2() -> Mallinfo2;
        // Trimming goes to mimalloc instead when it is the allocator.
        #[cfg_attr(feature = "mimalloc", allow(dead_code))]
        pub(super) fn malloc_trim(pad: usize) -> i32;
        pub(super) fn mallopt(param: i32, value: i32) -> i32;
    }

    /// `mallopt`'s parameter for the size from which allocations get their own `mmap`.
    pub(super) const M_MMAP_THRESHOLD: i32 = -3;
}

/// Fixes glibc's mmap threshold at `bytes`: allocations from that size get their own
/// mapping, returned to the kernel when freed, instead of heap space that a later small
/// allocation can pin. Fixing it also stops glibc from raising it as large blocks are
/// freed (its default, which moves a write's big buffers into the heap). False when
/// glibc malloc is not the allocator or refuses the value.
pub fn set_mmap_threshold(bytes: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if INNER_NAME == "system" {
        let Ok(v) = i32::try_from(bytes) else {
            return false;
        };
        // SAFETY: `mallopt` takes two integers and changes only the allocator's settings.
        return unsafe { glibc::mallopt(glibc::M_MMAP_THRESHOLD, v) } == 1;
    }
    let _ = bytes;
    false
}

/// glibc's accounting, when glibc malloc is the allocator in use.
pub fn malloc_info() -> Option<MallocInfo> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if INNER_NAME == "system" {
        // SAFETY: `mallinfo2` takes no arguments and returns a struct by value.
        let m = unsafe { glibc::mallinfo2() };
        return Some(MallocInfo {
            in_use: m.uordblks as u64,
            free_held: m.fordblks as u64,
            mmapped: m.hblkhd as u64,
        });
    }
    None
}

#[cfg(feature = "mimalloc")]
extern "C" {
    fn mi_heap_main() -> *mut std::ffi::c_void;
    fn mi_heap_visit_blocks(
        heap: *mut std::ffi::c_void,
        visit_blocks: bool,
        visitor: extern "C" fn(
            *const std::ffi::c_void,
            *const MiHeapArea,
            *mut std::ffi::c_void,
            usize,
            *mut std::ffi::c_void,
        ) -> bool,
        arg: *mut std::ffi::c_void,
    ) -> bool;
    /// mimalloc's collection of the calling thread's heap: frees its empty pages and
    /// returns (purges) what is due. mimalloc does this lazily, inside allocation calls, so
    /// a thread that sleeps (the bench while it settles) holds freed pages until then.
    fn mi_collect(force: bool);
}

/// Asks the allocator to give free memory back to the kernel, as it would in its own time
/// on a busy thread: `malloc_trim` of every arena with glibc (true when it released some),
/// `mi_collect` of this thread's heap with mimalloc (true). False for jemalloc, whose
/// decay runs on its own clock.
pub fn trim() -> bool {
    #[cfg(feature = "mimalloc")]
    {
        // SAFETY: takes no pointers; mimalloc is this program's allocator.
        unsafe { mi_collect(false) };
        true
    }
    #[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` only walks the allocator's own free lists.
        INNER_NAME == "system" && unsafe { glibc::malloc_trim(0) } != 0
    }
    #[cfg(not(any(feature = "mimalloc", all(target_os = "linux", target_env = "gnu"))))]
    {
        false
    }
}

/// `mi_heap_area_t`: one mimalloc page, all of whose blocks have one size.
#[cfg(feature = "mimalloc")]
#[repr(C)]
struct MiHeapArea {
    blocks: *mut std::ffi::c_void,
    reserved: usize,
    committed: usize,
    used: usize,
    block_size: usize,
    full_block_size: usize,
    reserved1: *mut std::ffi::c_void,
}

/// The pages of one mimalloc size class: how much they commit against what their live
/// blocks take, which is where partly used pages (fragmentation) show.
#[derive(Clone, Copy, Debug, Default)]
pub struct SizeClass {
    pub block_size: usize,
    pub pages: usize,
    pub committed: usize,
    pub used_bytes: usize,
}

#[cfg(feature = "mimalloc")]
extern "C" fn visit_area(
    _heap: *const std::ffi::c_void,
    area: *const MiHeapArea,
    _block: *mut std::ffi::c_void,
    _size: usize,
    arg: *mut std::ffi::c_void,
) -> bool {
    // SAFETY: mimalloc passes a valid area and the `arg` given below, a `Vec<SizeClass>`.
    let (area, out) = unsafe { (&*area, &mut *(arg as *mut Vec<SizeClass>)) };
    let i = match out.binary_search_by_key(&area.block_size, |c| c.block_size) {
        Ok(i) => i,
        Err(i) => {
            out.insert(
                i,
                SizeClass {
                    block_size: area.block_size,
                    ..SizeClass::default()
                },
            );
            i
        }
    };
    let c = &mut out[i];
    c.pages += 1;
    c.committed += area.committed;
    c.used_bytes += area.used * area.block_size;
    true
}

/// mimalloc's pages of the main heap by size class (empty with another allocator). Reads
/// the pages' counters without their owners' locks: a report for a quiet process, and
/// blocks freed from other threads since their owner last collected still count as used.
pub fn size_classes() -> Vec<SizeClass> {
    #[cfg(feature = "mimalloc")]
    {
        // Room for every class up front, so that the visitor does not grow `out` in the
        // heap it is walking.
        let mut out: Vec<SizeClass> = Vec::with_capacity(128);
        // SAFETY: the visitor only reads the area and writes `out`, which outlives the call.
        unsafe {
            mi_heap_visit_blocks(
                mi_heap_main(),
                false,
                visit_area,
                &mut out as *mut Vec<SizeClass> as *mut std::ffi::c_void,
            );
        }
        out
    }
    #[cfg(not(feature = "mimalloc"))]
    {
        Vec::new()
    }
}

/// [`trim`] with mimalloc's forced collection: also returns what its purge delay would
/// keep a while. False without mimalloc.
pub fn trim_forced() -> bool {
    #[cfg(feature = "mimalloc")]
    {
        // SAFETY: takes no pointers; mimalloc is this program's allocator.
        unsafe { mi_collect(true) };
        true
    }
    #[cfg(not(feature = "mimalloc"))]
    {
        false
    }
}
