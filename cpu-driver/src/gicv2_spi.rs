//! Shared peripheral interrupts on a GICv2 distributor (the Raspberry Pi 4's GIC-400): the
//! register writes that configure one SPI's trigger, target it at one CPU interface, and
//! enable, mask and unmask it. Written over [`Distributor`], so the logic is tested on the host
//! against a recording register bank; `arch::aarch64::gic` gives it the mapped distributor.
//!
//! Register rules (GIC architecture specification IHI 0048B):
//! - `GICD_ITARGETSRn` (4.3.12) and `GICD_IPRIORITYRn` (4.3.11) are byte-accessible: one byte
//!   per INTID, written alone, so no other interrupt's target or priority is read and written
//!   back (no read-modify-write another core could race).
//! - `GICD_ISENABLERn`/`GICD_ICENABLERn` (4.3.5, 4.3.6) are write-1-to-set/clear: a write
//!   touches only the bits set in it.
//! - `GICD_ICFGRn` (4.3.13) packs 16 INTIDs two bits each and is word-accessible only, so its
//!   change is a read-modify-write of the word; "before changing the value of a programmable
//!   Int_config field, software must disable the corresponding interrupt, otherwise GIC
//!   behavior is UNPREDICTABLE". [`configure`] therefore masks first, and runs on the boot core
//!   before any other core starts (the only time the kernel changes a trigger), so no other
//!   writer of that word exists.
//! - The distributor is one peripheral mapped Device-nGnRE: its accesses arrive in program
//!   order (Arm ARM DDI 0487, B2.8.2, non-Reordering), so mask, configure, target and enable
//!   take effect in the order written, with no barrier between them.
//!
//! Target: a CPU interface mask with one bit (the banked `GICD_ITARGETSR0` reads as the
//! reading core's own, `gic::own_target`). With several bits the GIC-400 would deliver a level
//! interrupt to every named interface (1-N model), each acknowledging it; one claimant means
//! one bit.

/// `GICD_ISENABLERn`: set-enable, one bit per INTID.
pub const GICD_ISENABLER: usize = 0x100;
/// `GICD_ICENABLERn`: clear-enable, one bit per INTID.
pub const GICD_ICENABLER: usize = 0x180;
/// `GICD_IPRIORITYRn`: one byte per INTID.
pub const GICD_IPRIORITYR: usize = 0x400;
/// `GICD_ITARGETSRn`: one byte per INTID, the CPU interfaces it goes to.
pub const GICD_ITARGETSR: usize = 0x800;
/// `GICD_ICFGRn`: two bits per INTID; the upper one set is edge-triggered.
pub const GICD_ICFGR: usize = 0xc00;

/// The first SPI's INTID (every GIC version).
pub const FIRST_SPI: u32 = 32;
/// The first special INTID (1020-1023: spurious and the like), one past the last SPI.
pub const FIRST_SPECIAL: u32 = 1020;

/// How an interrupt signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Level sensitive.
    Level,
    /// Edge triggered.
    Edge,
}

impl Trigger {
    /// The boot record's encoding (`ConsoleConfig::irq_trigger`): 1 level, 2 edge, anything
    /// else none given.
    pub fn from_record(value: u64) -> Option<Trigger> {
        match value {
            1 => Some(Trigger::Level),
            2 => Some(Trigger::Edge),
            _ => None,
        }
    }

    /// The boot record's encoding of `trigger` (0: none given).
    pub fn to_record(trigger: Option<Trigger>) -> u64 {
        match trigger {
            None => 0,
            Some(Trigger::Level) => 1,
            Some(Trigger::Edge) => 2,
        }
    }
}

/// Why an SPI could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpiError {
    /// Not an SPI's INTID (32 to 1019).
    NotAnSpi,
    /// No CPU interface named (an empty target mask).
    NoTarget,
    /// The distributor does not implement it (its set-enable bit does not stick).
    Refused,
}

/// The distributor's registers, by byte offset.
pub trait Distributor {
    /// Reads the 32-bit register at `offset`.
    fn read32(&mut self, offset: usize) -> u32;
    /// Writes the 32-bit register at `offset`.
    fn write32(&mut self, offset: usize, value: u32);
    /// Writes the byte at `offset` (byte-accessible registers only).
    fn write8(&mut self, offset: usize, value: u8);
}

/// `intid` if it is an SPI's.
fn spi(intid: u32) -> Result<usize, SpiError> {
    if (FIRST_SPI..FIRST_SPECIAL).contains(&intid) {
        Ok(intid as usize)
    } else {
        Err(SpiError::NotAnSpi)
    }
}

/// The register at `base` holding INTID `intid`'s bit, and the bit.
fn enable_bit(base: usize, intid: usize) -> (usize, u32) {
    (base + intid / 32 * 4, 1 << (intid % 32))
}

