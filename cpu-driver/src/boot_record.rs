//! The boot record: everything the boot stub tells one core's CPU driver.
//!
//! The stub writes one record into each core's private region; the core's entry code reads
//! the translation settings from it before the MMU is on (so the first fields sit at fixed
//! offsets the assembly uses), and the CPU driver reads the rest. It holds only values, no
//! pointers into another core's memory: the only memory two cores both write is the shared
//! frame named by `shared_pa`.

use crate::paging::PhysRange;

/// Most cores one boot can describe.
pub const MAX_CORES: usize = 64;
/// Most physical memory ranges a record lists (RAM, or memory handed to the monitor).
pub const MAX_RANGES: usize = 16;
/// `BootRecord::core_enable` value: the device tree gives no usable way to start the core.
pub const ENABLE_NONE: u64 = 0;
/// `BootRecord::core_enable` value: PSCI `CPU_ON` (conduit in `psci_conduit`).
pub const ENABLE_PSCI: u64 = 1;
/// `BootRecord::core_enable` value: the spin table (release address in `core_release`).
pub const ENABLE_SPIN_TABLE: u64 = 2;
/// `BootRecord::magic` of a valid record.
pub const BOOT_RECORD_MAGIC: u64 = u64::from_le_bytes(*b"MKBOOTR1");
/// Bit in `BootRecord::flags`: power the machine off once every core has reported.
pub const FLAG_POWER_OFF_WHEN_DONE: u64 = 1 << 0;
/// Bit in `BootRecord::flags`: start the `faulter` program on core 1 (bootargs `fault-test`),
/// to show that a faulting EL0 program is stopped and the rest keeps running.
pub const FLAG_FAULT_TEST: u64 = 1 << 1;
/// Bit in `BootRecord::flags`: run the per-pair latency benchmark at EL0 (bootargs `bench`).
pub const FLAG_BENCH: u64 = 1 << 2;
/// Bit in `BootRecord::flags`: start the `selftest` program on every core (bootargs
/// `selftest`), the capability system's check at EL0.
pub const FLAG_SELFTEST: u64 = 1 << 3;
/// Bit in `BootRecord::flags`: the emulator enables semihosting, so a failed run ends with
/// semihosting's `SYS_EXIT` status 1 rather than `SYSTEM_RESET` (bootargs `semihosting-exit`).
pub const FLAG_SEMIHOSTING_EXIT: u64 = 1 << 4;
/// Bit in `BootRecord::flags`: core 2's CPU driver recurses until its kernel stack overflows
/// (bootargs `kernel-stack-overflow-test`), to show the overflow is reported with its address.
pub const FLAG_KERNEL_STACK_OVERFLOW_TEST: u64 = 1 << 5;
/// Bit in `BootRecord::flags`: the `faulter` runs the instructions `SCTLR_EL1` decides about at
/// EL0 (bootargs `el0-instructions-test`, which also sets [`FLAG_FAULT_TEST`] so core 1's
/// monitor spawns it). The same bit as `syscall_abi::FLAG_EL0_INSTRUCTIONS_TEST`.
pub const FLAG_EL0_INSTRUCTIONS_TEST: u64 = 1 << 6;
/// Bit in `BootRecord::flags`: core 2's CPU driver stops for good half-way through putting a
/// console line into its log ring (bootargs `console-stall-test`), to show that a core stopped
/// while it prints holds no other core's output up.
pub const FLAG_CONSOLE_STALL_TEST: u64 = 1 << 7;
/// Bit in `BootRecord::flags` (bootargs `physmap-test`): the boot core checks with `AT S1E1R`
/// that each core it started is gone from its physmap and says so, and core 2's CPU driver
/// reads its own region through its physmap, which must fault (no core maps another's region
/// or its own text writable).
pub const FLAG_PHYSMAP_TEST: u64 = 1 << 8;

