//! How CPU drivers talk to each other: the layout of the shared region and the kernel's own
//! messages. Every exchange between cores is a URPC message in a channel frame of the shared
//! region; nothing else in it is written by two cores except the console lock.
//!
//! ```text
//! offset                      contents
//! 0                           console lock (one cache line), rest of the page unused
//! 4 KiB * (1 + n)             kernel channel between the boot core (side A) and core n (side B)
//! after them, 1 page / 64     the cache line core n and the boot core bounce to measure the
//!   cores per page            raw cache-line round trip ("limit")
//! after them, 4 KiB each      monitor channel of each unordered pair of cores (a < b; a is side A)
//! after them, 8 KiB each      application region of each pair: a channel frame, then a page
//!                             whose first cache line the pair bounces for the raw limit
//! ```

use urpc::message::{Body, BodyReader, BodyWriter, DecodeError, Message};
use urpc::messages::{CoreUp, Ping, Pong};
use urpc::Payload;

use crate::layout::{align_up, PAGE_SIZE};

/// Bytes of one channel frame.
pub const CHANNEL_BYTES: u64 = urpc::ChannelFrame::<{ urpc::DEFAULT_SLOTS }>::BYTES as u64;
/// Bytes of a cache line.
const LINE: u64 = 64;
/// Bytes of a pair's application region: its channel frame and its ping-pong page.
pub const APP_REGION_BYTES: u64 = CHANNEL_BYTES + PAGE_SIZE;

/// Where everything sits in the shared region of a machine with `core_count` cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedLayout {
    core_count: u64,
}

impl SharedLayout {
    /// The layout for `core_count` cores.
    pub const fn new(core_count: u64) -> Self {
        SharedLayout { core_count }
    }

    /// Offset of the console lock.
    pub const fn console_lock(&self) -> u64 {
        0
    }

    /// Offset of the kernel channel between the boot core and core `core`.
    pub fn kernel_channel(&self, core: u64) -> Option<u64> {
        (core < self.core_count).then(|| PAGE_SIZE + core * CHANNEL_BYTES)
    }

    fn pingpong_base(&self) -> u64 {
        PAGE_SIZE + self.core_count * CHANNEL_BYTES
    }

    /// Offset of the cache line the boot core and core `core` bounce for the raw limit.
    pub fn pingpong_line(&self, core: u64) -> Option<u64> {
        (core < self.core_count).then(|| self.pingpong_base() + core * LINE)
    }

    fn monitor_base(&self) -> u64 {
        self.pingpong_base() + align_up(self.core_count * LINE, PAGE_SIZE)
    }

    /// Offset of the monitor channel between cores `a` and `b` (either order), and which side
    /// `a` takes (true: side A).
    pub fn monitor_channel(&self, a: u64, b: u64) -> Option<(u64, bool)> {
        let (pair, a_is_side_a) = self.pair_index(a, b)?;
        Some((self.monitor_base() + pair * CHANNEL_BYTES, a_is_side_a))
    }

    fn pairs(&self) -> u64 {
        self.core_count * self.core_count.saturating_sub(1) / 2
    }

    fn pair_index(&self, a: u64, b: u64) -> Option<(u64, bool)> {
        if a == b || a >= self.core_count || b >= self.core_count {
            return None;
        }
        let (low, high) = (a.min(b), a.max(b));
        Some((high * (high - 1) / 2 + low, a == low))
    }

    /// Offset of the application region (channel frame, then ping-pong page) of cores `a` and
    /// `b`, [`APP_REGION_BYTES`] long, and which side `a` takes (true: side A).
    pub fn app_region(&self, a: u64, b: u64) -> Option<(u64, bool)> {
        let (pair, a_is_side_a) = self.pair_index(a, b)?;
        let base = self.monitor_base() + self.pairs() * CHANNEL_BYTES;
        Some((base + pair * APP_REGION_BYTES, a_is_side_a))
    }

