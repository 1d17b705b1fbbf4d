//! The questions the rest of the system asks the SKB.

use alloc::vec::Vec;

use crate::microarch;
use crate::{Cpu, Skb};

/// The CPU-driver build a core runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuDriverBuild {
    /// Built for the efficiency cores (`-C target-cpu=cortex-a53`); runs on any ARMv8.0 core.
    Little,
    /// Built for the performance cores (`-C target-cpu=cortex-a72`).
    Big,
}

impl CpuDriverBuild {
    /// The `-C target-cpu` it is built with.
    pub fn target_cpu(self) -> &'static str {
        match self {
            CpuDriverBuild::Little => "cortex-a53",
            CpuDriverBuild::Big => "cortex-a72",
        }
    }

    /// The class name printed by the OS.
    pub fn class_name(self) -> &'static str {
        match self {
            CpuDriverBuild::Little => "little",
            CpuDriverBuild::Big => "big",
        }
    }
}

/// A multicast tree: who forwards a message to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MulticastTree {
    /// The core the message starts at.
    pub root: usize,
    /// `(parent, child)` edges in send order: the root's first, each parent's children in the
    /// order it sends to them.
    pub edges: Vec<(usize, usize)>,
}

impl MulticastTree {
    /// The cores `core` forwards to, in send order.
    pub fn children(&self, core: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.iter().filter(move |(p, _)| *p == core).map(|&(_, c)| c)
    }

    /// Hops from the root to the farthest core (0 for a tree of the root alone).
    pub fn depth(&self) -> usize {
        let depth_of = |mut core: usize| {
            let mut hops = 0;
            while let Some(&(parent, _)) = self.edges.iter().find(|&&(_, c)| c == core) {
                core = parent;
                hops += 1;
                if hops > self.edges.len() {
                    break; // not a tree: stop rather than loop
                }
            }
            hops
        };
        self.edges.iter().map(|&(_, c)| depth_of(c)).max().unwrap_or(0)
    }
}

impl Skb {
    /// The cores of a performance class.
    pub fn cores_of_class(&self, class: u8) -> impl Iterator<Item = &Cpu> {
        self.cpus.iter().filter(move |c| c.class == class)
    }

    /// The other cores of `index`'s cluster.
    pub fn cluster_siblings(&self, index: usize) -> impl Iterator<Item = &Cpu> {
        let cluster = self.cpus.get(index).map(|c| c.cluster);
        self.cpus.iter().filter(move |c| Some(c.cluster) == cluster && c.index != index)
    }

    /// The CPU-driver build for core `index`: with two or more classes, class 0 runs the
    /// little build and every higher class the big one; on a machine with one class the
    /// micro-architecture decides (a big design such as the Pi 4's Cortex-A72 gets the big
    /// build, anything else the baseline little build).
    pub fn cpu_driver_build(&self, index: usize) -> Option<CpuDriverBuild> {
        let cpu = self.cpus.get(index)?;
        if self.class_count() > 1 {
            return Some(if cpu.class == 0 { CpuDriverBuild::Little } else { CpuDriverBuild::Big });
        }
        let big = cpu.compatible.as_deref().and_then(microarch::from_compatible).is_some_and(|a| a.is_big());
        Some(if big { CpuDriverBuild::Big } else { CpuDriverBuild::Little })
    }

    /// The measured cost of a message between `a` and `b`: the round trip measured from `a`,
    /// else the one measured from `b` (a round trip costs much the same either way).
    fn cost(&self, a: usize, b: usize) -> Option<u64> {
        self.latency(a, b).or_else(|| self.latency(b, a))
    }

    /// The online core `index` reaches fastest: by measured round trip where there are
    /// measurements, else a cluster sibling, else any online core. `None` for an unknown core
    /// or one with no online peer.
    pub fn cheapest_peer(&self, index: usize) -> Option<usize> {
        if index >= self.cpus.len() {
            return None;
        }
        let peers = || (0..self.cpus.len()).filter(move |&p| p != index && self.is_online(p));
        if let Some((peer, _)) =
            peers().filter_map(|p| Some((p, self.cost(index, p)?))).min_by_key(|&(_, ns)| ns)
        {
            return Some(peer);
        }
        self.cluster_siblings(index).map(|c| c.index).find(|&p| self.is_online(p)).or_else(|| peers().next())
    }

    /// A multicast tree from `root` over the online cores (the root always included), in the
    /// shape of Barrelfish's multicast routing: at most two hops. The root sends to one
    /// representative of every other cluster, which forwards to the rest of its cluster, and
    /// to the cores of its own cluster itself; so a message crosses between clusters once per
    /// cluster, and the tree stays shallow rather than light (a minimum spanning tree would
    /// chain cores one after another). Where every pair of online cores has a measurement, a
    /// cluster's representative is its member the root reaches fastest; otherwise its first
    /// online member. Each parent's children are in send order, the one whose part takes
    /// longest first (its own link plus the slowest link it forwards on; without
    /// measurements, a representative with more cores behind it first, then the root's own
    /// cluster), so the longest paths start earliest.
    pub fn multicast_tree(&self, root: usize) -> MulticastTree {
        let mut edges = Vec::new();
        if root >= self.cpus.len() {
            return MulticastTree { root, edges };
        }
        let online: Vec<usize> = (0..self.cpus.len()).filter(|&c| self.is_online(c) || c == root).collect();
        let measured = online.iter().all(|&a| online.iter().all(|&b| a == b || self.cost(a, b).is_some()));
        // What a link costs for ordering: measured, else a same-cluster link is cheap (1) and
        // a link between clusters dear (2).
        let cost = |a: usize, b: usize| match self.cost(a, b) {
            Some(ns) if measured => ns,
            _ => 1 + u64::from(self.cpus[a].cluster != self.cpus[b].cluster),
        };
        let root_cluster = self.cpus[root].cluster;
        let mut clusters: Vec<u32> = online.iter().map(|&c| self.cpus[c].cluster).collect();
        clusters.sort_unstable();
        clusters.dedup();
        // (child of the root, the cores it forwards to, in send order).
        let mut branches: Vec<(usize, Vec<usize>)> = Vec::new();
        for cluster in clusters {
            let members: Vec<usize> =
                online.iter().copied().filter(|&c| self.cpus[c].cluster == cluster).collect();
            if cluster == root_cluster {
                branches.extend(members.into_iter().filter(|&c| c != root).map(|c| (c, Vec::new())));
                continue;
            }
            let representative = if measured {
                members.iter().copied().min_by_key(|&m| (cost(root, m), m))
            } else {
                members.first().copied()
            };
            let Some(representative) = representative else { continue };
            let mut rest: Vec<usize> = members.into_iter().filter(|&m| m != representative).collect();
            rest.sort_by_key(|&m| (core::cmp::Reverse(cost(representative, m)), m));
            branches.push((representative, rest));
        }
        // The part of a branch: its link from the root plus its slowest forward; without
        // measurements the cores behind it count too.
        let part = |(child, rest): &(usize, Vec<usize>)| {
            let slowest = rest.iter().map(|&m| cost(*child, m)).max().unwrap_or(0);
            (cost(root, *child) + slowest, rest.len())
        };
        branches.sort_by_key(|branch| (core::cmp::Reverse(part(branch)), branch.0));
        for (child, _) in &branches {
            edges.push((root, *child));
        }
        for (child, rest) in &branches {
            edges.extend(rest.iter().map(|&m| (*child, m)));
        }
        MulticastTree { root, edges }
    }
}
