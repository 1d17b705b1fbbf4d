//! The capability protocol on host threads, one per "core", over the URPC rings the OS uses
//! (one `ChannelFrame` per pair of cores, messages encoded with `capops::wire`): each thread
//! owns its own `caps::CoreCapabilities` and `CapOps` and shares nothing else, and all of them
//! send, retype through owners and revoke at once, for real concurrency rather than a chosen
//! interleaving. A full ring is never a lost message: what does not fit waits in order. At the
//! end: every core's indexes are consistent, capabilities to overlapping memory anywhere are
//! nested, no memory has two owners, and every request ended exactly once.

mod common;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use agreement::route::Route;
use capops::{wire, CapOps, Event, RetypeStart};
use caps::{Capability, Owner};
use common::{random_frame, random_peer, Rng, SimCore};
use urpc::{ChannelFrame, Receiver, Sender, Side};

const OPERATIONS: usize = 150;
/// Unanswered requests are given up after this long (nanoseconds); long, so that on a loaded
/// two-core machine nothing times out and every operation really runs.
const TIMEOUT_NS: u64 = 5_000_000_000;

struct Links<'a> {
    senders: BTreeMap<usize, Sender<'a>>,
    receivers: BTreeMap<usize, Receiver<'a>>,
    /// Messages waiting for room, per peer, in order.
    waiting: BTreeMap<usize, VecDeque<urpc::Payload>>,
}

impl Links<'_> {
    fn flush(&mut self) {
        for (peer, queue) in &mut self.waiting {
            let sender = self.senders.get_mut(peer).expect("a link to every peer");
            while let Some(payload) = queue.front() {
                if sender.try_send(payload).is_err() {
                    break;
                }
                queue.pop_front();
            }
        }
    }

    fn idle(&self) -> bool {
        self.waiting.values().all(VecDeque::is_empty)
    }
}

#[derive(Default, Debug)]
struct Ledger {
    started: BTreeMap<(char, u32), u32>,
    ended: BTreeMap<(char, u32), u32>,
    arrived: usize,
    revokes_done: usize,
}

fn run_core(
    me: usize,
    n: usize,
    mut links: Links<'_>,
    seed: u64,
    done: &AtomicUsize,
    start: &Barrier,
) -> (SimCore, Ledger) {
    let mut core = SimCore::new(me);
    let mut ops = CapOps::with_timeout(me, TIMEOUT_NS);
    let mut rng = Rng(seed);
    let mut ledger = Ledger::default();
    let clock = Instant::now();
    let now = || clock.elapsed().as_nanos() as u64;
    let mut operations = 0;
    let mut quiet_since: Option<Instant> = None;
    start.wait();
    loop {
        // Start an operation now and then.
        if operations < OPERATIONS && rng.below(4) == 0 {
            operations += 1;
            if operations == OPERATIONS {
                done.fetch_add(1, Ordering::SeqCst);
            }
            let held = core.occupied();
            if !held.is_empty() {
                let (slot, capability) = held[rng.below(held.len() as u64) as usize];
                match rng.below(10) {
                    0..=3 => {
                        let to = random_peer(&mut rng, me, n);
                        if let Ok(request) = ops.send(&mut core, to, slot, now()) {
                            ledger.started.insert(('s', request), 1);
                        }
                    }
                    4..=7 => {
                        let retype = random_frame(&mut rng, &capability);
                        if let Ok(RetypeStart::Asked(request)) = ops.retype(&mut core, slot, retype, now()) {
                            ledger.started.insert(('r', request), 1);
                        }
                    }
                    _ => {
                        let others: Vec<usize> = (0..n).filter(|&c| c != me).collect();
                        let route = if rng.below(2) == 0 {
                            Route::broadcast(me, &others)
                        } else {
                            Route::unicast(me, &others)
                        };
                        if let Ok(round) = ops.revoke(&mut core, slot, route, now()) {
                            ledger.started.insert(('v', round), 1);
                        }
                    }
                }
            }
        }
        // Take what arrived.
        let mut got = false;
        for (&peer, receiver) in &mut links.receivers {
            while let Ok(payload) = receiver.try_recv() {
                got = true;
                let message = wire::decode(&payload).expect("only well-formed messages travel");
                ops.receive(&mut core, peer, message, now());
            }
        }
        ops.poll(&mut core, now());
        for (to, message) in ops.take_messages() {
            links.waiting.entry(to).or_default().push_back(wire::encode(&message));
        }
        links.flush();
        for event in ops.take_events() {
            let key = match event {
                Event::Sent { request, .. } => ('s', request),
                Event::Retyped { request, .. } => ('r', request),
                Event::Protected { round, .. } => ('v', round),
                Event::Revoked { round, outcome } => {
                    ledger.revokes_done += usize::from(outcome == capops::RoundEnd::Done);
                    ('v', round)
                }
                Event::Arrived { .. } => {
                    ledger.arrived += 1;
                    continue;
                }
            };
            *ledger.ended.entry(key).or_default() += 1;
        }
        core.caps.check_consistency().expect("a core's own indexes stay consistent");
        // Stop once every core has started all its operations and this one has had nothing to
        // do for a while.
        let quiet = !got && !ops.busy() && links.idle();
        if quiet && done.load(Ordering::SeqCst) == n {
            let since = *quiet_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_millis(300) {
                break;
            }
        } else {
            quiet_since = None;
        }
        std::thread::yield_now();
    }
    (core, ledger)
}

