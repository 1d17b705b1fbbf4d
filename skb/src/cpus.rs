//! Cores from `/cpus`: identity (MPIDR from `reg`), cluster (from `cpu-map`), performance
//! class (from `capacity-dmips-mhz`, else the micro-architecture table), how to start them.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::Error;
use crate::microarch;
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

/// Cache sizes given for a core (bytes), where the tree has them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caches {
    /// L1 data cache.
    pub l1d: Option<u32>,
    /// L1 instruction cache.
    pub l1i: Option<u32>,
    /// The next level (through `next-level-cache`).
    pub l2: Option<u32>,
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
    /// `cpu-release-addr` for spin tables.
    pub release_addr: Option<u64>,
    /// Cache sizes.
    pub caches: Caches,
}

/// Most cores accepted.
const MAX_CPUS: usize = 1024;

/// Reads `/cpus`.
pub fn read(tree: &Tree) -> Result<Vec<Cpu>, Error> {
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
            None => None,
            Some(v) if v.len() == 8 => read_cells(v, 0, 2),
            Some(v) if v.len() == 4 => read_cells(v, 0, 1),
            Some(_) => return Err(bad("cpu-release-addr")),
        };
        let capacity = match tree.prop(child, "capacity-dmips-mhz") {
            None => None,
            Some(_) => {
                Some(tree.prop_u32(child, "capacity-dmips-mhz").ok_or_else(|| bad("capacity-dmips-mhz"))?)
            }
        };
        cpus.push(Cpu {
            index: cpus.len(),
            path: tree.path(child),
            mpidr,
            compatible: tree.string(child, "compatible"),
            capacity,
            cluster: 0,
            class: 0,
            enable_method,
            release_addr,
            caches: caches(tree, child),
        });
        nodes.push(child);
    }
    if cpus.is_empty() {
        return Err(Error::NoCpus);
    }
    assign_clusters(tree, cpus_node, &nodes, &mut cpus)?;
    assign_classes(&mut cpus);
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

fn caches(tree: &Tree, cpu: usize) -> Caches {
    let l2 = tree
        .prop_u32(cpu, "next-level-cache")
        .and_then(|handle| tree.by_phandle(handle))
        .and_then(|cache| tree.prop_u32(cache, "cache-size"));
    Caches { l1d: tree.prop_u32(cpu, "d-cache-size"), l1i: tree.prop_u32(cpu, "i-cache-size"), l2 }
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
/// micro-architecture table's rank of each core's `compatible` (unknown cores rank lowest).
fn assign_classes(cpus: &mut [Cpu]) {
    let all_have_capacity = cpus.iter().all(|c| c.capacity.is_some());
    let key = |cpu: &Cpu| -> u32 {
        if all_have_capacity {
            cpu.capacity.unwrap_or(0)
        } else {
            cpu.compatible.as_deref().and_then(microarch::from_compatible).map_or(0, |a| u32::from(a.rank()))
        }
    };
    let mut keys: Vec<u32> = cpus.iter().map(key).collect();
    keys.sort_unstable();
    keys.dedup();
    for cpu in cpus.iter_mut() {
        let k = key(cpu);
        cpu.class = keys.iter().position(|&x| x == k).unwrap_or(0).min(u8::MAX as usize) as u8;
    }
}
