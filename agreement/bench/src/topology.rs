//! Which host core each "core" of the experiment runs on, which cluster it belongs to, and
//! the multicast tree the SKB builds over those clusters.
//!
//! The tree comes from the same query the monitors ask, [`skb::Skb::multicast_tree`], fed
//! the host's topology the way a board's reaches the SKB: as a flattened device tree, written
//! here with one `/cpus/cpu@N` node per core and a `/cpus/cpu-map` with one cluster node per
//! group of cores. The groups are Linux's (`/sys/devices/system/cpu/cpuN/topology`): clusters
//! where they group several of the cores, else packages and dies, else one group
//! ([`bench_report::host::groups`]), or a fixed cluster size given on the command line.
//! Within one group the SKB's tree is a star from the root, the same shape as broadcast.

use agreement::route::Route;
use agreement::CoreId;

/// Where the experiment's cores run: core `i` on host core `host_cores[i]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The host core of each experiment core (repeating when there are more experiment cores
    /// than host cores: then threads share host cores and take turns).
    pub host_cores: Vec<usize>,
    /// The cluster of each experiment core.
    pub clusters: Vec<u32>,
    /// Where the clusters came from, for the report.
    pub clusters_from: String,
}

impl Placement {
    /// `cores` experiment cores over the `available` host cores (in order, wrapping round),
    /// grouped by `cluster_size` cores at a time if given, else by the host's topology.
    pub fn new(cores: usize, available: &[usize], cluster_size: Option<usize>) -> Placement {
        let host_cores: Vec<usize> = (0..cores).map(|i| available[i % available.len()]).collect();
        let (clusters, clusters_from) = match cluster_size {
            Some(size) => (
                (0..cores).map(|i| (i / size.max(1)) as u32).collect(),
                format!("clusters of {size} (--cluster-size)"),
            ),
            None => {
                let topology: Vec<_> =
                    available.iter().map(|&core| bench_report::host::topology(core)).collect();
                let (groups, name) = bench_report::host::groups(&topology);
                let clusters = (0..cores).map(|i| groups[i % available.len()]).collect();
                (clusters, format!("host {name}s (/sys/devices/system/cpu)"))
            }
        };
        Placement { host_cores, clusters, clusters_from }
    }

    /// Whether some host core runs more than one experiment core.
    pub fn oversubscribed(&self) -> bool {
        let mut cores = self.host_cores.clone();
        cores.sort_unstable();
        cores.dedup();
        cores.len() < self.host_cores.len()
    }

    /// The SKB's multicast tree from core 0 over the first `cores` cores, as its edges in
    /// send order; `Err` names what the SKB refused.
    pub fn multicast_tree(&self, cores: usize) -> Result<Vec<(CoreId, CoreId)>, String> {
        let dtb = device_tree(&self.clusters[..cores]);
        let skb =
            skb::Skb::from_dtb(&dtb).map_err(|error| format!("the SKB rejected the host's tree: {error}"))?;
        Ok(skb.multicast_tree(0).edges)
    }

    /// The three routes of one round from core 0 to cores 1..`cores`: unicast, broadcast and
    /// the SKB's tree.
    pub fn routes(&self, cores: usize) -> Result<[Route; 3], String> {
        let others: Vec<CoreId> = (1..cores).collect();
        let tree = Route::tree(0, &self.multicast_tree(cores)?);
        if tree.cores().count() != cores {
            return Err(format!("the SKB's tree reaches {} of {cores} cores", tree.cores().count()));
        }
        Ok([Route::unicast(0, &others), Route::broadcast(0, &others), tree])
    }
}

/// A flattened device tree (version 17) with core `i` in cluster `clusters[i]`: what the SKB
/// needs to know about the host, nothing more.
pub fn device_tree(clusters: &[u32]) -> Vec<u8> {
    let mut tree = DtbWriter::default();
    tree.begin("");
    tree.prop_u32s("#address-cells", &[1]);
    tree.prop_u32s("#size-cells", &[0]);
    tree.begin("cpus");
    tree.prop_u32s("#address-cells", &[1]);
    tree.prop_u32s("#size-cells", &[0]);
    for core in 0..clusters.len() {
        tree.begin(&format!("cpu@{core}"));
        tree.prop("device_type", b"cpu\0");
        tree.prop_u32s("reg", &[core as u32]);
        tree.prop_u32s("phandle", &[core as u32 + 1]);
        tree.end();
    }
    tree.begin("cpu-map");
    let mut ids: Vec<u32> = clusters.to_vec();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        tree.begin(&format!("cluster{id}"));
        for (core, _) in clusters.iter().enumerate().filter(|&(_, &cluster)| cluster == id) {
            tree.begin(&format!("core{core}"));
            tree.prop_u32s("cpu", &[core as u32 + 1]);
            tree.end();
        }
        tree.end();
    }
    tree.end(); // cpu-map
    tree.end(); // cpus
    tree.end(); // root
    tree.finish()
}

