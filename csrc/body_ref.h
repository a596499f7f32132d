/* One message of a batch whose bodies stay where the caller has them (Python bytes
 * objects): rmq_put_batch copies each straight into its record, with no joined copy
 * first. Filled by rmqcore.store._batch_gather (batch_gather.c). */
#ifndef RMQ_BODY_REF_H
#define RMQ_BODY_REF_H
#include <stdint.h>

typedef struct {
    const char *body;
    int32_t body_len;
    int32_t flag;
} rmq_body_ref;

#endif
