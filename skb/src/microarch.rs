//! What the CPU driver and the class ranking know about core micro-architectures: a table by
//! `compatible` string and by `MIDR_EL1` (implementer and part number), giving each design's
//! pipeline (in-order or out-of-order), the architecture version it implements, and a relative
//! performance rank for trees that give no `capacity-dmips-mhz`.
//!
//! Part numbers are those of the designers' Technical Reference Manuals (the same Linux lists
//! in `arch/arm64/include/asm/cputype.h`). Qualcomm's Kryo 2xx-4xx cores report Qualcomm's own
//! implementer code (0x51) but are built on Arm designs, which they follow here; later Kryo
//! generations report Arm's own MIDR. A design not in the table is unknown: the tree cannot
//! tell which build suits it, and the boot decides from the core's MIDR where it can read it.

/// How a design issues instructions: what the two CPU-driver builds are tuned for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// In-order (Cortex-A35, A53, A55, A510, A520): the little build.
    InOrder,
    /// Out-of-order (Cortex-A57 and every later "big" design): the big build.
    OutOfOrder,
}

/// An Arm architecture version (`ArmV8_0` is ARMv8.0-A); ordered oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArchVersion {
    /// 8 or 9.
    pub major: u8,
    /// The minor version (ARMv8.2-A: 2).
    pub minor: u8,
}

impl ArchVersion {
    /// ARMv8.0-A, the baseline every AArch64 core implements.
    pub const V8_0: ArchVersion = ArchVersion { major: 8, minor: 0 };
    const V8_2: ArchVersion = ArchVersion { major: 8, minor: 2 };
    const V8_4: ArchVersion = ArchVersion { major: 8, minor: 4 };
    const V9_0: ArchVersion = ArchVersion { major: 9, minor: 0 };
    const V9_2: ArchVersion = ArchVersion { major: 9, minor: 2 };
}

impl core::fmt::Display for ArchVersion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ARMv{}.{}-A", self.major, self.minor)
    }
}

/// A known core design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MicroArch {
    name: &'static str,
    implementer: u8,
    part: u16,
    rank: u8,
    pipeline: Pipeline,
    version: ArchVersion,
}

impl MicroArch {
    /// The design's name: for Arm's designs as in its `compatible` (`cortex-a53`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A relative performance rank (higher is faster); only the order means anything.
    pub fn rank(&self) -> u8 {
        self.rank
    }

    /// Its `MIDR_EL1.Implementer` (0x41 Arm, 0x51 Qualcomm).
    pub fn implementer(&self) -> u8 {
        self.implementer
    }

    /// Its `MIDR_EL1.PartNum`.
    pub fn part(&self) -> u16 {
        self.part
    }

    /// In-order or out-of-order.
    pub fn pipeline(&self) -> Pipeline {
        self.pipeline
    }

    /// The architecture version it implements.
    pub fn version(&self) -> ArchVersion {
        self.version
    }

    /// Whether it is a "big" (out-of-order, performance) design.
    pub fn is_big(&self) -> bool {
        self.pipeline == Pipeline::OutOfOrder
    }
}

const ARM: u8 = 0x41;
const QUALCOMM: u8 = 0x51;

const fn arm(name: &'static str, part: u16, rank: u8, pipeline: Pipeline, version: ArchVersion) -> MicroArch {
    MicroArch { name, implementer: ARM, part, rank, pipeline, version }
}

/// A Qualcomm Kryo part, taking the pipeline, version and rank of the Arm design it is built on.
const fn kryo(name: &'static str, part: u16, based_on: MicroArch) -> MicroArch {
    MicroArch { name, implementer: QUALCOMM, part, ..based_on }
}

use ArchVersion as V;
use Pipeline::{InOrder, OutOfOrder};

const A53: MicroArch = arm("cortex-a53", 0xd03, 3, InOrder, V::V8_0);
const A55: MicroArch = arm("cortex-a55", 0xd05, 4, InOrder, V::V8_2);
const A73: MicroArch = arm("cortex-a73", 0xd09, 12, OutOfOrder, V::V8_0);
const A75: MicroArch = arm("cortex-a75", 0xd0a, 13, OutOfOrder, V::V8_2);
const A76: MicroArch = arm("cortex-a76", 0xd0b, 14, OutOfOrder, V::V8_2);

