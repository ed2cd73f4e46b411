/*
 * A freestanding PVH guest that drives the monitor's first virtio-blk device (virtio-mmio at
 * 0xd0000000) as a hostile driver would: buffers outside guest RAM, looping chains, oversized
 * lengths, bad indirect tables, notifications for queues that do not exist or are not ready, an
 * available index far ahead of the device and rings misplaced at DRIVER_OK. After each case it
 * checks exactly what the device did (docs/vmm.md, "virtio devices"), and in between and at
 * the end that well-formed requests are still served. Interrupts stay off: the used ring and
 * the status register are polled with bounded spins.
 *
 * One line per case on COM1; at the end "hostile: all cases passed" and debug-exit 0 (monitor
 * status 1). A failed check prints "hostile: FAILED ..." and debug-exits with the case's code
 * (case * 10 + sub-case), so the monitor's status names it.
 *
 * The host test (tests/kvm/KvmHostileGuestTest.cpp) gives it one disk of 1 MiB: "HOSTILE-MARKER"
 * at byte 0, then pattern(i) = (i * 7 + (i >> 9)) & 0xff. Sector 8 is rewritten (case 8).
 *
 * Built -m32 -ffreestanding: PVH enters in 32-bit protected mode with paging off, so physical
 * addresses (guest RAM and the MMIO window alike) are used directly.
 */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* The PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) and the entry stub: a stack, then C. */
__asm__(
    ".pushsection .note.Xen, \"a\", @note\n"
    ".balign 4\n"
    ".long 4\n"
    ".long 4\n"
    ".long 18\n"
    ".asciz \"Xen\"\n"
    ".long pvh_entry\n"
    ".popsection\n"
    ".text\n"
    ".globl pvh_entry\n"
    "pvh_entry:\n"
    "  cli\n"
    "  cld\n"
    "  movl $hostile_stack + 16384, %esp\n"
    "  call hostile_main\n"
    "1: cli\n"
    "  hlt\n"
    "  jmp 1b\n");

__attribute__((aligned(16))) u8 hostile_stack[16384];
void hostile_main(void);

/* The compiler may emit calls to these even in freestanding code. */
void* memset(void* d, int c, __SIZE_TYPE__ n) {
    u8* p = d;
    while (n--) *p++ = (u8)c;
    return d;
}
void* memcpy(void* d, const void* s, __SIZE_TYPE__ n) {
    u8* p = d;
    const u8* q = s;
    while (n--) *p++ = *q++;
    return d;
}

/* ---- port I/O, console, exit ---- */

static inline void outb(u16 port, u8 v) {
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}

static void putc_(char c) {
    outb(0x3f8, (u8)c);
}
static void puts_(const char* s) {
    while (*s) putc_(*s++);
}
static void puthex(u64 v) {
    puts_("0x");
    int started = 0;
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = (unsigned)(v >> shift) & 15;
        if (d || started || shift == 0) {
            putc_("0123456789abcdef"[d]);
            started = 1;
        }
    }
}
static void putdec(u32 v) {
    char buf[12];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) putc_(buf[--n]);
}

static void debug_exit(u8 v) {
    outb(0xf4, v);
    for (;;) __asm__ volatile("cli; hlt");
}

static void fail(unsigned code, const char* what, u64 got) {
    puts_("hostile: FAILED case ");
    putdec(code);
    puts_(": ");
    puts_(what);
    puts_(" (got ");
    puthex(got);
    puts_(")\n");
    debug_exit((u8)code);
}

#define CHECK(code, cond, what, got)               \
    do {                                           \
        if (!(cond)) fail(code, what, (u64)(got)); \
    } while (0)

static inline u64 rdtsc(void) {
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}
static inline void barrier(void) {
    __asm__ volatile("mfence" ::: "memory");
}
static inline void pause_(void) {
    __asm__ volatile("pause" ::: "memory");
}

/* Bounded waits in TSC ticks: generous for what must happen (the rig is a TCG guest running
 * KVM), shorter for what must not. */
#define WAIT_SERVED (1ull << 34)
#define WAIT_IGNORED (1ull << 30)

/* ---- virtio-mmio ---- */

