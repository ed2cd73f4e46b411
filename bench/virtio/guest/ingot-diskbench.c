// ingot-diskbench DEVICE PHASE SECONDS [THREADS]: one virtio-blk workload for bench/virtio.
//
// PHASE is seq-read or seq-write (1 MiB requests from one thread, wrapping at the end of the
// device) or rand-read or rand-write (4 KiB requests at 4 KiB-aligned offsets from a fixed-seed
// PRNG, THREADS threads, default 4, each with one request in flight, so up to 4 are queued).
// O_DIRECT keeps the guest's page cache out: every byte counted crosses the virtio queue.
//
// Prints "INGOT-BENCH-START phase=P" and then sleeps SETTLE_NS before any I/O, so the host,
// which samples the VM's exit counter when it reads that line, has sampled before the first
// request; the result line "INGOT-BENCH phase=P bytes=N seconds=T ops=N" is printed after the
// last request (and, for writes, the flush) completed, so the host's second sample covers it.
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SEQ_BLOCK (1u << 20)
#define RAND_BLOCK 4096u
#define MAX_THREADS 64
#define SETTLE_NS 250000000L

struct worker {
    int fd;
    int write;
    int random;
    uint64_t deviceBytes;
    uint64_t seed;
    double deadline;
    uint64_t bytes;
    uint64_t ops;
    int failed;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// xorshift64*: a fixed seed gives every monitor the same offsets in the same order per thread.
static uint64_t next(uint64_t* s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void* run(void* arg) {
    struct worker* w = arg;
    size_t block = w->random ? RAND_BLOCK : SEQ_BLOCK;
    void* buf;
    if (posix_memalign(&buf, 4096, block) != 0) {
        w->failed = 1;
        return NULL;
    }
    memset(buf, 0xa5, block);
    uint64_t blocks = w->deviceBytes / block, seqBlock = 0;
    while (now() < w->deadline) {
        uint64_t index = w->random ? next(&w->seed) % blocks : seqBlock++ % blocks;
        off_t offset = (off_t)(index * block);
        ssize_t n = w->write ? pwrite(w->fd, buf, block, offset) : pread(w->fd, buf, block, offset);
        if (n != (ssize_t)block) {
            perror(w->write ? "ingot-diskbench: pwrite" : "ingot-diskbench: pread");
            w->failed = 1;
            break;
        }
        w->bytes += block;
        w->ops++;
    }
    free(buf);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: ingot-diskbench DEVICE seq-read|seq-write|rand-read|rand-write SECONDS [THREADS]\n");
        return 2;
    }
    const char* phase = argv[2];
    int write = strstr(phase, "write") != NULL, random = strncmp(phase, "rand-", 5) == 0;
    if (!(strcmp(phase, "seq-read") == 0 || strcmp(phase, "seq-write") == 0 ||
          strcmp(phase, "rand-read") == 0 || strcmp(phase, "rand-write") == 0)) {
        fprintf(stderr, "ingot-diskbench: unknown phase '%s'\n", phase);
        return 2;
    }
    double seconds = strtod(argv[3], NULL);
    int threads = random ? (argc == 5 ? atoi(argv[4]) : 4) : 1;
    if (seconds <= 0 || threads < 1 || threads > MAX_THREADS) {
        fprintf(stderr, "ingot-diskbench: bad SECONDS or THREADS\n");
        return 2;
    }
    int fd = open(argv[1], (write ? O_RDWR : O_RDONLY) | O_DIRECT);
    uint64_t deviceBytes = 0;
    if (fd < 0 || ioctl(fd, BLKGETSIZE64, &deviceBytes) != 0 || deviceBytes < SEQ_BLOCK) {
        perror("ingot-diskbench: open");
        return 1;
    }

    printf("INGOT-BENCH-START phase=%s\n", phase);
    fflush(stdout);
    nanosleep(&(struct timespec){0, SETTLE_NS}, NULL);

    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    double start = now();
    for (int i = 0; i < threads; ++i) {
        w[i] = (struct worker){.fd = fd, .write = write, .random = random, .deviceBytes = deviceBytes,
                               .seed = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(i + 1), .deadline = start + seconds};
        if (pthread_create(&tid[i], NULL, run, &w[i]) != 0) {
            fprintf(stderr, "ingot-diskbench: pthread_create failed\n");
            return 1;
        }
    }
    uint64_t bytes = 0, ops = 0;
    int failed = 0;
    for (int i = 0; i < threads; ++i) {
        pthread_join(tid[i], NULL);
        bytes += w[i].bytes;
        ops += w[i].ops;
        failed |= w[i].failed;
    }
    // The device offers a volatile write cache; a write phase ends when its data is flushed.
    if (write && fdatasync(fd) != 0) {
        perror("ingot-diskbench: fdatasync");
        failed = 1;
    }
    double elapsed = now() - start;
    close(fd);
    if (failed) return 1;
    printf("INGOT-BENCH phase=%s bytes=%llu seconds=%.6f ops=%llu\n", phase, (unsigned long long)bytes,
           elapsed, (unsigned long long)ops);
    fflush(stdout);
    return 0;
}
