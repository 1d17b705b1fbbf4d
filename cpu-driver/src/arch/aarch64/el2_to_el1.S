// DROP_TO_EL1: if running at EL2, configure EL2 so that EL1 runs AArch64 with timer, GIC
// system-register and FP access, then ERET to EL1 (EL1h, interrupts masked) at the next
// instruction. At EL1 it does nothing. Clobbers x9 and x10.
// Register values: Arm ARM DDI 0487, D13.2 (HCR_EL2, CNTHCTL_EL2, CPTR_EL2, SCTLR_EL1,
// VPIDR_EL2, VMPIDR_EL2, VBAR_EL2).
//
// VPIDR_EL2 and VMPIDR_EL2 are what EL1 reads as MIDR_EL1 and MPIDR_EL1 while EL2 is enabled;
// their reset values are architecturally UNKNOWN, so they are set from the real registers:
// the kernel picks its build by MIDR and finds itself by MPIDR.
//
// VBAR_EL2 is left pointing at `el2_vectors` below, not at the EL1 code's vectors: an HVC from
// EL1 (PSCI with `method = "hvc"` in the device tree) is taken to EL2, where nothing else
// answers it because this kernel owns EL2. The EL2 vectors pass an HVC on to the firmware as
// the same call with SMC (SMC Calling Convention, DEN 0028: both conduits carry a call in
// x0-x17 alike) and return its results, so a device tree saying `hvc` works on a board entered
// at EL2; the stub says so in a boot line. Anything else taken to EL2 is a bug: that core
// stops there, asleep.
.macro DROP_TO_EL1
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.ne    9f
    movz    x9, #0x8000, lsl #16            // HCR_EL2.RW: EL1 is AArch64; nothing trapped
    msr     hcr_el2, x9
    mrs     x9, cnthctl_el2
    orr     x9, x9, #3                      // EL1PCTEN | EL1PCEN: EL1 uses the physical timer
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    mrs     x9, id_aa64pfr0_el1
    ubfx    x9, x9, #24, #4                 // GIC system register interface present?
    cbz     x9, 8f
    mrs     x9, S3_4_C12_C9_5               // ICC_SRE_EL2
    mov     x10, #0x9
    orr     x9, x9, x10                     // SRE | Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x9
    isb
8:
    movz    x9, #0x33ff                    // CPTR_EL2: RES1 bits, no FP/SIMD traps
    msr     cptr_el2, x9
    msr     hstr_el2, xzr
    mrs     x9, vbar_el2
    msr     vbar_el1, x9                    // keep the installed vectors across the drop
    adrp    x9, el2_vectors
    add     x9, x9, :lo12:el2_vectors
    msr     vbar_el2, x9                    // EL2 keeps only the HVC forwarder
    mrs     x9, midr_el1
    msr     vpidr_el2, x9                   // EL1 reads the real MIDR_EL1
    mrs     x9, mpidr_el1
    msr     vmpidr_el2, x9                  // and the real MPIDR_EL1
    movz    x9, #0x0800
    movk    x9, #0x30d0, lsl #16            // SCTLR_EL1: RES1 bits only, MMU and caches off
    msr     sctlr_el1, x9
    mov     x9, #0x3c5                      // SPSR: EL1h, D A I F masked
    msr     spsr_el2, x9
    adr     x10, 9f
    msr     elr_el2, x10
    isb
    eret
9:
.endm

// INSTALL_VECTORS reg: points VBAR at the current exception level to `reg`.
.macro INSTALL_VECTORS reg
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.ne    7f
    msr     vbar_el2, \reg
7:
    msr     vbar_el1, \reg
    isb
.endm

// EL2's vectors once EL1 runs (see DROP_TO_EL1): position independent and stackless, run with
// EL2's MMU off. Only "lower EL, AArch64, synchronous" with EC 0x16 (HVC) is served.
.macro EL2_VECTOR target
.balign 0x80
    b       \target
.endm

.pushsection .text.el2_vectors, "ax"
.balign 0x800
.global el2_vectors
el2_vectors:
    .rept 8
    EL2_VECTOR el2_unexpected                // current EL (EL2): SP_EL0 and SP_EL2 groups
    .endr
    EL2_VECTOR el2_lower_sync                // lower EL, AArch64: synchronous
    .rept 7
    EL2_VECTOR el2_unexpected                // IRQ, FIQ, SError; AArch32
    .endr

el2_lower_sync:
    msr     tpidr_el2, x9                    // the only scratch: EL2's thread register
    mrs     x9, esr_el2
    lsr     x9, x9, #26
    cmp     x9, #0x16                        // EC: HVC from AArch64
    b.ne    el2_unexpected
    mrs     x9, tpidr_el2
    smc     #0                               // the same call, to the firmware
    eret                                     // ELR_EL2 is already past the HVC

el2_unexpected:
    wfe
    b       el2_unexpected
.popsection