    /// Bytes of the whole region.
    pub fn size(&self) -> u64 {
        self.monitor_base() + self.pairs() * (CHANNEL_BYTES + APP_REGION_BYTES)
    }
}

/// Tells the boot core how to wake this core: its SGI target (MPIDR on GICv3, CPU interface
/// mask on GICv2, which only the core itself can read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeTarget {
    /// The sending core.
    pub core: u32,
    /// Its SGI target.
    pub target: u64,
}

/// The boot core's directory entry for one core, sent to every core after the roll call so
/// each can wake any other (a replica, kept by messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerTarget {
    /// The core described.
    pub core: u32,
    /// Its SGI target.
    pub target: u64,
}

/// Asks a core to answer `warmup + rounds` pings on its kernel channel, then to bounce the
/// ping-pong line `warmup + rounds` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureRequest {
    /// Round trips that are timed.
    pub rounds: u32,
    /// Round trips before timing starts.
    pub warmup: u32,
}

/// Longest measurement a core agrees to serve.
pub const MAX_MEASURE_ROUNDS: u32 = 1_000_000;

/// The body both [`WakeTarget`] and [`PeerTarget`] carry: a core and its SGI target.
fn encode_core_target(core: u32, target: u64, body: &mut Body) {
    BodyWriter::new(body).u32(core).u64(target);
}

fn decode_core_target(body: &Body) -> Result<(u32, u64), DecodeError> {
    let mut reader = BodyReader::new(body);
    let fields = (reader.u32()?, reader.u64()?);
    reader.finish()?;
    Ok(fields)
}

impl Message for WakeTarget {
    const TAG: u16 = 32;
    fn encode(&self, body: &mut Body) {
        encode_core_target(self.core, self.target, body);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        decode_core_target(body).map(|(core, target)| WakeTarget { core, target })
    }
}

impl Message for PeerTarget {
    const TAG: u16 = 33;
    fn encode(&self, body: &mut Body) {
        encode_core_target(self.core, self.target, body);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        decode_core_target(body).map(|(core, target)| PeerTarget { core, target })
    }
}

impl Message for MeasureRequest {
    const TAG: u16 = 34;
    fn encode(&self, body: &mut Body) {
        BodyWriter::new(body).u32(self.rounds).u32(self.warmup);
    }
    fn decode(body: &Body) -> Result<Self, DecodeError> {
        let mut reader = BodyReader::new(body);
        let message = MeasureRequest { rounds: reader.u32()?, warmup: reader.u32()? };
        reader.finish()?;
        if message.rounds.saturating_add(message.warmup) > MAX_MEASURE_ROUNDS {
            return Err(DecodeError::InvalidField { field: "rounds" });
        }
        Ok(message)
    }
}

/// Whatever arrives on a kernel channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelMessage {
    /// A core's report (to the boot core).
    CoreUp(CoreUp),
    /// How to wake a core (to the boot core).
    WakeTarget(WakeTarget),
    /// A directory entry (from the boot core).
    PeerTarget(PeerTarget),
    /// Start serving a measurement (from the boot core).
    MeasureRequest(MeasureRequest),
    /// A latency probe.
    Ping(Ping),
    /// Its answer.
    Pong(Pong),
}

impl KernelMessage {
    /// Decodes a payload; anything malformed or unknown is an error, never trusted.
    pub fn decode(payload: &Payload) -> Result<Self, DecodeError> {
        let body = urpc::message::body(payload);
        Ok(match urpc::message::tag(payload)? {
            CoreUp::TAG => KernelMessage::CoreUp(CoreUp::decode(&body)?),
            WakeTarget::TAG => KernelMessage::WakeTarget(WakeTarget::decode(&body)?),
            PeerTarget::TAG => KernelMessage::PeerTarget(PeerTarget::decode(&body)?),
            MeasureRequest::TAG => KernelMessage::MeasureRequest(MeasureRequest::decode(&body)?),
            Ping::TAG => KernelMessage::Ping(Ping::decode(&body)?),
            Pong::TAG => KernelMessage::Pong(Pong::decode(&body)?),
            other => return Err(DecodeError::UnknownTag(other)),
        })
    }
}

