//! Cores from `/cpus`: identity (MPIDR from `reg`), design (from `compatible`), cluster (from
//! `cpu-map`), performance class (from `capacity-dmips-mhz`, else the micro-architecture
//! table), how to start them, and their caches (`next-level-cache` chains).

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::{Error, Warnings};
use crate::microarch::{self, MicroArch};
use crate::tree::{read_cells, Tree};

/// How a core is started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnableMethod {
    /// PSCI `CPU_ON`.
    Psci,
    /// Write the entry point to `cpu-release-addr` and `sev`.
    SpinTable,
    /// Something this OS does not do (the string as the tree gives it).
    Other(String),
    /// No `enable-method` (usually the boot core on boards that only start one).
    None,
}

impl EnableMethod {
    /// The device-tree spelling, `None` when absent.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            EnableMethod::Psci => Some("psci"),
            EnableMethod::SpinTable => Some("spin-table"),
            EnableMethod::Other(s) => Some(s),
            EnableMethod::None => None,
        }
    }
}

/// What the tree says about a core's caches; every fact is optional (`None` where the tree
/// does not give it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Caches {
    /// L1 data cache size in bytes (`d-cache-size`).
    pub l1d: Option<u32>,
    /// L1 instruction cache size in bytes (`i-cache-size`).
    pub l1i: Option<u32>,
    /// L1 data cache line size in bytes (`d-cache-line-size`).
    pub l1d_line: Option<u32>,
    /// L1 instruction cache line size in bytes (`i-cache-line-size`).
    pub l1i_line: Option<u32>,
    /// The levels beyond L1, nearest first, along the `next-level-cache` chain.
    pub outer: Vec<CacheLevel>,
}

impl Caches {
    /// The size of the level-2 cache, if the chain names one with a size.
    pub fn l2_size(&self) -> Option<u32> {
        self.outer.iter().find(|c| c.level == 2).and_then(|c| c.size)
    }
}

/// One cache beyond L1 (a node that a `next-level-cache` names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheLevel {
    /// The cache node's path (cores of a cluster name the same node: they share it).
    pub path: String,
    /// `cache-level`, else one more than the level before it (L1 being 1).
    pub level: u32,
    /// `cache-unified`: one cache for data and instructions.
    pub unified: bool,
    /// `cache-size` (or `d-cache-size` for a split level), in bytes.
    pub size: Option<u32>,
    /// `cache-line-size` (or `d-cache-line-size` for a split level), in bytes.
    pub line: Option<u32>,
}

/// One core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// Position in `/cpus` among the enabled cores: the index the whole OS uses.
    pub index: usize,
    /// The node's path.
    pub path: String,
    /// Affinity value from `reg` (compare with MPIDR_EL1 & 0xff00ffffff).
    pub mpidr: u64,
    /// First `compatible` string.
    pub compatible: Option<String>,
    /// The design its `compatible` names, `None` where the SKB does not know it (vendors'
    /// names such as `qcom,kryo385`, `nvidia,tegra186-denver`, `apple,firestorm`): then only
    /// its MIDR, read on the core itself, can tell (see [`crate::BuildChoice`]).
    pub micro_arch: Option<MicroArch>,
    /// `capacity-dmips-mhz`.
    pub capacity: Option<u32>,
    /// Cluster number: the innermost `/cpus/cpu-map` cluster holding the core, numbered in
    /// the order of each cluster's first core in `/cpus` (all 0 when there is no map; cores
    /// the map leaves out share one more cluster).
    pub cluster: u32,
    /// Performance class: 0 is the most efficient; equal capacity means equal class.
    pub class: u8,
    /// How to start it.
    pub enable_method: EnableMethod,
    /// `cpu-release-addr` for spin tables (`None` if absent or malformed: with a warning, the
    /// core cannot be started).
    pub release_addr: Option<u64>,
    /// Cache facts.
    pub caches: Caches,
}

/// Most cores accepted.
const MAX_CPUS: usize = 1024;

