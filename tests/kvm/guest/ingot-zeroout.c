// ingot-zeroout DEVICE OFFSET LENGTH: BLKZEROOUT on a block device, which Linux turns into the
// device's WRITE_ZEROES request when it offers one (busybox's blkdiscard has no -z).
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: ingot-zeroout DEVICE OFFSET LENGTH\n");
        return 2;
    }
    uint64_t range[2] = {strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0)};
    int fd = open(argv[1], O_WRONLY);
    if (fd < 0) {
        perror("ingot-zeroout: open");
        return 1;
    }
    if (ioctl(fd, BLKZEROOUT, range) != 0) {
        perror("ingot-zeroout: BLKZEROOUT");
        return 1;
    }
    return close(fd) == 0 ? 0 : 1;
}
