/* Wall-clock milliseconds for store timestamps.
 * Why: with the default system clock, a put reads the time through one C call
 * instead of a Python method (SystemClock.now_ms), which costs more than the
 * memcpy of a small message. An injected Clock (tests) is used as is. */
#ifndef RMQ_WALL_CLOCK_H
#define RMQ_WALL_CLOCK_H
#include <stdint.h>

int64_t rmq_now_ms(void);

#endif
