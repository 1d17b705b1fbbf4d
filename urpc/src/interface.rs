//! Interfaces declared once in Rust, the role Barrelfish's Flounder plays:
//! [`declare_messages!`](crate::declare_messages!) declares message types (each a struct with a
//! tag; the encoding and the checking decoder are generated),
//! [`declare_interface!`](crate::declare_interface!) gathers them into an enum that decodes
//! whichever arrived, and [`Channel`] carries them over a [`Transport`] chosen when the channel
//! is made.
//!
//! ```text
//! urpc::declare_messages! {
//!     /// A core says hello.
//!     pub struct Hello = 64 { pub from: u32, pub online: u64 }
//!     /// Too big for one line: sent as several.
//!     pub struct Table = 65 lines { pub count: u32, pub entries: [u8; 120] }
//! }
//! urpc::declare_interface! {
//!     /// Everything one monitor says to another.
//!     pub enum MonitorMessage { Hello(Hello), Table(Table) }
//! }
//! ```
//!
//! **One line.** A message whose fields fit the 48-byte body travels in one line exactly as
//! [`crate::message`] describes (it implements [`Message`], so every existing sender and
//! decoder takes it); a declaration whose fields do not fit fails to compile.
//!
//! **Several lines.** A `lines` message travels in as many lines as its fields need, at most
//! [`MAX_LINES`]. Each line's header carries the tag, the line's index (byte 2) and the count
//! (byte 3, at least 2; a one-line message has 0 there, so a one-line decoder refuses a line of
//! a longer message as [`DecodeError::ReservedNotZero`]). Fields are packed in order, a scalar
//! never split across two lines (it starts the next line if it does not fit; the gap is zero),
//! byte arrays byte by byte. [`Assembler`] puts the lines back together and refuses a line out
//! of order, a message cut short by another, or a header that disagrees with the first line.
//! The sender sends all the lines or none ([`Transport::send_lines`]), so a full ring never
//! leaves half a message behind.
//!
//! **Checked.** Every decoder refuses what its encoder would not write (non-zero reserved,
//! padding or trailing bytes, a field out of range), so a malformed message is an error and
//! never a value; [`declare_interface!`](crate::declare_interface!) checks at compile time that
//! no two of its messages share a tag.

use crate::endpoint::{Endpoint, Full, RecvError};
use crate::line::{Payload, PAYLOAD_WORDS};
use crate::message::{self, Body, BodyReader, BodyWriter, DecodeError, Message, BODY_BYTES};

/// The most lines one message may take.
pub const MAX_LINES: usize = 8;

/// A value that can be a field of a declared message.
pub trait Field: Sized {
    /// Bytes it takes on the wire.
    const BYTES: usize;
    /// Bytes of its pieces: a scalar is one piece (never split across lines), a byte array
    /// is pieces of one byte.
    const PIECE: usize = Self::BYTES;
    /// Writes it.
    fn put(&self, out: &mut impl FieldSink);
    /// Reads it back, refusing values its `put` would not write.
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError>;
}

/// Where fields are written: one line's body ([`BodyWriter`]) or several ([`LinesWriter`]).
pub trait FieldSink {
    /// Appends the low `bytes` bytes (1, 4 or 8) of `value`.
    fn put_bytes(&mut self, value: u64, bytes: usize);
}

/// Where fields are read from: one line's body ([`BodyReader`]) or several ([`LinesReader`]).
pub trait FieldSource {
    /// The next `bytes` bytes (1, 4 or 8) as a little-endian number.
    fn take_bytes(&mut self, bytes: usize) -> Result<u64, DecodeError>;
}

impl FieldSink for BodyWriter<'_> {
    #[inline(always)]
    fn put_bytes(&mut self, value: u64, bytes: usize) {
        match bytes {
            1 => self.u8(value as u8),
            4 => self.u32(value as u32),
            _ => self.u64(value),
        };
    }
}

impl FieldSource for BodyReader<'_> {
    #[inline(always)]
    fn take_bytes(&mut self, bytes: usize) -> Result<u64, DecodeError> {
        match bytes {
            1 => self.u8().map(u64::from),
            4 => self.u32().map(u64::from),
            _ => self.u64(),
        }
    }
}

macro_rules! scalar_field {
    ($type:ty, $bytes:expr) => {
        impl Field for $type {
            const BYTES: usize = $bytes;
            #[inline(always)]
            fn put(&self, out: &mut impl FieldSink) {
                out.put_bytes(*self as u64, $bytes);
            }
            #[inline(always)]
            fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
                input.take_bytes($bytes).map(|value| value as $type)
            }
        }
    };
}

