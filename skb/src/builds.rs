//! The CPU-driver builds and which one suits a core design.
//!
//! `scripts/build` compiles the CPU driver twice: with `-C target-cpu=cortex-a53` (the little
//! build, scheduled for an in-order pipeline) and `-C target-cpu=cortex-a72` (the big build,
//! scheduled for an out-of-order one). Both target ARMv8.0-A on
//! `aarch64-unknown-none-softfloat`: no floating point or SIMD, and the only extension either
//! enables beyond ARMv8.0 is CRC32 (optional in ARMv8.0, mandatory from ARMv8.1), which the
//! compiler emits only for intrinsics nothing here uses; the system tests check the built
//! binaries hold no instruction beyond ARMv8.0 (`tests/tests/disassembly.rs`). So each build
//! runs on every ARMv8 core; what the choice changes is instruction scheduling, not
//! correctness, and the rule below still refuses a build that needs a newer architecture than
//! a design implements, should one ever be added.

use crate::microarch::{micro_arch_from_midr, ArchVersion, MicroArch, Pipeline};

/// The CPU-driver build a core runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuDriverBuild {
    /// Built for in-order cores (`-C target-cpu=cortex-a53`); runs on any ARMv8.0 core.
    Little,
    /// Built for out-of-order cores (`-C target-cpu=cortex-a72`).
    Big,
}

/// The build that runs on every ARMv8.0 core: the one for a core whose design is not known.
pub const PORTABLE_BUILD: CpuDriverBuild = CpuDriverBuild::Little;

impl CpuDriverBuild {
    /// The `-C target-cpu` it is built with.
    pub fn target_cpu(self) -> &'static str {
        match self {
            CpuDriverBuild::Little => "cortex-a53",
            CpuDriverBuild::Big => "cortex-a72",
        }
    }

    /// The class name printed by the OS.
    pub fn class_name(self) -> &'static str {
        match self {
            CpuDriverBuild::Little => "little",
            CpuDriverBuild::Big => "big",
        }
    }

    /// The architecture version its code needs (see the module documentation).
    pub fn requires(self) -> ArchVersion {
        match self {
            CpuDriverBuild::Little | CpuDriverBuild::Big => ArchVersion::V8_0,
        }
    }

    /// The pipeline its code is scheduled for.
    pub fn tuned_for(self) -> Pipeline {
        match self {
            CpuDriverBuild::Little => Pipeline::InOrder,
            CpuDriverBuild::Big => Pipeline::OutOfOrder,
        }
    }
}

/// The build for a design: the one tuned for its pipeline, unless that needs a newer
/// architecture than the design implements, then the portable one; `None` if neither runs.
pub fn build_for(arch: &MicroArch) -> Option<CpuDriverBuild> {
    choose(arch.pipeline(), arch.version(), CpuDriverBuild::requires)
}

fn choose(
    pipeline: Pipeline,
    version: ArchVersion,
    requires: impl Fn(CpuDriverBuild) -> ArchVersion,
) -> Option<CpuDriverBuild> {
    let tuned = match pipeline {
        Pipeline::InOrder => CpuDriverBuild::Little,
        Pipeline::OutOfOrder => CpuDriverBuild::Big,
    };
    [tuned, PORTABLE_BUILD].into_iter().find(|&build| requires(build) <= version)
}

/// The build for a running core with this `MIDR_EL1`: its design's build where the table
/// knows the design, else the portable build.
pub fn build_for_midr(midr: u64) -> CpuDriverBuild {
    micro_arch_from_midr(midr).and_then(|arch| build_for(&arch)).unwrap_or(PORTABLE_BUILD)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V8_0: ArchVersion = ArchVersion::V8_0;
    const V8_2: ArchVersion = ArchVersion { major: 8, minor: 2 };

    #[test]
    fn the_pipeline_decides_among_builds_the_core_can_run() {
        let today = CpuDriverBuild::requires;
        assert_eq!(choose(Pipeline::InOrder, V8_2, today), Some(CpuDriverBuild::Little));
        assert_eq!(choose(Pipeline::OutOfOrder, V8_0, today), Some(CpuDriverBuild::Big));
        // A big build compiled for ARMv8.2 would not be given to an ARMv8.0 Cortex-A72 ...
        let newer_big = |b| if b == CpuDriverBuild::Big { V8_2 } else { V8_0 };
        assert_eq!(choose(Pipeline::OutOfOrder, V8_0, newer_big), Some(CpuDriverBuild::Little));
        assert_eq!(choose(Pipeline::OutOfOrder, V8_2, newer_big), Some(CpuDriverBuild::Big));
        // ... and with no build old enough, none is chosen.
        assert_eq!(choose(Pipeline::InOrder, V8_0, |_| V8_2), None);
    }

    #[test]
    fn every_design_in_the_table_has_a_build_tuned_for_its_pipeline() {
        for arch in crate::microarch::all() {
            let build = build_for(arch);
            assert_eq!(build.map(CpuDriverBuild::tuned_for), Some(arch.pipeline()), "{}", arch.name());
        }
    }

    #[test]
    fn builds_follow_the_design_by_midr() {
        for (midr, build) in [
            (0x410f_d034, CpuDriverBuild::Little), // Cortex-A53
            (0x410f_d040, CpuDriverBuild::Little), // Cortex-A35
            (0x411f_d050, CpuDriverBuild::Little), // Cortex-A55
            (0x410f_d460, CpuDriverBuild::Little), // Cortex-A510
            (0x410f_d800, CpuDriverBuild::Little), // Cortex-A520
            (0x410f_d083, CpuDriverBuild::Big),    // Cortex-A72
            (0x410f_d090, CpuDriverBuild::Big),    // Cortex-A73
            (0x414f_d0b0, CpuDriverBuild::Big),    // Cortex-A76
            (0x410f_d410, CpuDriverBuild::Big),    // Cortex-A78
            (0x411f_d440, CpuDriverBuild::Big),    // Cortex-X1
            (0x517f_8014, CpuDriverBuild::Little), // Kryo 2xx Silver: a Cortex-A53
            (0x517f_8002, CpuDriverBuild::Big),    // Kryo 2xx Gold: a Cortex-A73
            (0x517f_8030, CpuDriverBuild::Little), // Kryo 3xx Silver: a Cortex-A55
            (0x516f_8020, CpuDriverBuild::Big),    // Kryo 3xx Gold: a Cortex-A75
            (0x517f_8040, CpuDriverBuild::Big),    // Kryo 4xx Gold: a Cortex-A76
            (0x4e0f_0030, PORTABLE_BUILD),         // NVIDIA Denver: not in the table
            (0x610f_0230, PORTABLE_BUILD),         // Apple Firestorm: not in the table
            (0x420f_1000, PORTABLE_BUILD),         // Broadcom Brahma-B53: not in the table
        ] {
            assert_eq!(build_for_midr(midr), build, "MIDR {midr:#x}");
        }
    }
}
