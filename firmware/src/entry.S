/*
 * ingot-fw's entry. PVH starts us in 32-bit protected mode, paging off, %ebx = hvm_start_info.
 * We build page tables that identity-map the low 4 GiB with 2 MiB pages, a GDT whose selectors
 * are the ones Linux's 64-bit boot protocol wants (__BOOT_CS 0x10, __BOOT_DS 0x18), switch to
 * long mode and call fw_main(start_info). Exceptions go to fw_exception(vector).
 */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* namesz */
    .long 4                 /* descsz */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .long pvh_entry

    .section .text.entry, "ax"
    .code32
    .globl pvh_entry
pvh_entry:
    cli
    cld
    movl %ebx, start_info_paddr

    /* BSS holds the page tables and the stack; a loader need not have zeroed it. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $3, %eax
    movl $pdpt, %edi
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    movl $pd, %edi
    movl $0x83, %eax        /* present, writable, 2 MiB page */
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    movl $pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x20, %eax         /* PAE */
    movl %eax, %cr4
    movl $0xc0000080, %ecx  /* EFER */
    rdmsr
    orl $0x100, %eax        /* LME */
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax   /* PG, PE */
    movl %eax, %cr0
    lgdt gdt_descriptor
    ljmp $0x10, $long_mode

    .code64
long_mode:
    movl $0x18, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    movl %eax, %fs
    movl %eax, %gs
    movq $stack_top, %rsp
    movl start_info_paddr, %edi
    call fw_main
3:  cli
    hlt
    jmp 3b

/* Every exception is fatal: record the vector and report it. */
    .macro exception_stub vector
exception_\vector:
    movl $\vector, %edi
    jmp exception_common
    .endm
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    exception_stub \v
    .endr
exception_common:
    andq $-16, %rsp
    call fw_exception
4:  cli
    hlt
    jmp 4b

    .section .rodata
    .balign 8
    .globl exception_stubs
exception_stubs:
    .irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_\v
    .endr

    .balign 8
gdt:
    .quad 0
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x10: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x18: data */
gdt_end:
gdt_descriptor:
    .word gdt_end - gdt - 1
    .quad gdt

    .data
    .balign 4
start_info_paddr:
    .long 0

    .bss
    .balign 4096
pml4:
    .skip 4096
pdpt:
    .skip 4096
pd:
    .skip 4 * 4096
stack:
    .skip 64 * 1024
stack_top:
