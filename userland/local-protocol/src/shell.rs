//! The serial console's messages: the console driver's typed bytes, the shell's commands and
//! their answers (tags 105-112), declared as every other same-core message is, so the monitor
//! decodes them once with [`crate::ToMonitor`] and the shell and the driver with
//! [`crate::ToProgram`], and a malformed one is refused by name ([`DecodeError`]).
//!
//! - [`Input`] (105): console driver to monitor, and on unchanged from monitor to shell: 1 to
//!   [`KEYS_PER_MESSAGE`] typed bytes ([`Keys`]: the count, then the bytes).
//! - [`Ask`] (106): shell to monitor: a command the monitor runs ([`Request`]: an operation
//!   byte and its arguments, each range-checked).
//! - [`Done`] (107): monitor to shell: the answer to an [`Ask`] or a [`SpawnName`] is printed;
//!   the next command may go.
//! - [`Interrupt`] (108): shell to monitor: Ctrl-C while a command runs.
//! - [`Stats`] (109) / [`StatsDone`] (110): monitor to console driver, print the receive
//!   counts (before `halt` powers off); the driver says it did.
//! - [`SpawnOn`] (111) then [`SpawnName`] (112): `spawn <program> [on ...]`. A name of up to
//!   16 bytes fills both field words, so the placement goes first in a message of its own and
//!   the name completes the command. One sender's same-core messages arrive in the order they
//!   were sent, so the monitor pairs them by adjacency ([`Assembler`]): a placement followed by
//!   anything but a name, or a name with no placement just before it, is a half-sent spawn and
//!   is refused ([`HalfSent`]); nothing is spawned. The shell sends the name only once the
//!   placement went, and waits for [`Done`] only once the name went, so a refused half is
//!   never answered twice.

use core::fmt;

use urpc::interface::{Field, FieldSink, FieldSource};
use urpc::message::DecodeError;

/// Highest core index a command may name (cores are `u32` across the system; the device tree
/// of any board here lists far fewer).
pub const MAX_CORE: u32 = 511;
/// Most round trips `ping` may ask for.
pub const MAX_PING_COUNT: u32 = 100_000;
/// Most ordered pairs `bench latency` may ask for.
pub const MAX_BENCH_PAIRS: u32 = 262_144;
/// Longest program name `spawn` takes (a boot module's name as `module_info` gives it).
pub const MAX_PROGRAM_NAME: usize = 16;
/// Most typed bytes one [`Input`] carries: the two field words less the count's byte.
pub const KEYS_PER_MESSAGE: usize = 15;

/// 1 to [`KEYS_PER_MESSAGE`] typed bytes. On the wire the count's byte, then the bytes, the
/// unused ones zero; any other count, or a byte past the count, is refused (`"keys"`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Keys {
    len: u8,
    bytes: [u8; KEYS_PER_MESSAGE],
}

impl Keys {
    /// The first [`KEYS_PER_MESSAGE`] bytes of `bytes` (the rest go in the next message);
    /// `None` for no bytes.
    pub fn first_of(bytes: &[u8]) -> Option<Keys> {
        let len = bytes.len().min(KEYS_PER_MESSAGE);
        if len == 0 {
            return None;
        }
        let mut keys = Keys { len: len as u8, bytes: [0; KEYS_PER_MESSAGE] };
        keys.bytes[..len].copy_from_slice(&bytes[..len]);
        Some(keys)
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keys({:?})", self.as_bytes())
    }
}

impl Field for Keys {
    const BYTES: usize = 1 + KEYS_PER_MESSAGE;
    fn put(&self, out: &mut impl FieldSink) {
        out.put_bytes(u64::from(self.len), 1);
        self.bytes.put(out);
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        let refused = DecodeError::InvalidField { field: "keys" };
        let len = input.take_bytes(1)? as u8;
        let bytes = <[u8; KEYS_PER_MESSAGE]>::take(input)?;
        let count = usize::from(len);
        if !(1..=KEYS_PER_MESSAGE).contains(&count) || bytes[count..].iter().any(|&b| b != 0) {
            return Err(refused);
        }
        Ok(Keys { len, bytes })
    }
}

