//! The questions the rest of the system asks the SKB.

use alloc::vec::Vec;

use crate::builds::{build_for, build_for_midr, CpuDriverBuild, PORTABLE_BUILD};
use crate::{Cpu, Skb};

/// How the build for a core is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildChoice {
    /// The tree names the core's design: the build that suits it.
    FromTree(CpuDriverBuild),
    /// The tree does not name a design the SKB knows: only the running core's `MIDR_EL1`
    /// can tell (see [`Skb::cpu_driver_build_running`]).
    FromMidrAtBoot,
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

    /// How the build for core `index` is decided: from its design as the tree names it, or
    /// from its `MIDR_EL1` at boot. `None` for a core the tree does not have, or a design no
    /// build runs on.
    pub fn build_choice(&self, index: usize) -> Option<BuildChoice> {
        match self.cpus.get(index)?.micro_arch {
            Some(arch) => build_for(&arch).map(BuildChoice::FromTree),
            None => Some(BuildChoice::FromMidrAtBoot),
        }
    }

    /// The build to start core `index` with before it runs (a core's MIDR can only be read on
    /// that core): the one its design calls for (in-order designs the little build,
    /// out-of-order ones the big build, whatever their capacity class), else, for a design the
    /// tree does not name, the portable build, which runs on every ARMv8.0 core.
    pub fn cpu_driver_build(&self, index: usize) -> Option<CpuDriverBuild> {
        match self.build_choice(index)? {
            BuildChoice::FromTree(build) => Some(build),
            BuildChoice::FromMidrAtBoot => Some(PORTABLE_BUILD),
        }
    }

    /// The build for core `index` while it runs with `MIDR_EL1` = `midr` (the boot core, which
    /// the firmware started): the tree's choice where it has one, else the MIDR's.
    pub fn cpu_driver_build_running(&self, index: usize, midr: u64) -> Option<CpuDriverBuild> {
        match self.build_choice(index)? {
            BuildChoice::FromTree(build) => Some(build),
            BuildChoice::FromMidrAtBoot => Some(build_for_midr(midr)),
        }
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
        self.nearest_of(index, 0..self.cpus.len())
    }

    /// Of the `candidates`, the online core other than `index` that `index` reaches fastest,
    /// judged as [`Self::cheapest_peer`] judges (measured round trip, else a cluster sibling,
    /// else the first candidate in order). `None` for an unknown core or no such candidate.
    /// Finds the nearest of several cores that offer a service.
    pub fn nearest_of(&self, index: usize, candidates: impl IntoIterator<Item = usize>) -> Option<usize> {
        if index >= self.cpus.len() {
            return None;
        }
        let candidates: Vec<usize> =
            candidates.into_iter().filter(|&p| p != index && self.is_online(p)).collect();
        if let Some((peer, _)) =
            candidates.iter().filter_map(|&p| Some((p, self.cost(index, p)?))).min_by_key(|&(_, ns)| ns)
        {
            return Some(peer);
        }
        let cluster = self.cpus[index].cluster;
        let sibling = candidates.iter().copied().find(|&p| self.cpus[p].cluster == cluster);
        sibling.or_else(|| candidates.first().copied())
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