/// The console a CPU driver writes to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// Which UART (see [`ConsoleKind`]).
    pub kind: u64,
    /// Physical address of its registers.
    pub base_pa: u64,
    /// Register stride is `1 << reg_shift` bytes.
    pub reg_shift: u64,
    /// Register access width in bytes.
    pub reg_io_width: u64,
    /// Baud rate the device tree gives (0: none; the firmware's stays).
    pub baud: u64,
    /// The UART's input clock in Hz where the device tree states it (0: unknown; then the
    /// firmware's divisor stays).
    pub clock_hz: u64,
    /// Line format from the device tree (`uart_setup::line`; 0: none given).
    pub line: u64,
    /// The GIC INTID of its interrupt (0: none known), for the console driver's IRQ
    /// capability.
    pub intid: u64,
    /// How that interrupt signals, from the device tree (`gicv2_spi::Trigger::to_record`:
    /// 1 level, 2 edge, 0 not given).
    pub irq_trigger: u64,
}

/// Where the interrupt controller is and how to reach the boot core through it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GicConfig {
    /// 2 or 3; 0 when the device tree names no supported GIC.
    pub version: u64,
    /// Physical address of the distributor.
    pub distributor_pa: u64,
    /// Physical address of the CPU interface (GICv2) or the first redistributor (GICv3).
    pub cpu_pa: u64,
    /// Number of cores (and GICv3 redistributors).
    pub core_count: u64,
    /// The boot core's SGI target (MPIDR on GICv3, CPU interface mask on GICv2).
    pub boot_core_target: u64,
}

/// UART families the CPU driver can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ConsoleKind {
    /// No console known: output is dropped.
    None = 0,
    /// Arm PrimeCell PL011.
    Pl011 = 1,
    /// Broadcom BCM2835 auxiliary mini-UART.
    Bcm2835Aux = 2,
    /// 16550-compatible (Synopsys DesignWare APB UART on Rockchip).
    Ns16550 = 3,
}

impl ConsoleKind {
    /// Decodes the `kind` field; unknown values mean no console.
    pub fn from_raw(raw: u64) -> Self {
        match raw {
            1 => ConsoleKind::Pl011,
            2 => ConsoleKind::Bcm2835Aux,
            3 => ConsoleKind::Ns16550,
            _ => ConsoleKind::None,
        }
    }
}

/// How the stub fared starting a core, as stored in `BootRecord::start_status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartStatus {
    /// Not started: no core at this index, or the boot core's monitor has not asked for it.
    Absent,
    /// This is the boot core itself.
    BootCore,
    /// Started; it should report in.
    Started,
    /// The firmware refused (PSCI return code).
    PsciError(i32),
    /// The device tree gives no way to start it.
    NoEnableMethod,
    /// No CPU-driver build in the image fits it.
    NoBuild,
    /// The stub could not set up its region.
    NoMemory,
}

impl StartStatus {
    /// Encodes the status for the record.
    pub fn to_raw(self) -> i64 {
        match self {
            StartStatus::Absent => 0,
            StartStatus::BootCore => 1,
            StartStatus::Started => 2,
            StartStatus::NoEnableMethod => 3,
            StartStatus::NoBuild => 4,
            StartStatus::NoMemory => 5,
            StartStatus::PsciError(code) => -(i64::from(code.unsigned_abs()).max(1)),
        }
    }

    /// Decodes a stored status; unknown values read as absent.
    pub fn from_raw(raw: i64) -> Self {
        match raw {
            1 => StartStatus::BootCore,
            2 => StartStatus::Started,
            3 => StartStatus::NoEnableMethod,
            4 => StartStatus::NoBuild,
            5 => StartStatus::NoMemory,
            r if r < 0 => StartStatus::PsciError(-(r.unsigned_abs().min(i32::MAX as u64) as i32)),
            _ => StartStatus::Absent,
        }
    }
}

