//! An allocation-counting global allocator, so tests can assert that a steady-state media path
//! does not allocate.
//!
//! A test binary opts in by installing [`CountingAlloc`] (it forwards to the system allocator):
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: wacall_testkit::alloc_counter::CountingAlloc =
//!     wacall_testkit::alloc_counter::CountingAlloc;
//!
//! let (_, stats) = wacall_testkit::alloc_counter::count(|| engine.handle_input(now, packet));
//! assert_eq!(stats.allocations(), 0);
//! ```
//!
//! Counting is per thread and only inside [`count`], so tests running in parallel threads of the
//! same binary do not see each other's allocations. [`count`] panics when the allocator is not
//! installed, so a forgotten `#[global_allocator]` cannot make a zero look like a pass.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static REALLOCS: Cell<u64> = const { Cell::new(0) };
    static DEALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
}

/// The counting allocator; install it with `#[global_allocator]` in the test binary.
pub struct CountingAlloc;

fn note(counter: &'static std::thread::LocalKey<Cell<u64>>, bytes: usize) {
    // `try_with`: during thread teardown the slots may be gone; such calls are not counted.
    let active = ACTIVE.try_with(Cell::get).unwrap_or(false);
    if active {
        let _ = counter.try_with(|c| c.set(c.get() + 1));
        let _ = BYTES.try_with(|b| b.set(b.get() + bytes as u64));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract is `System`'s; the counting touches only const-initialised
// thread-local `Cell`s, which neither allocate nor re-enter the allocator.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS, layout.size());
        // SAFETY: forwarded unchanged (see the impl comment).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(&ALLOCS, layout.size());
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(&REALLOCS, new_size);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(&DEALLOCS, 0);
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Heap traffic seen on one thread during one [`count`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocs: u64,
    /// `realloc` calls.
    pub reallocs: u64,
    /// `dealloc` calls.
    pub deallocs: u64,
    /// Bytes requested by allocations and reallocations.
    pub bytes: u64,
}

impl AllocStats {
    /// Calls that obtained memory: allocations plus reallocations.
    pub fn allocations(&self) -> u64 {
        self.allocs + self.reallocs
    }
}

fn snapshot() -> AllocStats {
    AllocStats {
        allocs: ALLOCS.with(Cell::get),
        reallocs: REALLOCS.with(Cell::get),
        deallocs: DEALLOCS.with(Cell::get),
        bytes: BYTES.with(Cell::get),
    }
}

fn measure<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    let before = snapshot();
    let was = ACTIVE.with(|a| a.replace(true));
    let out = f();
    ACTIVE.with(|a| a.set(was));
    let after = snapshot();
    let stats = AllocStats {
        allocs: after.allocs - before.allocs,
        reallocs: after.reallocs - before.reallocs,
        deallocs: after.deallocs - before.deallocs,
        bytes: after.bytes - before.bytes,
    };
    (out, stats)
}

/// Whether [`CountingAlloc`] is this binary's global allocator.
pub fn is_installed() -> bool {
    let (_, probe) = measure(|| std::hint::black_box(Box::new(0u64)));
    probe.allocs > 0
}

/// Run `f` and report the allocations it made on this thread.
///
/// # Panics
/// When [`CountingAlloc`] is not the global allocator (every count would read zero).
pub fn count<R>(f: impl FnOnce() -> R) -> (R, AllocStats) {
    assert!(
        is_installed(),
        "alloc_counter::count needs `#[global_allocator] static A: CountingAlloc = CountingAlloc;` in the test binary"
    );
    measure(f)
}
