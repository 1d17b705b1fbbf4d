// CPU-driver exception vectors (Arm ARM DDI 0487, D1.10.2: four groups of four, 0x80 apart).
// Each entry saves the general registers into a TrapFrame on the current stack and calls
// `kernel_exception(kind, frame)`; if that returns, the registers are restored and ERET resumes.
//
// An exception taken from EL1 itself arrives on the stack that was in use (SP_EL1: the kernel
// runs EL1h), so a kernel stack overflow, which faults on the guard page below the stack, would
// fault again pushing its own TrapFrame and recurse down through the guard page. The EL1
// entries therefore check SP first: below `KERNEL_STACK_LIMIT` (the lowest stack byte plus one
// TrapFrame, written by `kernel_main`; 0 until then, which never matches) they switch to this
// core's overflow stack (in its own .bss: every core has its own copy of the kernel) and report
// with `kind | OVERFLOW`, the faulting SP in the word above the frame. TPIDR_EL1 is the scratch
// register (the kernel uses it for nothing else); it is EL1-only, so EL0 never sees it.

.equ KERNEL_OVERFLOW, 0x10

.macro KERNEL_VECTOR kind
.balign 0x80
    sub     sp, sp, #(36 * 8)
    stp     x0, x1, [sp, #(0 * 8)]
    mov     x0, #\kind
    b       kernel_vector_common
.endm

.macro KERNEL_EL1_VECTOR kind
.balign 0x80
    msr     tpidr_el1, x0
    adrp    x0, KERNEL_STACK_LIMIT
    ldr     x0, [x0, :lo12:KERNEL_STACK_LIMIT]
    sub     x0, sp, x0
    tbnz    x0, #63, 1f                     // SP below the limit: the stack is exhausted
    mrs     x0, tpidr_el1
    sub     sp, sp, #(36 * 8)
    stp     x0, x1, [sp, #(0 * 8)]
    mov     x0, #\kind
    b       kernel_vector_common
1:  adrp    x0, kernel_overflow_stack_top
    add     x0, x0, :lo12:kernel_overflow_stack_top
    add     sp, sp, x0                      // swap SP and x0 with no other register:
    sub     x0, sp, x0                      // x0 = the faulting SP
    sub     sp, sp, x0                      // SP = the overflow stack's top
    str     x0, [sp, #-16]!
    mrs     x0, tpidr_el1
    sub     sp, sp, #(36 * 8)
    stp     x0, x1, [sp, #(0 * 8)]
    mov     x0, #(\kind | KERNEL_OVERFLOW)
    b       kernel_vector_common
.endm

.section .bss.kernel_overflow_stack, "aw", @nobits
.balign 16
kernel_overflow_stack:
    .space  16384
kernel_overflow_stack_top:

.section .text
.balign 0x800
.global kernel_vectors
kernel_vectors:
    KERNEL_VECTOR 0     // current EL, SP_EL0: synchronous
    KERNEL_VECTOR 1     //                     IRQ
    KERNEL_VECTOR 2     //                     FIQ
    KERNEL_VECTOR 3     //                     SError
    KERNEL_EL1_VECTOR 4 // current EL, SP_ELx: synchronous
    KERNEL_EL1_VECTOR 5 //                     IRQ
    KERNEL_EL1_VECTOR 6 //                     FIQ
    KERNEL_EL1_VECTOR 7 //                     SError
    KERNEL_VECTOR 8     // lower EL, AArch64:  synchronous
    KERNEL_VECTOR 9     //                     IRQ
    KERNEL_VECTOR 10    //                     FIQ
    KERNEL_VECTOR 11    //                     SError
    KERNEL_VECTOR 12    // lower EL, AArch32:  synchronous
    KERNEL_VECTOR 13    //                     IRQ
    KERNEL_VECTOR 14    //                     FIQ
    KERNEL_VECTOR 15    //                     SError

kernel_vector_common:
    stp     x2, x3, [sp, #(2 * 8)]
    stp     x4, x5, [sp, #(4 * 8)]
    stp     x6, x7, [sp, #(6 * 8)]
    stp     x8, x9, [sp, #(8 * 8)]
    stp     x10, x11, [sp, #(10 * 8)]
    stp     x12, x13, [sp, #(12 * 8)]
    stp     x14, x15, [sp, #(14 * 8)]
    stp     x16, x17, [sp, #(16 * 8)]
    stp     x18, x19, [sp, #(18 * 8)]
    stp     x20, x21, [sp, #(20 * 8)]
    stp     x22, x23, [sp, #(22 * 8)]
    stp     x24, x25, [sp, #(24 * 8)]
    stp     x26, x27, [sp, #(26 * 8)]
    stp     x28, x29, [sp, #(28 * 8)]
    mrs     x1, elr_el1
    stp     x30, x1, [sp, #(30 * 8)]
    mrs     x1, spsr_el1
    mrs     x2, esr_el1
    stp     x1, x2, [sp, #(32 * 8)]
    mrs     x1, far_el1
    mrs     x2, sp_el0
    stp     x1, x2, [sp, #(34 * 8)]
    mov     x1, sp
    bl      kernel_exception
// Restores the registers from the TrapFrame at sp and returns from the exception; also the
// way into a dispatcher for the first time (`enter_user`).
.global kernel_exception_return
kernel_exception_return:
    ldp     x1, x2, [sp, #(34 * 8)]
    msr     sp_el0, x2
    ldp     x1, x2, [sp, #(32 * 8)]
    msr     spsr_el1, x1
    ldp     x30, x1, [sp, #(30 * 8)]
    msr     elr_el1, x1
    ldp     x28, x29, [sp, #(28 * 8)]
    ldp     x26, x27, [sp, #(26 * 8)]
    ldp     x24, x25, [sp, #(24 * 8)]
    ldp     x22, x23, [sp, #(22 * 8)]
    ldp     x20, x21, [sp, #(20 * 8)]
    ldp     x18, x19, [sp, #(18 * 8)]
    ldp     x16, x17, [sp, #(16 * 8)]
    ldp     x14, x15, [sp, #(14 * 8)]
    ldp     x12, x13, [sp, #(12 * 8)]
    ldp     x10, x11, [sp, #(10 * 8)]
    ldp     x8, x9, [sp, #(8 * 8)]
    ldp     x6, x7, [sp, #(6 * 8)]
    ldp     x4, x5, [sp, #(4 * 8)]
    ldp     x2, x3, [sp, #(2 * 8)]
    ldp     x0, x1, [sp, #(0 * 8)]
    add     sp, sp, #(36 * 8)
    eret