/// A program name: 1 to [`MAX_PROGRAM_NAME`] bytes of ASCII letters, digits, `-` and `_`,
/// zero-padded; anything else is refused (`"program name"`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ProgramName([u8; MAX_PROGRAM_NAME]);

impl ProgramName {
    /// The program called `name`, if that is a name.
    pub fn new(name: &str) -> Option<ProgramName> {
        let valid = !name.is_empty()
            && name.len() <= MAX_PROGRAM_NAME
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| {
            let mut bytes = [0u8; MAX_PROGRAM_NAME];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            ProgramName(bytes)
        })
    }

    /// The name two little-endian words carry (as the monitors pass it on), if it is one.
    pub fn from_words(words: [u64; 2]) -> Option<ProgramName> {
        let mut bytes = [0u8; MAX_PROGRAM_NAME];
        bytes[..8].copy_from_slice(&words[0].to_le_bytes());
        bytes[8..].copy_from_slice(&words[1].to_le_bytes());
        let len = bytes.iter().position(|&b| b == 0).unwrap_or(MAX_PROGRAM_NAME);
        let name = core::str::from_utf8(&bytes[..len]).ok()?;
        // Bytes after the first zero must be zero too: one name, one encoding.
        ProgramName::new(name).filter(|named| named.0 == bytes)
    }

    /// The two words it travels as.
    pub fn words(&self) -> [u64; 2] {
        let [low, high] = [&self.0[..8], &self.0[8..]].map(|half| {
            let mut word = [0u8; 8];
            word.copy_from_slice(half);
            u64::from_le_bytes(word)
        });
        [low, high]
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(MAX_PROGRAM_NAME);
        // Only names `new` accepts are ever made.
        core::str::from_utf8(&self.0[..len]).unwrap_or("?")
    }
}

impl fmt::Debug for ProgramName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgramName({:?})", self.as_str())
    }
}

impl fmt::Display for ProgramName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Field for ProgramName {
    const BYTES: usize = MAX_PROGRAM_NAME;
    fn put(&self, out: &mut impl FieldSink) {
        for word in self.words() {
            out.put_bytes(word, 8);
        }
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        let words = [input.take_bytes(8)?, input.take_bytes(8)?];
        ProgramName::from_words(words).ok_or(DecodeError::InvalidField { field: "program name" })
    }
}

/// Where `spawn` puts a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On the shell's own core.
    Here,
    /// On core `n` (at most [`MAX_CORE`]).
    Core(u32),
    /// On a core of class `n` (0 little, 1 big).
    Class(u8),
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placement::Here => f.write_str("here"),
            Placement::Core(core) => write!(f, "on {core}"),
            Placement::Class(0) => f.write_str("on little"),
            Placement::Class(_) => f.write_str("on big"),
        }
    }
}

/// A core index field: at most [`MAX_CORE`], else refused (`"core"`).
fn take_core(input: &mut impl FieldSource) -> Result<u32, DecodeError> {
    let core = u32::take(input)?;
    if core <= MAX_CORE {
        Ok(core)
    } else {
        Err(DecodeError::InvalidField { field: "core" })
    }
}

/// A class field: 0 or 1, else refused (`"class"`).
fn take_class(input: &mut impl FieldSource) -> Result<u8, DecodeError> {
    match u8::take(input)? {
        class @ (0 | 1) => Ok(class),
        _ => Err(DecodeError::InvalidField { field: "class" }),
    }
}

/// On the wire: the kind's byte (0 here, 1 a core, 2 a class), then the core as a `u32` or the
/// class as a byte; a kind, core or class out of range is refused.
impl Field for Placement {
    const BYTES: usize = 1 + 4;
    fn put(&self, out: &mut impl FieldSink) {
        match *self {
            Placement::Here => out.put_bytes(0, 1),
            Placement::Core(core) => {
                out.put_bytes(1, 1);
                out.put_bytes(u64::from(core), 4);
            }
            Placement::Class(class) => {
                out.put_bytes(2, 1);
                out.put_bytes(u64::from(class), 1);
            }
        }
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        match u8::take(input)? {
            0 => Ok(Placement::Here),
            1 => take_core(input).map(Placement::Core),
            2 => take_class(input).map(Placement::Class),
            _ => Err(DecodeError::InvalidField { field: "placement" }),
        }
    }
}

