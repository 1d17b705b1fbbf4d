// DROP_TO_EL1: if running at EL2, configure EL2 so that EL1 runs AArch64 with timer, GIC
// system-register and FP access, then ERET to EL1 (EL1h, interrupts masked) at the next
// instruction. At EL1 it does nothing. Clobbers x9 and x10.
// Register values: Arm ARM DDI 0487, D13.2 (HCR_EL2, CNTHCTL_EL2, CPTR_EL2, SCTLR_EL1).
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
