//! The interrupt controller, through the `arm-gic` crate: GICv3 (distributor + one
//! redistributor per core, system-register CPU interface) and GICv2 (distributor + memory-mapped
//! CPU interface, e.g. the Raspberry Pi 4's GIC-400).
//!
//! Each core drives only its own redistributor or banked registers; the distributor's global
//! settings (`GICD_CTLR`, the shared group registers) are written once, by the boot stub,
//! before any other core starts ([`init_distributor`]). On GICv2 that means no core but the
//! stub calls `arm-gic`'s `GicV2::setup`, which writes `GICD_CTLR` and all 32 `GICD_IGROUPR`s:
//! a core starting later would rewrite the distributor under the cores already running (GIC
//! architecture specification IHI 0048B, 4.3.1 and 4.3.4; only `GICD_IGROUPR0`, `ISENABLER0`
//! and `IPRIORITYR0-7` are banked per CPU interface). `tests/tests/disassembly.rs` checks that
//! neither kernel build holds `GicV2::setup`. The CPU driver
//! keeps interrupts masked at EL1 and uses the GIC to *wake* from `WFI` (a pending interrupt
//! ends `WFI` even while masked), then acknowledges what is pending. A shared peripheral
//! interrupt a driver at EL0 claimed is routed to its core ([`Gic::route_spi_here`]), masked
//! when taken and kept for the kernel to deliver ([`Gic::take_spis`]), and unmasked when the
//! driver acknowledges ([`Gic::unmask_spi`]). On GICv2 the SPI register writes are
//! `crate::gicv2_spi`'s (host-tested), over the mapped distributor (`MappedDistributor`).

use core::ptr::NonNull;

use arm_gic::gicv2::{GicV2, SgiTarget as SgiTargetV2, SgiTargetListFilter};
use arm_gic::gicv3::registers::{Gicd, GicrSgi};
use arm_gic::gicv3::{GicCpuInterface, GicV3, SgiTarget, SgiTargetGroup};
use arm_gic::{IntId, InterruptGroup, UniqueMmioPointer};

use crate::boot_record::GicConfig;
// `GICD_ITARGETSR0`'s first byte (GICv2) reads as the reading core's CPU interface mask.
use crate::gicv2_spi::{
    self, Distributor, Trigger, FIRST_SPECIAL, FIRST_SPI, GICD_ITARGETSR as GICD_ITARGETSR0,
};

/// The SGI a core sends to wake another (URPC notification, report in).
pub const SGI_WAKE: u32 = 1;
/// The bit [`Gic::drain`] reports the core's timer under, whichever timer it uses (see
/// `timer::Kind`): the non-secure EL1 physical timer's INTID, 30.
pub const TIMER_INTID: u32 = super::timer::PHYSICAL_INTID;
/// Offset of GICC_CTLR in the GICv2 CPU interface (banked: this core's interface).
const GICC_CTLR: u64 = 0x000;
/// The priority a claimed SPI gets on GICv2 (that of the wake SGI and the timer: all three
/// under the priority mask 0xff). On GICv3 the stub's defaults stay.
const SPI_PRIORITY: u8 = 0x80;

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
pub struct Gic {
    /// The controller.
    version: Version,
    /// The INTID of this core's timer.
    timer_intid: u32,
    /// Where GICC_CTLR is mapped (GICv2).
    gicc_ctlr: Option<u64>,
    /// Shared peripheral interrupts taken by [`Gic::drain`] and masked there, not yet handed
    /// on ([`Gic::take_spis`]): bit `n % 64` of word `n / 64` for INTID `n`.
    spis_taken: [u64; SPI_WORDS],
}

/// Words of [`Gic`]'s taken-SPI set: INTIDs up to 1023.
const SPI_WORDS: usize = 16;

/// Why a shared peripheral interrupt could not be routed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpiError {
    /// Not an SPI's INTID (32 to 1019).
    NotAnSpi,
    /// No interrupt controller was set up on this core.
    Unsupported,
    /// The distributor refused the INTID (beyond the SPIs it implements), or no CPU interface
    /// addresses this core.
    Refused,
}

impl From<gicv2_spi::SpiError> for SpiError {
    fn from(error: gicv2_spi::SpiError) -> SpiError {
        match error {
            gicv2_spi::SpiError::NotAnSpi => SpiError::NotAnSpi,
            gicv2_spi::SpiError::NoTarget | gicv2_spi::SpiError::Refused => SpiError::Refused,
        }
    }
}

/// A GICv2 distributor at the kernel address it is mapped at (device memory, for the
/// program's life: see [`Gic::this_core`]).
#[derive(Clone, Copy)]
struct MappedDistributor {
    va: u64,
}