/// A command the monitor runs for the shell ([`Ask`]'s field); `spawn`, whose name does not
/// fit beside it, travels as [`SpawnOn`] and [`SpawnName`] instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `cores`: index, MPIDR, class, cluster, build and state of every core.
    Cores,
    /// `skb facts`.
    SkbFacts,
    /// `skb class <n>`: the cores of class `n` (0 or 1).
    SkbClass(u8),
    /// `skb tree <root>`: the multicast tree from `root`.
    SkbTree(u32),
    /// `skb latency <a> <b>`: the measured latency from `a` to `b`.
    SkbLatency(u32, u32),
    /// `ps`: programs per core.
    Ps,
    /// `kill <core>.<dispatcher>`: a program `ps` listed.
    Kill(u32, u32),
    /// `ping <a> <b> [count]`: 1 to [`MAX_PING_COUNT`] round trips.
    Ping(u32, u32, u32),
    /// `bench latency [pairs]`: at most `pairs` ordered pairs (0: all; at most
    /// [`MAX_BENCH_PAIRS`]).
    BenchLatency(u32),
    /// `channels`: message counts and full-ring events per channel.
    Channels,
    /// `off <core>` / `on <core>`: CPU hotplug (`false` off, `true` on).
    Hotplug(bool, u32),
    /// `halt`.
    Halt,
}

/// Operation bytes of a [`Request`] on the wire (7 was `spawn`'s before it had messages of
/// its own; it stays unused).
mod op {
    pub const CORES: u8 = 1;
    pub const SKB_FACTS: u8 = 2;
    pub const SKB_CLASS: u8 = 3;
    pub const SKB_TREE: u8 = 4;
    pub const SKB_LATENCY: u8 = 5;
    pub const PS: u8 = 6;
    pub const KILL: u8 = 8;
    pub const PING: u8 = 9;
    pub const BENCH_LATENCY: u8 = 10;
    pub const CHANNELS: u8 = 11;
    pub const HALT: u8 = 12;
    pub const HOTPLUG: u8 = 13;
}

/// On the wire: the operation's byte, then its arguments packed in order (a core or count
/// as a `u32`, a class or on/off as a byte). An unknown operation is refused (`"request"`),
/// an argument out of range by its name (`"core"`, `"class"`, `"count"`, `"pairs"`, `"bool"`).
impl Field for Request {
    const BYTES: usize = 1 + 3 * 4;
    fn put(&self, out: &mut impl FieldSink) {
        // The operation, then a byte argument (class, on/off) if any, then `u32` arguments.
        let (code, byte, words): (u8, Option<u8>, &[u32]) = match self {
            Request::Cores => (op::CORES, None, &[]),
            Request::SkbFacts => (op::SKB_FACTS, None, &[]),
            Request::Ps => (op::PS, None, &[]),
            Request::Channels => (op::CHANNELS, None, &[]),
            Request::Halt => (op::HALT, None, &[]),
            Request::SkbClass(class) => (op::SKB_CLASS, Some(*class), &[]),
            Request::Hotplug(on, core) => (op::HOTPLUG, Some(u8::from(*on)), core::slice::from_ref(core)),
            Request::SkbTree(root) => (op::SKB_TREE, None, core::slice::from_ref(root)),
            Request::BenchLatency(pairs) => (op::BENCH_LATENCY, None, core::slice::from_ref(pairs)),
            Request::SkbLatency(from, to) => (op::SKB_LATENCY, None, &[*from, *to]),
            Request::Kill(core, dispatcher) => (op::KILL, None, &[*core, *dispatcher]),
            Request::Ping(a, b, count) => (op::PING, None, &[*a, *b, *count]),
        };
        out.put_bytes(u64::from(code), 1);
        if let Some(byte) = byte {
            out.put_bytes(u64::from(byte), 1);
        }
        for &word in words {
            out.put_bytes(u64::from(word), 4);
        }
    }
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        let in_range = |value: u32, range: core::ops::RangeInclusive<u32>, field: &'static str| {
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(DecodeError::InvalidField { field })
            }
        };
        Ok(match u8::take(input)? {
            op::CORES => Request::Cores,
            op::SKB_FACTS => Request::SkbFacts,
            op::PS => Request::Ps,
            op::CHANNELS => Request::Channels,
            op::HALT => Request::Halt,
            op::SKB_CLASS => Request::SkbClass(take_class(input)?),
            op::SKB_TREE => Request::SkbTree(take_core(input)?),
            op::SKB_LATENCY => Request::SkbLatency(take_core(input)?, take_core(input)?),
            op::KILL => Request::Kill(take_core(input)?, u32::take(input)?),
            op::PING => Request::Ping(
                take_core(input)?,
                take_core(input)?,
                in_range(u32::take(input)?, 1..=MAX_PING_COUNT, "count")?,
            ),
            op::BENCH_LATENCY => {
                Request::BenchLatency(in_range(u32::take(input)?, 0..=MAX_BENCH_PAIRS, "pairs")?)
            }
            op::HOTPLUG => {
                let on = bool::take(input)?;
                Request::Hotplug(on, take_core(input)?)
            }
            _ => return Err(DecodeError::InvalidField { field: "request" }),
        })
    }
}