#define MMIO 0xd0000000u
enum {
    R_MAGIC = 0x000,
    R_VERSION = 0x004,
    R_DEVICE_ID = 0x008,
    R_DEVICE_FEATURES = 0x010,
    R_DEVICE_FEATURES_SEL = 0x014,
    R_DRIVER_FEATURES = 0x020,
    R_DRIVER_FEATURES_SEL = 0x024,
    R_QUEUE_SEL = 0x030,
    R_QUEUE_NUM_MAX = 0x034,
    R_QUEUE_NUM = 0x038,
    R_QUEUE_READY = 0x044,
    R_QUEUE_NOTIFY = 0x050,
    R_INTERRUPT_STATUS = 0x060,
    R_INTERRUPT_ACK = 0x064,
    R_STATUS = 0x070,
    R_DESC_LOW = 0x080,
    R_DESC_HIGH = 0x084,
    R_DRIVER_LOW = 0x090,
    R_DRIVER_HIGH = 0x094,
    R_DEVICE_LOW = 0x0a0,
    R_DEVICE_HIGH = 0x0a4,
    R_CONFIG_GENERATION = 0x0fc,
    R_CONFIG = 0x100,
};
enum { S_ACK = 1, S_DRIVER = 2, S_DRIVER_OK = 4, S_FEATURES_OK = 8, S_NEEDS_RESET = 64 };
enum { F_NEXT = 1, F_WRITE = 2, F_INDIRECT = 4 };
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4 };

static u32 rd(u32 off) {
    return *(volatile u32*)(MMIO + off);
}
static void wr(u32 off, u32 v) {
    *(volatile u32*)(MMIO + off) = v;
}

/* ---- guest memory layout (all inside the 64 MiB of RAM, clear of the payload at 1 MiB) ---- */

#define QSIZE 256u
#define DESC_AT 0x300000u
#define AVAIL_AT 0x301000u
#define USED_AT 0x302000u
#define HDR_AT 0x310000u
#define DATA_AT 0x311000u
#define STATUS_AT 0x312000u
#define IND_AT 0x320000u
#define IND2_AT 0x322000u
#define RAM_BYTES 0x4000000u

struct desc {
    u64 addr;
    u32 len;
    u16 flags;
    u16 next;
};
struct blk_header {
    u32 type;
    u32 reserved;
    u64 sector;
};

#define DESC ((volatile struct desc*)DESC_AT)
#define IND ((volatile struct desc*)IND_AT)
#define AVAIL_FLAGS (*(volatile u16*)(AVAIL_AT))
#define AVAIL_IDX (*(volatile u16*)(AVAIL_AT + 2))
#define AVAIL_RING(i) (*(volatile u16*)(AVAIL_AT + 4 + 2 * ((i) % QSIZE)))
#define USED_IDX (*(volatile u16*)(USED_AT + 2))
#define USED_ID(i) (*(volatile u32*)(USED_AT + 4 + 8 * ((i) % QSIZE)))
#define USED_LEN(i) (*(volatile u32*)(USED_AT + 8 + 8 * ((i) % QSIZE)))
#define HDR ((volatile struct blk_header*)HDR_AT)
#define DATA ((volatile u8*)DATA_AT)
#define STATUS (*(volatile u8*)STATUS_AT)

static u16 avail_idx; /* the driver's next available index */
static u16 used_seen; /* used entries consumed */

static void set_desc(volatile struct desc* table, unsigned i, u64 addr, u32 len, u16 flags,
                     u16 next) {
    table[i].addr = addr;
    table[i].len = len;
    table[i].flags = flags;
    table[i].next = next;
}

static void clear(u32 at, u32 n) {
    volatile u8* p = (volatile u8*)at;
    while (n--) *p++ = 0;
}

/* Layout overrides for case 7's misplaced rings. */
static u32 desc_at = DESC_AT, used_at = USED_AT;

/* Resets the device and sets it up again: VERSION_1 and INDIRECT_DESC, queue 0 of 256 entries.
 * Returns the status read back at the end. */
