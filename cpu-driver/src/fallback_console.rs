//! The console of last resort: the UART a boot prints on when it cannot read a console from
//! the device tree (the blob is corrupt, or names no UART at all). Nothing at run time says
//! which machine this is when the tree cannot be read, so the choice is made when the image is
//! built: `MK_FALLBACK_CONSOLE`, read by the compiler (`scripts/build` sets QEMU virt's PL011,
//! its default platform; a board build sets its own UART or `none`).
//!
//! The value is `none` or `<family>@<physical address>`: `pl011@0x9000000`,
//! `ns16550@0xff1a0000` (the DesignWare layout Rockchip boards use: 32-bit registers 4 bytes
//! apart) or `bcm2835-aux@0xfe215040` (the Raspberry Pi 4 mini-UART). A value that is none of
//! these stops the build: the check runs in a `const` context.

use crate::boot_record::{ConsoleConfig, ConsoleKind};

/// The build's fallback console (`MK_FALLBACK_CONSOLE`); `None` when unset or `none`.
pub const FALLBACK: Option<ConsoleConfig> = match option_env!("MK_FALLBACK_CONSOLE") {
    Some(spec) => match parse(spec) {
        Ok(config) => config,
        Err(_) => panic!("MK_FALLBACK_CONSOLE is not `none` or `<pl011|ns16550|bcm2835-aux>@<0x address>`"),
    },
    None => None,
};

/// Why a fallback console specification was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecError {
    /// No `@` between the family and the address.
    NoAddress,
    /// The family is not `pl011`, `ns16550` or `bcm2835-aux`.
    UnknownFamily,
    /// The address is not `0x` and 1 to 16 hexadecimal digits.
    BadAddress,
}

/// Reads a specification (see the module documentation); `Ok(None)` for `none`.
pub const fn parse(spec: &str) -> Result<Option<ConsoleConfig>, SpecError> {
    let bytes = spec.as_bytes();
    if eq(bytes, 0, bytes.len(), b"none") {
        return Ok(None);
    }
    let mut at = 0;
    while at < bytes.len() && bytes[at] != b'@' {
        at += 1;
    }
    if at == bytes.len() {
        return Err(SpecError::NoAddress);
    }
    let (kind, reg_shift, reg_io_width) = if eq(bytes, 0, at, b"pl011") {
        (ConsoleKind::Pl011, 0, 4)
    } else if eq(bytes, 0, at, b"ns16550") {
        (ConsoleKind::Ns16550, 2, 4)
    } else if eq(bytes, 0, at, b"bcm2835-aux") {
        (ConsoleKind::Bcm2835Aux, 0, 4)
    } else {
        return Err(SpecError::UnknownFamily);
    };
    let digits = at + 3;
    if bytes.len() <= digits || bytes.len() - digits > 16 || bytes[at + 1] != b'0' || bytes[at + 2] != b'x' {
        return Err(SpecError::BadAddress);
    }
    let mut base: u64 = 0;
    let mut i = digits;
    while i < bytes.len() {
        let digit = match bytes[i] {
            c @ b'0'..=b'9' => c - b'0',
            c @ b'a'..=b'f' => c - b'a' + 10,
            c @ b'A'..=b'F' => c - b'A' + 10,
            _ => return Err(SpecError::BadAddress),
        };
        base = base << 4 | digit as u64;
        i += 1;
    }
    // Baud, clock, line format and interrupt stay 0: the firmware's settings are kept, as for a tree that
    // names none.
    Ok(Some(ConsoleConfig {
        kind: kind as u64,
        base_pa: base,
        reg_shift,
        reg_io_width,
        baud: 0,
        clock_hz: 0,
        line: 0,
        intid: 0,
        irq_trigger: 0,
    }))
}

/// Whether `bytes[start..end]` is `word` (a `const` slice comparison).
const fn eq(bytes: &[u8], start: usize, end: usize, word: &[u8]) -> bool {
    if end - start != word.len() {
        return false;
    }
    let mut i = 0;
    while i < word.len() {
        if bytes[start + i] != word[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_gives_its_register_layout_and_the_address() {
        let pl011 = parse("pl011@0x9000000").unwrap().unwrap();
        assert_eq!((pl011.kind, pl011.base_pa, pl011.reg_shift), (ConsoleKind::Pl011 as u64, 0x900_0000, 0));
        let dw = parse("ns16550@0xFF1A0000").unwrap().unwrap();
        assert_eq!((dw.kind, dw.base_pa, dw.reg_shift, dw.reg_io_width), (3, 0xff1a_0000, 2, 4));
        let aux = parse("bcm2835-aux@0xfe215040").unwrap().unwrap();
        assert_eq!((aux.kind, aux.base_pa), (ConsoleKind::Bcm2835Aux as u64, 0xfe21_5040));
        assert_eq!((aux.baud, aux.clock_hz, aux.line), (0, 0, 0), "the firmware's settings stay");
    }

    #[test]
    fn none_is_no_console_and_malformed_values_are_refused() {
        assert_eq!(parse("none"), Ok(None));
        assert_eq!(parse("pl011"), Err(SpecError::NoAddress));
        assert_eq!(parse("uart@0x1000"), Err(SpecError::UnknownFamily));
        assert_eq!(parse("pl011@9000000"), Err(SpecError::BadAddress));
        assert_eq!(parse("pl011@0x"), Err(SpecError::BadAddress));
        assert_eq!(parse("pl011@0x90g0"), Err(SpecError::BadAddress));
        assert_eq!(parse("pl011@0x11112222333344445"), Err(SpecError::BadAddress), "more than 64 bits");
        assert_eq!(parse(""), Err(SpecError::NoAddress));
    }
}
