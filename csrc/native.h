/* Umbrella header for the cffi extension: one include per concept. */
#include "crc32.h"
