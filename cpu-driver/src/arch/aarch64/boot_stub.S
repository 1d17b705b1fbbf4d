// Boot stub entry: the first instructions of the boot image.
//
// Position independent: runs wherever the firmware loaded it, with the MMU off, on whichever
// core the firmware chose. x0 = physical address of the DTB (Linux arm64 boot protocol).

.section .text.head, "ax"
.global _start
_start:
    b       stub_entry                      // code0
    .long   0                               // code1
    .quad   0                               // text_offset: anywhere 2 MiB aligned
    .quad   0                               // image_size: written by the packer
    .quad   0xa                             // flags: little endian, 4 KiB pages, anywhere
    .quad   0                               // res2
    .quad   0                               // res3
    .quad   0                               // res4
    .long   0x644d5241                      // magic "ARM\x64"
    .long   0                               // res5

.cfi_sections .debug_frame
.section .text
stub_entry:
    // The outermost frame for a debugger: no return address (call-frame information in
    // .debug_frame, which the packer leaves out of the image; the linker discards .eh_frame).
    .cfi_startproc
    .cfi_undefined x30
    // The counter first: the boot core's bring-up time ("all <k> cores up in <t> us") starts
    // here. CNTPCT_EL0 is readable at EL2 and, as the firmware leaves it, at EL1.
    isb
    mrs     x21, cntpct_el0
    mov     x19, x0                         // DTB
    mrs     x20, CurrentEL
    lsr     x20, x20, #2                    // entry exception level
    adrp    x1, stub_vectors
    add     x1, x1, :lo12:stub_vectors
    INSTALL_VECTORS x1

    // Apply R_AARCH64_RELATIVE relocations: the image was linked at 0.
    adrp    x1, _start
    add     x1, x1, :lo12:_start
    adrp    x2, __rela_start
    add     x2, x2, :lo12:__rela_start
    adrp    x3, __rela_end
    add     x3, x3, :lo12:__rela_end
1:  cmp     x2, x3
    b.hs    2f
    ldp     x4, x5, [x2], #16               // r_offset, r_info
    ldr     x6, [x2], #8                    // r_addend
    cmp     w5, #1027                       // R_AARCH64_RELATIVE
    b.ne    stub_bad_relocation
    add     x6, x6, x1
    str     x6, [x1, x4]
    b       1b
2:
    DROP_TO_EL1
    adrp    x1, __stub_stack_top
    add     x1, x1, :lo12:__stub_stack_top
    mov     sp, x1
    mov     x0, x19
    mov     x1, x20
    adrp    x2, _start
    add     x2, x2, :lo12:_start
    adrp    x3, __stub_end
    add     x3, x3, :lo12:__stub_end
    mov     x4, x21                         // the entry counter
    bl      stub_main
3:  wfi
    b       3b
    .cfi_endproc

stub_bad_relocation:
    wfe
    b       stub_bad_relocation

// stub_enter_kernel(entry_pa, record_pa): turns the MMU and data cache off and jumps to a CPU
// driver's entry, which starts with them off like every other core. The caller has cleaned
// everything the kernel reads to the point of coherency.
.global stub_enter_kernel
stub_enter_kernel:
    mov     x19, x0
    mov     x20, x1
    mrs     x2, sctlr_el1
    bic     x2, x2, #1                      // M
    bic     x2, x2, #(1 << 2)               // C
    msr     sctlr_el1, x2
    isb
    ic      iallu
    tlbi    vmalle1
    dsb     sy
    isb
    mov     x0, x20
    br      x19

// stub_enable_mmu(ttbr, tcr, mair): turns on translation with an identity map; called once,
// with the MMU off (stub_switch_map replaces the map later).
.global stub_enable_mmu
stub_enable_mmu:
    msr     mair_el1, x2
    msr     tcr_el1, x1
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    movz    x3, #0x181d
    movk    x3, #0x30d0, lsl #16            // SCTLR_EL1: M, C, SA, SA0, I + RES1
    msr     sctlr_el1, x3
    isb
    ret

// stub_switch_map(ttbr): replaces the live identity map by another one with translation
// off for the switch. The two maps give some addresses different block sizes, and changing a
// live entry's size without break-before-make may leave both in the TLB, which the
// architecture answers with a TLB conflict abort or a mix of both (Arm ARM D8.16.1). With
// SCTLR_EL1.M clear no walk happens and no TLB entry is used, so invalidating every entry
// there and enabling the new tables afterwards is break-before-make for all of them at once.
// No memory is touched while M is clear: data accesses would then be Device-nGnRnE and miss
// the cached stack. The code is identity-mapped in both maps, so the PC stays valid.
.global stub_switch_map
stub_switch_map:
    dsb     ishst                           // the new tables are written before any walk
    mrs     x1, sctlr_el1
    bic     x2, x1, #1                      // M
    msr     sctlr_el1, x2
    isb
    msr     ttbr0_el1, x0
    msr     ttbr1_el1, x0
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     sctlr_el1, x1
    isb
    ret

// Exceptions in the stub are bugs: report what is known and stop.
.macro STUB_VECTOR kind
.balign 0x80
    mov     x0, #\kind
    b       stub_vector_common
.endm

.balign 0x800
stub_vectors:
    STUB_VECTOR 0
    STUB_VECTOR 1
    STUB_VECTOR 2
    STUB_VECTOR 3
    STUB_VECTOR 4
    STUB_VECTOR 5
    STUB_VECTOR 6
    STUB_VECTOR 7
    STUB_VECTOR 8
    STUB_VECTOR 9
    STUB_VECTOR 10
    STUB_VECTOR 11
    STUB_VECTOR 12
    STUB_VECTOR 13
    STUB_VECTOR 14
    STUB_VECTOR 15

stub_vector_common:
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.ne    1f
    mrs     x1, esr_el2
    mrs     x2, elr_el2
    mrs     x3, far_el2
    b       2f
1:  mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
2:  adrp    x4, __stub_stack_top
    add     x4, x4, :lo12:__stub_stack_top
    mov     sp, x4
    bl      stub_exception
3:  wfi
    b       3b