crate::local_messages! {
    /// Console driver to monitor, monitor to shell: typed bytes.
    pub struct Input = 105 {
        /// The bytes.
        pub keys: Keys,
    }
    /// Shell to monitor: run this command; [`Done`] answers.
    pub struct Ask = 106 {
        /// The command.
        pub request: Request,
    }
    /// Monitor to shell: the command's output is printed; the next may go.
    pub struct Done = 107 {}
    /// Shell to monitor: Ctrl-C while a command runs.
    pub struct Interrupt = 108 {}
    /// Monitor to console driver: print how many receive interrupts and bytes it took, then
    /// answer [`StatsDone`].
    pub struct Stats = 109 {}
    /// Console driver to monitor: the counts are printed.
    pub struct StatsDone = 110 {}
    /// Shell to monitor: the first half of a `spawn`, where the program goes; its
    /// [`SpawnName`] must be the shell's next message.
    pub struct SpawnOn = 111 {
        /// Where.
        pub placement: Placement,
    }
    /// Shell to monitor: the second half of a `spawn`, the program; [`Done`] answers.
    pub struct SpawnName = 112 {
        /// The boot module's name.
        pub name: ProgramName,
    }
}

/// A whole command of the shell's, as the monitor runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Anything but `spawn`: one [`Ask`].
    Ask(Request),
    /// `spawn`: [`SpawnOn`] then [`SpawnName`].
    Spawn(ProgramName, Placement),
}

impl Command {
    /// The words of the messages that carry it, in sending order: the second only for
    /// `spawn`. The shell sends the second only once the first went.
    pub fn messages(&self) -> ([u64; 3], Option<[u64; 3]>) {
        match *self {
            Command::Ask(request) => (crate::words(&Ask { request }), None),
            Command::Spawn(name, placement) => {
                (crate::words(&SpawnOn { placement }), Some(crate::words(&SpawnName { name })))
            }
        }
    }
}

/// A message of the shell's, as far as [`Assembler`] cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// [`Ask`]'s request.
    Ask(Request),
    /// [`SpawnOn`]'s placement.
    SpawnOn(Placement),
    /// [`SpawnName`]'s name.
    SpawnName(ProgramName),
    /// Any other message from the shell, or words from it that decode as no message.
    Other,
}

/// A `spawn` that came in half: refused, nothing is spawned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfSent {
    /// A placement followed by something other than its name (the name's send failed).
    NoName(Placement),
    /// A name with no placement just before it.
    NoPlacement(ProgramName),
}

impl fmt::Display for HalfSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HalfSent::NoName(placement) => {
                write!(f, "spawn refused: its placement ({placement}) came without a program name")
            }
            HalfSent::NoPlacement(name) => {
                write!(f, "spawn {name} refused: no placement came before the name")
            }
        }
    }
}

