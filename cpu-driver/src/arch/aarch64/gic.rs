//! The interrupt controller, through the `arm-gic` crate: GICv3 (distributor + one
//! redistributor per core, system-register CPU interface) and GICv2 (distributor + memory-mapped
//! CPU interface, e.g. the Raspberry Pi 4's GIC-400).
//!
//! Each core drives only its own redistributor or banked registers; the distributor's global
//! settings are written once, by the boot stub, before any other core starts. The CPU driver
//! keeps interrupts masked at EL1 and uses the GIC to *wake* from `WFI` (a pending interrupt
//! ends `WFI` even while masked), then acknowledges what is pending.

use core::ptr::NonNull;

use arm_gic::gicv2::{GicV2, SgiTarget as SgiTargetV2, SgiTargetListFilter};
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, UniqueMmioPointer};

use crate::boot_record::GicConfig;

/// The SGI a core sends to wake another (URPC notification, report in).
pub const SGI_WAKE: u32 = 1;
/// The non-secure EL1 physical timer's PPI (INTID 30 on every GIC the project supports).
pub const TIMER_INTID: u32 = 30;
/// Offset of GICD_ITARGETSR0 (GICv2): its first byte reads as this core's CPU interface mask.
const GICD_ITARGETSR0: u64 = 0x800;

/// Why the GIC could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GicSetupError {
    /// The boot record names no interrupt controller.
    Missing,
    /// No redistributor reports this core's affinity.
    NoRedistributor,
    /// The crate refused (bad addresses or an interrupt it cannot enable).
    Driver,
}

impl core::fmt::Display for GicSetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            GicSetupError::Missing => "no interrupt controller in the device tree",
            GicSetupError::NoRedistributor => "no GICv3 redistributor for this core",
            GicSetupError::Driver => "the GIC driver refused the configuration",
        })
    }
}

