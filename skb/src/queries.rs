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
    /// `(parent, child)` edges, parents before their children.
    pub edges: Vec<(usize, usize)>,
}

impl MulticastTree {
    /// The cores `core` forwards to.
    pub fn children(&self, core: usize) -> impl Iterator<Item = usize> + '_ {
        self.edges.iter().filter(move |(p, _)| *p == core).map(|&(_, c)| c)
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

    /// A multicast tree from `root` over the online cores (the root always included). When
    /// every pair of them has a measurement it is the minimum spanning tree of the measured
    /// round trips, grown from the root (Prim), so expensive links (between clusters) are
    /// crossed once each; otherwise it follows the clusters: the root sends to its cluster
    /// siblings and to one core of every other cluster, which sends on to its siblings.
    pub fn multicast_tree(&self, root: usize) -> MulticastTree {
        let mut edges = Vec::new();
        if root >= self.cpus.len() {
            return MulticastTree { root, edges };
        }
        let online: Vec<usize> = (0..self.cpus.len()).filter(|&c| self.is_online(c) || c == root).collect();
        let measured = online.iter().all(|&a| online.iter().all(|&b| a == b || self.cost(a, b).is_some()));
        if measured {
            // Prim with a best-known link per core outside the tree: O(n^2).
            let mut best: Vec<(usize, Option<(u64, usize)>)> = online
                .iter()
                .filter(|&&c| c != root)
                .map(|&c| (c, self.cost(root, c).map(|ns| (ns, root))))
                .collect();
            while !best.is_empty() {
                // Cheapest link first; ties go to the lower core number, so the tree does not
                // depend on the order of this list.
                let cheapest =
                    (0..best.len()).min_by_key(|&i| (best[i].1.map_or(u64::MAX, |(ns, _)| ns), best[i].0));
                let Some(next) = cheapest else { break };
                let (child, link) = best.swap_remove(next);
                let Some((_, parent)) = link else { break };
                edges.push((parent, child));
                for (core, link) in best.iter_mut() {
                    if let Some(ns) = self.cost(child, *core) {
                        if link.is_none_or(|(known, _)| ns < known) {
                            *link = Some((ns, child));
                        }
                    }
                }
            }
        } else {
            let root_cluster = self.cpus[root].cluster;
            for &c in &online {
                if c != root && self.cpus[c].cluster == root_cluster {
                    edges.push((root, c));
                }
            }
            let mut clusters: Vec<u32> = online.iter().map(|&c| self.cpus[c].cluster).collect();
            clusters.sort_unstable();
            clusters.dedup();
            for cluster in clusters.into_iter().filter(|&k| k != root_cluster) {
                let members: Vec<usize> =
                    online.iter().copied().filter(|&c| self.cpus[c].cluster == cluster).collect();
                let Some(&leader) = members.first() else { continue };
                edges.push((root, leader));
                edges.extend(members.iter().skip(1).map(|&m| (leader, m)));
            }
        }
        MulticastTree { root, edges }
    }
}
