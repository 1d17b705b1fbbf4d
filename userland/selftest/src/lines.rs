//! The same-core line transport's checks (`userland::kernel_line`, the kernel's `line_send`,
//! `line_send_lines` and `line_recv`):
//!
//! - `lines-need-endpoint`: sends are refused by name before anything is queued: an empty
//!   slot, a Frame, a read-only Endpoint, a buffer outside the program's memory, no lines or
//!   too many, a bad receive selector; and through the typed channel the refusal is named too.
//! - `lines-typed-exchange`: two programs on this core, each in its own address space, talk
//!   through typed channels over the kernel (`Channel<_, KernelLine>`). This program spawns
//!   itself twice, a server and a client, and gives each an Endpoint to the other (the
//!   binding a monitor would make); the client sends a one-line `Ping` and a five-line `Table`
//!   and checks the answers, then floods the server (which reads nothing until told) with
//!   one-line messages until the kernel says full: exactly `LINES_PER_SENDER` go in (one
//!   sender's share of the `LINE_QUEUE_LINES`-line queue), a several-line message is then
//!   refused whole, and after the server drained them
//!   every one arrived, in order, with nothing more behind them; then a `Table` goes through
//!   again. Each child reports by its exit code; afterwards a send to the ended server is
//!   refused, and the children's memory comes back.

use alloc::format;
use alloc::string::String;

use urpc::interface::{Channel, ChannelError};
use urpc::Payload;
use userland::kernel_line::{self, KernelLine, LINES_PER_SENDER};
use userland::{
    cap_delete, cap_give, cap_identify, cap_mint, cap_retype, cap_type, dispatcher_status, endpoint_create,
    send_local, spawn, DispatcherStatus, ElZero, Error, SLOT_FIRST_FREE, SLOT_MONITOR,
};

use crate::{
    code, deadline, ok, refused, refused_with, wait_until_ended, CHILD_GO, CHILD_RAM_BYTES, CHILD_RAM_SOURCE,
    GIVEN, MODULE, PARENT_BADGE,
};

/// The child roles of the exchange (start arguments; see `main.rs` for the others).
pub const ROLE_LINE_SERVER: u64 = 4;
pub const ROLE_LINE_CLIENT: u64 = 5;

/// Slots of this check: the children's Dispatcher capabilities, their RAM pieces, the
/// Endpoints made for them, and two spare ones.
const SERVER: u32 = SLOT_FIRST_FREE + 20;
const CLIENT: u32 = SLOT_FIRST_FREE + 21;
const SERVER_RAM: u32 = SLOT_FIRST_FREE + 22;
const CLIENT_RAM: u32 = SLOT_FIRST_FREE + 23;
const TO_SERVER: u32 = SLOT_FIRST_FREE + 24;
const TO_CLIENT: u32 = SLOT_FIRST_FREE + 25;
const SPARE: u32 = SLOT_FIRST_FREE + 26;
const EMPTY: u32 = SLOT_FIRST_FREE + 27;

/// The badges the children see: the server's lines come from the client with
/// `CLIENT_BADGE`, the client's from the server with `SERVER_BADGE`.
const CLIENT_BADGE: u64 = 0x6c69_6e65_5f63;
const SERVER_BADGE: u64 = 0x6c69_6e65_5f73;
/// Client to server (`send_local`, three words): `[DRAIN, lines sent, 0]`: read the flood now.
const DRAIN: u64 = 0x0064_7261_696e;
/// Seconds each wait of a child may take.
const PATIENCE_SECONDS: u64 = 10;

urpc::declare_messages! {
    /// Client to server: answer `value + 1`.
    pub struct Ping = 121 { pub seq: u32, pub value: u64 }
    /// Client to server, five lines: answer the sum of the bytes.
    pub struct Table = 122 lines { pub seq: u32, pub bytes: [u8; 200] }
    /// Client to server: one line of the flood.
    pub struct Flood = 123 { pub seq: u32 }
    /// Server to client: the answer to message `seq`.
    pub struct Answer = 124 { pub seq: u32, pub value: u64 }
}