/// Writes the structure and strings blocks of a flattened device tree.
#[derive(Default)]
struct DtbWriter {
    structure: Vec<u8>,
    strings: Vec<u8>,
}

const FDT_MAGIC: u32 = 0xd00d_feed;
const FDT_BEGIN_NODE: u32 = 1;
const FDT_END_NODE: u32 = 2;
const FDT_PROP: u32 = 3;
const FDT_END: u32 = 9;
/// The header's ten big-endian words.
const HEADER_BYTES: usize = 40;
/// The memory reservation block: just its terminating empty entry.
const RESERVATION_BYTES: usize = 16;

impl DtbWriter {
    fn word(&mut self, value: u32) {
        self.structure.extend_from_slice(&value.to_be_bytes());
    }

    /// Bytes, then zeros up to the next 4-byte boundary.
    fn padded(&mut self, bytes: &[u8]) {
        self.structure.extend_from_slice(bytes);
        self.structure.resize(self.structure.len().next_multiple_of(4), 0);
    }

    fn begin(&mut self, name: &str) {
        self.word(FDT_BEGIN_NODE);
        let mut bytes = name.as_bytes().to_vec();
        bytes.push(0);
        self.padded(&bytes);
    }

    fn end(&mut self) {
        self.word(FDT_END_NODE);
    }

    fn prop(&mut self, name: &str, value: &[u8]) {
        let name_offset = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.word(FDT_PROP);
        self.word(value.len() as u32);
        self.word(name_offset);
        self.padded(value);
    }

    fn prop_u32s(&mut self, name: &str, cells: &[u32]) {
        let value: Vec<u8> = cells.iter().flat_map(|cell| cell.to_be_bytes()).collect();
        self.prop(name, &value);
    }

    fn finish(mut self) -> Vec<u8> {
        self.word(FDT_END);
        let structure_at = HEADER_BYTES + RESERVATION_BYTES;
        let strings_at = structure_at + self.structure.len();
        let total = strings_at + self.strings.len();
        let header = [
            FDT_MAGIC,
            total as u32,
            structure_at as u32,
            strings_at as u32,
            HEADER_BYTES as u32, // the reservation block follows the header
            17,                  // version
            16,                  // last compatible version
            0,                   // boot CPU
            self.strings.len() as u32,
            self.structure.len() as u32,
        ];
        let mut blob: Vec<u8> = header.iter().flat_map(|word| word.to_be_bytes()).collect();
        blob.resize(structure_at, 0);
        blob.extend_from_slice(&self.structure);
        blob.extend_from_slice(&self.strings);
        blob
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skb_reads_the_written_clusters() {
        let skb = skb::Skb::from_dtb(&device_tree(&[0, 0, 1, 1, 1, 2])).expect("a valid tree");
        let clusters: Vec<u32> = skb.cpus.iter().map(|cpu| cpu.cluster).collect();
        assert_eq!(clusters, [0, 0, 1, 1, 1, 2]);
    }

    #[test]
    fn clusters_give_the_two_hop_tree_and_one_cluster_a_star() {
        let placement = Placement::new(7, &[0, 1, 2, 3, 4, 5, 6], Some(3));
        assert_eq!(placement.clusters, [0, 0, 0, 1, 1, 1, 2]);
        let [unicast, broadcast, tree] = placement.routes(7).unwrap();
        assert!(unicast.sequential() && !broadcast.sequential());
        // The representative of the larger other cluster first, then the smaller, then the
        // root's own cluster; each representative serves the rest of its cluster.
        assert_eq!(tree.children(0), [3, 6, 1, 2]);
        assert_eq!(tree.children(3), [4, 5]);
        let star = Placement::new(4, &[0, 1, 2, 3], Some(4)).routes(4).unwrap()[2].clone();
        assert_eq!(star.children(0), [1, 2, 3]);
    }

    #[test]
    fn more_cores_than_host_cores_wrap_round_and_are_oversubscribed() {
        let placement = Placement::new(5, &[2, 7], Some(2));
        assert_eq!(placement.host_cores, [2, 7, 2, 7, 2]);
        assert!(placement.oversubscribed());
        assert!(!Placement::new(2, &[2, 7], None).oversubscribed());
    }
}