scalar_field!(u8, 1);
scalar_field!(u32, 4);
scalar_field!(u64, 8);

impl Field for i32 {
    const BYTES: usize = 4;
    #[inline(always)]
    fn put(&self, out: &mut impl FieldSink) {
        out.put_bytes(u64::from(*self as u32), 4);
    }
    #[inline(always)]
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        input.take_bytes(4).map(|value| value as u32 as i32)
    }
}

impl Field for bool {
    const BYTES: usize = 1;
    #[inline(always)]
    fn put(&self, out: &mut impl FieldSink) {
        out.put_bytes(u64::from(*self), 1);
    }
    #[inline(always)]
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        match input.take_bytes(1)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidField { field: "bool" }),
        }
    }
}

impl<const N: usize> Field for [u8; N] {
    const BYTES: usize = N;
    const PIECE: usize = 1;
    #[inline]
    fn put(&self, out: &mut impl FieldSink) {
        for &byte in self {
            out.put_bytes(u64::from(byte), 1);
        }
    }
    #[inline]
    fn take(input: &mut impl FieldSource) -> Result<Self, DecodeError> {
        let mut bytes = [0u8; N];
        for byte in &mut bytes {
            *byte = input.take_bytes(1)? as u8;
        }
        Ok(bytes)
    }
}

/// Lines a message whose fields are `(bytes, piece)` in order takes under the layout rule (a
/// piece never split across two lines).
pub const fn lines_for(fields: &[(usize, usize)]) -> usize {
    let (mut line, mut position) = (0, 0);
    let mut f = 0;
    while f < fields.len() {
        let (bytes, piece) = fields[f];
        let mut done = 0;
        while piece > 0 && done < bytes {
            if position + piece > BODY_BYTES {
                line += 1;
                position = 0;
            }
            position += piece;
            done += piece;
        }
        f += 1;
    }
    line + 1
}

/// Writes fields over several bodies, a scalar never split across two.
pub struct LinesWriter<'a> {
    bodies: &'a mut [Body],
    line: usize,
    position: usize,
}

impl<'a> LinesWriter<'a> {
    /// A writer at the start of `bodies` (zeroed).
    pub fn new(bodies: &'a mut [Body]) -> Self {
        Self { bodies, line: 0, position: 0 }
    }
}

impl FieldSink for LinesWriter<'_> {
    fn put_bytes(&mut self, value: u64, bytes: usize) {
        if self.position + bytes > BODY_BYTES {
            self.line += 1;
            self.position = 0;
        }
        let Some(body) = self.bodies.get_mut(self.line) else { return };
        for index in 0..bytes {
            body.0[self.position + index] = (value >> (8 * index)) as u8;
        }
        self.position += bytes;
    }
}

/// Reads fields from several bodies by [`LinesWriter`]'s rule, then checks that every byte no
/// field used (gaps and the tail) is zero.
pub struct LinesReader<'a> {
    bodies: &'a [Body],
    line: usize,
    position: usize,
}

impl<'a> LinesReader<'a> {
    /// A reader at the start of `bodies`.
    pub fn new(bodies: &'a [Body]) -> Self {
        Self { bodies, line: 0, position: 0 }
    }

    /// Ends decoding: the rest of every line must be zero.
    pub fn finish(self) -> Result<(), DecodeError> {
        for (line, body) in self.bodies.iter().enumerate().skip(self.line) {
            let from = if line == self.line { self.position } else { 0 };
            if body.0[from.min(BODY_BYTES)..].iter().any(|&b| b != 0) {
                return Err(DecodeError::TrailingBytes);
            }
        }
        Ok(())
    }
}

impl FieldSource for LinesReader<'_> {
    fn take_bytes(&mut self, bytes: usize) -> Result<u64, DecodeError> {
        if self.position + bytes > BODY_BYTES {
            let body = self.bodies.get(self.line).ok_or(DecodeError::BodyOverflow)?;
            if body.0[self.position..].iter().any(|&b| b != 0) {
                return Err(DecodeError::TrailingBytes);
            }
            self.line += 1;
            self.position = 0;
        }
        let body = self.bodies.get(self.line).ok_or(DecodeError::BodyOverflow)?;
        let mut value = 0u64;
        for index in 0..bytes {
            value |= u64::from(body.0[self.position + index]) << (8 * index);
        }
        self.position += bytes;
        Ok(value)
    }
}

