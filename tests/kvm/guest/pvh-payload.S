/*
 * A freestanding PVH guest for the monitor's kvm tests: no kernel, just the contracts.
 * The first byte of the command line picks the behaviour:
 *   e  check hvm_start_info's magic, print "pvh: ok" on COM1, debug-exit with 42 (status 85)
 *   t  triple fault (status 6)
 *   h  print "pvh: halting" on COM1, then halt forever with interrupts off (stop-by-signal
 *      tests send their signal once they see the line: the monitor is up by then)
 *   r  write the i8042 reset command (status 0)
 *   x  65536 port writes no device claims (0x510), each one exit to the monitor, then
 *      debug-exit with 0 (status 1): bench/accounting's exit-path cost
 *   c  2^30 iterations of register arithmetic, no exits, then debug-exit with 0 (status 1):
 *      bench/accounting's CPU-bound throughput
 *   anything else: debug-exit with 1 (status 3)
 * A wrong start-info magic ends with debug-exit 2 (status 5).
 */
    .code32
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz */
    .long 4                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_entry

    .text
    .globl pvh_entry
pvh_entry:
    cmpl $0x336ec578, (%ebx)
    jne bad_magic
    movl 24(%ebx), %esi     /* cmdline_paddr (low half) */
    movb (%esi), %al
    cmpb $'e', %al
    je say_ok
    cmpb $'t', %al
    je triple_fault
    cmpb $'h', %al
    je say_halting
    cmpb $'r', %al
    je i8042_reset
    cmpb $'x', %al
    je exit_loop
    cmpb $'c', %al
    je compute_loop
    movb $1, %al
    outb %al, $0xf4
    jmp halt_forever

say_ok:
    movl $message, %esi
1:  movb (%esi), %al
    testb %al, %al
    jz 2f
    movw $0x3f8, %dx
    outb %al, %dx
    incl %esi
    jmp 1b
2:  movl $0x10, %eax
    movw $0x440, %dx
    outl %eax, %dx          /* boot progress: "userspace up" */
    movb $42, %al
    outb %al, $0xf4
    jmp halt_forever

say_halting:
    movl $halting, %esi
1:  movb (%esi), %al
    testb %al, %al
    jz halt_forever
    movw $0x3f8, %dx
    outb %al, %dx
    incl %esi
    jmp 1b

exit_loop:
    movl $65536, %ecx
    movw $0x510, %dx
1:  outb %al, %dx
    decl %ecx
    jnz 1b
    jmp debug_exit_zero

compute_loop:
    movl $4, %edi
    xorl %eax, %eax
2:  movl $0x10000000, %ecx
1:  addl %ecx, %eax
    roll $3, %eax
    decl %ecx
    jnz 1b
    decl %edi
    jnz 2b
debug_exit_zero:
    xorb %al, %al
    outb %al, $0xf4
    jmp halt_forever

bad_magic:
    movb $2, %al
    outb %al, $0xf4
    jmp halt_forever

triple_fault:
    lidt null_idt
    int3

i8042_reset:
    movb $0xfe, %al
    outb %al, $0x64
    jmp halt_forever

halt_forever:
    cli
    hlt
    jmp halt_forever

    .data
message:
    .asciz "pvh: ok\n"
halting:
    .asciz "pvh: halting\n"
    .balign 8
null_idt:
    .word 0
    .long 0