impl Distributor for MappedDistributor {
    fn read32(&mut self, offset: usize) -> u32 {
        // SAFETY: a distributor register (`gicv2_spi` names only offsets inside its 4 KiB),
        // mapped as device memory for the program's life; a read has no effect beyond the GIC.
        unsafe { core::ptr::read_volatile((self.va + offset as u64) as *const u32) }
    }
    fn write32(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read32`; the registers `gicv2_spi` writes are those of one interrupt.
        unsafe { core::ptr::write_volatile((self.va + offset as u64) as *mut u32, value) }
    }
    fn write8(&mut self, offset: usize, value: u8) {
        // SAFETY: as in `write32`; `gicv2_spi` writes bytes only to byte-accessible registers
        // (GICD_ITARGETSRn, GICD_IPRIORITYRn: IHI 0048B 4.3.11-12), so this is one `strb`.
        unsafe { core::ptr::write_volatile((self.va + offset as u64) as *mut u8, value) }
    }
}

/// The controller behind a [`Gic`].
enum Version {
    /// GICv2, and its distributor for the SPI registers the crate does not write (targets,
    /// byte-wise priorities).
    V2(GicV2<'static>, MappedDistributor),
    /// GICv3: the CPU interface is system registers; the driver instance is kept as the
    /// owner of this core's distributor and redistributor pointers.
    V3 {
        /// The driver.
        gic: GicV3<'static>,
        /// This core's redistributor among the GIC's.
        redistributor: usize,
    },
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
    match to_va(config.distributor_pa + GICD_ITARGETSR0 as u64) {
        // SAFETY: a read-only banked register of the distributor, mapped per the caller.
        Some(va) => u64::from(unsafe { core::ptr::read_volatile(va as *const u8) }),
        None => 0,
    }
}

/// The `arm-gic` identifier of SPI `intid`.
fn spi_id(intid: u32) -> Result<IntId, SpiError> {
    if (FIRST_SPI..FIRST_SPECIAL).contains(&intid) {
        Ok(IntId::spi(intid - FIRST_SPI))
    } else {
        Err(SpiError::NotAnSpi)
    }
}

impl Gic {
    /// Sets up this core's part of the GIC and enables the wake SGI and the timer PPI
    /// `timer_intid` (see `timer::Kind::intid`).
    ///
    /// # Safety
    /// `to_va` must map the GIC's registers as device memory for the rest of the program, and
    /// only one `Gic` may exist per core.
    pub unsafe fn this_core(
        config: &GicConfig,
        mpidr: u64,
        timer_intid: u32,
        to_va: impl Fn(u64) -> Option<u64>,
    ) -> Result<Gic, GicSetupError> {
        let timer = IntId::ppi(timer_intid - 16);
        let mut gicc = None;
        let version = match config.version {
            2 => {
                let gicc_ctlr = to_va(config.cpu_pa + GICC_CTLR).ok_or(GicSetupError::Missing)?;
                // SAFETY: the caller guarantees the mapping for the rest of the program.
                let mut gic = unsafe { gic_v2(config, &to_va) }?;
                // This core's banked registers only (not `GicV2::setup`, see the module
                // comment): the two interrupts in the group the stub gave every interrupt
                // (group 1 where the GIC has the Security Extensions, whose non-secure side
                // sees only group 1, else group 0; `GICD_IGROUPR0` is banked), their priority
                // and enable, the priority mask and this CPU interface's enable.
                let group = if gic.typer().has_security_extension() {
                    InterruptGroup::Group1
                } else {
                    InterruptGroup::Group0
                };
                for intid in [IntId::sgi(SGI_WAKE), timer] {
                    gic.set_group(intid, group);
                    gic.set_interrupt_priority(intid, 0x80);
                    gic.enable_interrupt(intid, true).map_err(|_| GicSetupError::Driver)?;
                }
                gic.set_priority_mask(0xff);
                // SAFETY: GICC_CTLR of this core's CPU interface, mapped per the caller; bit 0
                // enables the interrupts of this security state's group (IHI 0048B, 4.4.1).
                unsafe { core::ptr::write_volatile(gicc_ctlr as *mut u32, 1) };
                gicc = Some(gicc_ctlr);
                let gicd =
                    MappedDistributor { va: to_va(config.distributor_pa).ok_or(GicSetupError::Missing)? };
                Version::V2(gic, gicd)
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
                for intid in [IntId::sgi(SGI_WAKE), timer] {
                    gic.set_interrupt_priority(intid, Some(index), 0x80)
                        .map_err(|_| GicSetupError::Driver)?;
                    gic.enable_interrupt(intid, Some(index), true).map_err(|_| GicSetupError::Driver)?;
                }
                GicCpuInterface::set_priority_mask(0xff);
                GicCpuInterface::enable_group1(true);
                Version::V3 { gic, redistributor: index }
            }
            _ => return Err(GicSetupError::Missing),
        };
        Ok(Gic { version, timer_intid, gicc_ctlr: gicc, spis_taken: [0; SPI_WORDS] })
    }

    /// Takes this core's part of the GIC down before the core powers off: its CPU interface
    /// stops signalling, and on GICv3 its redistributor is told the core sleeps
    /// (`GICR_WAKER.ProcessorSleep`, waiting for `ChildrenAsleep`; IHI 0069, 11.1: required
    /// before a PE is powered down). A core started again wakes it in [`Gic::this_core`]
    /// (`init_cpu` clears `ProcessorSleep` and waits for `ChildrenAsleep` to clear).
    pub fn power_down(&mut self) {
        match &mut self.version {
            Version::V2(..) => {
                // GICv2 has no sleep handshake: disabling this CPU interface is the step.
                if let Some(ctlr) = self.gicc_ctlr {
                    // SAFETY: GICC_CTLR of this core's banked CPU interface, mapped as device
                    // memory for the program's life (`this_core`); 0 disables its signalling.
                    unsafe { core::ptr::write_volatile(ctlr as *mut u32, 0) };
                }
            }
            Version::V3 { gic, redistributor } => {
                GicCpuInterface::enable_group1(false);
                let _ = gic.redistributor_mark_core_asleep(*redistributor);
            }
        }
    }

    /// Sets the trigger of shared peripheral interrupt `intid` as the device tree gives it, and
    /// leaves it masked. Called by the boot core before any other core starts, when the kernel
    /// makes the interrupt's IRQ capability (the configuration word it rewrites holds 15 other
    /// interrupts' fields: `gicv2_spi::configure`). On GICv2 it also gets `SPI_PRIORITY`.
    pub fn configure_spi(&mut self, intid: u32, trigger: Trigger) -> Result<(), SpiError> {
        let id = spi_id(intid)?;
        match &mut self.version {
            Version::V2(_, gicd) => Ok(gicv2_spi::configure(gicd, intid, trigger, SPI_PRIORITY)?),
            Version::V3 { gic, .. } => {
                let trigger = match trigger {
                    Trigger::Level => arm_gic::Trigger::Level,
                    Trigger::Edge => arm_gic::Trigger::Edge,
                };
                let distributor = gic.distributor();
                distributor.enable_interrupt(id, false).map_err(|_| SpiError::Refused)?;
                gic.set_trigger(id, None, trigger).map_err(|_| SpiError::Refused)
            }
        }
    }

    /// Routes the shared peripheral interrupt `intid` to this core and enables it. GICv3: to
    /// the core whose MPIDR is `mpidr` (`GICD_IROUTER`, affinity routing) and `GICD_ISENABLER`;
    /// its group and priority are the stub's defaults (group 1 non-secure, the highest
    /// non-secure priority; `configure_default_settings`). GICv2: to this core's CPU interface
    /// (`GICD_ITARGETSR`, its mask read from the banked `GICD_ITARGETSR0`), then
    /// `GICD_ISENABLER` (`gicv2_spi::route`); its group is the stub's (`GicV2::setup`). Every
    /// register written is that one interrupt's (a byte, or a write-1-to-set bit), so no other
    /// core's settings are rewritten.
    pub fn route_spi_here(&mut self, intid: u32, mpidr: u64) -> Result<(), SpiError> {
        let id = spi_id(intid)?;
        match &mut self.version {
            Version::V2(_, gicd) => {
                let own = (gicd.read32(GICD_ITARGETSR0) & 0xff) as u8;
                Ok(gicv2_spi::route(gicd, intid, own)?)
            }
            Version::V3 { gic, .. } => {
                let distributor = gic.distributor();
                distributor.set_routing(id, Some(mpidr)).map_err(|_| SpiError::Refused)?;
                distributor.enable_interrupt(id, true).map_err(|_| SpiError::Refused)
            }
        }
    }

    /// Undoes [`Gic::power_down`] when the core did not power off after all (the firmware
    /// refused): the redistributor awake again (waiting for `ChildrenAsleep` to clear) and the
    /// CPU interface signalling, so that the core can still be woken.
    pub fn power_up(&mut self) {
        match &mut self.version {
            Version::V2(..) => {
                if let Some(ctlr) = self.gicc_ctlr {
                    // SAFETY: as in `power_down`; 1 enables this CPU interface's group again.
                    unsafe { core::ptr::write_volatile(ctlr as *mut u32, 1) };
                }
            }
            Version::V3 { gic, redistributor } => {
                let _ = gic.redistributor_mark_core_awake(*redistributor);
                GicCpuInterface::enable_group1(true);
            }
        }
    }

    /// Unmasks the shared peripheral interrupt `intid` that [`Gic::drain`] masked.
    pub fn unmask_spi(&mut self, intid: u32) -> Result<(), SpiError> {
        let id = spi_id(intid)?;
        match &mut self.version {
            Version::V2(_, gicd) => Ok(gicv2_spi::unmask(gicd, intid)?),
            Version::V3 { gic, .. } => {
                gic.distributor().enable_interrupt(id, true).map_err(|_| SpiError::Refused)
            }
        }
    }

    /// Calls `deliver` with each shared peripheral interrupt [`Gic::drain`] took since the last
    /// call, and forgets them.
    pub fn take_spis(&mut self, mut deliver: impl FnMut(u32)) {
        for (word_index, word) in self.spis_taken.iter_mut().enumerate() {
            let mut bits = core::mem::take(word);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                bits &= bits - 1;
                deliver(word_index as u32 * 64 + bit);
            }
        }
    }

    /// Masks SPI `intid` at the distributor (`GICD_ICENABLER`, write-1-to-clear) and records it
    /// for [`Gic::take_spis`]. A level-sensitive source stays asserted until its driver at EL0
    /// has served it; masked before the end of interrupt, it cannot be signalled again in the
    /// meantime. (Were the write still in flight at the end of interrupt, `GICD_CTLR.RWP` on
    /// GICv3, the interrupt would be taken once more and recorded again: harmless, so no
    /// unbounded wait on `RWP` here. GICv2 has no `RWP`, and its `GICC_EOIR` is another
    /// peripheral than the distributor, so Device-nGnRE does not order the two writes' arrival
    /// either: the same second take, the same harmless outcome.)
    fn mask_and_record(&mut self, intid: u32) {
        let Ok(id) = spi_id(intid) else { return };
        match &mut self.version {
            Version::V2(_, gicd) => {
                let _ = gicv2_spi::mask(gicd, intid);
            }
            Version::V3 { gic, .. } => {
                let _ = gic.distributor().enable_interrupt(id, false);
            }
        }
        if let Some(word) = self.spis_taken.get_mut((intid / 64) as usize) {
            *word |= 1 << (intid % 64);
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
        match &mut self.version {
            Version::V2(gic, _) => gic.send_sgi(
                IntId::sgi(SGI_WAKE),
                SgiTargetV2::List {
                    target_list_filter: SgiTargetListFilter::CPUTargetList,
                    target_list: (target & 0xff) as u16,
                },
            ),
            Version::V3 { .. } => {
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
    /// (bit n = INTID n, n < 32), this core's timer always as bit [`TIMER_INTID`]. Shared
    /// peripheral interrupts are masked and kept for [`Gic::take_spis`].
    ///
    /// GICv2 uses `GICC_IAR`/`GICC_EOIR` (the crate's "group 0" registers): from the
    /// non-secure side they are the ones that deliver its interrupts; the aliased registers
    /// exist only for secure software on GICs with the Security Extensions.
    pub fn drain(&mut self) -> u32 {
        let mut seen = 0u32;
        // Bounded, so a misbehaving controller cannot keep a core here.
        for _ in 0..64 {
            let intid = match &mut self.version {
                Version::V2(gic, _) => gic.get_and_acknowledge_interrupt(InterruptGroup::Group0),
                Version::V3 { .. } => GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1),
            };
            let Some(intid) = intid else { break };
            // On GICv2 the acknowledge register also names the CPU that sent an SGI (bits 12:10);
            // the interrupt itself is the low ten bits.
            let raw = u32::from(intid) & 0x3ff;
            if raw == self.timer_intid {
                seen |= 1 << TIMER_INTID;
            } else if raw < FIRST_SPI {
                seen |= 1 << raw;
            } else if raw < FIRST_SPECIAL {
                self.mask_and_record(raw);
            }
            match &mut self.version {
                Version::V2(gic, _) => gic.end_interrupt(intid, InterruptGroup::Group0),
                Version::V3 { .. } => GicCpuInterface::end_interrupt(intid, InterruptGroup::Group1),
            }
            if raw >= 1020 {
                break; // special INTIDs: nothing more to take
            }
        }
        seen
    }
}