/// A message as it travels: its tag and the bodies of its lines.
pub trait Wire: Sized {
    /// Its tag.
    const TAG: u16;
    /// How many lines it takes (1 for a [`Message`]).
    const LINES: usize;
    /// Writes its fields into `bodies` (exactly [`Self::LINES`] of them, zeroed).
    fn encode_lines(&self, bodies: &mut [Body]);
    /// Rebuilds it from the bodies of its lines, refusing what `encode_lines` would not write.
    fn decode_lines(bodies: &[Body]) -> Result<Self, DecodeError>;
}

impl<M: Message> Wire for M {
    const TAG: u16 = M::TAG;
    const LINES: usize = 1;
    #[inline(always)]
    fn encode_lines(&self, bodies: &mut [Body]) {
        if let Some(body) = bodies.first_mut() {
            self.encode(body);
        }
    }
    #[inline(always)]
    fn decode_lines(bodies: &[Body]) -> Result<Self, DecodeError> {
        match bodies {
            [body] => M::decode(body),
            _ => Err(DecodeError::ReservedNotZero),
        }
    }
}

/// One alternative of a [`declare_interface!`](crate::declare_interface!): a message type, or
/// a whole interface nested in another (the capability protocol inside the monitors' protocol).
pub trait Variant: Sized {
    /// Every tag it answers to.
    const TAGS: &'static [u16];
    /// Decodes a message with `tag` from the bodies of its lines.
    fn decode_variant(tag: u16, bodies: &[Body]) -> Result<Self, DecodeError>;
    /// The message as one line, if it takes one (the fast path: no bodies to zero).
    fn encode_one(&self) -> Option<Payload>;
    /// Writes the message into `bodies` (zeroed, [`MAX_LINES`] of them); returns its tag and
    /// how many lines it used.
    fn encode_variant(&self, bodies: &mut [Body; MAX_LINES]) -> (u16, usize);
}

impl<W: Wire> Variant for W {
    const TAGS: &'static [u16] = &[W::TAG];
    #[inline(always)]
    fn decode_variant(_tag: u16, bodies: &[Body]) -> Result<Self, DecodeError> {
        W::decode_lines(bodies)
    }
    #[inline(always)]
    fn encode_one(&self) -> Option<Payload> {
        if W::LINES != 1 {
            return None;
        }
        let mut body = Body::ZERO;
        self.encode_lines(core::slice::from_mut(&mut body));
        Some(message::assemble(W::TAG, &body))
    }
    #[inline(always)]
    fn encode_variant(&self, bodies: &mut [Body; MAX_LINES]) -> (u16, usize) {
        self.encode_lines(&mut bodies[..W::LINES]);
        (W::TAG, W::LINES)
    }
}

/// Whether any tag appears twice among `groups`, or is 0 (the compile-time check of
/// [`declare_interface!`](crate::declare_interface!)).
pub const fn tags_repeat(groups: &[&[u16]]) -> bool {
    let mut g = 0;
    while g < groups.len() {
        let mut i = 0;
        while i < groups[g].len() {
            let tag = groups[g][i];
            if tag == 0 {
                return true; // tag 0 is never a message
            }
            let mut h = g;
            let mut j = i + 1;
            while h < groups.len() {
                while j < groups[h].len() {
                    if groups[h][j] == tag {
                        return true;
                    }
                    j += 1;
                }
                h += 1;
                j = 0;
            }
            i += 1;
        }
        g += 1;
    }
    false
}

/// The header word of line `index` of `count` (`count` 0 for a one-line message).
#[inline(always)]
pub const fn header(tag: u16, index: usize, count: usize) -> u64 {
    tag as u64 | (index as u64 & 0xff) << 16 | (count as u64 & 0xff) << 24
}

/// The payloads of a message whose lines' bodies are `bodies`.
pub fn lines_of(tag: u16, bodies: &[Body], out: &mut [Payload; MAX_LINES]) -> usize {
    let count = if bodies.len() > 1 { bodies.len() } else { 0 };
    for (index, body) in bodies.iter().enumerate() {
        let mut words = [0u64; PAYLOAD_WORDS];
        words[0] = header(tag, index, count);
        for (word, slot) in words[1..].iter_mut().enumerate() {
            *slot = body.word(word);
        }
        out[index] = Payload::from_words(words);
    }
    bodies.len()
}

