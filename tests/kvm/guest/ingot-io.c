// ingot-io PORT VALUE [WIDTH]: one OUT instruction from guest userspace, for the monitor's
// guest contracts (boot-progress port 0x440, debug-exit port 0xf4). WIDTH is 1, 2 or 4 bytes.
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ingot-io PORT VALUE [WIDTH]\n");
        return 2;
    }
    unsigned long port = strtoul(argv[1], NULL, 0);
    unsigned long value = strtoul(argv[2], NULL, 0);
    unsigned long width = argc > 3 ? strtoul(argv[3], NULL, 0) : 4;
    if (port > 0xffff || (width != 1 && width != 2 && width != 4)) {
        fprintf(stderr, "ingot-io: bad port or width\n");
        return 2;
    }
    if (ioperm(port, width, 1) != 0) {
        perror("ingot-io: ioperm");
        return 1;
    }
    if (width == 1)
        outb((unsigned char)value, port);
    else if (width == 2)
        outw((unsigned short)value, port);
    else
        outl((unsigned)value, port);
    return 0;
}
