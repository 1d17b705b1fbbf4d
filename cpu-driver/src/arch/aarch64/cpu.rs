//! Reading the identity of the running core and the generic timer.

use aarch64_cpu::asm;
use aarch64_cpu::registers::{CurrentEL, CNTFRQ_EL0, CNTPCT_EL0, MIDR_EL1, MPIDR_EL1};
use tock_registers::interfaces::Readable;

/// Bits of MPIDR_EL1 that identify a core (Aff3, Aff2, Aff1, Aff0).
pub const MPIDR_AFFINITY_MASK: u64 = 0xff_00ff_ffff;

/// This core's affinity (MPIDR_EL1 without the flag bits).
pub fn mpidr() -> u64 {
    MPIDR_EL1.get() & MPIDR_AFFINITY_MASK
}

/// This core's MIDR_EL1 (implementer, part number, revision).
pub fn midr() -> u64 {
    MIDR_EL1.get()
}

/// `CTR_EL0`: this core's cache line sizes (its `DminLine` and `CWG` fields).
pub fn cache_type() -> u64 {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects and is permitted at EL1.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    ctr
}

/// The exception level the code runs at.
pub fn current_el() -> u64 {
    CurrentEL.read(CurrentEL::EL)
}

/// Generic timer ticks per second, as the firmware programmed `CNTFRQ_EL0`.
pub fn counter_frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The physical counter, ordered after earlier instructions.
pub fn counter() -> u64 {
    asm::barrier::isb(asm::barrier::SY);
    CNTPCT_EL0.get()
}

/// Sleeps until an interrupt is pending (interrupts may stay masked: WFI still wakes).
pub fn wait_for_interrupt() {
    asm::wfi();
}

/// Stops this core for good, asleep: what the stub and the CPU driver do after reporting a
/// fault they cannot recover from (the other cores go on).
pub fn halt() -> ! {
    loop {
        wait_for_interrupt();
    }
}

/// Stops this core for good with every exception that can be masked (debug, SError, IRQ, FIQ)
/// masked: a core that answers nothing, not even an SGI or its timer, as a core that hung
/// with interrupts off looks to the others. WFI still returns on a pending interrupt (Arm ARM
/// D1.6.2: masking does not stop the wake-up), so it loops.
pub fn park_masked() -> ! {
    // SAFETY: setting PSTATE.DAIF only masks exceptions; nothing after it relies on one.
    unsafe { core::arch::asm!("msr daifset, #0xf", options(nomem, nostack, preserves_flags)) };
    halt()
}

/// Sleeps until an event (SEV from another core or the timer's event stream).
pub fn wait_for_event() {
    asm::wfe();
}

/// Wakes cores sleeping in WFE.
pub fn send_event() {
    asm::barrier::dsb(asm::barrier::ISH);
    asm::sev();
}

/// Turns on the timer's event stream so a WFE wakes at least every ~1-2 ms even if no core
/// ever sends an event: waits with a timeout can then sleep instead of spinning (Arm ARM DDI
/// 0487, D12.2.3 "Event streams", `CNTKCTL_EL1.EVNTEN`/`EVNTI`). Returns the period in counter
/// ticks: an event each time counter bit `EVNTI` goes from 0 to 1.
pub fn enable_event_stream() -> u64 {
    use aarch64_cpu::registers::CNTKCTL_EL1;
    use tock_registers::interfaces::ReadWriteable;
    // The stream fires when counter bit EVNTI flips: pick the bit closest to 1 ms.
    let ticks_per_ms = (counter_frequency() / 1000).max(2);
    let bit = (63 - ticks_per_ms.leading_zeros() as u64).min(15);
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EVNTEN::SET + CNTKCTL_EL1::EVNTI.val(bit));
    asm::barrier::isb(asm::barrier::SY);
    1 << (bit + 1)
}

/// `CNTKCTL_EL1` as it is now (the event stream's enable is bit 2, its bit select bits 7:4).
pub fn event_stream_control() -> u64 {
    use aarch64_cpu::registers::CNTKCTL_EL1;
    CNTKCTL_EL1.get()
}

/// `TCR_EL1` for the layout in [`crate::layout`]: 39-bit VA in both halves, 4 KiB granule,
/// write-back cacheable inner-shareable walks, and the physical address size this core has.
pub fn translation_control() -> u64 {
    use aarch64_cpu::registers::ID_AA64MMFR0_EL1;
    let t0sz = 64 - crate::layout::VA_BITS as u64;
    let walk_attributes = 0b01 << 8 | 0b01 << 10 | 0b11 << 12; // IRGN0, ORGN0 WB-WA, SH0 inner
    let ttbr1 = (t0sz << 16) | (walk_attributes << 16) | (0b10 << 30); // T1SZ, same attributes, TG1 4 KiB
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    let ips = pa_range.min(0b101); // at most 48 bits, the largest a 4 KiB granule walk takes here
    t0sz | walk_attributes | ttbr1 | (ips << 32)
}

/// The width of this core's ASIDs: 16 bits where `ID_AA64MMFR0_EL1.ASIDBits` says the core
/// has them, else 8.
pub fn asid_bits() -> u32 {
    use aarch64_cpu::registers::ID_AA64MMFR0_EL1;
    if ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010 {
        16
    } else {
        8
    }
}

/// Stops translating the low half (`TCR_EL1.EPD0`): once in the kernel window, the entry
/// identity map is not needed, and a stray low address must fault instead of reaching it.
/// Also sets this core's ASID width (`TCR_EL1.AS`, from [`asid_bits`]; each core decides for
/// itself, the tables of its boot record being made on another core): the TLB is invalidated
/// right after, as a change of `AS` requires (Arm ARM D8.14).
pub fn disable_low_half_translation() {
    use aarch64_cpu::registers::TCR_EL1;
    use tock_registers::interfaces::ReadWriteable;
    let width = if asid_bits() == 16 { TCR_EL1::AS::ASID16Bits } else { TCR_EL1::AS::ASID8Bits };
    TCR_EL1.modify(TCR_EL1::EPD0::DisableTTBR0Walks + width);
    asm::barrier::isb(asm::barrier::SY);
    // SAFETY: invalidating this core's TLB entries only drops cached translations.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack, preserves_flags)) };
}

/// Lets EL0 read the virtual counter (`CNTVCT_EL0`) and its frequency, so programs can time
/// themselves without a system call (`CNTKCTL_EL1.EL0VCTEN`).
pub fn allow_el0_counter() {
    use aarch64_cpu::registers::CNTKCTL_EL1;
    use tock_registers::interfaces::ReadWriteable;
    CNTKCTL_EL1.modify(CNTKCTL_EL1::EL0VCTEN::SET);
}
