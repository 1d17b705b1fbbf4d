//! The last check, `bind-remote-echo`: channels bound on demand between programs on different
//! cores. Every core's `selftest` offers the `echo` service, then asks its monitor to bind a
//! channel to the `echo` of the next online core (the monitor retypes the channel's Frame from
//! the RAM it gave this program for channels, lends it through the capability protocol and the
//! other monitor gives it to the program there). Each then serves the channel bound to it,
//! echoing, while it sends `ECHOES` messages on its own and checks each answer. A service not
//! offered yet (the other core is still busy with its checks) is asked again.

use alloc::format;
use alloc::string::String;

use monitor::local::{self, pack, unpack, BindStatus, SERVICE_ECHO};
use urpc::{Receiver, Sender, Side};
use userland::{info, vnode_map, Info, SLOT_VNODE};

/// Where the monitor puts the Frame of the channel this program bound (side A) and of the
/// channel bound to it (side B).
const CLIENT_SLOT: u32 = userland::SLOT_FIRST_FREE + 28;
const SERVER_SLOT: u32 = userland::SLOT_FIRST_FREE + 29;
/// Entries of this program's level-3 VNode the two channels are mapped at.
const CLIENT_ENTRY: u64 = 500;
const SERVER_ENTRY: u64 = 501;
/// Messages sent, each answered before the next.
const ECHOES: u64 = 100;
/// Seconds the whole check may take (the other core may still be running its checks).
const DEADLINE_SECONDS: u64 = 60;
/// Read and write.
const READ_WRITE: u64 = 3;

type Side2<'a> = (Sender<'a>, Receiver<'a>);

fn map_channel(slot: u32, entry: u64, side: Side) -> Result<Side2<'static>, String> {
    let va = vnode_map(SLOT_VNODE, entry, slot, READ_WRITE).map_err(|e| format!("map the channel: {e:?}"))?;
    let endpoint = userland::bound_channel_frame(va).try_endpoint(side);
    Ok(endpoint.map_err(|_| format!("the channel's side {side:?} is taken already"))?.split())
}

/// The check (see the module documentation).
pub fn bind_remote_echo() -> Result<(), String> {
    let core = info(Info::CoreIndex).map_err(|e| format!("core index: {e:?}"))?;
    let count = info(Info::CoreCount).unwrap_or(1);
    let Some(target) = (1..count)
        .map(|step| (core + step) % count)
        .find(|&c| userland::info_of(Info::CoreOnline, c) == Ok(1))
    else {
        return Ok(()); // one core: nothing to bind to
    };
    let frequency = info(Info::CounterFrequency).unwrap_or(1).max(1);
    let deadline = userland::counter() + DEADLINE_SECONDS * frequency;
    userland::send_to_monitor([local::ACCEPT, SERVICE_ECHO, u64::from(SERVER_SLOT)])
        .map_err(|e| format!("offer echo: {e:?}"))?;
    let ask = || userland::send_to_monitor([local::BIND, pack(target as u32, CLIENT_SLOT), SERVICE_ECHO]);
    ask().map_err(|e| format!("bind: {e:?}"))?;
    let (mut client, mut server): (Option<Side2<'_>>, Option<Side2<'_>>) = (None, None);
    let (mut sent, mut answered, mut echoed, mut asks) = (0u64, 0u64, 0u64, 1u32);
    while answered < ECHOES || echoed < ECHOES {
        if userland::counter() > deadline {
            return Err(format!(
                "after {DEADLINE_SECONDS} s: {answered} of {ECHOES} answered by core {target} ({asks} binds asked), {echoed} echoed for the core bound here"
            ));
        }
        while let Ok((0, words)) = userland::recv_local() {
            match words {
                [local::BOUND, status, slot] => match unpack(status) {
                    (_, 0) if slot == u64::from(CLIENT_SLOT) => {
                        client = Some(map_channel(CLIENT_SLOT, CLIENT_ENTRY, Side::A)?);
                    }
                    (_, code) if BindStatus::from_code(code) == Some(BindStatus::NoService) => {
                        userland::wait(frequency / 100); // not offered there yet
                        asks += 1;
                        ask().map_err(|e| format!("bind again: {e:?}"))?;
                    }
                    (_, code) => {
                        return Err(format!(
                            "bind to core {target} refused: {:?}",
                            BindStatus::from_code(code)
                        ))
                    }
                },
                [local::BIND_INCOMING, _, slot] if slot == u64::from(SERVER_SLOT) && server.is_none() => {
                    server = Some(map_channel(SERVER_SLOT, SERVER_ENTRY, Side::B)?);
                }
                _ => {}
            }
        }
        if let Some((tx, rx)) = server.as_mut() {
            while let Ok(payload) = rx.try_recv() {
                let mut answer = payload;
                answer.0[0] ^= 0xff; // an echo, visibly processed
                while tx.try_send(&answer).is_err() {}
                echoed += 1;
            }
        }
        if let Some((tx, rx)) = client.as_mut() {
            if sent == answered && sent < ECHOES {
                let mut payload = urpc::Payload::ZERO;
                payload.0[..8].copy_from_slice(&(core << 32 | sent).to_le_bytes());
                if tx.try_send(&payload).is_ok() {
                    sent += 1;
                }
            }
            if let Ok(answer) = rx.try_recv() {
                let mut word = [0u8; 8];
                word.copy_from_slice(&answer.0[..8]);
                let expected = (core << 32 | answered) ^ 0xff;
                if u64::from_le_bytes(word) != expected {
                    return Err(format!(
                        "answer {answered}: {:#x}, expected {expected:#x}",
                        u64::from_le_bytes(word)
                    ));
                }
                answered += 1;
            }
        }
        if client.is_none() || server.is_none() {
            userland::wait(frequency / 1000);
        }
    }
    Ok(())
}