/// Why [`Assembler::push`] refused a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssemblyError {
    /// The header is malformed (reserved bytes set, a count of 1 or over [`MAX_LINES`], an
    /// index past the count).
    BadHeader,
    /// A line of a longer message arrived where another was expected (out of order, another
    /// tag, another count, or a new message before the last one ended); the partial message
    /// is dropped.
    OutOfOrder,
}

impl core::fmt::Display for AssemblyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AssemblyError::BadHeader => f.write_str("malformed line header"),
            AssemblyError::OutOfOrder => f.write_str("a line of a several-line message out of order"),
        }
    }
}

/// Puts several-line messages back together from their lines, in order.
pub struct Assembler {
    bodies: [Body; MAX_LINES],
    tag: u16,
    count: usize,
    next: usize,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

impl Assembler {
    /// Waiting for the first line of a message.
    pub const fn new() -> Self {
        Self { bodies: [Body::ZERO; MAX_LINES], tag: 0, count: 0, next: 0 }
    }

    /// Whether no several-line message is half assembled.
    pub fn is_idle(&self) -> bool {
        self.next == 0
    }

    /// Takes one line; returns the tag and the bodies once the message is whole.
    pub fn push(&mut self, payload: &Payload) -> Result<Option<(u16, &[Body])>, AssemblyError> {
        let head = payload.word(0);
        let (tag, index, count) = (head as u16, (head >> 16) as u8 as usize, (head >> 24) as u8 as usize);
        if head >> 32 != 0
            || count == 1
            || count > MAX_LINES
            || (count == 0 && index != 0)
            || index >= count.max(1)
        {
            self.next = 0;
            return Err(AssemblyError::BadHeader);
        }
        let body = message::body(payload);
        if count == 0 {
            if self.next != 0 {
                self.next = 0;
                return Err(AssemblyError::OutOfOrder);
            }
            self.bodies[0] = body;
            return Ok(Some((tag, &self.bodies[..1])));
        }
        if index == 0 {
            if self.next != 0 {
                self.next = 0;
                return Err(AssemblyError::OutOfOrder);
            }
            (self.tag, self.count) = (tag, count);
        } else if index != self.next || tag != self.tag || count != self.count {
            self.next = 0;
            return Err(AssemblyError::OutOfOrder);
        }
        self.bodies[index] = body;
        self.next = index + 1;
        if self.next < count {
            return Ok(None);
        }
        self.next = 0;
        Ok(Some((tag, &self.bodies[..count])))
    }
}

/// How lines travel: a URPC ring to another core, a queue on the same core, or (in the EL0
/// runtime, `userland::kernel_line::KernelLine`) the CPU driver's line transport between two
/// programs of one core. Chosen when a [`Channel`] is made.
pub trait Transport {
    /// Sends every line of `lines` in order, or none of them.
    fn send_lines(&mut self, lines: &[Payload]) -> Result<(), Full>;
    /// The next line, if one arrived.
    fn recv_line(&mut self) -> Result<Payload, RecvError>;
}

impl<const SLOTS: usize> Transport for Endpoint<'_, SLOTS> {
    #[inline]
    fn send_lines(&mut self, lines: &[Payload]) -> Result<(), Full> {
        if let [line] = lines {
            return self.sender.try_send(line);
        }
        if self.sender.free_slots() < lines.len() {
            return Err(Full);
        }
        let sent = self.sender.try_send_batch(lines);
        debug_assert_eq!(sent, lines.len());
        Ok(())
    }

    #[inline]
    fn recv_line(&mut self) -> Result<Payload, RecvError> {
        self.receiver.try_recv()
    }
}

/// Lines between two parties on the same core in one address space (a monitor and a service
/// it runs, a program's event loop and its own handlers): a fixed ring with no cache-line
/// placement and no barriers, since one core reads what it wrote. Cross-core traffic must use
/// an [`Endpoint`].
pub struct SameCore<const SLOTS: usize = { crate::DEFAULT_SLOTS }> {
    lines: [Payload; SLOTS],
    head: usize,
    len: usize,
}

impl<const SLOTS: usize> Default for SameCore<SLOTS> {
    fn default() -> Self {
        Self { lines: [Payload::ZERO; SLOTS], head: 0, len: 0 }
    }
}

impl<const SLOTS: usize> Transport for SameCore<SLOTS> {
    fn send_lines(&mut self, lines: &[Payload]) -> Result<(), Full> {
        if SLOTS - self.len < lines.len() {
            return Err(Full);
        }
        for line in lines {
            self.lines[(self.head + self.len) % SLOTS] = *line;
            self.len += 1;
        }
        Ok(())
    }