static u32 init_device(unsigned code) {
    wr(R_STATUS, 0);
    CHECK(code, rd(R_STATUS) == 0, "status after reset", rd(R_STATUS));
    CHECK(code, rd(R_INTERRUPT_STATUS) == 0, "interrupt status after reset",
          rd(R_INTERRUPT_STATUS));
    CHECK(code, rd(R_MAGIC) == 0x74726976, "magic", rd(R_MAGIC));
    CHECK(code, rd(R_VERSION) == 2, "version", rd(R_VERSION));
    CHECK(code, rd(R_DEVICE_ID) == 2, "device id", rd(R_DEVICE_ID));
    wr(R_STATUS, S_ACK);
    wr(R_STATUS, S_ACK | S_DRIVER);
    wr(R_DEVICE_FEATURES_SEL, 0);
    u32 lo = rd(R_DEVICE_FEATURES);
    wr(R_DEVICE_FEATURES_SEL, 1);
    u32 hi = rd(R_DEVICE_FEATURES);
    CHECK(code, lo & (1u << 28), "INDIRECT_DESC offered", lo);
    CHECK(code, hi & 1u, "VERSION_1 offered", hi);
    wr(R_DRIVER_FEATURES_SEL, 0);
    wr(R_DRIVER_FEATURES, 1u << 28);
    wr(R_DRIVER_FEATURES_SEL, 1);
    wr(R_DRIVER_FEATURES, 1u);
    wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    CHECK(code, rd(R_STATUS) & S_FEATURES_OK, "FEATURES_OK kept", rd(R_STATUS));
    wr(R_QUEUE_SEL, 0);
    CHECK(code, rd(R_QUEUE_READY) == 0, "queue 0 not ready after reset", rd(R_QUEUE_READY));
    CHECK(code, rd(R_QUEUE_NUM_MAX) >= QSIZE, "QueueNumMax", rd(R_QUEUE_NUM_MAX));
    clear(DESC_AT, 16 * QSIZE);
    clear(AVAIL_AT, 6 + 2 * QSIZE);
    clear(USED_AT, 6 + 8 * QSIZE);
    avail_idx = used_seen = 0;
    wr(R_QUEUE_NUM, QSIZE);
    wr(R_DESC_LOW, desc_at);
    wr(R_DESC_HIGH, 0);
    wr(R_DRIVER_LOW, AVAIL_AT);
    wr(R_DRIVER_HIGH, 0);
    wr(R_DEVICE_LOW, used_at);
    wr(R_DEVICE_HIGH, 0);
    wr(R_QUEUE_READY, 1);
    wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
    return rd(R_STATUS);
}

static void notify(u32 queue) {
    barrier();
    wr(R_QUEUE_NOTIFY, queue);
}

/* Makes chain `head` available and notifies queue 0. */
static void submit(u16 head) {
    AVAIL_RING(avail_idx) = head;
    barrier();
    AVAIL_IDX = ++avail_idx;
    notify(0);
}

/* Waits for the next used element; returns its length and checks its id. */
static u32 wait_used(unsigned code, u16 head) {
    u64 start = rdtsc();
    while (USED_IDX == used_seen) {
        if (rdtsc() - start > WAIT_SERVED) fail(code, "no used element within the bound", USED_IDX);
        pause_();
    }
    barrier();
    CHECK(code, (u16)(USED_IDX - used_seen) == 1, "exactly one used element", USED_IDX - used_seen);
    u32 id = USED_ID(used_seen), len = USED_LEN(used_seen);
    ++used_seen;
    CHECK(code, id == head, "used element id", id);
    return len;
}

/* Waits a while and checks that the device did nothing with the used ring. */
static void expect_idle(unsigned code) {
    u64 start = rdtsc();
    while (rdtsc() - start < WAIT_IGNORED) {
        CHECK(code, USED_IDX == used_seen, "the device returned a chain it should have ignored",
              USED_IDX);
        pause_();
    }
}

/* Prepares header, data and status buffers. */
static void prepare(u32 type, u64 sector) {
    HDR->type = type;
    HDR->reserved = 0;
    HDR->sector = sector;
    for (u32 i = 0; i < 512; ++i) DATA[i] = 0x5a;
    STATUS = 0xee;
}

