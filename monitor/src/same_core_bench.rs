//! The same-core comparison the coordinator runs after the latency benchmark, on every online
//! core in turn (the diagonal of the pair matrix: a little core's system calls cost more than a
//! big one's): two `latency` programs on one core, each in its own address space, time round
//! trips through the CPU driver's line transport (a whole URPC line each way) and through
//! `send_local` (three words), and that core's monitor prints both beside the cross-core EL0
//! URPC round trip this boot measured from that core (to the first other online core), with
//! the ratios:
//!
//! ```text
//! same-core 0 rounds=10000 line p50_ns=... p99_ns=... send_local p50_ns=... p99_ns=...
//! same-core 0 ratios (p50): line/send_local=... urpc 0-1 p50_ns=... line/urpc=... send_local/urpc=...
//! ```
//!
//! The coordinator runs its own core's and asks each other monitor in turn (`SameCoreAsk`,
//! with the cross-core figure from its SKB), waiting for its `SameCoreDone` before the next:
//! one core measures at a time, so the figures are comparable between cores.
//!
//! The monitor binds them as it would any two programs: it spawns `latency` twice out of RAM
//! retyped for each, with start arguments `SAME_CORE_ECHO` and `SAME_CORE_MEASURE`, gives each
//! an Endpoint to itself (at `SLOT_MONITOR`, badged with the dispatcher index) and one to the
//! other (at `SAME_CORE_PEER_SLOT`, badged `SAME_CORE_PEER_BADGE`), and says go. Afterwards
//! their memory comes back (the RAM pieces are deleted once both ended).

use alloc::string::String;

use local_protocol::{self as local, SAME_CORE_PEER_BADGE, SAME_CORE_PEER_SLOT};
use monitor::bench::{self, Failure, SameCore, RESULT_TIMEOUT_SECONDS};
use monitor::messages::{SameCoreAsk, SameCoreDone};
use userland::{cap_type, println, Error, SLOT_MONITOR, SLOT_SELF};

use crate::Monitor;

/// Slots of this monitor's space one program of the comparison takes: its RAM piece, its
/// Dispatcher capability, and this monitor's Endpoint to it.
#[derive(Clone, Copy)]
struct Slots {
    ram: u32,
    dispatcher: u32,
    endpoint: u32,
}

const ECHO: Slots = Slots { ram: 28, dispatcher: 29, endpoint: 30 };
const MEASURE: Slots = Slots { ram: 31, dispatcher: 32, endpoint: 33 };
/// Where an Endpoint is made before it is given.
const GIVING: u32 = 34;
/// The most round trips of each kind the comparison times.
const SAME_CORE_MAX_ROUNDS: u64 = 10_000;
/// Seconds the two programs have to end after the result (the echo ends when told).
const END_SECONDS: u64 = 5;

/// How long the coordinator waits for another core's comparison: its result's wait, the
/// programs' end, and their start.
const ASK_TIMEOUT_SECONDS: u64 = RESULT_TIMEOUT_SECONDS + END_SECONDS + 10;

/// The comparison on this core: the measuring program's dispatcher index and what it
/// reported; the coordinator's ask waiting to be run here; on the coordinator, the core whose
/// `SameCoreDone` came.
#[derive(Default)]
pub(crate) struct SameCoreRun {
    measurer: Option<u64>,
    outcome: Option<Result<SameCore, Failure>>,
    asked: Option<(u64, SameCoreAsk)>,
    done: Option<u32>,
}

impl Monitor {
    /// (The coordinator) runs the comparison on every online core, one after another, its own
    /// first.
    pub(crate) fn compare_same_core(&mut self) {
        // Each round trip here is two system calls and two address-space switches (tens of
        // microseconds under QEMU), so a long `bench-rounds=` does not stretch this part.
        let rounds = self.options.rounds.min(SAME_CORE_MAX_ROUNDS);
        let here = self.core as u32;
        self.same_core_here(rounds, self.cross_core_urpc(here));
        let others = self.online & !(1u64 << here);
        for core in (0..64u32).filter(|&c| others & (1u64 << c) != 0) {
            if self.online & (1u64 << core) == 0 {
                continue; // it went offline meanwhile
            }
            let (peer, urpc_p50_ns) = self.cross_core_urpc(core).map_or((0, 0), |(_, peer, ns)| (peer, ns));
            self.same_core.done = None;
            self.send(u64::from(core), &SameCoreAsk { rounds: rounds as u32, peer, urpc_p50_ns });
            if !self.wait_for(ASK_TIMEOUT_SECONDS, |m| m.same_core.done == Some(core)) {
                println!(
                    "same-core {core} failed: its monitor did not answer within {ASK_TIMEOUT_SECONDS} s"
                );
            }
        }
    }

    /// The coordinator asks for the comparison on this core: kept for the main loop
    /// ([`Self::serve_same_core_ask`]), which may wait, unlike a message handler.
    pub(crate) fn on_same_core_ask(&mut self, from: u64, ask: SameCoreAsk) {
        self.same_core.asked = Some((from, ask));
    }

    /// A monitor ran the comparison it was asked for.
    pub(crate) fn on_same_core_done(&mut self, from: u64, done: SameCoreDone) {
        if u64::from(done.core) == from {
            self.same_core.done = Some(done.core);
        }
    }