    fn recv_line(&mut self) -> Result<Payload, RecvError> {
        if self.len == 0 {
            return Err(RecvError::Empty);
        }
        let line = self.lines[self.head];
        self.head = (self.head + 1) % SLOTS;
        self.len -= 1;
        Ok(line)
    }
}

/// Why [`Channel::recv`] has no message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelError {
    /// Nothing (whole) arrived yet.
    Empty,
    /// The transport broke its protocol (see [`RecvError::Desync`]).
    Transport(RecvError),
    /// Lines did not make a message (see [`AssemblyError`]); they were dropped.
    Assembly(AssemblyError),
    /// A whole message arrived but did not decode; it was dropped.
    Decode(DecodeError),
}

impl core::fmt::Display for ChannelError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ChannelError::Empty => f.write_str("no message"),
            ChannelError::Transport(e) => e.fmt(f),
            ChannelError::Assembly(e) => write!(f, "message dropped: {e}"),
            ChannelError::Decode(e) => write!(f, "message dropped: {e}"),
        }
    }
}

/// A typed channel: the messages of interface `I` over transport `T`.
pub struct Channel<I, T> {
    transport: T,
    assembler: Assembler,
    interface: core::marker::PhantomData<fn() -> I>,
}

impl<I: Variant, T: Transport> Channel<I, T> {
    /// Typed messages over `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport, assembler: Assembler::new(), interface: core::marker::PhantomData }
    }

    /// The transport underneath (to wait on it, say).
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends `message`: all its lines, or, when the transport has no room for all, none.
    #[inline]
    pub fn send<M: Variant>(&mut self, message: &M) -> Result<(), Full> {
        if let Some(line) = message.encode_one() {
            return self.transport.send_lines(core::slice::from_ref(&line));
        }
        let mut bodies = [Body::ZERO; MAX_LINES];
        let (tag, count) = message.encode_variant(&mut bodies);
        let mut lines = [Payload::ZERO; MAX_LINES];
        let count = lines_of(tag, &bodies[..count], &mut lines);
        self.transport.send_lines(&lines[..count])
    }

    /// The next whole message of `I`, if one arrived; lines that make no message, and a
    /// message that does not decode, are dropped with the reason.
    pub fn recv(&mut self) -> Result<I, ChannelError> {
        loop {
            let line = match self.transport.recv_line() {
                Ok(line) => line,
                Err(RecvError::Empty) => return Err(ChannelError::Empty),
                Err(e) => return Err(ChannelError::Transport(e)),
            };
            let head = line.word(0);
            if head >> 16 == 0 && self.assembler.is_idle() {
                // A one-line message with nothing half-assembled: decode it where it lies.
                let body = [message::body(&line)];
                return I::decode_variant(head as u16, &body).map_err(ChannelError::Decode);
            }
            match self.assembler.push(&line).map_err(ChannelError::Assembly)? {
                None => continue,
                Some((tag, bodies)) => return I::decode_variant(tag, bodies).map_err(ChannelError::Decode),
            }
        }
    }
}

