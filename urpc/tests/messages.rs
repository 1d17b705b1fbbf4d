//! Property tests of the typed layer: every message survives a round trip, and any 56 bytes
//! whatsoever decode to a message or an error, never a panic, canonically.

use proptest::prelude::*;
use urpc::message::{self, DecodeError, HEADER_BYTES};
use urpc::messages::{AnyMessage, CoreUp, Offline, OfflineReason, Ping, Pong};
use urpc::{Payload, PAYLOAD_BYTES};

fn any_reason() -> impl Strategy<Value = OfflineReason> {
    prop_oneof![
        Just(OfflineReason::Timeout),
        any::<i32>().prop_map(OfflineReason::PsciError),
        Just(OfflineReason::Shutdown),
    ]
}

fn any_message() -> impl Strategy<Value = AnyMessage> {
    prop_oneof![
        (any::<u32>(), any::<u64>(), any::<u64>(), any::<u8>(), 0u8..=3, any::<u64>()).prop_map(
            |(core, mpidr, midr, class, el, ctr)| AnyMessage::CoreUp(CoreUp {
                core,
                mpidr,
                midr,
                class,
                el,
                ctr
            })
        ),
        (any::<u64>(), any::<u64>()).prop_map(|(seq, ts)| AnyMessage::Ping(Ping { seq, ts })),
        (any::<u64>(), any::<u64>()).prop_map(|(seq, ts)| AnyMessage::Pong(Pong { seq, ts })),
        (any::<u32>(), any_reason()).prop_map(|(core, reason)| AnyMessage::Offline(Offline { core, reason })),
    ]
}

/// Payloads biased toward the interesting ones: valid tags with random bodies, and mostly
/// zero bodies with a few random bytes (which random bytes alone would almost never produce).
fn any_payload() -> impl Strategy<Value = Payload> {
    let fully_random = any::<[u8; PAYLOAD_BYTES]>().prop_map(Payload::new);
    let known_tag_random_body = (1u16..=5, any::<[u8; PAYLOAD_BYTES]>()).prop_map(|(tag, bytes)| {
        let mut payload = Payload::new(bytes);
        payload[..HEADER_BYTES].fill(0);
        payload[..2].copy_from_slice(&tag.to_le_bytes());
        payload
    });
    let valid_then_flipped =
        (any_message(), 0..PAYLOAD_BYTES, any::<u8>()).prop_map(|(message, at, byte)| {
            let mut payload = message.encode();
            payload[at] = byte;
            payload
        });
    prop_oneof![fully_random, known_tag_random_body, valid_then_flipped]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn every_message_round_trips(message in any_message()) {
        let payload = message.encode();
        prop_assert_eq!(AnyMessage::decode(&payload), Ok(message));
        match message {
            AnyMessage::CoreUp(inner) => prop_assert_eq!(message::decode::<CoreUp>(&payload), Ok(inner)),
            AnyMessage::Ping(inner) => prop_assert_eq!(message::decode::<Ping>(&payload), Ok(inner)),
            AnyMessage::Pong(inner) => prop_assert_eq!(message::decode::<Pong>(&payload), Ok(inner)),
            AnyMessage::Offline(inner) => prop_assert_eq!(message::decode::<Offline>(&payload), Ok(inner)),
        }
    }

    #[test]
    fn any_bytes_decode_to_a_canonical_message_or_an_error(payload in any_payload()) {
        // No panic, whatever the bytes; and what decodes re-encodes to the very same bytes.
        if let Ok(message) = AnyMessage::decode(&payload) {
            prop_assert_eq!(message.encode(), payload);
        }
        // The single-type decoders agree with the any-type one on what is valid.
        let ping = message::decode::<Ping>(&payload);
        prop_assert_eq!(ping.is_ok(), matches!(AnyMessage::decode(&payload), Ok(AnyMessage::Ping(_))));
        let _ = message::decode::<CoreUp>(&payload);
        let _ = message::decode::<Pong>(&payload);
        let _ = message::decode::<Offline>(&payload);
    }
}

#[test]
fn a_zeroed_line_is_no_message() {
    assert_eq!(AnyMessage::decode(&Payload::ZERO), Err(DecodeError::UnknownTag(0)));
}

#[test]
fn malformed_payloads_are_named() {
    let ping = message::encode(&Ping { seq: 1, ts: 2 });

    let mut reserved = ping;
    reserved[5] = 1;
    assert_eq!(AnyMessage::decode(&reserved), Err(DecodeError::ReservedNotZero));

    let mut trailing = ping;
    trailing[PAYLOAD_BYTES - 1] = 1;
    assert_eq!(AnyMessage::decode(&trailing), Err(DecodeError::TrailingBytes));

    assert_eq!(message::decode::<Pong>(&ping), Err(DecodeError::WrongTag { expected: 3, found: 2 }));

    let mut bad_el = message::encode(&CoreUp { core: 0, mpidr: 0, midr: 0, class: 0, el: 1, ctr: 0 });
    bad_el[HEADER_BYTES + 21] = 4;
    assert_eq!(AnyMessage::decode(&bad_el), Err(DecodeError::InvalidField { field: "el" }));

    let mut bad_reason = message::encode(&Offline { core: 1, reason: OfflineReason::Timeout });
    bad_reason[HEADER_BYTES + 4] = 9;
    assert_eq!(AnyMessage::decode(&bad_reason), Err(DecodeError::InvalidField { field: "reason" }));

    let mut unknown = ping;
    unknown[0] = 0xff;
    assert_eq!(AnyMessage::decode(&unknown), Err(DecodeError::UnknownTag(0xff)));
}