/// Masks SPI `intid` (`GICD_ICENABLER`).
pub fn mask(gicd: &mut impl Distributor, intid: u32) -> Result<(), SpiError> {
    let (offset, bit) = enable_bit(GICD_ICENABLER, spi(intid)?);
    gicd.write32(offset, bit);
    Ok(())
}

/// Unmasks SPI `intid` (`GICD_ISENABLER`); `Refused` where the bit does not read back set (an
/// INTID beyond the SPIs this GIC implements: their enable bits are RAZ/WI, 4.3.5).
pub fn unmask(gicd: &mut impl Distributor, intid: u32) -> Result<(), SpiError> {
    let (offset, bit) = enable_bit(GICD_ISENABLER, spi(intid)?);
    gicd.write32(offset, bit);
    if gicd.read32(offset) & bit == 0 {
        return Err(SpiError::Refused);
    }
    Ok(())
}

/// Sets SPI `intid`'s trigger and priority, masked (it stays masked: [`route`] enables it).
/// Only `intid`'s two configuration bits change; the lower one of each pair is reserved on
/// GICv2 and written back as read.
pub fn configure(
    gicd: &mut impl Distributor,
    intid: u32,
    trigger: Trigger,
    priority: u8,
) -> Result<(), SpiError> {
    let index = spi(intid)?;
    mask(gicd, intid)?;
    let offset = GICD_ICFGR + index / 16 * 4;
    let edge_bit = 1 << ((index % 16) * 2 + 1);
    let old = gicd.read32(offset);
    let new = match trigger {
        Trigger::Edge => old | edge_bit,
        Trigger::Level => old & !edge_bit,
    };
    if new != old {
        gicd.write32(offset, new);
    }
    gicd.write8(GICD_IPRIORITYR + index, priority);
    Ok(())
}

