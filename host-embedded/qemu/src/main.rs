//! Runs every `wacall_core::kat` suite on an emulated Cortex-M4F and reports through semihosting.
//! The exit status is 0 only if every suite passed; a suite whose vector file was not embedded
//! (shared vectors absent outside CI) is reported as skipped.
#![no_std]
#![no_main]

use core::mem::MaybeUninit;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;
use wacall_core::kat::{SUITES, Value, Vectors};

mod embedded {
    use super::Value;
    include!(concat!(env!("OUT_DIR"), "/vectors.rs"));
}

#[global_allocator]
static HEAP: Heap = Heap::empty();
const HEAP_BYTES: usize = 1024 * 1024;

/// One embedded file: leaves sorted by path, searched by bisection.
struct Table(&'static [(&'static str, Value<'static>)]);

impl Vectors for Table {
    fn get(&self, path: &str) -> Option<Value<'_>> {
        let i = self.0.binary_search_by(|(k, _)| (*k).cmp(path)).ok()?;
        Some(self.0[i].1)
    }
}

#[entry]
fn main() -> ! {
    static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];
    // cortex-m-rt turns this into a unique `&'static mut`, handed to the allocator for good.
    // SAFETY: called once, before any allocation, with memory nothing else can reach.
    unsafe { HEAP.init(HEAP_MEM.as_mut_ptr() as usize, HEAP_BYTES) }

    let (mut passed, mut failed, mut skipped) = (0u32, 0u32, 0u32);
    for suite in SUITES {
        let Some((_, leaves)) = embedded::FILES.iter().find(|(f, _)| *f == suite.file) else {
            hprintln!(
                "kat {} ... SKIPPED ({} not embedded)",
                suite.name,
                suite.file
            );
            skipped += 1;
            continue;
        };
        match (suite.run)(&Table(leaves)) {
            Ok(()) => {
                hprintln!("kat {} ... ok", suite.name);
                passed += 1;
            }
            Err(f) => {
                hprintln!("kat {} ... FAILED at {}", suite.name, f);
                failed += 1;
            }
        }
    }
    hprintln!(
        "qemu-kat: {} passed, {} failed, {} skipped",
        passed,
        failed,
        skipped
    );
    debug::exit(if failed == 0 {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("qemu-kat: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