/// What one message from the shell gave ([`Assembler::take`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// A half-sent spawn this message showed up, refused.
    pub refused: Option<HalfSent>,
    /// The command this message completed.
    pub command: Option<Command>,
}

/// The monitor's side of the shell's commands: pairs [`SpawnOn`] with the [`SpawnName`] that
/// must follow it at once (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Assembler {
    placement: Option<Placement>,
}

impl Assembler {
    /// The next message from the shell.
    pub fn take(&mut self, part: Part) -> Assembled {
        let left_half = |placement: Option<Placement>| placement.map(HalfSent::NoName);
        match part {
            Part::Ask(request) => {
                Assembled { refused: left_half(self.placement.take()), command: Some(Command::Ask(request)) }
            }
            Part::SpawnOn(placement) => {
                Assembled { refused: left_half(self.placement.replace(placement)), command: None }
            }
            Part::SpawnName(name) => match self.placement.take() {
                Some(placement) => {
                    Assembled { refused: None, command: Some(Command::Spawn(name, placement)) }
                }
                None => Assembled { refused: Some(HalfSent::NoPlacement(name)), command: None },
            },
            Part::Other => Assembled { refused: left_half(self.placement.take()), command: None },
        }
    }

    /// Whether a placement waits for its name.
    pub fn is_idle(&self) -> bool {
        self.placement.is_none()
    }
}

/// What the monitor does with one message (or malformed words) from the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// A half-sent spawn this showed up, refused: say so.
    pub refused: Option<HalfSent>,
    /// The command to run now.
    pub command: Option<Command>,
    /// Whether to answer [`Done`] (after running the command, if any).
    pub answer: bool,
}

/// The monitor's side of the shell's commands: the pairing ([`Assembler`]) and whether a
/// command runs, which together decide what each message from the shell gets. The shell
/// waits for [`Done`] after a command's last message, so every such message is answered,
/// refused or not, and nothing else is (a second `Done` would end the next command's wait
/// early).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Session {
    assembler: Assembler,
    running: bool,
}

impl Session {
    /// A message from the shell about commands ([`Part::Other`] for an [`Interrupt`]): a
    /// command's last message (an [`Ask`], a [`SpawnName`]) is answered whether it ran or not.
    pub fn message(&mut self, part: Part) -> Step {
        let answer = matches!(part, Part::Ask(_) | Part::SpawnName(_));
        let Assembled { refused, command } = self.assembler.take(part);
        Step { refused, command, answer }
    }

    /// Words from the shell that decode as no message: whatever they meant, they were no
    /// spawn's missing name (a placement waiting is refused); unless a command runs they may
    /// have been a command's last message, so they are answered (a running command's answer
    /// comes when it ends).
    pub fn malformed(&mut self) -> Step {
        let Assembled { refused, .. } = self.assembler.take(Part::Other);
        Step { refused, command: None, answer: !self.running }
    }

    /// A command starts to run; whether one ran already (the shell's next command may come
    /// while one runs: the monitor's waits take messages, and commands nest).
    pub fn start(&mut self) -> bool {
        core::mem::replace(&mut self.running, true)
    }

    /// The command whose [`Self::start`] returned `outer` ended.
    pub fn end(&mut self, outer: bool) {
        self.running = outer;
    }

    /// Whether a placement waits for its name.
    pub fn is_idle(&self) -> bool {
        self.assembler.is_idle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode, words, ToMonitor, ToProgram};

    fn name(text: &str) -> ProgramName {
        ProgramName::new(text).unwrap()
    }

    const EVERY_REQUEST: [Request; 16] = [
        Request::Cores,
        Request::SkbFacts,
        Request::SkbClass(0),
        Request::SkbClass(1),
        Request::SkbTree(MAX_CORE),
        Request::SkbLatency(3, 4),
        Request::Ps,
        Request::Kill(1, u32::MAX),
        Request::Ping(1, 2, 1),
        Request::Ping(MAX_CORE, 0, MAX_PING_COUNT),
        Request::BenchLatency(0),
        Request::BenchLatency(MAX_BENCH_PAIRS),
        Request::Channels,
        Request::Hotplug(false, 3),
        Request::Hotplug(true, 5),
        Request::Halt,
    ];