#[test]
fn the_body_is_the_payload_after_the_header_and_both_are_word_aligned() {
    let payload = message::encode(&Ping { seq: 1, ts: 2 });
    assert_eq!(message::body(&payload)[..], payload[HEADER_BYTES..]);
    assert_eq!(std::mem::align_of::<Payload>(), 8);
    assert_eq!(std::mem::align_of::<message::Body>(), 8);
    assert_eq!(payload.word(0), 2, "the tag in the first word, the reserved bytes zero");
    assert_eq!((payload.word(1), payload.word(2)), (1, 2));
}

#[test]
fn every_byte_after_the_fields_is_checked() {
    // The check goes a word at a time with the first word masked: each byte counts.
    let fields_end = [
        (message::encode(&Ping { seq: u64::MAX, ts: u64::MAX }), HEADER_BYTES + 16),
        (message::encode(&CoreUp { core: 1, mpidr: 2, midr: 3, class: 4, el: 1, ctr: 5 }), HEADER_BYTES + 30),
        (message::encode(&Offline { core: 1, reason: OfflineReason::PsciError(-1) }), HEADER_BYTES + 9),
    ];
    for (valid, end) in fields_end {
        assert!(AnyMessage::decode(&valid).is_ok());
        for at in end..PAYLOAD_BYTES {
            let mut bad = valid;
            bad[at] = 0x80;
            assert_eq!(AnyMessage::decode(&bad), Err(DecodeError::TrailingBytes), "byte {at}");
        }
    }
}

#[test]
fn a_cores_cache_line_sizes_from_its_ctr() {
    // Cortex-A72: CTR_EL0 = 0x8444c004 (DminLine 4: 64 bytes, CWG 4: 64 bytes).
    let up = CoreUp { core: 4, mpidr: 0, midr: 0, class: 1, el: 1, ctr: 0x8444_c004 };
    assert_eq!(up.dcache_line_bytes(), 64);
    assert_eq!(up.writeback_granule_bytes(), Some(64));
    let wide = CoreUp { ctr: 5 << 16, ..up };
    assert_eq!(wide.dcache_line_bytes(), 128);
    assert_eq!(wide.writeback_granule_bytes(), None, "CWG 0: the core does not say");
}

/// The word-wise writer and reader put each field at its packed byte offset, little-endian,
/// also where a field runs across two words; words no field reaches are left alone.
#[test]
fn fields_straddling_words_land_on_their_bytes() {
    use urpc::message::{Body, BodyReader, BodyWriter};
    let mut body = Body::ZERO;
    body[47] = 0xee; // beyond the fields: must survive the writes
    BodyWriter::new(&mut body)
        .u8(0x11)
        .u64(0x2233_4455_6677_8899)
        .u32(0xaabb_ccdd)
        .i32(-2)
        .bytes(&[1, 2, 3])
        .u64(u64::MAX);
    let mut expected = [0u8; 48];
    expected[0] = 0x11;
    expected[1..9].copy_from_slice(&0x2233_4455_6677_8899u64.to_le_bytes());
    expected[9..13].copy_from_slice(&0xaabb_ccddu32.to_le_bytes());
    expected[13..17].copy_from_slice(&(-2i32).to_le_bytes());
    expected[17..20].copy_from_slice(&[1, 2, 3]);
    expected[20..28].copy_from_slice(&u64::MAX.to_le_bytes());
    expected[47] = 0xee;
    assert_eq!(body.0, expected);

    let mut reader = BodyReader::new(&body);
    assert_eq!(reader.u8(), Ok(0x11));
    assert_eq!(reader.u64(), Ok(0x2233_4455_6677_8899));
    assert_eq!(reader.u32(), Ok(0xaabb_ccdd));
    assert_eq!(reader.i32(), Ok(-2));
    assert_eq!(reader.bytes::<3>(), Ok([1, 2, 3]));
    assert_eq!(reader.u64(), Ok(u64::MAX));
    assert_eq!(reader.finish(), Err(DecodeError::TrailingBytes), "byte 47 is not zero");

    // Writes past the end are dropped, reads past it are an error.
    let mut full = Body::ZERO;
    BodyWriter::new(&mut full).bytes(&[0xff; 44]).u64(7);
    assert_eq!(full.0[44..], [0, 0, 0, 0]);
    let mut reader = BodyReader::new(&full);
    reader.bytes::<44>().unwrap();
    assert_eq!(reader.u64(), Err(DecodeError::BodyOverflow));
}