    /// Runs the comparison the coordinator asked for, if it did, and says it is done.
    pub(crate) fn serve_same_core_ask(&mut self) {
        let Some((from, ask)) = self.same_core.asked.take() else { return };
        let rounds = u64::from(ask.rounds).min(SAME_CORE_MAX_ROUNDS);
        let urpc = (ask.urpc_p50_ns != 0).then_some((self.core as u32, ask.peer, ask.urpc_p50_ns));
        let measured = self.same_core_here(rounds, urpc);
        self.send(from, &SameCoreDone { core: self.core as u32, measured });
    }

    /// Runs the comparison on this core and prints its lines (or why it has none); whether it
    /// printed figures. `urpc`: the cross-core figure to compare with.
    fn same_core_here(&mut self, rounds: u64, urpc: Option<(u32, u32, u32)>) -> bool {
        let core = self.core as u32;
        let mut measured = false;
        match self.start_same_core(rounds) {
            Err(why) => println!("same-core {core} failed: {why}"),
            Ok(()) => {
                self.wait_for(RESULT_TIMEOUT_SECONDS, |m| m.same_core.outcome.is_some());
                match self.same_core.outcome {
                    Some(Ok(figures)) => {
                        for line in bench::same_core_lines(core, rounds, figures, urpc) {
                            println!("{line}");
                        }
                        measured = true;
                    }
                    Some(Err(failure)) => println!("same-core {core} failed: {failure}"),
                    None => println!("same-core {core} failed: {}", Failure::NoResult),
                }
            }
        }
        self.end_same_core();
        measured
    }

    /// The measuring program's `SameCoreResult` (`Ok`) or `SameCoreFailed` from `sender`.
    pub(crate) fn heard_same_core(&mut self, sender: u64, heard: Result<local::SameCoreResult, Failure>) {
        if self.same_core.measurer != Some(sender) {
            return;
        }
        self.same_core.outcome = Some(heard.and_then(|result| {
            let line = (result.line_p50_ns, result.line_p99_ns);
            let send_local = (result.send_local_p50_ns, result.send_local_p99_ns);
            if line.0 == 0 || send_local.0 == 0 {
                return Err(Failure::BelowResolution);
            }
            Ok(SameCore { line, send_local })
        }));
    }

    /// The EL0 URPC round trip this boot measured from `core` to the first other online core
    /// (the coordinator's SKB holds every pair's).
    fn cross_core_urpc(&self, core: u32) -> Option<(u32, u32, u32)> {
        let peer = (0..64).find(|&c| c != core && self.online & (1u64 << c) != 0)?;
        let ns = self.skb.as_ref()?.latency(core as usize, peer as usize)?;
        Some((core, peer, u32::try_from(ns).ok()?))
    }

    /// Spawns the echo and the measurer, binds them to each other and says go.
    fn start_same_core(&mut self, rounds: u64) -> Result<(), String> {
        let refused = |what: &str, e: Error| alloc::format!("{what} refused: {e:?}");
        let (module, info) =
            userland::find_module("latency").ok_or_else(|| String::from("no latency module"))?;
        for (slots, role) in [(ECHO, local::SAME_CORE_ECHO), (MEASURE, local::SAME_CORE_MEASURE)] {
            crate::span::retype_free(cap_type::RAM, info.ram_bytes, slots.ram)
                .ok_or_else(|| alloc::format!("no {} KiB of RAM free", info.ram_bytes >> 10))?;
            let dispatcher = userland::spawn(module, slots.ram, slots.dispatcher, role)
                .map_err(|e| refused("spawn", e))?;
            give_endpoint(SLOT_SELF, dispatcher, slots.dispatcher, SLOT_MONITOR)
                .map_err(|e| refused("its Endpoint to the monitor", e))?;
            userland::endpoint_create(slots.dispatcher, 0, slots.endpoint)
                .map_err(|e| refused("the monitor's Endpoint to it", e))?;
            if role == local::SAME_CORE_MEASURE {
                self.same_core.measurer = Some(dispatcher);
            }
        }
        for (to, given) in [(MEASURE, ECHO), (ECHO, MEASURE)] {
            give_endpoint(to.dispatcher, SAME_CORE_PEER_BADGE, given.dispatcher, SAME_CORE_PEER_SLOT)
                .map_err(|e| refused("an Endpoint to the other", e))?;
        }
        for slots in [ECHO, MEASURE] {
            userland::send_local(slots.endpoint, local::words(&local::SameCoreGo { rounds }))
                .map_err(|e| refused("go", e))?;
        }
        Ok(())
    }

    /// Waits (bounded) for both programs to end, stops what still runs, and gives their memory
    /// back.
    fn end_same_core(&mut self) {
        let ended = |slots: Slots| {
            userland::dispatcher_status(slots.dispatcher) != Ok(userland::DispatcherStatus::Running)
        };
        self.wait_for(END_SECONDS, |_| ended(ECHO) && ended(MEASURE));
        for slots in [ECHO, MEASURE] {
            if !ended(slots) {
                let _ = userland::dispatcher_stop(slots.dispatcher);
            }
            for slot in [slots.endpoint, slots.dispatcher, slots.ram] {
                let _ = userland::cap_delete(slot);
            }
        }
        // The next comparison starts from nothing heard.
        self.same_core.measurer = None;
        self.same_core.outcome = None;
    }
}

/// Makes an Endpoint with `badge` to the dispatcher of the Dispatcher capability at `to` and
/// gives it to the dispatcher of the one at `receiver`, at `slot` of its space.
fn give_endpoint(to: u32, badge: u64, receiver: u32, slot: u32) -> Result<(), Error> {
    let given = userland::endpoint_create(to, badge, GIVING)
        .and_then(|()| userland::cap_give(receiver, GIVING, slot));
    let _ = userland::cap_delete(GIVING);
    given
}