    #[test]
    fn every_command_round_trips_through_the_typed_layer() {
        for request in EVERY_REQUEST {
            let (first, second) = Command::Ask(request).messages();
            assert_eq!(second, None);
            assert_eq!(decode::<ToMonitor>(first), Ok(ToMonitor::Ask(Ask { request })), "{request:?}");
        }
        for placement in [Placement::Here, Placement::Core(0), Placement::Core(MAX_CORE), Placement::Class(1)]
        {
            for program in ["latency", "x", "sixteen-chars-xx"] {
                let (first, second) = Command::Spawn(name(program), placement).messages();
                assert_eq!(decode::<ToMonitor>(first), Ok(ToMonitor::SpawnOn(SpawnOn { placement })));
                assert_eq!(
                    decode::<ToMonitor>(second.unwrap()),
                    Ok(ToMonitor::SpawnName(SpawnName { name: name(program) }))
                );
            }
        }
        let keys = Keys::first_of(b"cores\r").unwrap();
        assert_eq!(decode::<ToMonitor>(words(&Input { keys })), Ok(ToMonitor::Input(Input { keys })));
        assert_eq!(decode::<ToProgram>(words(&Input { keys })), Ok(ToProgram::Input(Input { keys })));
        assert_eq!(decode::<ToProgram>(words(&Done {})), Ok(ToProgram::Done(Done {})));
        assert_eq!(decode::<ToProgram>(words(&Stats {})), Ok(ToProgram::Stats(Stats {})));
        assert_eq!(decode::<ToMonitor>(words(&StatsDone {})), Ok(ToMonitor::StatsDone(StatsDone {})));
        assert_eq!(decode::<ToMonitor>(words(&Interrupt {})), Ok(ToMonitor::Interrupt(Interrupt {})));
    }

    #[test]
    fn the_layout_keeps_the_tags_and_packs_the_fields() {
        assert_eq!(words(&Ask { request: Request::Ping(1, 2, 3) }), [106, 9 | 1 << 8 | 2 << 40, 3 << 8]);
        assert_eq!(words(&Ask { request: Request::Hotplug(true, 3) }), [106, 13 | 1 << 8 | 3 << 16, 0]);
        assert_eq!(words(&SpawnOn { placement: Placement::Core(3) }), [111, 1 | 3 << 8, 0]);
        assert_eq!(words(&SpawnName { name: name("latency") }), [112, u64::from_le_bytes(*b"latency\0"), 0]);
        assert_eq!(words(&Input { keys: Keys::first_of(b"ab").unwrap() }), [105, 2 | 0x6261 << 8, 0]);
        let long = Keys::first_of(b"0123456789abcdefXYZ").unwrap();
        assert_eq!(long.as_bytes(), b"0123456789abcde", "the rest goes in the next message");
        assert_eq!(Keys::first_of(b""), None);
        assert_eq!([Done::TAG, Interrupt::TAG, Stats::TAG, StatsDone::TAG], [107, 108, 109, 110]);
    }

    use urpc::message::Message;

