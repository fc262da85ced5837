//! The counting allocator counts what it should, per thread and only inside `count`.

use wacall_testkit::alloc_counter::{self, CountingAlloc};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn counts_heap_traffic_inside_count_only() {
    assert!(alloc_counter::is_installed());
    let (v, stats) = alloc_counter::count(|| {
        let mut v: Vec<u8> = Vec::with_capacity(16);
        v.extend_from_slice(&[1; 16]);
        v.push(2); // grows: one realloc
        v
    });
    assert_eq!((stats.allocs, stats.reallocs, stats.deallocs), (1, 1, 0));
    assert!(stats.bytes >= 16 + 17);
    let (_, stats) = alloc_counter::count(move || drop(v));
    assert_eq!((stats.allocations(), stats.deallocs), (0, 1));

    let (sum, stats) = alloc_counter::count(|| (0u64..1000).sum::<u64>());
    assert_eq!(sum, 499_500);
    assert_eq!(stats, alloc_counter::AllocStats::default());
}

#[test]
fn other_threads_do_not_leak_into_a_count() {
    let (_, stats) = alloc_counter::count(|| {
        // The spawn itself allocates a few times on this thread; the worker's 100 vectors must
        // not count.
        std::thread::spawn(|| {
            (0..100)
                .map(|i| vec![i; 64])
                .map(|v| v.len())
                .sum::<usize>()
        })
        .join()
        .unwrap()
    });
    assert!(stats.allocs < 100, "{stats:?}");
}