#[test]
fn cores_on_threads_keep_every_invariant() {
    for seed in 1..=4u64 {
        let n = 4;
        // One channel per pair of cores, leaked: the threads borrow them for the whole run.
        let frames: BTreeMap<(usize, usize), &'static ChannelFrame> = (0..n)
            .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
            .map(|pair| (pair, &*Box::leak(Box::new(ChannelFrame::new()))))
            .collect();
        let done = AtomicUsize::new(0);
        let start = Barrier::new(n);
        let results: Vec<(SimCore, Ledger)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .map(|me| {
                    let mut links = Links {
                        senders: BTreeMap::new(),
                        receivers: BTreeMap::new(),
                        waiting: BTreeMap::new(),
                    };
                    for (&(a, b), frame) in &frames {
                        let (side, peer) = match me {
                            m if m == a => (Side::A, b),
                            m if m == b => (Side::B, a),
                            _ => continue,
                        };
                        let (sender, receiver) = frame.endpoint(side).split();
                        links.senders.insert(peer, sender);
                        links.receivers.insert(peer, receiver);
                    }
                    let (done, start) = (&done, &start);
                    scope.spawn(move || run_core(me, n, links, seed * 7919 + me as u64 + 1, done, start))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a core's thread panicked")).collect()
        });

        let mut all: Vec<(usize, Capability, usize)> = Vec::new();
        let (mut arrived, mut revokes_done) = (0, 0);
        for (index, (core, ledger)) in results.iter().enumerate() {
            for (key, count) in &ledger.ended {
                assert_eq!(*count, 1, "seed {seed}, core {index}: {key:?} ended {count} times");
            }
            for key in ledger.started.keys() {
                assert_eq!(ledger.ended.get(key), Some(&1), "seed {seed}, core {index}: {key:?} never ended");
            }
            arrived += ledger.arrived;
            revokes_done += ledger.revokes_done;
            for (addr, capability) in core.occupied() {
                let owner = match core.caps.owner(core.cspace.slot(addr)).unwrap() {
                    Owner::Here => index,
                    Owner::Core(c) => c as usize,
                };
                all.push((index, capability, owner));
            }
        }
        for (i, (core_a, a, owner_a)) in all.iter().enumerate() {
            for (core_b, b, owner_b) in &all[i + 1..] {
                let overlap = a.base() < b.base() + b.size() && b.base() < a.base() + a.size();
                if overlap {
                    let nested = a.is_ancestor_of(b)
                        || b.is_ancestor_of(a)
                        || (a.base(), a.size()) == (b.base(), b.size());
                    assert!(nested, "seed {seed}: core {core_a} {a:?} cuts across core {core_b} {b:?}");
                    assert_eq!(owner_a, owner_b, "seed {seed}: {a:?} and {b:?} have two owners");
                }
            }
        }
        println!("seed {seed}: {arrived} copies arrived, {revokes_done} revokes done");
        assert!(
            arrived > 20 && revokes_done > 0,
            "seed {seed}: the run exercised too little: {arrived} arrived, {revokes_done} revokes done"
        );
    }
}