/// Reads `/cpus`. A malformed `capacity-dmips-mhz`, `cpu-release-addr` or cache fact is a
/// warning with that fact absent; a spin-table core without its release address is a warning
/// and a core that cannot be started (the boot names it offline).
pub fn read(tree: &Tree, warnings: &mut Warnings) -> Result<Vec<Cpu>, Error> {
    let cpus_node = tree.find("/cpus").ok_or(Error::MissingNode("/cpus"))?;
    let (address_cells, _) = tree.cells_for_children(cpus_node)?;
    if address_cells == 0 || address_cells > 2 {
        return Err(Error::AbsurdCells { node: "/cpus".into(), cells: address_cells });
    }
    let mut cpus = Vec::new();
    let mut nodes = Vec::new();
    for &child in &tree.nodes[cpus_node].children {
        let is_cpu = tree.string(child, "device_type").as_deref() == Some("cpu")
            || tree.nodes[child].name.split('@').next() == Some("cpu");
        if !is_cpu || !tree.is_enabled(child) {
            continue;
        }
        if cpus.len() >= MAX_CPUS {
            return Err(Error::TooLarge("more than 1024 cores"));
        }
        let bad = |property| Error::BadProperty { node: tree.path(child), property };
        // One address of `#address-cells` cells and nothing else (`/cpus` has no sizes): a
        // longer `reg` read as its first cells would give another core's MPIDR, or 0.
        let reg = tree
            .prop(child, "reg")
            .filter(|r| r.len() == address_cells as usize * 4)
            .ok_or_else(|| bad("reg"))?;
        let mpidr = read_cells(reg, 0, address_cells).ok_or_else(|| bad("reg"))?;
        const AFFINITY: u64 = 0xff_00ff_ffff;
        if cpus.iter().any(|c: &Cpu| c.mpidr & AFFINITY == mpidr & AFFINITY) {
            return Err(Error::DuplicateCpu { node: tree.path(child), mpidr });
        }
        let enable_method = enable_method(tree, child);
        let release_addr = match tree.prop(child, "cpu-release-addr") {
            Some(v) if v.len() == 8 => read_cells(v, 0, 2),
            Some(v) if v.len() == 4 => read_cells(v, 0, 1),
            Some(_) => {
                warnings.add(bad("cpu-release-addr"), "this core cannot be started from its spin table");
                None
            }
            None if enable_method == EnableMethod::SpinTable => {
                let missing = Error::MissingProperty { node: tree.path(child), property: "cpu-release-addr" };
                warnings.add(missing, "this spin-table core cannot be started");
                None
            }
            None => None,
        };
        let capacity = match tree.prop(child, "capacity-dmips-mhz") {
            None => None,
            Some(_) => tree.prop_u32(child, "capacity-dmips-mhz").or_else(|| {
                warnings
                    .add(bad("capacity-dmips-mhz"), "capacity left out: classes come from the core table");
                None
            }),
        };
        let compatibles = tree.strings(child, "compatible");
        cpus.push(Cpu {
            index: cpus.len(),
            path: tree.path(child),
            mpidr,
            micro_arch: compatibles.iter().find_map(|c| microarch::from_compatible(c)),
            compatible: compatibles.into_iter().next(),
            capacity,
            cluster: 0,
            class: 0,
            enable_method,
            release_addr,
            caches: caches(tree, child, warnings),
        });
        nodes.push(child);
    }
    if cpus.is_empty() {
        return Err(Error::NoCpus);
    }
    assign_clusters(tree, cpus_node, &nodes, &mut cpus)?;
    assign_classes(&mut cpus, warnings);
    Ok(cpus)
}

/// `enable-method` may list several methods (a SoC-specific one before `psci`, say): take the
/// first this OS can use, else report the first as given.
fn enable_method(tree: &Tree, cpu: usize) -> EnableMethod {
    let methods = tree.strings(cpu, "enable-method");
    if methods.iter().any(|m| m == "psci") {
        EnableMethod::Psci
    } else if methods.iter().any(|m| m == "spin-table") {
        EnableMethod::SpinTable
    } else {
        methods.into_iter().next().map_or(EnableMethod::None, EnableMethod::Other)
    }
}

/// Most cache levels followed beyond L1 (real chips stop at L3 or a system cache, L4).
const MAX_CACHE_LEVELS: usize = 6;

/// L1 from the core's own properties, then the `next-level-cache` chain. A chain that loops or
/// names no node ends there, with a warning.
fn caches(tree: &Tree, cpu: usize, warnings: &mut Warnings) -> Caches {
    let mut caches = Caches {
        l1d: tree.prop_u32(cpu, "d-cache-size"),
        l1i: tree.prop_u32(cpu, "i-cache-size"),
        l1d_line: tree.prop_u32(cpu, "d-cache-line-size"),
        l1i_line: tree.prop_u32(cpu, "i-cache-line-size"),
        outer: Vec::new(),
    };
    let mut seen = Vec::new();
    let mut from = cpu;
    while tree.prop(from, "next-level-cache").is_some() {
        let Some(next) = tree.prop_u32(from, "next-level-cache").and_then(|h| tree.by_phandle(h)) else {
            let bad = Error::BadProperty { node: tree.path(from), property: "next-level-cache" };
            warnings.add(bad, "cache levels from there on left out");
            break;
        };
        if next == cpu || seen.contains(&next) {
            warnings.add(Error::PhandleCycle("next-level-cache"), "cache levels from the loop on left out");
            break;
        }
        if seen.len() == MAX_CACHE_LEVELS {
            warnings.add(Error::TooLarge("more than 6 cache levels"), "the levels past the sixth left out");
            break;
        }
        seen.push(next);
        let previous = caches.outer.last().map_or(1, |c: &CacheLevel| c.level);
        let first = |names: [&str; 2]| names.iter().find_map(|name| tree.prop_u32(next, name));
        caches.outer.push(CacheLevel {
            path: tree.path(next),
            level: tree.prop_u32(next, "cache-level").unwrap_or(previous.saturating_add(1)),
            unified: tree.prop(next, "cache-unified").is_some(),
            size: first(["cache-size", "d-cache-size"]),
            line: first(["cache-line-size", "d-cache-line-size"]),
        });
        from = next;
    }
    caches
}