/// What the stub hands one core. `#[repr(C)]`: the entry assembly reads the first fields.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct BootRecord {
    /// [`BOOT_RECORD_MAGIC`].
    pub magic: u64,
    /// `TTBR1_EL1`: this core's level-1 table for the kernel half (physmap and kernel window).
    pub ttbr: u64,
    /// `TCR_EL1`.
    pub tcr: u64,
    /// `MAIR_EL1`.
    pub mair: u64,
    /// Initial stack pointer (kernel virtual address).
    pub stack_top_va: u64,
    /// Where this record is mapped (kernel virtual address).
    pub record_va: u64,
    /// `TTBR0_EL1` while entering: an identity map of this core's region alone, executable, so
    /// the instructions between turning the MMU on and jumping to the kernel window run.
    pub ttbr0_entry: u64,
    /// This core's index in the device tree's `/cpus`.
    pub core_index: u64,
    /// The boot core's index.
    pub boot_core_index: u64,
    /// Number of cores in the device tree.
    pub core_count: u64,
    /// This core's MPIDR as the device tree gives it.
    pub mpidr: u64,
    /// The CPU-driver build this core runs (0 little, 1 big).
    pub build: u64,
    /// Physical start of this core's region.
    pub region_pa: u64,
    /// Bytes of this core's region.
    pub region_size: u64,
    /// Kernel heap (virtual address).
    pub heap_va: u64,
    /// Bytes of the heap.
    pub heap_size: u64,
    /// Physical address of this core's dispatcher frame pool (mapped in the kernel window at
    /// `frames_va`).
    pub frames_pa: u64,
    /// Kernel virtual address of the frame pool.
    pub frames_va: u64,
    /// Bytes of the frame pool.
    pub frames_size: u64,
    /// The console.
    pub console: ConsoleConfig,
    /// The interrupt controller.
    pub gic: GicConfig,
    /// Physical address of the frame shared by all cores.
    pub shared_pa: u64,
    /// Bytes of the shared frame.
    pub shared_size: u64,
    /// Physical address of the boot image (it stays in memory: the EL0 programs are in it).
    pub image_pa: u64,
    /// Bytes of the boot image file.
    pub image_size: u64,
    /// Offset of the payload table in the image.
    pub payload_table_offset: u64,
    /// Physical address of the device tree blob.
    pub dtb_pa: u64,
    /// Bytes of the device tree blob.
    pub dtb_size: u64,
    /// PSCI conduit: 0 none, 1 HVC, 2 SMC.
    pub psci_conduit: u64,
    /// Exception level the boot stub was entered at.
    pub stub_entry_el: u64,
    /// `FLAG_*` bits.
    pub flags: u64,
    /// Counter ticks the boot core waits for a started core to report.
    pub report_timeout_ticks: u64,
    /// The counter (`CNTPCT_EL0`) as the boot stub read it in its first instructions on the
    /// boot core: where the boot core's roll call starts counting bring-up time (the
    /// `all <k> cores up in <t> us` line). The same in every core's record.
    pub boot_entry_counter: u64,
    /// Per core index, the encoded [`StartStatus`] (filled in the boot core's record).
    pub start_status: [i64; MAX_CORES],
    /// Per core index, the MPIDR the device tree gives (the boot core's record; its kernel
    /// starts the others when its monitor asks).
    pub core_mpidr: [u64; MAX_CORES],
    /// Per core index, how it is started (`ENABLE_*`).
    pub core_enable: [u64; MAX_CORES],
    /// Per core index, the spin-table release address (for `ENABLE_SPIN_TABLE`).
    pub core_release: [u64; MAX_CORES],
    /// The machine's RAM as `[start, end)` pairs (the first `ram_count`): what every core's
    /// physmap maps as normal memory.
    pub ram: [[u64; 2]; MAX_RANGES],
    /// Entries of `ram` in use.
    pub ram_count: u64,
    /// Memory this core's monitor gets as RAM capabilities besides the frame pool's rest, as
    /// `[start, end)` pairs (the first `monitor_ram_count`): on the boot core every byte of RAM
    /// the stub did not use, on another core the share its booting monitor gave it.
    pub monitor_ram: [[u64; 2]; MAX_RANGES],
    /// Entries of `monitor_ram` in use.
    pub monitor_ram_count: u64,
    /// Reserved memory marked `no-map` (secure firmware) as `[start, end)` pairs (the first
    /// `no_map_count`): never mapped, in any core's tables.
    pub no_map: [[u64; 2]; MAX_RANGES],
    /// Entries of `no_map` in use.
    pub no_map_count: u64,
    /// How many of the region's kernel tables (those after the entry map's, the TTBR1 pool)
    /// `kernel_region::prepare` used; the core may use the rest later (`core_boot` splits
    /// physmap blocks to unmap a started core's memory).
    pub kernel_tables_used: u64,
    /// Cores whose CPU driver panics on purpose after its `core <n> up` line, bit N for core
    /// N (bootargs `inject=panic@core<N>`, `cpu_driver::inject`); 0 in a normal boot.
    pub inject_panic: u64,
}