urpc::declare_interface! {
    /// What the client says.
    pub enum ToServer { Ping(Ping), Table(Table), Flood(Flood) }
}

urpc::declare_interface! {
    /// What the server says.
    pub enum ToClient { Answer(Answer) }
}

/// A `Table` whose bytes depend on `seq`, and the sum the server must answer.
fn table(seq: u32) -> (Table, u64) {
    let bytes: [u8; 200] = core::array::from_fn(|i| (i as u8).wrapping_mul(31).wrapping_add(seq as u8));
    (Table { seq, bytes }, bytes.iter().map(|&b| u64::from(b)).sum())
}

/// `lines-need-endpoint` (see the module documentation).
pub fn lines_need_endpoint() -> Result<(), String> {
    let line = Payload::from_words([121, 0, 0, 0, 0, 0, 0]);
    refused("line to an empty slot", kernel_line::line_send(EMPTY, &line), &[code::EMPTY_SLOT])?;
    ok("retype a frame", cap_retype(crate::RAM, cap_type::FRAME, 0, crate::PAGE, 1, SPARE))?;
    refused("line to a Frame", kernel_line::line_send(SPARE, &line), &[code::WRONG_TYPE])?;
    ok("delete the frame", cap_delete(SPARE))?;
    ok("mint read-only", cap_mint(SLOT_MONITOR, SPARE, crate::READ))?;
    refused("line through a read-only Endpoint", kernel_line::line_send(SPARE, &line), &[code::DENIED])?;
    let lines = [line; 2];
    let many = kernel_line::line_send_lines(SPARE, &lines);
    refused("two lines through a read-only Endpoint", many, &[code::DENIED])?;
    ok("delete the copy", cap_delete(SPARE))?;
    // Checked before the Endpoint: nothing reaches the monitor these are addressed to.
    let raw = |ptr: u64, count: u64| {
        let args = [u64::from(SLOT_MONITOR), ptr, count, 0];
        Error::check(userland::syscall(userland::Call::LineSendLines, args))
    };
    refused_with("no lines", raw(lines.as_ptr() as u64, 0), Error::InvalidArgument)?;
    refused_with("nine lines", raw(lines.as_ptr() as u64, 9), Error::InvalidArgument)?;
    refused_with("kernel memory", raw(0xffff_0000_0000_0000, 1), Error::BadAddress)?;
    refused_with("unmapped memory", raw(userland::USER_MAPPABLE_BASE + 0x1f_f000, 1), Error::BadAddress)?;
    refused_with("unaligned buffer", raw(lines.as_ptr() as u64 + 4, 1), Error::BadAddress)?;
    let selector = Error::check(userland::syscall(userland::Call::LineRecv, [0, 2, 0, 0]));
    refused_with("receive selector 2", selector, Error::InvalidArgument)?;
    refused_with("receive with nothing queued", kernel_line::line_recv(None), Error::WouldBlock)?;
    let mut channel: Channel<ToServer, KernelLine> = Channel::new(KernelLine::any(EMPTY));
    if channel.send(&Ping { seq: 0, value: 0 }).is_ok() {
        return Err("a typed send through an empty slot went through".into());
    }
    match channel.transport().refusal() {
        Some(Error::Capability(code::EMPTY_SLOT)) => Ok(()),
        other => Err(format!("typed send through an empty slot: refusal {other:?}")),
    }
}

