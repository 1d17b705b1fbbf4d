//! Any byte string given to the SKB as a device tree yields facts or an error: never a panic,
//! never a hang. The facts that come out are also rendered and queried (with and without
//! measurements), so that nothing downstream of parsing can panic on what parsing accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut skb) = skb::Skb::from_dtb(data) else { return };
    let _ = skb::json::facts(&skb);
    let cores = skb.cpus.len();
    for class in 0..=skb.class_count() {
        let _ = skb.cores_of_class(class as u8).count();
    }
    for index in 0..=cores {
        let _ = skb.cpu_driver_build(index);
        let _ = skb.build_choice(index);
        let _ = skb.cpu_driver_build_running(index, 0x410f_d034);
        let _ = skb.cpu_driver_build_running(index, 0x4e0f_0030);
        let _ = skb.cpus.get(index).map(|c| c.caches.l2_size());
        let _ = skb::json::build_text(&skb, index);
        let _ = skb.cheapest_peer(index);
        let _ = skb.cluster_siblings(index).count();
        let _ = skb.cpu_by_mpidr(skb.cpus.get(index).map_or(0, |c| c.mpidr));
    }
    let _ = skb.multicast_tree(0);
    // Measurements for every pair of a small machine (the tree from measurements), then with
    // one core offline (back to the clusters).
    if cores <= 16 {
        for from in 0..cores {
            for to in 0..cores {
                skb.record_latency(from, to, (from * 31 + to * 17) as u64 % 500);
            }
        }
        for root in 0..cores {
            let _ = skb.multicast_tree(root);
        }
        skb.mark_offline(cores / 2, "fuzz");
        let _ = skb.multicast_tree(0);
        let _ = skb.cheapest_peer(0);
    }
});