/// Byte offsets the entry assembly uses.
pub mod offsets {
    use super::BootRecord;
    use core::mem::offset_of;

    /// Offset of `ttbr`.
    pub const TTBR: usize = offset_of!(BootRecord, ttbr);
    /// Offset of `tcr`.
    pub const TCR: usize = offset_of!(BootRecord, tcr);
    /// Offset of `mair`.
    pub const MAIR: usize = offset_of!(BootRecord, mair);
    /// Offset of `stack_top_va`.
    pub const STACK_TOP: usize = offset_of!(BootRecord, stack_top_va);
    /// Offset of `record_va`.
    pub const RECORD_VA: usize = offset_of!(BootRecord, record_va);
    /// Offset of `ttbr0_entry`.
    pub const TTBR0_ENTRY: usize = offset_of!(BootRecord, ttbr0_entry);
}

impl BootRecord {
    /// An all-zero record (not valid until the stub fills it).
    pub const fn empty() -> Self {
        BootRecord {
            magic: 0,
            ttbr: 0,
            tcr: 0,
            mair: 0,
            stack_top_va: 0,
            record_va: 0,
            ttbr0_entry: 0,
            core_index: 0,
            boot_core_index: 0,
            core_count: 0,
            mpidr: 0,
            build: 0,
            region_pa: 0,
            region_size: 0,
            heap_va: 0,
            heap_size: 0,
            frames_pa: 0,
            frames_va: 0,
            frames_size: 0,
            console: ConsoleConfig {
                kind: 0,
                base_pa: 0,
                reg_shift: 0,
                reg_io_width: 0,
                baud: 0,
                clock_hz: 0,
                line: 0,
                intid: 0,
                irq_trigger: 0,
            },
            gic: GicConfig { version: 0, distributor_pa: 0, cpu_pa: 0, core_count: 0, boot_core_target: 0 },
            shared_pa: 0,
            shared_size: 0,
            image_pa: 0,
            image_size: 0,
            payload_table_offset: 0,
            dtb_pa: 0,
            dtb_size: 0,
            psci_conduit: 0,
            stub_entry_el: 0,
            flags: 0,
            report_timeout_ticks: 0,
            boot_entry_counter: 0,
            start_status: [0; MAX_CORES],
            core_mpidr: [0; MAX_CORES],
            core_enable: [ENABLE_NONE; MAX_CORES],
            core_release: [0; MAX_CORES],
            ram: [[0; 2]; MAX_RANGES],
            ram_count: 0,
            monitor_ram: [[0; 2]; MAX_RANGES],
            monitor_ram_count: 0,
            no_map: [[0; 2]; MAX_RANGES],
            no_map_count: 0,
            kernel_tables_used: 0,
            inject_panic: 0,
        }
    }

