//! `SCTLR_EL1` as the CPU driver runs with it: which EL0 instructions it lets through and
//! which it traps, decided bit by bit (Arm ARM DDI 0487, the `SCTLR_EL1` register
//! description, and D1.6 / D7.5 for the instructions each bit governs). `kernel_entry.S` loads
//! [`KERNEL`]; the boot stub runs no EL0 code and keeps the plain value.

/// M: stage 1 translation on.
pub const M: u64 = 1 << 0;
/// C: data accesses cacheable (as the translation tables say).
pub const C: u64 = 1 << 2;
/// SA: SP alignment check at EL1.
pub const SA: u64 = 1 << 3;
/// SA0: SP alignment check at EL0.
pub const SA0: u64 = 1 << 4;
/// I: instruction fetches cacheable.
pub const I: u64 = 1 << 12;
/// DZE: EL0 may execute `DC ZVA`.
pub const DZE: u64 = 1 << 14;
/// UCT: EL0 may read `CTR_EL0`.
pub const UCT: u64 = 1 << 15;
/// nTWI: `WFI` at EL0 is not trapped.
pub const NTWI: u64 = 1 << 16;
/// nTWE: `WFE` at EL0 is not trapped.
pub const NTWE: u64 = 1 << 18;
/// UCI: EL0 may execute `DC CVAU`, `DC CIVAC`, `DC CVAC`, `DC CVAP` and `IC IVAU`.
pub const UCI: u64 = 1 << 26;
/// The bits that are RES1 in `SCTLR_EL1` for the features this kernel runs with
/// (11 EOS, 20 TSCXT, 22 EIS, 23 SPAN, 28 nTLSMD, 29 LSMAOE): the value the entry code has
/// always written with the MMU off.
pub const RES1: u64 = 0x30d0_0800;

/// `SCTLR_EL1` for the CPU driver, with the MMU on. Each EL0 control decided on purpose:
///
/// - **UCT set**: EL0 reads `CTR_EL0`. URPC and allocators need the cache line size, the
///   register holds nothing secret, and Linux lets EL0 read it too; clear, the read is an
///   exception (EC 0x18) that stops the program.
/// - **DZE set**: EL0 may `DC ZVA`. It zeroes a block the program can already write (the
///   instruction is checked as a store against the program's own permissions), so it grants
///   nothing new; `DCZID_EL0.DZP` then reads 0, which is what libraries test before using it.
/// - **UCI set**: EL0 may clean and invalidate to the point of unification or coherency by
///   address (`DC CVAU`, `DC CVAC`, `DC CIVAC`, `IC IVAU`). A program that writes code (a JIT)
///   or shares buffers with a non-coherent device needs them, and they act only on addresses
///   the program may read (a permission fault otherwise). `DC IVAC`, which could discard
///   another writer's data, is never available at EL0 whatever this bit says.
/// - **nTWE set**: `WFE` at EL0 is not trapped. Spin-waits on a shared line sleep in `WFE`
///   (URPC peers, locks); the core still takes its timer slice and SGIs (IRQs are unmasked at
///   EL0) and the kernel's event stream bounds every wait, so a program gains nothing by it.
/// - **nTWI clear**: `WFI` at EL0 traps (EC 0x01) and the program is stopped like any other
///   fault. Sleeping the core is the kernel's business: it does so only when no dispatcher
///   can run and with its own wake-up armed (`interrupts::sleep_until`); a program waits with
///   the `wait`/`yield` system calls instead.
pub const KERNEL: u64 = RES1 | M | C | SA | SA0 | I | UCT | DZE | UCI | NTWE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_value_lets_el0_read_ctr_zero_blocks_clean_caches_and_wait_for_events() {
        for (bit, name) in [(UCT, "UCT"), (DZE, "DZE"), (UCI, "UCI"), (NTWE, "nTWE")] {
            assert_ne!(KERNEL & bit, 0, "{name} must be set");
        }
        assert_eq!(KERNEL & NTWI, 0, "WFI at EL0 must trap");
    }

    #[test]
    fn the_kernel_value_is_the_old_mmu_on_value_plus_the_el0_controls() {
        // What kernel_entry.S wrote before the EL0 controls were decided.
        assert_eq!(KERNEL & !(UCT | DZE | UCI | NTWE), 0x30d0_181d);
        assert_eq!(KERNEL, 0x34d4_d81d);
    }
}
