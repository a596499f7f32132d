/* The ceiling the store's append is measured against: a plain loop memcpy-ing
 * ready-made records into a MAP_SHARED mapping of a file, nothing else (no
 * encoding, no CRC, no ConsumeQueue or index entry, no flush).
 *
 * The benchmark compiles this file with cffi into a temporary directory and
 * calls mm_copy_records once per batch of N records, the way the store is
 * called once per put_batch, so the Python->C call overhead is amortised over
 * the same number of records on both sides.
 */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memcpy_mmap.h"

int mm_open(mm_region *region, const char *path, uint64_t size, int prefault)
{
    memset(region, 0, sizeof(*region));
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    if (ftruncate(fd, (off_t)size) != 0) {
        close(fd);
        return -1;
    }
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        close(fd);
        return -1;
    }
    region->base = base;
    region->size = size;
    region->fd = fd;
    /* With prefault, touch every page once now: a first touch costs microseconds
     * and would otherwise be timed. Without it, every timed copy into a new page
     * pays that fault, as an append-only log that does not warm its files does. */
    if (prefault) {
        long page = sysconf(_SC_PAGESIZE);
        for (uint64_t off = 0; off < size; off += (uint64_t)page)
            region->base[off] = 0;
    }
    return 0;
}

uint64_t mm_copy_records(mm_region *region, const uint8_t *records, uint32_t record_size, uint32_t count)
{
    uint64_t pos = region->pos;
    for (uint32_t i = 0; i < count; i++) {
        /* Wrap like a ring: the mapping is reused instead of growing, so every
         * timed copy lands on an already-faulted page. */
        if (pos + record_size > region->size)
            pos = 0;
        memcpy(region->base + pos, records + (uint64_t)i * record_size, record_size);
        pos += record_size;
    }
    region->pos = pos;
    return pos;
}

void mm_close(mm_region *region)
{
    if (region->base)
        munmap(region->base, region->size);
    if (region->fd > 0)
        close(region->fd);
    memset(region, 0, sizeof(*region));
}