/// Every design the table knows.
const CORES: &[MicroArch] = &[
    arm("cortex-a34", 0xd02, 1, InOrder, V::V8_0),
    arm("cortex-a35", 0xd04, 2, InOrder, V::V8_0),
    A53,
    A55,
    arm("cortex-a510", 0xd46, 5, InOrder, V::V9_0),
    arm("cortex-a520", 0xd80, 6, InOrder, V::V9_2),
    arm("cortex-a57", 0xd07, 10, OutOfOrder, V::V8_0),
    arm("cortex-a72", 0xd08, 11, OutOfOrder, V::V8_0),
    A73,
    A75,
    A76,
    arm("cortex-a76ae", 0xd0e, 14, OutOfOrder, V::V8_2),
    arm("cortex-a77", 0xd0d, 15, OutOfOrder, V::V8_2),
    arm("cortex-a78", 0xd41, 16, OutOfOrder, V::V8_2),
    arm("cortex-a78ae", 0xd42, 16, OutOfOrder, V::V8_2),
    arm("cortex-a78c", 0xd4b, 16, OutOfOrder, V::V8_2),
    arm("cortex-a710", 0xd47, 17, OutOfOrder, V::V9_0),
    arm("cortex-a715", 0xd4d, 18, OutOfOrder, V::V9_0),
    arm("cortex-a720", 0xd81, 19, OutOfOrder, V::V9_2),
    arm("cortex-a720ae", 0xd89, 19, OutOfOrder, V::V9_2),
    arm("cortex-a725", 0xd87, 20, OutOfOrder, V::V9_2),
    arm("cortex-x1", 0xd44, 20, OutOfOrder, V::V8_2),
    arm("cortex-x1c", 0xd4c, 20, OutOfOrder, V::V8_2),
    arm("cortex-x2", 0xd48, 21, OutOfOrder, V::V9_0),
    arm("cortex-x3", 0xd4e, 22, OutOfOrder, V::V9_0),
    arm("cortex-x4", 0xd82, 23, OutOfOrder, V::V9_2),
    arm("cortex-x925", 0xd85, 24, OutOfOrder, V::V9_2),
    arm("neoverse-n1", 0xd0c, 15, OutOfOrder, V::V8_2),
    arm("neoverse-v1", 0xd40, 20, OutOfOrder, V::V8_4),
    arm("neoverse-n2", 0xd49, 18, OutOfOrder, V::V9_0),
    arm("neoverse-v2", 0xd4f, 22, OutOfOrder, V::V9_0),
    arm("neoverse-v3", 0xd84, 23, OutOfOrder, V::V9_2),
    arm("neoverse-n3", 0xd8e, 19, OutOfOrder, V::V9_2),
    kryo("kryo-2xx-gold", 0x800, A73),
    kryo("kryo-2xx-silver", 0x801, A53),
    kryo("kryo-3xx-gold", 0x802, A75),
    kryo("kryo-3xx-silver", 0x803, A55),
    kryo("kryo-4xx-gold", 0x804, A76),
    kryo("kryo-4xx-silver", 0x805, A55),
];

/// Every design the table knows (for the tests of what is derived from it).
#[cfg(test)]
pub fn all() -> &'static [MicroArch] {
    CORES
}

/// The design named by a `compatible` string such as `arm,cortex-a72` (Arm's designs only:
/// vendors' names such as `qcom,kryo385` cover several designs, so the tree cannot say which).
pub fn from_compatible(compatible: &str) -> Option<MicroArch> {
    let name = compatible.strip_prefix("arm,")?;
    CORES.iter().copied().find(|a| a.implementer == ARM && a.name == name)
}

/// The design a `MIDR_EL1` value names.
pub fn micro_arch_from_midr(midr: u64) -> Option<MicroArch> {
    let implementer = ((midr >> 24) & 0xff) as u8;
    let part = ((midr >> 4) & 0xfff) as u16;
    CORES.iter().copied().find(|a| a.implementer == implementer && a.part == part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn midr_and_compatible_agree() {
        assert_eq!(micro_arch_from_midr(0x410f_d034).map(|a| a.name()), Some("cortex-a53"));
        assert_eq!(micro_arch_from_midr(0x410f_d083).map(|a| a.name()), Some("cortex-a72"));
        assert_eq!(micro_arch_from_midr(0x510f_d083), None, "another implementer's part 0xd08");
        let a55 = from_compatible("arm,cortex-a55").unwrap();
        let a76 = from_compatible("arm,cortex-a76").unwrap();
        assert!(a55.rank() < a76.rank() && !a55.is_big() && a76.is_big());
        assert_eq!(from_compatible("cortex-a53"), None);
        assert_eq!(from_compatible("arm,cortex-a5"), None, "exact names only");
        assert_eq!(from_compatible("arm,kryo-2xx-gold"), None, "Qualcomm's parts are found by MIDR only");
    }

    #[test]
    fn every_design_is_listed_once() {
        for (i, a) in CORES.iter().enumerate() {
            for b in &CORES[i + 1..] {
                assert!(a.name != b.name, "{} twice", a.name);
                assert!((a.implementer, a.part) != (b.implementer, b.part), "{} and {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn the_in_order_designs_are_exactly_the_little_ones() {
        let in_order: Vec<&str> =
            CORES.iter().filter(|a| a.implementer == ARM && !a.is_big()).map(|a| a.name()).collect();
        assert_eq!(
            in_order,
            ["cortex-a34", "cortex-a35", "cortex-a53", "cortex-a55", "cortex-a510", "cortex-a520"]
        );
        assert!(CORES.iter().all(|a| a.version >= ArchVersion::V8_0));
    }
}