/* A well-formed three-descriptor read of `sector` into DATA. */
static void chain_read(u64 sector) {
    prepare(T_IN, sector);
    set_desc(DESC, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(DESC, 1, DATA_AT, 512, F_WRITE | F_NEXT, 2);
    set_desc(DESC, 2, STATUS_AT, 1, F_WRITE, 0);
}

static u8 pattern(u32 i) {
    return (u8)(i * 7 + (i >> 9));
}
static const char marker[] = "HOSTILE-MARKER";
static const char wrote[] = "HOSTILE-WROTE-SECTOR-8";

static void check_sector0(unsigned code) {
    for (u32 i = 0; i < 512; ++i) {
        u8 want = i < sizeof marker - 1 ? (u8)marker[i] : pattern(i);
        CHECK(code, DATA[i] == want, "sector 0 data", i);
    }
}

/* A chain the device must hand back unused: length 0, status byte untouched. */
static void expect_unused(unsigned code, const char* line) {
    submit(0);
    u32 len = wait_used(code, 0);
    CHECK(code, len == 0, "used length of a refused chain", len);
    CHECK(code, STATUS == 0xee, "status byte of a refused chain", STATUS);
    puts_(line);
    puts_(": returned unused (len 0)\n");
}

/* A well-formed chain the device must answer with `status` and `len`. */
static void expect_answer(unsigned code, u32 want_len, u8 want_status) {
    submit(0);
    u32 len = wait_used(code, 0);
    CHECK(code, len == want_len, "used length", len);
    CHECK(code, STATUS == want_status, "status byte", STATUS);
}

/* Waits for DEVICE_NEEDS_RESET and its configuration-change interrupt. */
static void expect_needs_reset(unsigned code, const char* line) {
    u64 start = rdtsc();
    while (!(rd(R_STATUS) & S_NEEDS_RESET)) {
        if (rdtsc() - start > WAIT_SERVED)
            fail(code, "no DEVICE_NEEDS_RESET within the bound", rd(R_STATUS));
        pause_();
    }
    u32 status = rd(R_STATUS);
    CHECK(code, status == (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK | S_NEEDS_RESET),
          "status with DEVICE_NEEDS_RESET", status);
    CHECK(code, rd(R_INTERRUPT_STATUS) & 2, "configuration-change interrupt",
          rd(R_INTERRUPT_STATUS));
    CHECK(code, USED_IDX == used_seen, "used ring untouched", USED_IDX);
    /* The queue stays stopped: a further notification changes nothing. */
    notify(0);
    expect_idle(code);
    wr(R_INTERRUPT_ACK, 3);
    puts_(line);
    puts_(": DEVICE_NEEDS_RESET (status ");
    puthex(status);
    puts_(") with a configuration-change interrupt; reset\n");
}

void hostile_main(void) {
    puts_("hostile: start\n");
    u32 status = init_device(10);
    CHECK(10, status == 0xf, "status after DRIVER_OK", status);
    CHECK(10, rd(R_CONFIG) == 2048, "capacity (sectors, low half)", rd(R_CONFIG));

    /* 1: a well-formed read first. */
    chain_read(0);
    expect_answer(11, 513, 0);
    check_sector0(11);
    CHECK(11, rd(R_INTERRUPT_STATUS) & 1, "used-buffer interrupt status", rd(R_INTERRUPT_STATUS));
    wr(R_INTERRUPT_ACK, 1);
    puts_("hostile: 1 well-formed read of sector 0: len 513, status 0, marker read\n");

    /* 2: buffers and descriptors out of range. */
    chain_read(0);
    set_desc(DESC, 1, 0xfff00000u, 512, F_WRITE | F_NEXT, 2);
    expect_unused(21, "hostile: 2a data buffer at 0xfff00000");
    chain_read(0);
    set_desc(DESC, 1, 0x3ff00000u, 512, F_WRITE | F_NEXT, 2);
    expect_unused(22, "hostile: 2b data buffer at 0x3ff00000 (past the 64 MiB of RAM)");
    chain_read(0);
    set_desc(DESC, 1, RAM_BYTES - 256, 512, F_WRITE | F_NEXT, 2);
    expect_unused(23, "hostile: 2c data buffer straddling the end of RAM");
    chain_read(0);
    set_desc(DESC, 0, 0xfff00000u, 16, F_NEXT, 1);
    expect_unused(24, "hostile: 2d request header at 0xfff00000");
    chain_read(0);
    set_desc(DESC, 1, DATA_AT, 512, F_WRITE | F_NEXT, 300);
    expect_unused(25, "hostile: 2e next descriptor 300 in a table of 256");
    chain_read(0);
    set_desc(DESC, 0, HDR_AT, 16, F_NEXT, 1);
    DESC[0].addr = 0x100000000ull | HDR_AT; /* above 4 GiB: no RAM there with 64 MiB */
    expect_unused(26, "hostile: 2f request header at 0x100310000 (above 4 GiB)");

    /* 3: looping chains. */
    chain_read(0);
    set_desc(DESC, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(DESC, 1, HDR_AT, 16, F_NEXT, 0);
    expect_unused(31, "hostile: 3a looping chain 0 -> 1 -> 0");
    chain_read(0);
    set_desc(DESC, 0, DATA_AT, 512, F_WRITE | F_NEXT, 0);
    expect_unused(32, "hostile: 3b descriptor chained to itself");
    chain_read(0);
    set_desc(DESC, 2, STATUS_AT, 1, F_WRITE | F_NEXT, 1);
    expect_unused(33, "hostile: 3c loop back from the status descriptor 2 -> 1");

    /* 4: oversized and empty lengths; requests past the disk's end. */
    chain_read(0);
    set_desc(DESC, 1, DATA_AT, 0xffffffffu, F_WRITE | F_NEXT, 2);
    expect_unused(41, "hostile: 4a data buffer of 0xffffffff bytes");
    chain_read(0);
    for (unsigned i = 1; i <= 65; ++i)
        set_desc(DESC, i, 0, RAM_BYTES, F_WRITE | F_NEXT, (u16)(i + 1));
    set_desc(DESC, 66, STATUS_AT, 1, F_WRITE, 0);
    expect_answer(42, 1, 1);
    puts_(
        "hostile: 4b read into 65 x 64 MiB buffers (over 4 GiB in all): IOERR (len 1, status 1)\n");
    chain_read(0);
    set_desc(DESC, 1, DATA_AT, 0, F_WRITE | F_NEXT, 2);
    expect_unused(43, "hostile: 4c empty data buffer");
    chain_read(2048);
    expect_answer(44, 1, 1);
    for (u32 i = 0; i < 512; ++i) CHECK(44, DATA[i] == 0x5a, "data of a failed read", i);
    puts_("hostile: 4d read of sector 2048 of 2048: IOERR (len 1, status 1)\n");
    prepare(T_OUT, 0xffffffffffffffffull);
    set_desc(DESC, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(DESC, 1, DATA_AT, 512, F_NEXT, 2);
    set_desc(DESC, 2, STATUS_AT, 1, F_WRITE, 0);
    expect_answer(45, 1, 1);
    puts_("hostile: 4e write at sector 0xffffffffffffffff: IOERR (len 1, status 1)\n");

    /* 5: indirect tables (INDIRECT_DESC negotiated). */
    prepare(T_IN, 0);
    set_desc(IND, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(IND, 1, DATA_AT, 512, F_WRITE | F_NEXT, 2);
    set_desc(IND, 2, STATUS_AT, 1, F_WRITE, 0);
    set_desc(DESC, 0, IND_AT, 48, F_INDIRECT, 0);
    expect_answer(51, 513, 0);
    check_sector0(51);
    puts_("hostile: 5a well-formed indirect read: len 513, status 0\n");
    prepare(T_IN, 0);
    set_desc((volatile struct desc*)IND2_AT, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc((volatile struct desc*)IND2_AT, 1, DATA_AT, 512, F_WRITE | F_NEXT, 2);
    set_desc((volatile struct desc*)IND2_AT, 2, STATUS_AT, 1, F_WRITE, 0);
    set_desc(IND, 0, IND2_AT, 48, F_INDIRECT, 0);
    set_desc(DESC, 0, IND_AT, 16, F_INDIRECT, 0);
    expect_unused(52, "hostile: 5b indirect table inside an indirect table");
    prepare(T_IN, 0);
    set_desc(IND, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(DESC, 0, IND_AT, 40, F_INDIRECT, 0);
    expect_unused(53, "hostile: 5c indirect table of 40 bytes");
    set_desc(DESC, 0, IND_AT, 48, F_INDIRECT | F_NEXT, 1);
    set_desc(DESC, 1, STATUS_AT, 1, F_WRITE, 0);
    expect_unused(54, "hostile: 5d indirect descriptor with NEXT");
    set_desc(DESC, 0, 0xfff00000u, 48, F_INDIRECT, 0);
    expect_unused(55, "hostile: 5e indirect table at 0xfff00000");
    set_desc(DESC, 0, IND_AT, 0, F_INDIRECT, 0);
    expect_unused(56, "hostile: 5f indirect table of 0 bytes");
    set_desc(IND, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(IND, 1, HDR_AT, 16, F_NEXT, 0);
    set_desc(DESC, 0, IND_AT, 32, F_INDIRECT, 0);
    expect_unused(57, "hostile: 5g looping chain inside an indirect table");
    set_desc(DESC, 0, IND_AT, 257 * 16, F_INDIRECT, 0);
    expect_unused(58, "hostile: 5h indirect table of 257 descriptors");

    /* 6: notifications for queues that do not exist or are not ready. */
    chain_read(0);
    notify(5);
    expect_idle(61);
    puts_("hostile: 6a QueueNotify 5 (no such queue): ignored\n");
    notify(0xffff);
    expect_idle(62);
    puts_("hostile: 6b QueueNotify 0xffff (no such queue): ignored\n");
    wr(R_QUEUE_SEL, 0);
    wr(R_QUEUE_READY, 0);
    CHECK(63, rd(R_QUEUE_READY) == 0, "QueueReady read back", rd(R_QUEUE_READY));
    submit(0);
    expect_idle(63);
    CHECK(63, STATUS == 0xee, "status byte of a request on a disabled queue", STATUS);
    /* Enabled again, the queue starts afresh (the device resets its used index). */
    clear(AVAIL_AT, 6 + 2 * QSIZE);
    clear(USED_AT, 6 + 8 * QSIZE);
    avail_idx = used_seen = 0;
    wr(R_QUEUE_READY, 1);
    CHECK(63, rd(R_QUEUE_READY) == 1, "QueueReady read back", rd(R_QUEUE_READY));
    chain_read(0);
    expect_answer(63, 513, 0);
    check_sector0(63);
    puts_(
        "hostile: 6c notification while queue 0 is not ready: ignored; enabled again, served (len "
        "513, status 0)\n");
    chain_read(0);
    wr(R_STATUS, 0);
    AVAIL_RING(avail_idx) = 0;
    AVAIL_IDX = ++avail_idx;
    notify(0);
    expect_idle(64);
    CHECK(64, STATUS == 0xee, "status byte of a request to a reset device", STATUS);
    puts_("hostile: 6d notification after a reset, before the queue is set up: ignored\n");

    /* 7: rings the device cannot trust. */
    status = init_device(71);
    CHECK(71, status == 0xf, "status after DRIVER_OK", status);
    AVAIL_IDX = (u16)(avail_idx + QSIZE + 1);
    notify(0);
    expect_needs_reset(71, "hostile: 7a available index 257 ahead of the device");
    status = init_device(72);
    CHECK(72, status == 0xf, "status after DRIVER_OK", status);
    submit(300);
    expect_needs_reset(72, "hostile: 7b chain head 300 in a table of 256");
    desc_at = 0xfff00000u;
    status = init_device(73);
    desc_at = DESC_AT;
    CHECK(73, status & S_NEEDS_RESET, "DEVICE_NEEDS_RESET at DRIVER_OK", status);
    chain_read(0);
    submit(0);
    expect_needs_reset(73, "hostile: 7c descriptor table at 0xfff00000 at DRIVER_OK");
    used_at = USED_AT + 2;
    status = init_device(74);
    used_at = USED_AT;
    CHECK(74, status & S_NEEDS_RESET, "DEVICE_NEEDS_RESET at DRIVER_OK", status);
    chain_read(0);
    submit(0);
    expect_needs_reset(74, "hostile: 7d used ring misaligned at DRIVER_OK");

    /* 8: after a reset, well-formed requests are served. */
    status = init_device(81);
    CHECK(81, status == 0xf, "status after DRIVER_OK", status);
    chain_read(0);
    expect_answer(81, 513, 0);
    check_sector0(81);
    prepare(T_OUT, 8);
    for (u32 i = 0; i < 512; ++i) DATA[i] = i < sizeof wrote - 1 ? (u8)wrote[i] : (u8)(i * 3 + 1);
    set_desc(DESC, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(DESC, 1, DATA_AT, 512, F_NEXT, 2);
    set_desc(DESC, 2, STATUS_AT, 1, F_WRITE, 0);
    expect_answer(82, 1, 0);
    prepare(T_FLUSH, 0);
    set_desc(DESC, 0, HDR_AT, 16, F_NEXT, 1);
    set_desc(DESC, 1, STATUS_AT, 1, F_WRITE, 0);
    expect_answer(83, 1, 0);
    chain_read(8);
    expect_answer(84, 513, 0);
    for (u32 i = 0; i < 512; ++i) {
        u8 want = i < sizeof wrote - 1 ? (u8)wrote[i] : (u8)(i * 3 + 1);
        CHECK(84, DATA[i] == want, "sector 8 read back", i);
    }
    puts_(
        "hostile: 8 after the resets: read of sector 0 ok, write of sector 8 ok, flush ok, read "
        "back ok\n");

    puts_("hostile: all cases passed\n");
    debug_exit(0);
}
