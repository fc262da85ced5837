//! Links the core and the embedded host into a `no_std` staticlib. Building this crate is the test:
//! a `std` anywhere in the graph brings a second `panic_impl` lang item (error E0152).
#![no_std]

use core::alloc::{GlobalAlloc, Layout};

/// Refuses every allocation: this library is only linked, never run.
struct NoHeap;

// SAFETY: returning null is always a valid (failed) allocation; dealloc never sees a pointer.
unsafe impl GlobalAlloc for NoHeap {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static HEAP: NoHeap = NoHeap;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Keeps a real path through both crates in the archive.
#[unsafe(no_mangle)]
pub extern "C" fn wacall_nostd_check(raw_ticks: u32) -> u64 {
    let mut clock = wacall_embedded::clock::TickClock::new(1_000_000, 0);
    let mut okm = [0u8; 16];
    let _ = wacall_core::crypto::hkdf_sha256(b"salt", b"ikm", b"info", &mut okm);
    clock.now(raw_ticks).total_micros() ^ u64::from(okm[0])
}