/// This core's view of the interrupt controller.
pub enum Gic {
    /// GICv2.
    V2(GicV2<'static>),
    /// GICv3, with this core's redistributor index.
    V3(GicV3<'static>, usize),
}

/// Maps a physical address through `to_va` into a non-null pointer.
fn mmio<T>(pa: u64, to_va: impl Fn(u64) -> Option<u64>) -> Result<NonNull<T>, GicSetupError> {
    to_va(pa).and_then(|va| NonNull::new(va as *mut T)).ok_or(GicSetupError::Missing)
}

/// A GICv2 driver instance over the distributor and CPU interface `config` names.
///
/// # Safety
/// `to_va` must map both as device memory for as long as the instance is used.
unsafe fn gic_v2(
    config: &GicConfig,
    to_va: impl Fn(u64) -> Option<u64>,
) -> Result<GicV2<'static>, GicSetupError> {
    let gicd = mmio(config.distributor_pa, &to_va)?;
    let gicc = mmio(config.cpu_pa, &to_va)?;
    // SAFETY: the caller guarantees the mapping; the CPU interface is banked per core and the
    // distributor registers this project writes are either banked or written once (the stub).
    Ok(unsafe { GicV2::new(gicd.as_ptr(), gicc.as_ptr()) })
}

/// Writes the distributor's global settings once for the whole machine (the boot stub).
///
/// # Safety
/// `to_va` must map the GIC's registers as device memory; no other core may touch the
/// distributor while this runs.
pub unsafe fn init_distributor(
    config: &GicConfig,
    to_va: impl Fn(u64) -> Option<u64>,
) -> Result<(), GicSetupError> {
    match config.version {
        2 => {
            // SAFETY: the caller guarantees the mapping and exclusive use during the call.
            unsafe { gic_v2(config, to_va) }?.setup();
            Ok(())
        }
        3 => {
            let gicd = mmio::<Gicd>(config.distributor_pa, &to_va)?;
            // SAFETY: as above.
            let mut distributor =
                arm_gic::gicv3::GicDistributor::new(unsafe { UniqueMmioPointer::new(gicd) });
            distributor.configure_default_settings();
            Ok(())
        }
        _ => Err(GicSetupError::Missing),
    }
}

/// How other cores address the running core in [`Gic::send_wake`]: its MPIDR on GICv3, its CPU
/// interface mask on GICv2 (the banked `GICD_ITARGETSR0` reads as that mask).
///
/// # Safety
/// On GICv2, `to_va` must map the distributor as device memory.
pub unsafe fn own_target(config: &GicConfig, mpidr: u64, to_va: impl Fn(u64) -> Option<u64>) -> u64 {
    if config.version != 2 {
        return mpidr;
    }
    match to_va(config.distributor_pa + GICD_ITARGETSR0) {
        // SAFETY: a read-only banked register of the distributor, mapped per the caller.
        Some(va) => u64::from(unsafe { core::ptr::read_volatile(va as *const u8) }),
        None => 0,
    }
}

impl Gic {
    /// Sets up this core's part of the GIC and enables the wake SGI and the timer PPI.
    ///
    /// # Safety
    /// `to_va` must map the GIC's registers as device memory for the rest of the program, and
    /// only one `Gic` may exist per core.
    pub unsafe fn this_core(
        config: &GicConfig,
        mpidr: u64,
        to_va: impl Fn(u64) -> Option<u64>,
    ) -> Result<Gic, GicSetupError> {
        match config.version {
            2 => {
                // SAFETY: the caller guarantees the mapping for the rest of the program.
                let mut gic = unsafe { gic_v2(config, to_va) }?;
                gic.setup();
                for intid in [IntId::sgi(SGI_WAKE), IntId::ppi(TIMER_INTID - 16)] {
                    gic.set_interrupt_priority(intid, 0x80);
                    gic.enable_interrupt(intid, true).map_err(|_| GicSetupError::Driver)?;
                }
                Ok(Gic::V2(gic))
            }
            3 => {
                let gicd = mmio::<Gicd>(config.distributor_pa, &to_va)?;
                let gicr = mmio::<GicrSgi>(config.cpu_pa, &to_va)?;
                // SAFETY: the caller guarantees the mapping. This core writes only its own
                // redistributor; the distributor was configured by the stub.
                let mut gic =
                    unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, config.core_count as usize) }
                        .map_err(|_| GicSetupError::Driver)?;
                let index = (0..config.core_count as usize)
                    .find(|&i| gic.gicr_typer(i).is_ok_and(|t| t.core_mpidr() == mpidr))
                    .ok_or(GicSetupError::NoRedistributor)?;
                gic.init_cpu(index);
                gic.redistributor(index).map_err(|_| GicSetupError::Driver)?.configure_default_settings();
                for intid in [IntId::sgi(SGI_WAKE), IntId::ppi(TIMER_INTID - 16)] {
                    gic.set_interrupt_priority(intid, Some(index), 0x80)
                        .map_err(|_| GicSetupError::Driver)?;
                    gic.enable_interrupt(intid, Some(index), true).map_err(|_| GicSetupError::Driver)?;
                }
                GicCpuInterface::set_priority_mask(0xff);
                GicCpuInterface::enable_group1(true);
                Ok(Gic::V3(gic, index))
            }
            _ => Err(GicSetupError::Missing),
        }
    }

    /// Sends the wake SGI to the core addressed by `target` (see [`own_target`]).
    pub fn send_wake(&mut self, target: u64) {
        // The message this SGI announces (a URPC store-release in Normal memory) must be
        // visible to the target before the interrupt can be: neither a GICv3 `ICC_SGI1R_EL1`
        // write (a system register) nor a GICv2 `GICD_SGIR` write (Device memory) is ordered
        // after earlier Normal-memory stores by itself. `dsb ishst` completes them first;
        // without it the target may take the SGI, find no message and sleep with no timeout.
        // `tests/tests/disassembly.rs` checks it precedes every SGI write in the built kernels.
        // SAFETY: a barrier has no memory-safety effect.
        unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
        match self {
            Gic::V2(gic) => gic.send_sgi(
                IntId::sgi(SGI_WAKE),
                SgiTargetV2::List {
                    target_list_filter: SgiTargetListFilter::CPUTargetList,
                    target_list: (target & 0xff) as u16,
                },
            ),
            Gic::V3(..) => {
                let aff0 = (target & 0xf) as u16;
                let _ = GicCpuInterface::send_sgi(
                    IntId::sgi(SGI_WAKE),
                    SgiTarget::List {
                        affinity3: ((target >> 32) & 0xff) as u8,
                        affinity2: ((target >> 16) & 0xff) as u8,
                        affinity1: ((target >> 8) & 0xff) as u8,
                        target_list: 1 << aff0,
                    },
                    SgiTargetGroup::CurrentGroup1,
                );
            }
        }
    }

    /// Acknowledges and ends every pending interrupt; returns the private ones as a bit set
    /// (bit n = INTID n, n < 32).
    ///
    /// GICv2 uses `GICC_IAR`/`GICC_EOIR` (the crate's "group 0" registers): from the
    /// non-secure side they are the ones that deliver its interrupts; the aliased registers
    /// exist only for secure software on GICs with the Security Extensions.
    pub fn drain(&mut self) -> u32 {
        let mut seen = 0u32;
        // Bounded, so a misbehaving controller cannot keep a core here.
        for _ in 0..64 {
            let intid = match self {
                Gic::V2(gic) => gic.get_and_acknowledge_interrupt(InterruptGroup::Group0),
                Gic::V3(..) => GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1),
            };
            let Some(intid) = intid else { break };
            // On GICv2 the acknowledge register also names the CPU that sent an SGI (bits 12:10);
            // the interrupt itself is the low ten bits.
            let raw = u32::from(intid) & 0x3ff;
            if raw < 32 {
                seen |= 1 << raw;
            }
            match self {
                Gic::V2(gic) => gic.end_interrupt(intid, InterruptGroup::Group0),
                Gic::V3(..) => GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1),
            }
            if raw >= 1020 {
                break; // special INTIDs: nothing more to take
            }
        }
        seen
    }
}