/// Clusters from `/cpus/cpu-map` (sockets and nested clusters included): each innermost
/// cluster node (one holding `core` nodes) is one cluster.
fn assign_clusters(tree: &Tree, cpus_node: usize, nodes: &[usize], cpus: &mut [Cpu]) -> Result<(), Error> {
    let Some(map) = tree.nodes[cpus_node].children.iter().copied().find(|&c| tree.nodes[c].name == "cpu-map")
    else {
        return Ok(());
    };
    // Cores the map does not name end up in one more cluster of their own.
    for cpu in cpus.iter_mut() {
        cpu.cluster = u32::MAX;
    }
    let mut next_cluster = 0u32;
    walk_map(tree, map, None, &mut next_cluster, nodes, cpus, 0)?;
    renumber_clusters(cpus);
    Ok(())
}

/// Numbers the clusters 0, 1, 2... in the order of their first core in `/cpus`, so that the
/// numbers do not depend on the order of the map's nodes and a cluster whose cores are all
/// disabled leaves no gap.
fn renumber_clusters(cpus: &mut [Cpu]) {
    let mut first_seen: Vec<u32> = Vec::new();
    for cpu in cpus.iter() {
        if !first_seen.contains(&cpu.cluster) {
            first_seen.push(cpu.cluster);
        }
    }
    for cpu in cpus.iter_mut() {
        cpu.cluster = first_seen.iter().position(|&k| k == cpu.cluster).unwrap_or(0) as u32;
    }
}

fn walk_map(
    tree: &Tree,
    node: usize,
    cluster: Option<u32>,
    next_cluster: &mut u32,
    nodes: &[usize],
    cpus: &mut [Cpu],
    depth: usize,
) -> Result<(), Error> {
    if depth > 8 {
        return Err(Error::TooLarge("cpu-map nested deeper than 8"));
    }
    let children = &tree.nodes[node].children;
    let is_cluster = tree.nodes[node].name.starts_with("cluster");
    // An innermost cluster holds cores directly; an outer one only other clusters.
    let holds_cores = children.iter().any(|&c| tree.nodes[c].name.starts_with("core"));
    let cluster = if is_cluster && holds_cores {
        let id = *next_cluster;
        *next_cluster = next_cluster.saturating_add(1);
        Some(id)
    } else {
        cluster
    };
    if let Some(handle) = tree.prop_u32(node, "cpu") {
        let target = tree.by_phandle(handle);
        if let (Some(target), Some(cluster)) = (target, cluster) {
            if let Some(i) = nodes.iter().position(|&n| n == target) {
                cpus[i].cluster = cluster;
            }
        }
    }
    for &child in children {
        walk_map(tree, child, cluster, next_cluster, nodes, cpus, depth + 1)?;
    }
    Ok(())
}

/// Classes: distinct capacities in ascending order when every core has one; otherwise the
/// micro-architecture table's rank of each core's design. Where neither orders every core (no
/// capacities, and a design the table does not know), the tree says nothing about which
/// cores are faster, and all share class 0: an unknown core is not taken for a slower one.
/// Classes are a `u8`: beyond 256 distinct ranks, the fastest share class 255, with a warning.
fn assign_classes(cpus: &mut [Cpu], warnings: &mut Warnings) {
    let all_have_capacity = cpus.iter().all(|c| c.capacity.is_some());
    let all_known = cpus.iter().all(|c| c.micro_arch.is_some());
    let key = |cpu: &Cpu| -> u32 {
        if all_have_capacity {
            cpu.capacity.unwrap_or(0)
        } else if all_known {
            cpu.micro_arch.map_or(0, |a| u32::from(a.rank()))
        } else {
            0
        }
    };
    let mut keys: Vec<u32> = cpus.iter().map(key).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > usize::from(u8::MAX) + 1 {
        warnings
            .add(Error::TooLarge("more than 256 performance classes"), "the fastest cores share class 255");
    }
    for cpu in cpus.iter_mut() {
        let k = key(cpu);
        cpu.class = keys.iter().position(|&x| x == k).unwrap_or(0).min(usize::from(u8::MAX)) as u8;
    }
}