    #[test]
    fn malformed_words_are_refused_by_name() {
        let refused = |field| Err(DecodeError::InvalidField { field });
        let ask = |body: u64, more: u64| decode::<ToMonitor>([106, body, more]);
        // A bad tag, a reserved bit, a byte after the fields.
        assert_eq!(decode::<ToMonitor>([113, 0, 0]), Err(DecodeError::UnknownTag(113)));
        assert_eq!(decode::<ToMonitor>([105 | 3 << 8, 0, 0]), Err(DecodeError::UnknownTag(105 | 3 << 8)));
        assert_eq!(decode::<ToMonitor>([106 | 1 << 16, 1, 0]), Err(DecodeError::ReservedNotZero));
        assert_eq!(
            decode::<ToMonitor>(words(&Done {})),
            Err(DecodeError::UnknownTag(107)),
            "the other direction"
        );
        assert_eq!(ask(1 | 1 << 8, 0), Err(DecodeError::TrailingBytes), "cores takes no argument");
        assert_eq!(ask(4 | 5 << 8, 1 << 32), Err(DecodeError::TrailingBytes));
        assert_eq!(decode::<ToProgram>([107, 0, 1]), Err(DecodeError::TrailingBytes));
        // Fields out of range, each by its name.
        assert_eq!(ask(0, 0), refused("request"));
        assert_eq!(ask(7, 0), refused("request"), "spawn has messages of its own");
        assert_eq!(ask(99, 0), refused("request"));
        assert_eq!(ask(3 | 2 << 8, 0), refused("class"));
        assert_eq!(ask(4 | 512 << 8, 0), refused("core"));
        assert_eq!(ask(5 | 1 << 8 | 512 << 40, 0), refused("core"));
        assert_eq!(ask(8 | 512 << 8, 0), refused("core"));
        assert_eq!(ask(9 | 1 << 8 | 2 << 40, 0), refused("count"), "no round trips");
        assert_eq!(ask(9 | 1 << 8 | 2 << 40, u64::from(MAX_PING_COUNT + 1) << 8), refused("count"));
        assert_eq!(ask(10 | u64::from(MAX_BENCH_PAIRS + 1) << 8, 0), refused("pairs"));
        assert_eq!(ask(13 | 2 << 8 | 3 << 16, 0), refused("bool"));
        assert_eq!(ask(13 | 1 << 8 | 512 << 16, 0), refused("core"));
        let spawn_on = |body: u64| decode::<ToMonitor>([111, body, 0]);
        assert_eq!(spawn_on(3), refused("placement"));
        assert_eq!(spawn_on(1 | 512 << 8), refused("core"));
        assert_eq!(spawn_on(2 | 2 << 8), refused("class"));
        assert_eq!(spawn_on(1 << 8), Err(DecodeError::TrailingBytes), "here takes no value");
        let spawn_name = |low: &[u8; 8], high: &[u8; 8]| {
            decode::<ToMonitor>([112, u64::from_le_bytes(*low), u64::from_le_bytes(*high)])
        };
        assert_eq!(spawn_name(b"\0\0\0\0\0\0\0\0", b"\0\0\0\0\0\0\0\0"), refused("program name"));
        assert_eq!(spawn_name(b"a\0b\0\0\0\0\0", b"\0\0\0\0\0\0\0\0"), refused("program name"));
        assert_eq!(spawn_name(b"a/b\0\0\0\0\0", b"\0\0\0\0\0\0\0\0"), refused("program name"));
        assert_eq!(spawn_name(b"latency\0", b"\0\0\0\0\0\0\0x"), refused("program name"));
        let input = |count: u64, rest: u64| decode::<ToMonitor>([105, count | rest << 8, 0]);
        assert_eq!(input(0, 0), refused("keys"), "no bytes");
        assert_eq!(input(16, 0), refused("keys"), "more than fit");
        assert_eq!(input(1, 0x6261), refused("keys"), "a byte past the count");
        assert_eq!(decode::<ToMonitor>([105, 1 | 0x61 << 8, 1 << 56]), refused("keys"));
        assert!(input(2, 0x6261).is_ok());
    }

    #[test]
    fn program_names() {
        assert_eq!(name("latency").as_str(), "latency");
        assert_eq!(ProgramName::from_words(name("sixteen-chars-xx").words()), Some(name("sixteen-chars-xx")));
        assert_eq!(ProgramName::new(""), None);
        assert_eq!(ProgramName::new("seventeen-chars-x"), None);
        assert_eq!(ProgramName::new("a b"), None);
        assert_eq!(ProgramName::from_words([0, 0]), None);
    }