/// Declares message types: each a struct with public fields and a tag, with its encoding and
/// checking decoder generated. `lines` after the tag makes a several-line message (see the
/// module documentation); without it the fields must fit one line (checked at compile time).
#[macro_export]
macro_rules! declare_messages {
    () => {};
    (
        @struct $(#[$meta:meta])* $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $type:ty),*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $type,)*
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident = $tag:literal lines {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $type:ty),* $(,)?
        }
        $($rest:tt)*
    ) => {
        $crate::declare_messages! {
            @struct $(#[$meta])* $vis struct $name { $($(#[$field_meta])* $field_vis $field: $type),* }
        }

        impl $crate::interface::Wire for $name {
            const TAG: u16 = $tag;
            const LINES: usize = $crate::interface::lines_for(&[
                $((<$type as $crate::interface::Field>::BYTES, <$type as $crate::interface::Field>::PIECE)),*
            ]);
            fn encode_lines(&self, bodies: &mut [$crate::message::Body]) {
                let mut out = $crate::interface::LinesWriter::new(bodies);
                $($crate::interface::Field::put(&self.$field, &mut out);)*
            }
            fn decode_lines(bodies: &[$crate::message::Body]) -> Result<Self, $crate::message::DecodeError> {
                if bodies.len() != <Self as $crate::interface::Wire>::LINES {
                    return Err($crate::message::DecodeError::BodyOverflow);
                }
                let mut input = $crate::interface::LinesReader::new(bodies);
                let message = $name { $($field: <$type as $crate::interface::Field>::take(&mut input)?,)* };
                input.finish()?;
                Ok(message)
            }
        }

        const _: () = assert!(
            <$name as $crate::interface::Wire>::LINES <= $crate::interface::MAX_LINES,
            concat!(stringify!($name), ": too many lines for one message")
        );

        $crate::declare_messages! { $($rest)* }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident = $tag:literal {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident : $type:ty),* $(,)?
        }
        $($rest:tt)*
    ) => {
        $crate::declare_messages! {
            @struct $(#[$meta])* $vis struct $name { $($(#[$field_meta])* $field_vis $field: $type),* }
        }

        impl $crate::message::Message for $name {
            const TAG: u16 = $tag;
            #[inline]
            fn encode(&self, body: &mut $crate::message::Body) {
                #[allow(unused_mut, unused_variables)]
                let mut out = $crate::message::BodyWriter::new(body);
                $($crate::interface::Field::put(&self.$field, &mut out);)*
            }
            #[inline]
            fn decode(body: &$crate::message::Body) -> Result<Self, $crate::message::DecodeError> {
                #[allow(unused_mut)]
                let mut input = $crate::message::BodyReader::new(body);
                let message = $name { $($field: <$type as $crate::interface::Field>::take(&mut input)?,)* };
                input.finish()?;
                Ok(message)
            }
        }

        const _: () = assert!(
            0 $(+ <$type as $crate::interface::Field>::BYTES)* <= $crate::message::BODY_BYTES,
            concat!(stringify!($name), ": the fields do not fit one line; declare it `lines`")
        );

        $crate::declare_messages! { $($rest)* }
    };
}

/// Declares an interface: an enum with one alternative per message type (or nested
/// interface), which decodes whichever arrived and refuses unknown tags; no two alternatives
/// may share a tag (checked at compile time).
#[macro_export]
macro_rules! declare_interface {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident($type:ty)),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant($type),)*
        }

        impl $name {
            /// Decodes a one-line message, refusing unknown tags and malformed lines.
            pub fn decode(payload: &$crate::Payload) -> Result<Self, $crate::message::DecodeError> {
                let tag = $crate::message::tag(payload)?;
                let body = [$crate::message::body(payload)];
                <Self as $crate::interface::Variant>::decode_variant(tag, &body)
            }
        }

        impl $crate::interface::Variant for $name {
            const TAGS: &'static [u16] = &{
                const GROUPS: &[&[u16]] = &[$(<$type as $crate::interface::Variant>::TAGS),*];
                const COUNT: usize = {
                    let mut count = 0;
                    let mut g = 0;
                    while g < GROUPS.len() {
                        count += GROUPS[g].len();
                        g += 1;
                    }
                    count
                };
                let mut all = [0u16; COUNT];
                let mut at = 0;
                let mut g = 0;
                while g < GROUPS.len() {
                    let mut i = 0;
                    while i < GROUPS[g].len() {
                        all[at] = GROUPS[g][i];
                        at += 1;
                        i += 1;
                    }
                    g += 1;
                }
                all
            };

            fn decode_variant(
                tag: u16,
                bodies: &[$crate::message::Body],
            ) -> Result<Self, $crate::message::DecodeError> {
                $(
                    if <$type as $crate::interface::Variant>::TAGS.contains(&tag) {
                        return <$type as $crate::interface::Variant>::decode_variant(tag, bodies)
                            .map($name::$variant);
                    }
                )*
                Err($crate::message::DecodeError::UnknownTag(tag))
            }

            fn encode_one(&self) -> Option<$crate::Payload> {
                match self {
                    $($name::$variant(message) => $crate::interface::Variant::encode_one(message),)*
                }
            }

            fn encode_variant(
                &self,
                bodies: &mut [$crate::message::Body; $crate::interface::MAX_LINES],
            ) -> (u16, usize) {
                match self {
                    $($name::$variant(message) => $crate::interface::Variant::encode_variant(message, bodies),)*
                }
            }
        }

        const _: () = assert!(
            !$crate::interface::tags_repeat(&[$(<$type as $crate::interface::Variant>::TAGS),*]),
            concat!(stringify!($name), ": two messages share a tag (or one uses tag 0)")
        );
    };
}