/// Converts counter ticks to nanoseconds.
pub fn ticks_to_ns(ticks: u64, frequency: u64) -> u64 {
    if frequency == 0 {
        return 0;
    }
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_do_not_overlap_and_channels_are_page_aligned() {
        let layout = SharedLayout::new(6);
        let mut spans = vec![(0, 64)];
        for core in 0..6 {
            let channel = layout.kernel_channel(core).unwrap();
            assert_eq!(channel % PAGE_SIZE, 0);
            spans.push((channel, channel + CHANNEL_BYTES));
            let line = layout.pingpong_line(core).unwrap();
            spans.push((line, line + 64));
        }
        let mut pairs = std::collections::HashSet::new();
        for a in 0..6 {
            for b in 0..6 {
                if a == b {
                    assert_eq!(layout.monitor_channel(a, b), None);
                    continue;
                }
                let (offset, a_is_side_a) = layout.monitor_channel(a, b).unwrap();
                assert_eq!(layout.monitor_channel(b, a), Some((offset, !a_is_side_a)));
                assert_eq!(offset % PAGE_SIZE, 0);
                let (app, app_side_a) = layout.app_region(a, b).unwrap();
                assert_eq!(app_side_a, a_is_side_a);
                assert_eq!(app % PAGE_SIZE, 0);
                if pairs.insert(offset) {
                    spans.push((offset, offset + CHANNEL_BYTES));
                    spans.push((app, app + APP_REGION_BYTES));
                }
            }
        }
        assert_eq!(pairs.len(), 15);
        spans.sort();
        for w in spans.windows(2) {
            assert!(w[0].1 <= w[1].0, "{:?} overlaps {:?}", w[0], w[1]);
        }
        assert_eq!(spans.last().unwrap().1, layout.size());
        assert_eq!(layout.kernel_channel(6), None);
        assert_eq!(layout.monitor_channel(0, 6), None);
    }

    #[test]
    fn kernel_messages_round_trip_and_garbage_is_refused() {
        let messages = [
            KernelMessage::WakeTarget(WakeTarget { core: 3, target: 0x103 }),
            KernelMessage::PeerTarget(PeerTarget { core: 5, target: 0x20 }),
            KernelMessage::MeasureRequest(MeasureRequest { rounds: 10_000, warmup: 1_000 }),
            KernelMessage::Ping(Ping { seq: 7, ts: 99 }),
        ];
        for message in messages {
            let payload = match message {
                KernelMessage::WakeTarget(m) => urpc::message::encode(&m),
                KernelMessage::PeerTarget(m) => urpc::message::encode(&m),
                KernelMessage::MeasureRequest(m) => urpc::message::encode(&m),
                KernelMessage::Ping(m) => urpc::message::encode(&m),
                _ => unreachable!(),
            };
            assert_eq!(KernelMessage::decode(&payload), Ok(message));
        }
        let too_long = urpc::message::encode(&MeasureRequest { rounds: u32::MAX, warmup: 1 });
        assert!(KernelMessage::decode(&too_long).is_err());
        assert!(KernelMessage::decode(&[0u8; urpc::PAYLOAD_BYTES]).is_err());
        let mut unknown = [0u8; urpc::PAYLOAD_BYTES];
        unknown[0] = 200;
        assert!(KernelMessage::decode(&unknown).is_err());
    }

    #[test]
    fn ticks_convert_to_nanoseconds() {
        assert_eq!(ticks_to_ns(62_500_000, 62_500_000), 1_000_000_000);
        assert_eq!(ticks_to_ns(1, 62_500_000), 16);
        assert_eq!(ticks_to_ns(5, 0), 0);
    }
}
