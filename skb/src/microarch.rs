//! What the CPU driver and the class ranking know about core micro-architectures: a table by
//! `compatible` string and by MIDR part number, with a relative performance rank for trees
//! that give no `capacity-dmips-mhz`.

/// A known core design.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MicroArch {
    name: &'static str,
    part: u16,
    rank: u8,
    big: bool,
}

impl MicroArch {
    /// The design's name, as in its `compatible` (`cortex-a53`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A relative performance rank (higher is faster); only the order means anything.
    pub fn rank(&self) -> u8 {
        self.rank
    }

    /// Its `MIDR_EL1.PartNum` (implementer 0x41, Arm).
    pub fn part(&self) -> u16 {
        self.part
    }

    /// Whether it is a "big" (out-of-order, performance) design.
    pub fn is_big(&self) -> bool {
        self.big
    }
}

const fn arch(name: &'static str, part: u16, rank: u8, big: bool) -> MicroArch {
    MicroArch { name, part, rank, big }
}

/// Arm-designed cores (implementer 0x41). Part numbers from the Technical Reference Manuals.
const ARM_CORES: &[MicroArch] = &[
    arch("cortex-a32", 0xd01, 1, false),
    arch("cortex-a34", 0xd02, 1, false),
    arch("cortex-a35", 0xd04, 2, false),
    arch("cortex-a53", 0xd03, 3, false),
    arch("cortex-a55", 0xd05, 4, false),
    arch("cortex-a510", 0xd46, 5, false),
    arch("cortex-a520", 0xd80, 6, false),
    arch("cortex-a57", 0xd07, 10, true),
    arch("cortex-a72", 0xd08, 11, true),
    arch("cortex-a73", 0xd09, 12, true),
    arch("cortex-a75", 0xd0a, 13, true),
    arch("cortex-a76", 0xd0b, 14, true),
    arch("cortex-a77", 0xd0d, 15, true),
    arch("cortex-a78", 0xd41, 16, true),
    arch("cortex-a710", 0xd47, 17, true),
    arch("cortex-a715", 0xd4d, 18, true),
    arch("cortex-a720", 0xd81, 19, true),
    arch("cortex-x1", 0xd44, 20, true),
    arch("cortex-x2", 0xd48, 21, true),
    arch("cortex-x3", 0xd4e, 22, true),
    arch("cortex-x4", 0xd82, 23, true),
    arch("neoverse-n1", 0xd0c, 15, true),
    arch("neoverse-v1", 0xd40, 20, true),
    arch("neoverse-n2", 0xd49, 18, true),
];

/// The design named by a `compatible` string such as `arm,cortex-a72`.
pub fn from_compatible(compatible: &str) -> Option<MicroArch> {
    let name = compatible.strip_prefix("arm,")?;
    ARM_CORES.iter().copied().find(|a| a.name == name)
}

/// The design a `MIDR_EL1` value names (implementer Arm only).
pub fn micro_arch_from_midr(midr: u64) -> Option<MicroArch> {
    let implementer = (midr >> 24) & 0xff;
    let part = ((midr >> 4) & 0xfff) as u16;
    if implementer != 0x41 {
        return None;
    }
    ARM_CORES.iter().copied().find(|a| a.part == part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midr_and_compatible_agree() {
        assert_eq!(micro_arch_from_midr(0x410f_d034).map(|a| a.name()), Some("cortex-a53"));
        assert_eq!(micro_arch_from_midr(0x410f_d083).map(|a| a.name()), Some("cortex-a72"));
        assert_eq!(micro_arch_from_midr(0x510f_d083), None, "another implementer");
        let a55 = from_compatible("arm,cortex-a55").unwrap();
        let a76 = from_compatible("arm,cortex-a76").unwrap();
        assert!(a55.rank() < a76.rank() && !a55.is_big() && a76.is_big());
        assert_eq!(from_compatible("cortex-a53"), None);
        assert_eq!(from_compatible("arm,cortex-a5"), None, "exact names only");
    }
}
