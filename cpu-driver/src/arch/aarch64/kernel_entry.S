// CPU-driver entry: every core, the boot core included, starts here with the MMU off, at the
// physical address of its own copy, at EL2 or EL1. The boot record sits right after the image
// (`__boot_record`), so it is found PC-relative and no register is needed to pass it: this
// also serves spin-table release, which sets no registers.

.cfi_sections .debug_frame
.section .text.entry, "ax"
.global _kernel_entry
_kernel_entry:
    adrp    x19, __boot_record              // physical: the MMU is off
    mrs     x20, CurrentEL                  // this core's entry level, for its timer choice
    adrp    x1, kernel_vectors
    add     x1, x1, :lo12:kernel_vectors
    INSTALL_VECTORS x1
    DROP_TO_EL1
    ic      iallu
    tlbi    vmalle1
    dsb     nsh
    isb
    ldr     x1, [x19, #{MAIR}]
    msr     mair_el1, x1
    ldr     x1, [x19, #{TCR}]
    msr     tcr_el1, x1
    ldr     x1, [x19, #{TTBR0_ENTRY}]
    msr     ttbr0_el1, x1                   // identity map of this region, for a few instructions
    ldr     x1, [x19, #{TTBR}]
    msr     ttbr1_el1, x1                   // physmap and this core's kernel window
    isb
    movz    x1, #({SCTLR} & 0xffff)
    movk    x1, #(({SCTLR} >> 16) & 0xffff), lsl #16
    msr     sctlr_el1, x1                   // cpu_driver::system_control::KERNEL
    isb
    ldr     x1, =kernel_high                // link-time (kernel window) address
    br      x1
kernel_high:
    // The outermost frame for a debugger: no return address (call-frame information in
    // .debug_frame, which no image loads; the linker discards .eh_frame).
    .cfi_startproc
    .cfi_undefined x30
    ldr     x1, [x19, #{STACK_TOP}]
    mov     sp, x1
    ldr     x0, [x19, #{RECORD_VA}]
    ldr     x1, =kernel_vectors
    msr     vbar_el1, x1
    isb
    ubfx    x1, x20, #2, #2                 // kernel_main's entry_el
    bl      kernel_main
1:  wfi
    b       1b
    .cfi_endproc
.ltorg
