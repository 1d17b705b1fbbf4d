//! The same-core comparison: two `latency` programs on one core, each in its own address
//! space, time round trips through the CPU driver, once through its line transport (a whole
//! 56-byte URPC line each way: `line_send` / `line_recv`) and once through `send_local` (three
//! words each way), in the same boot and the same way, so the two figures differ only by the
//! transport. The boot core's monitor spawns them (start argument `SAME_CORE_ECHO` or
//! `SAME_CORE_MEASURE`), gives each an Endpoint to the other at [`PEER`] and says go.
//!
//! On one core a round trip is two sends, two receives and two switches between the programs:
//! the measurer sends and sleeps in `wait`; the send woke the echo, which takes the line,
//! sends it back (waking the measurer) and sleeps again. Both sides look at both kinds of
//! message after each wake-up, lines first, so the two measurements make the same calls.

use local_protocol::bench::{Failure, SameCore};
use local_protocol::{self as local, ToProgram, SAME_CORE_ECHO, SAME_CORE_MEASURE};
use urpc::Payload;
use userland::kernel_line::{line_recv, line_send};
use userland::stats::{ticks_to_ns, TickHistogram};
use userland::{info, Error, Info};

use crate::WARMUP;

/// Where each program finds its Endpoint to the other (the monitor gives it), and the badge
/// it carries.
const PEER: u32 = local::SAME_CORE_PEER_SLOT;
const PEER_BADGE: u64 = local::SAME_CORE_PEER_BADGE;
const _: () = assert!(PEER == userland::SLOT_FIRST_FREE, "the peer's Endpoint is in the first free slot");
/// Measurer to echo (`send_local`): the measurement is over: `[STOP, 0, 0]`.
const STOP: u64 = 0x7374_6f70;
/// Measurer to echo (`send_local`): a three-word ping, echoed as it is: `[PING, n, 0]`.
const PING: u64 = 0x7069_6e67;
/// Seconds either side waits for the other before it gives up.
const PATIENCE_SECONDS: u64 = 10;

/// Runs the role the start argument names; the exit code is 0 when it went as planned.
pub fn run(role: u64) -> u64 {
    let frequency = info(Info::CounterFrequency).unwrap_or(1);
    let Some(rounds) = wait_for_go(frequency) else { return 1 };
    match role {
        SAME_CORE_ECHO => echo(frequency),
        SAME_CORE_MEASURE => {
            let report = match measure(frequency, rounds) {
                Ok(SameCore { line, send_local }) => local::words(&local::SameCoreResult {
                    line_p50_ns: line.0,
                    line_p99_ns: line.1,
                    send_local_p50_ns: send_local.0,
                    send_local_p99_ns: send_local.1,
                }),
                Err(failure) => local::words(&local::SameCoreFailed { failure }),
            };
            // The echo ends either way.
            let _ = userland::send_local(PEER, [STOP, 0, 0]);
            u64::from(userland::send_to_monitor(report).is_err())
        }
        _ => 2,
    }
}

/// The monitor's `[SAME_CORE_GO, rounds, 0]` (its Endpoint's badge is 0); `None` after
/// [`PATIENCE_SECONDS`].
fn wait_for_go(frequency: u64) -> Option<u64> {
    let deadline = userland::counter() + PATIENCE_SECONDS * frequency;
    loop {
        match userland::recv_local() {
            Ok((0, words)) => {
                if let Ok(ToProgram::SameCoreGo(go)) = local::decode::<ToProgram>(words) {
                    return Some(go.rounds);
                }
            }
            Ok(_) => {}
            Err(_) => {
                let now = userland::counter();
                if now >= deadline {
                    return None;
                }
                userland::wait(deadline - now);
            }
        }
    }
}

/// Sends back every line and every three-word ping from the measurer until it says stop, or
/// nothing came for [`PATIENCE_SECONDS`] (exit code 3).
fn echo(frequency: u64) -> u64 {
    loop {
        while let Ok((_, line, _)) = line_recv(Some(PEER_BADGE)) {
            if line_send(PEER, &line).is_err() {
                return 4;
            }
        }
        while let Ok((badge, words)) = userland::recv_local() {
            match words {
                _ if badge != PEER_BADGE => {}
                [STOP, _, _] => return 0,
                _ => {
                    if userland::send_local(PEER, words).is_err() {
                        return 4;
                    }
                }
            }
        }
        if !userland::wait(PATIENCE_SECONDS * frequency) {
            return 3;
        }
    }
}

/// One round trip's answer: the reply's line, or `WouldBlock` when none came yet.
type Answer<T> = Result<T, Error>;

/// Times `WARMUP + rounds` round trips of each kind (p50 and p99 of the timed ones, in
/// nanoseconds).
fn measure(frequency: u64, rounds: u64) -> Result<SameCore, Failure> {
    let line = time_round_trips(frequency, rounds, |n| {
        let ping = Payload::from_words([n, !n, n, n, n, n, n]);
        line_send(PEER, &ping).map_err(|_| Failure::RingFull)?;
        Ok(move || -> Answer<bool> {
            let (_, pong, _) = line_recv(Some(PEER_BADGE))?;
            Ok(pong == ping)
        })
    })?;
    let send_local = time_round_trips(frequency, rounds, |n| {
        userland::send_local(PEER, [PING, n, 0]).map_err(|_| Failure::RingFull)?;
        Ok(move || -> Answer<bool> {
            let (badge, words) = userland::recv_local()?;
            Ok(badge == PEER_BADGE && words == [PING, n, 0])
        })
    })?;
    Ok(SameCore { line, send_local })
}

/// Round trip `n`: `send(n)` sends the ping and gives what takes the pong (`WouldBlock` while
/// none came, else whether it was the right one); this program sleeps until woken between
/// looks. Returns the p50 and p99 of the timed round trips.
fn time_round_trips<S, R>(frequency: u64, rounds: u64, mut send: S) -> Result<(u32, u32), Failure>
where
    S: FnMut(u64) -> Result<R, Failure>,
    R: FnMut() -> Answer<bool>,
{
    let patience = PATIENCE_SECONDS * frequency;
    let mut samples = TickHistogram::new().map_err(|_| Failure::NoMemory)?;
    for n in 0..WARMUP + rounds {
        let start = userland::counter();
        let mut take = send(n)?;
        loop {
            // The pong wakes this program: no look before the first sleep, since the echo
            // runs only once this program sleeps.
            userland::wait(patience);
            match take() {
                Ok(true) => break,
                Ok(false) => return Err(Failure::WrongPong),
                Err(Error::WouldBlock) if userland::counter() - start < patience => {}
                Err(_) => return Err(Failure::NoPong),
            }
        }
        let ticks = crate::ticks_since(start);
        if n >= WARMUP {
            samples.record(ticks).map_err(|_| Failure::NoMemory)?;
        }
    }
    let ns = |ticks: u32| ticks_to_ns(u64::from(ticks), frequency).min(u64::from(u32::MAX)) as u32;
    let p50 = samples.percentile(50).map(ns).ok_or(Failure::NoResult)?;
    let p99 = samples.percentile(99).map(ns).ok_or(Failure::NoResult)?;
    if p50 == 0 {
        return Err(Failure::BelowResolution);
    }
    Ok((p50, p99))
}