/// Targets SPI `intid` at the CPU interfaces of mask `cpu_interfaces` and enables it. The
/// target is written before the enable, so the interrupt is never forwarded to the old target
/// once enabled here (a pending one follows the new target: 4.3.12).
pub fn route(gicd: &mut impl Distributor, intid: u32, cpu_interfaces: u8) -> Result<(), SpiError> {
    let index = spi(intid)?;
    if cpu_interfaces == 0 {
        return Err(SpiError::NoTarget);
    }
    gicd.write8(GICD_ITARGETSR + index, cpu_interfaces);
    unmask(gicd, intid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::vec::Vec;

    /// What a test saw: each access in order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Access {
        Read32(usize),
        Write32(usize, u32),
        Write8(usize, u8),
    }

    /// A distributor of `spis` SPIs: enable bits beyond them read as zero, as on a GIC.
    struct Fake {
        words: BTreeMap<usize, u32>,
        log: Vec<Access>,
        spis: usize,
    }

    impl Fake {
        fn new(spis: usize) -> Fake {
            Fake { words: BTreeMap::new(), log: Vec::new(), spis }
        }
        fn word(&self, offset: usize) -> u32 {
            self.words.get(&offset).copied().unwrap_or(0)
        }
        fn byte(&self, offset: usize) -> u8 {
            (self.word(offset & !3) >> ((offset % 4) * 8)) as u8
        }
        fn enabled(&self, intid: usize) -> bool {
            self.word(GICD_ISENABLER + intid / 32 * 4) & (1 << (intid % 32)) != 0
        }
        fn implemented(&self, intid: usize) -> bool {
            intid < 32 + self.spis
        }
    }

    impl Distributor for Fake {
        fn read32(&mut self, offset: usize) -> u32 {
            self.log.push(Access::Read32(offset));
            self.word(offset)
        }
        fn write32(&mut self, offset: usize, value: u32) {
            self.log.push(Access::Write32(offset, value));
            let set_clear = |base: usize| (base..base + 0x80).contains(&offset);
            if set_clear(GICD_ISENABLER) || set_clear(GICD_ICENABLER) {
                let first = (offset % 0x80) / 4 * 32;
                let mut bits = 0u32;
                for bit in 0..32 {
                    if value & (1 << bit) != 0 && self.implemented(first + bit) {
                        bits |= 1 << bit;
                    }
                }
                let enables = GICD_ISENABLER + offset % 0x80;
                let old = self.word(enables);
                let new = if set_clear(GICD_ISENABLER) { old | bits } else { old & !bits };
                self.words.insert(enables, new);
            } else {
                self.words.insert(offset, value);
            }
        }
        fn write8(&mut self, offset: usize, value: u8) {
            self.log.push(Access::Write8(offset, value));
            let shift = (offset % 4) * 8;
            let word = self.word(offset & !3) & !(0xff << shift) | (u32::from(value) << shift);
            self.words.insert(offset & !3, word);
        }
    }

    #[test]
    fn routing_writes_one_target_byte_then_enables() {
        let mut gicd = Fake::new(192);
        // The Pi 4's mini-UART: SPI 93, INTID 125; core 2's CPU interface.
        route(&mut gicd, 125, 0b100).unwrap();
        assert_eq!(
            gicd.log,
            [
                Access::Write8(0x800 + 125, 0b100),
                Access::Write32(0x100 + 3 * 4, 1 << 29),
                Access::Read32(0x100 + 3 * 4),
            ]
        );
        assert!(gicd.enabled(125));
        assert_eq!(gicd.byte(0x800 + 125), 0b100);
        assert_eq!(gicd.byte(0x800 + 124), 0, "the neighbour's target is not written");
    }

    #[test]
    fn configuring_masks_first_and_changes_only_its_own_field() {
        let mut gicd = Fake::new(192);
        // INTID 125: ICFGR7 (125 / 16), field 13, edge bit 27. Its neighbours edge-triggered.
        gicd.words.insert(0xc00 + 7 * 4, 0xaaaa_aaaa);
        gicd.words.insert(0x100 + 3 * 4, 1 << 29);
        configure(&mut gicd, 125, Trigger::Level, 0x80).unwrap();
        assert_eq!(gicd.log[0], Access::Write32(0x180 + 3 * 4, 1 << 29), "masked before the trigger changes");
        assert!(!gicd.enabled(125));
        assert_eq!(gicd.word(0xc00 + 7 * 4), 0xaaaa_aaaa & !(1 << 27));
        assert_eq!(gicd.byte(0x400 + 125), 0x80);
        assert_eq!(gicd.byte(0x400 + 124), 0);
        gicd.log.clear();
        configure(&mut gicd, 125, Trigger::Edge, 0xa0).unwrap();
        assert_eq!(gicd.word(0xc00 + 7 * 4), 0xaaaa_aaaa);
        // Already masked and already edge: no ICFGR write when nothing changes.
        configure(&mut gicd, 125, Trigger::Edge, 0xa0).unwrap();
        assert_eq!(gicd.log.iter().filter(|a| matches!(a, Access::Write32(0xc1c, _))).count(), 1);
    }

    #[test]
    fn the_first_and_last_spis_land_in_the_right_registers() {
        let mut gicd = Fake::new(988);
        configure(&mut gicd, 32, Trigger::Edge, 0).unwrap();
        route(&mut gicd, 32, 1).unwrap();
        assert_eq!(gicd.word(0xc00 + 2 * 4), 1 << 1);
        assert_eq!(gicd.byte(0x800 + 32), 1);
        assert!(gicd.enabled(32));
        configure(&mut gicd, 1019, Trigger::Edge, 0).unwrap();
        route(&mut gicd, 1019, 0x80).unwrap();
        assert_eq!(gicd.word(0xc00 + 63 * 4), 1 << 23);
        assert_eq!(gicd.byte(0x800 + 1019), 0x80);
        assert!(gicd.enabled(1019));
    }

    #[test]
    fn an_unimplemented_spi_is_refused_and_non_spis_are_never_written() {
        let mut gicd = Fake::new(64);
        assert_eq!(route(&mut gicd, 200, 1), Err(SpiError::Refused));
        for intid in [0, 15, 16, 31, 1020, 1023, u32::MAX] {
            assert_eq!(route(&mut gicd, intid, 1), Err(SpiError::NotAnSpi));
            assert_eq!(configure(&mut gicd, intid, Trigger::Level, 0), Err(SpiError::NotAnSpi));
            assert_eq!(mask(&mut gicd, intid), Err(SpiError::NotAnSpi));
            assert_eq!(unmask(&mut gicd, intid), Err(SpiError::NotAnSpi));
        }
        let before = gicd.log.len();
        assert_eq!(route(&mut gicd, 40, 0), Err(SpiError::NoTarget));
        assert_eq!(gicd.log.len(), before, "no write for an empty target");
    }

    #[test]
    fn mask_and_unmask_touch_only_their_bit() {
        let mut gicd = Fake::new(192);
        route(&mut gicd, 33, 1).unwrap();
        route(&mut gicd, 34, 1).unwrap();
        mask(&mut gicd, 33).unwrap();
        assert!(!gicd.enabled(33) && gicd.enabled(34));
        unmask(&mut gicd, 33).unwrap();
        assert!(gicd.enabled(33) && gicd.enabled(34));
    }

    #[test]
    fn the_record_encoding_round_trips() {
        for trigger in [None, Some(Trigger::Level), Some(Trigger::Edge)] {
            assert_eq!(Trigger::from_record(Trigger::to_record(trigger)), trigger);
        }
        assert_eq!(Trigger::from_record(7), None);
    }
}
