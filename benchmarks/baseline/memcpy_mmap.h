/* Declarations shared by memcpy_mmap.c and the cffi cdef (read verbatim by the benchmark). */
typedef struct {
    uint8_t *base;
    uint64_t size;
    uint64_t pos;
    int fd;
} mm_region;

int mm_open(mm_region *region, const char *path, uint64_t size, int prefault);
uint64_t mm_copy_records(mm_region *region, const uint8_t *records, uint32_t record_size, uint32_t count);
void mm_close(mm_region *region);