    #[test]
    fn a_spawn_is_its_placement_then_its_name_and_a_half_sent_one_is_refused() {
        let mut assembler = Assembler::default();
        let spawned =
            |name, placement| Assembled { refused: None, command: Some(Command::Spawn(name, placement)) };
        // Whole: placement, then name.
        assert_eq!(
            assembler.take(Part::SpawnOn(Placement::Core(3))),
            Assembled { refused: None, command: None }
        );
        assert!(!assembler.is_idle());
        assert_eq!(
            assembler.take(Part::SpawnName(name("latency"))),
            spawned(name("latency"), Placement::Core(3))
        );
        assert!(assembler.is_idle());
        // A name alone.
        assert_eq!(
            assembler.take(Part::SpawnName(name("latency"))),
            Assembled { refused: Some(HalfSent::NoPlacement(name("latency"))), command: None }
        );
        let waits = Assembled { refused: None, command: None };
        // A placement, then another command: the spawn is refused, the command still runs.
        assert_eq!(assembler.take(Part::SpawnOn(Placement::Class(1))), waits);
        assert_eq!(
            assembler.take(Part::Ask(Request::Ps)),
            Assembled {
                refused: Some(HalfSent::NoName(Placement::Class(1))),
                command: Some(Command::Ask(Request::Ps))
            }
        );
        assert!(assembler.is_idle());
        assert_eq!(assembler.take(Part::SpawnName(name("x"))).command, None, "the placement is gone");
        // A placement, then another placement: the first is refused, the second waits.
        assert_eq!(assembler.take(Part::SpawnOn(Placement::Here)), waits);
        assert_eq!(
            assembler.take(Part::SpawnOn(Placement::Core(1))),
            Assembled { refused: Some(HalfSent::NoName(Placement::Here)), command: None }
        );
        assert_eq!(assembler.take(Part::SpawnName(name("x"))), spawned(name("x"), Placement::Core(1)));
        // A placement, then an interrupt or malformed words.
        assert_eq!(assembler.take(Part::SpawnOn(Placement::Here)), waits);
        assert_eq!(
            assembler.take(Part::Other),
            Assembled { refused: Some(HalfSent::NoName(Placement::Here)), command: None }
        );
        assert!(assembler.is_idle());
        assert_eq!(
            std::format!("{}", HalfSent::NoName(Placement::Class(0))),
            "spawn refused: its placement (on little) came without a program name"
        );
        assert_eq!(
            std::format!("{}", HalfSent::NoPlacement(name("latency"))),
            "spawn latency refused: no placement came before the name"
        );
    }

    extern crate std;

    #[test]
    fn every_last_message_is_answered_once_and_nothing_else_is() {
        let name = ProgramName::new("latency").unwrap();
        let request = Request::Cores;
        let mut session = Session::default();
        let step = session.message(Part::Ask(request));
        assert_eq!(step, Step { refused: None, command: Some(Command::Ask(request)), answer: true });
        // A spawn: its placement is not answered, its name completes and is.
        let step = session.message(Part::SpawnOn(Placement::Here));
        assert_eq!(step, Step { refused: None, command: None, answer: false });
        let step = session.message(Part::SpawnName(name));
        assert_eq!(step.command, Some(Command::Spawn(name, Placement::Here)));
        assert!(step.answer);
        // A name alone: refused, and still answered (the shell waits after sending it).
        let step = session.message(Part::SpawnName(name));
        assert_eq!(step, Step { refused: Some(HalfSent::NoPlacement(name)), command: None, answer: true });
        // A placement, then an interrupt: the half is refused, nothing is answered.
        session.message(Part::SpawnOn(Placement::Core(2)));
        let step = session.message(Part::Other);
        assert_eq!(
            step,
            Step { refused: Some(HalfSent::NoName(Placement::Core(2))), command: None, answer: false }
        );
        assert!(session.is_idle());
    }

    #[test]
    fn malformed_words_are_answered_only_while_no_command_runs() {
        let mut session = Session::default();
        assert_eq!(session.malformed(), Step { refused: None, command: None, answer: true });
        // A placement waiting: refused with the malformed words.
        session.message(Part::SpawnOn(Placement::Class(1)));
        let step = session.malformed();
        assert_eq!(step.refused, Some(HalfSent::NoName(Placement::Class(1))));
        assert!(session.is_idle());
        // While a command runs (nested ones too), its own answer is still to come.
        let outer = session.start();
        assert!(!outer);
        assert!(!session.malformed().answer);
        let inner = session.start();
        assert!(inner, "one ran already");
        session.end(inner);
        assert!(!session.malformed().answer, "the outer one still runs");
        session.end(outer);
        assert!(session.malformed().answer);
    }
}
