/* Cairn SDK — ABI version, build fingerprint and symbol visibility.
 *
 * The compatibility promise lives in sdk/README.md. In short: a minor
 * release only appends (new host functions at the end of CairnHost, new
 * fields at the end of interface structs); anything else bumps the major.
 */
#pragma once

#include <stdint.h>
#include <time.h>

#define CAIRN_ABI_MAJOR 1
#define CAIRN_ABI_MINOR 4

/* "CAIRNPLG" folded into 32 bits; first field of every descriptor. */
#define CAIRN_PLUGIN_MAGIC 0xCA1E9106u

/* A padding-free integer describing the C ABI the plugin was compiled for:
 * byte order marker, then sizeof(void *), long, time_t, size_t, int.
 * A plugin and a host must agree exactly. */
#define CAIRN_BUILD_FINGERPRINT                                                \
  ((uint64_t)0xCA << 56 | (uint64_t)(sizeof (void *)) << 32                    \
   | (uint64_t)(sizeof (long)) << 24 | (uint64_t)(sizeof (time_t)) << 16       \
   | (uint64_t)(sizeof (size_t)) << 8 | (uint64_t)(sizeof (int)))

#if defined(__GNUC__)
#define CAIRN_EXPORT __attribute__ ((visibility ("default")))
#else
#define CAIRN_EXPORT
#endif

/* True when a table/struct that starts with `uint32_t size` is large enough
 * to hold `field`, i.e. the other side was built with a version that had it. */
#define CAIRN_STRUCT_HAS(ptr, size, field)                                     \
  ((size) >= offsetof (__typeof__ (*(ptr)), field) + sizeof ((ptr)->field))