/// `lines-typed-exchange` (see the module documentation).
pub fn lines_typed_exchange() -> Result<(), String> {
    let piece = |offset, slot| cap_retype(CHILD_RAM_SOURCE, cap_type::RAM, offset, CHILD_RAM_BYTES, 1, slot);
    ok("server's RAM", piece(0, SERVER_RAM))?;
    ok("client's RAM", piece(CHILD_RAM_BYTES, CLIENT_RAM))?;
    ok("spawn the server", spawn(MODULE, SERVER_RAM, SERVER, ROLE_LINE_SERVER))?;
    ok("spawn the client", spawn(MODULE, CLIENT_RAM, CLIENT, ROLE_LINE_CLIENT))?;
    ok("endpoint to the server", endpoint_create(SERVER, CLIENT_BADGE, TO_SERVER))?;
    ok("give it to the client", cap_give(CLIENT, TO_SERVER, GIVEN))?;
    ok("endpoint to the client", endpoint_create(CLIENT, SERVER_BADGE, TO_CLIENT))?;
    ok("give it to the server", cap_give(SERVER, TO_CLIENT, GIVEN))?;
    for child in [SERVER, CLIENT] {
        ok("go endpoint", endpoint_create(child, PARENT_BADGE, SPARE))?;
        let sent = send_local(SPARE, [CHILD_GO, 0, 0]);
        ok("delete go endpoint", cap_delete(SPARE))?;
        ok("go", sent)?;
    }
    let server = wait_until_ended(SERVER, 3 * PATIENCE_SECONDS)?;
    let client = wait_until_ended(CLIENT, 3 * PATIENCE_SECONDS)?;
    if (server, client) != (DispatcherStatus::Exited(0), DispatcherStatus::Exited(0)) {
        return Err(format!("server ended {server:?}, client {client:?} (exit codes: `exit` in lines.rs)"));
    }
    let line = Payload::from_words([121, 0, 0, 0, 0, 0, 0]);
    refused_with(
        "line to the ended server",
        kernel_line::line_send(TO_SERVER, &line),
        Error::InvalidArgument,
    )?;
    tidy();
    for slot in [SERVER_RAM, CLIENT_RAM] {
        if cap_identify(slot).is_ok() {
            return Err(format!("slot {slot} still holds a RAM piece after tidying"));
        }
    }
    // The children's objects went back: both pieces retype whole again.
    ok("server's RAM again", piece(0, SERVER_RAM))?;
    ok("client's RAM again", piece(CHILD_RAM_BYTES, CLIENT_RAM))?;
    let whole = |slot| {
        cap_retype(slot, cap_type::FRAME, 0, CHILD_RAM_BYTES, 1, SPARE).and_then(|()| cap_delete(SPARE))
    };
    ok("the server's memory came back", whole(SERVER_RAM))?;
    ok("the client's memory came back", whole(CLIENT_RAM))?;
    tidy();
    Ok(())
}

/// What this check may have left: children still running are stopped, the slots emptied.
pub fn tidy() {
    for child in [SERVER, CLIENT] {
        if dispatcher_status(child) == Ok(DispatcherStatus::Running) {
            let _ = userland::dispatcher_stop(child);
        }
    }
    for slot in [TO_SERVER, TO_CLIENT, SPARE, SERVER, CLIENT, SERVER_RAM, CLIENT_RAM] {
        let _ = cap_delete(slot);
    }
}

/// A child's exit code for each step that went wrong (0: all as expected).
mod exit {
    pub const NO_ANSWER: u64 = 30;
    pub const WRONG_ANSWER: u64 = 31;
    pub const SEND_REFUSED: u64 = 32;
    pub const FLOOD_COUNT: u64 = 33;
    pub const FULL_TOOK_PART: u64 = 34;
    pub const NO_DRAIN: u64 = 35;
    pub const FLOOD_LOST: u64 = 36;
    pub const FLOOD_EXTRA: u64 = 37;
    pub const UNEXPECTED: u64 = 38;
}

/// The next message on a child's channel within `PATIENCE_SECONDS`.
fn next<I: urpc::interface::Variant>(channel: &mut Channel<I, KernelLine>) -> Result<I, ChannelError> {
    kernel_line::recv_before(channel, &ElZero, deadline(PATIENCE_SECONDS))
}

/// The client's side: the exchange, the flood, the drain, a several-line message again.
pub fn client() -> u64 {
    let mut channel: Channel<ToClient, KernelLine> = Channel::new(KernelLine::new(GIVEN, SERVER_BADGE));
    client_steps(&mut channel).err().unwrap_or(0)
}

/// The server's side: answers until the second `Table`, reading nothing while the client
/// floods until it says `DRAIN`.
pub fn server() -> u64 {
    let mut channel: Channel<ToServer, KernelLine> = Channel::new(KernelLine::new(GIVEN, CLIENT_BADGE));
    server_steps(&mut channel).err().unwrap_or(0)
}

