/* Umbrella header for the cffi extension: one include per concept. */
#include "crc32.h"
#include "mapped_file.h"
#include "warm_ahead.h"
#include "consume_queue.h"
#include "index_file.h"
#include "commitlog.h"
#include "group_commit.h"
#include "wall_clock.h"
