//! How one protocol round reaches every participating core.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::CoreId;

/// The three ways to send one round to n cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// The initiator sends to one core, waits for its answer, then sends to the next.
    Unicast,
    /// The initiator sends to every core, then collects every answer.
    Broadcast,
    /// The SKB's multicast tree: each core forwards to its children and answers its parent.
    Tree,
}

/// Who sends to whom: each core's children in send order, and whether the root waits for each
/// child's answer before sending to the next (unicast).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    root: CoreId,
    children: BTreeMap<CoreId, Vec<CoreId>>,
    parents: BTreeMap<CoreId, CoreId>,
    sequential: bool,
}

impl Route {
    /// From `root` to each of `others` in turn, waiting for each answer.
    pub fn unicast(root: CoreId, others: &[CoreId]) -> Route {
        Route { sequential: true, ..Route::star(root, others) }
    }

    /// From `root` to all of `others` at once.
    pub fn broadcast(root: CoreId, others: &[CoreId]) -> Route {
        Route::star(root, others)
    }

    /// Along a tree's `(parent, child)` edges in send order (the SKB's multicast tree); an
    /// edge that would reach a core a second time, or start at a core not yet reached, is left
    /// out, so the route is always a tree from `root`.
    pub fn tree(root: CoreId, edges: &[(CoreId, CoreId)]) -> Route {
        let mut route =
            Route { root, children: BTreeMap::new(), parents: BTreeMap::new(), sequential: false };
        for &(parent, child) in edges {
            let reached = |c: CoreId| c == root || route.parents.contains_key(&c);
            if reached(parent) && !reached(child) {
                route.children.entry(parent).or_default().push(child);
                route.parents.insert(child, parent);
            }
        }
        route
    }

    fn star(root: CoreId, others: &[CoreId]) -> Route {
        let edges: Vec<(CoreId, CoreId)> = others.iter().map(|&c| (root, c)).collect();
        Route::tree(root, &edges)
    }

    /// The same route with the root asking all its children at once (a unicast route made a
    /// broadcast; others unchanged): for an abort after the initiator gave up, which has no
    /// vote to wait for, and which a core that stopped answering must not keep from the cores
    /// after it.
    pub fn all_at_once(&self) -> Route {
        Route { sequential: false, ..self.clone() }
    }

    /// The initiator.
    pub fn root(&self) -> CoreId {
        self.root
    }

    /// The cores `core` sends to, in send order.
    pub fn children(&self, core: CoreId) -> &[CoreId] {
        self.children.get(&core).map_or(&[], Vec::as_slice)
    }

    /// The core `core` answers to (`None` for the root and cores not on the route).
    pub fn parent(&self, core: CoreId) -> Option<CoreId> {
        self.parents.get(&core).copied()
    }

    /// Whether the root waits for each answer before sending on (unicast).
    pub fn sequential(&self) -> bool {
        self.sequential
    }

    /// Every core on the route, the root first.
    pub fn cores(&self) -> impl Iterator<Item = CoreId> + '_ {
        core::iter::once(self.root).chain(self.parents.keys().copied())
    }

    /// `core` and every core below it on the route.
    pub fn subtree(&self, core: CoreId) -> Vec<CoreId> {
        let mut cores = alloc::vec![core];
        let mut at = 0;
        while let Some(&c) = cores.get(at) {
            cores.extend_from_slice(self.children(c));
            at += 1;
        }
        cores
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes() {
        let unicast = Route::unicast(0, &[1, 2, 3]);
        assert!(unicast.sequential());
        assert_eq!(unicast.children(0), [1, 2, 3]);
        assert_eq!(unicast.all_at_once(), Route::broadcast(0, &[1, 2, 3]));
        let broadcast = Route::broadcast(2, &[0, 1, 3]);
        assert!(!broadcast.sequential());
        assert_eq!(broadcast.parent(3), Some(2));
        let tree = Route::tree(0, &[(0, 4), (0, 1), (4, 5), (1, 2), (1, 3)]);
        assert_eq!(tree.children(0), [4, 1]);
        assert_eq!(tree.children(1), [2, 3]);
        assert_eq!(tree.parent(5), Some(4));
        assert_eq!(tree.subtree(1), [1, 2, 3]);
        assert_eq!(tree.cores().count(), 6);
    }

    #[test]
    fn edges_that_are_not_a_tree_from_the_root_are_left_out() {
        // 3 reached twice, 7 from a core never reached, the root as a child.
        let route = Route::tree(0, &[(0, 1), (1, 3), (0, 3), (9, 7), (1, 0)]);
        assert_eq!(route.children(0), [1]);
        assert_eq!(route.children(1), [3]);
        assert_eq!(route.parent(7), None);
        assert_eq!(route.cores().count(), 3);
    }
}