type Client = Channel<ToClient, KernelLine>;
type Server = Channel<ToServer, KernelLine>;

/// After a send (`sent`), the server's answer to `seq` must be `want`.
fn expect_answer(channel: &mut Client, sent: Result<(), urpc::Full>, seq: u32, want: u64) -> Result<(), u64> {
    sent.map_err(|_| exit::SEND_REFUSED)?;
    match next(channel) {
        Ok(ToClient::Answer(Answer { seq: s, value })) if s == seq && value == want => Ok(()),
        Ok(_) => Err(exit::WRONG_ANSWER),
        Err(_) => Err(exit::NO_ANSWER),
    }
}

fn client_steps(channel: &mut Client) -> Result<(), u64> {
    let sent = channel.send(&Ping { seq: 1, value: 41 });
    expect_answer(channel, sent, 1, 42)?;
    let (message, sum) = table(2);
    let sent = channel.send(&message);
    expect_answer(channel, sent, 2, sum)?;
    // The server reads nothing now: one-line messages until the kernel says full.
    let mut flooded = 0u32;
    while flooded as usize <= LINES_PER_SENDER && channel.send(&Flood { seq: flooded }).is_ok() {
        flooded += 1;
    }
    if flooded as usize != LINES_PER_SENDER || channel.transport().refusal().is_some() {
        return Err(exit::FLOOD_COUNT);
    }
    if channel.send(&table(3).0).is_ok() || channel.transport().refusal().is_some() {
        return Err(exit::FULL_TOOK_PART);
    }
    let drain = send_local(GIVEN, [DRAIN, u64::from(flooded), 0]).map_err(|_| urpc::Full);
    expect_answer(channel, drain, flooded, (0..u64::from(flooded)).sum())?;
    let (message, sum) = table(4);
    let sent = channel.send(&message);
    expect_answer(channel, sent, 4, sum)
}

fn answer(channel: &mut Server, seq: u32, value: u64) -> Result<(), u64> {
    channel.send(&Answer { seq, value }).map_err(|_| exit::SEND_REFUSED)
}

fn answer_table(channel: &mut Server, message: &Table) -> Result<(), u64> {
    answer(channel, message.seq, message.bytes.iter().map(|&b| u64::from(b)).sum())
}

fn server_steps(channel: &mut Server) -> Result<(), u64> {
    for _ in 0..2 {
        match next(channel) {
            Ok(ToServer::Ping(Ping { seq, value })) => answer(channel, seq, value + 1)?,
            Ok(ToServer::Table(message)) => answer_table(channel, &message)?,
            Ok(_) => return Err(exit::UNEXPECTED),
            Err(_) => return Err(exit::NO_ANSWER),
        }
    }
    let flooded = wait_for_drain()?;
    for expected in 0..flooded {
        match next(channel) {
            Ok(ToServer::Flood(Flood { seq })) if seq == expected => {}
            _ => return Err(exit::FLOOD_LOST),
        }
    }
    if channel.recv() != Err(ChannelError::Empty) {
        return Err(exit::FLOOD_EXTRA);
    }
    answer(channel, flooded, (0..u64::from(flooded)).sum())?;
    match next(channel) {
        Ok(ToServer::Table(message)) => answer_table(channel, &message),
        _ => Err(exit::UNEXPECTED),
    }
}

/// Waits (bounded) for the client's `[DRAIN, lines, 0]`, leaving the lines queued meanwhile.
fn wait_for_drain() -> Result<u32, u64> {
    let deadline = deadline(PATIENCE_SECONDS);
    loop {
        match userland::recv_local() {
            Ok((CLIENT_BADGE, [DRAIN, lines, _])) => return u32::try_from(lines).map_err(|_| exit::NO_DRAIN),
            Ok(_) => {}
            Err(_) => {
                let now = userland::counter();
                if now >= deadline {
                    return Err(exit::NO_DRAIN);
                }
                userland::wait(deadline - now);
            }
        }
    }
}
