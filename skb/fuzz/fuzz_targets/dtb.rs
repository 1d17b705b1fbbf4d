//! Any byte string given to the SKB as a device tree yields facts or an error: never a panic,
//! never a hang. The facts that come out are also rendered and queried, so that nothing
//! downstream of parsing can panic on what parsing accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut skb) = skb::Skb::from_dtb(data) {
        let _ = skb::json::facts(&skb);
        for index in 0..skb.cpus.len() {
            let _ = skb.cpu_driver_build(index);
            let _ = skb.cheapest_peer(index);
            let _ = skb.cluster_siblings(index).count();
        }
        if !skb.cpus.is_empty() {
            skb.record_latency(0, skb.cpus.len() - 1, 100);
            let _ = skb.multicast_tree(0);
        }
    }
});