    /// The `no-map` ranges the record lists.
    pub fn no_map_ranges(&self) -> impl Iterator<Item = PhysRange> + '_ {
        ranges(&self.no_map, self.no_map_count)
    }

    /// Stores `list` as the `no-map` ranges; returns how many did not fit.
    pub fn set_no_map(&mut self, list: impl IntoIterator<Item = PhysRange>) -> usize {
        self.no_map_count = 0;
        store_ranges(&mut self.no_map, &mut self.no_map_count, list)
    }

    /// The RAM ranges the record lists.
    pub fn ram_ranges(&self) -> impl Iterator<Item = PhysRange> + '_ {
        ranges(&self.ram, self.ram_count)
    }

    /// The memory ranges this core's monitor gets.
    pub fn monitor_ranges(&self) -> impl Iterator<Item = PhysRange> + '_ {
        ranges(&self.monitor_ram, self.monitor_ram_count)
    }

    /// Stores `list` as the record's RAM; returns how many ranges did not fit.
    pub fn set_ram(&mut self, list: impl IntoIterator<Item = PhysRange>) -> usize {
        self.ram_count = 0;
        store_ranges(&mut self.ram, &mut self.ram_count, list)
    }

    /// Stores `list` as the monitor's memory; returns how many ranges did not fit.
    pub fn set_monitor_ram(&mut self, list: impl IntoIterator<Item = PhysRange>) -> usize {
        self.monitor_ram_count = 0;
        store_ranges(&mut self.monitor_ram, &mut self.monitor_ram_count, list)
    }

    /// Whether this core is the boot core.
    pub fn is_boot_core(&self) -> bool {
        self.core_index == self.boot_core_index
    }

    /// The start status of core `index`.
    pub fn start_status(&self, index: usize) -> StartStatus {
        self.start_status.get(index).map_or(StartStatus::Absent, |&raw| StartStatus::from_raw(raw))
    }
}

fn ranges(list: &[[u64; 2]], count: u64) -> impl Iterator<Item = PhysRange> + '_ {
    list.iter().take(count as usize).map(|&[start, end]| PhysRange { start, end })
}

fn store_ranges(
    list: &mut [[u64; 2]; MAX_RANGES],
    count: &mut u64,
    ranges: impl IntoIterator<Item = PhysRange>,
) -> usize {
    let mut dropped = 0;
    for range in ranges.into_iter().filter(|r| r.start < r.end) {
        match list.get_mut(*count as usize) {
            Some(slot) => {
                *slot = [range.start, range.end];
                *count += 1;
            }
            None => dropped += 1,
        }
    }
    dropped
}

const _: () = assert!(core::mem::size_of::<BootRecord>() <= 4096, "the record must fit its page");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_status_round_trips() {
        for status in [
            StartStatus::Absent,
            StartStatus::BootCore,
            StartStatus::Started,
            StartStatus::PsciError(-2),
            StartStatus::PsciError(-9),
            StartStatus::NoEnableMethod,
            StartStatus::NoBuild,
            StartStatus::NoMemory,
        ] {
            assert_eq!(StartStatus::from_raw(status.to_raw()), status);
        }
    }

    #[test]
    fn ranges_round_trip_and_report_what_did_not_fit() {
        let mut record = BootRecord::empty();
        let list = (0..MAX_RANGES as u64 + 2).map(|i| PhysRange { start: i << 20, end: (i << 20) + 4096 });
        assert_eq!(record.set_ram(list), 2);
        assert_eq!(record.ram_ranges().count(), MAX_RANGES);
        let empty = PhysRange { start: 5, end: 5 };
        assert_eq!(record.set_monitor_ram([empty, PhysRange { start: 0x1000, end: 0x3000 }]), 0);
        assert_eq!(record.monitor_ranges().collect::<Vec<_>>(), [PhysRange { start: 0x1000, end: 0x3000 }]);
    }

    #[test]
    fn assembly_offsets_are_stable() {
        assert_eq!((offsets::TTBR, offsets::TCR, offsets::MAIR), (8, 16, 24));
        assert_eq!((offsets::STACK_TOP, offsets::RECORD_VA, offsets::TTBR0_ENTRY), (32, 40, 48));
    }
}
