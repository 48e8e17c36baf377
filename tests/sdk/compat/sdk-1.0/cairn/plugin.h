/* Cairn SDK — the plugin descriptor and CAIRN_PLUGIN_DEFINE.
 *
 * A plugin shared object exports exactly one symbol,
 * `cairn_plugin_descriptor`, a function returning a pointer to a constant
 * CairnPluginDescriptor. The host validates the descriptor before it runs
 * any other code of the plugin (see sdk/README.md, "Load rules").
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "abi.h"

typedef struct CairnHost CairnHost;
/* The host's handle for one loaded plugin; passed back on every host call so
 * the core knows whose namespace, config section and log domain to use. */
typedef struct CairnPlugin CairnPlugin;

typedef enum {
  CAIRN_KIND_CONSENSUS = 1u << 0,
  CAIRN_KIND_STORAGE = 1u << 1,
  CAIRN_KIND_BLOBSTORE = 1u << 2,
  CAIRN_KIND_PRIVACY = 1u << 3,
  CAIRN_KIND_APP = 1u << 4,
  CAIRN_KIND_INTERFACE = 1u << 5,
} CairnPluginKind;
#define CAIRN_KIND_ALL 0x3fu

/* A named, versioned service ("cairn.bank", 1). Lists end with {NULL, 0}. */
typedef struct CairnServiceRef {
  const char *name;
  uint32_t version;
  uint32_t reserved;
} CairnServiceRef;

typedef struct CairnPluginDescriptor {
  uint32_t magic;           /* CAIRN_PLUGIN_MAGIC */
  uint32_t struct_size;     /* sizeof(CairnPluginDescriptor) when built */
  uint16_t abi_major;       /* must equal the host's major */
  uint16_t abi_min_minor;   /* oldest host minor this plugin works with */
  uint16_t abi_built_minor; /* the SDK minor it was compiled against */
  uint16_t reserved0;
  uint64_t build_fingerprint; /* CAIRN_BUILD_FINGERPRINT */

  const char *id; /* [a-z0-9-]{1,32}; also the config group and state ns */
  const char *version;
  const char *vendor;
  const char *license;
  const char *description;
  uint32_t kinds; /* CairnPluginKind bits */
  uint32_t reserved1;
  const CairnServiceRef *provides; /* may be NULL */
  const CairnServiceRef *requires; /* may be NULL */

  /* init: read config, register interfaces/tx types/routes/services. Runs
   * in dependency order; services of required plugins are available.
   * start: the node is assembled (storage open, state at head); begin work.
   * stop/fini: reverse order. Any of them may be NULL except init. */
  gboolean (*init) (CairnPlugin *self, const CairnHost *host, GError **error);
  gboolean (*start) (CairnPlugin *self, GError **error);
  void (*stop) (CairnPlugin *self);
  void (*fini) (CairnPlugin *self);
} CairnPluginDescriptor;

#if UINTPTR_MAX == 0xffffffffffffffffu
_Static_assert(sizeof (CairnPluginDescriptor) == 120,
               "CairnPluginDescriptor layout is ABI: append only");
#endif

typedef const CairnPluginDescriptor *(*CairnPluginEntry) (void);
#define CAIRN_PLUGIN_ENTRY_SYMBOL "cairn_plugin_descriptor"

/* A plugin that calls host functions added in minor N defines this to N
 * before including the SDK, and is then refused by older hosts by name. */
#ifndef CAIRN_PLUGIN_MIN_MINOR
#define CAIRN_PLUGIN_MIN_MINOR 0
#endif

/* CAIRN_PLUGIN_DEFINE(c_name, .id = "...", .version = ..., ...)
 *
 * Emits the descriptor, the exported entry point (unless the plugin is built
 * with -DCAIRN_PLUGIN_STATIC for linking into a test binary) and a per-plugin
 * alias `cairn_plugin_descriptor_<c_name>` usable when linked statically. */
#ifdef CAIRN_PLUGIN_STATIC
#define CAIRN__PLUGIN_EXPORTED_ENTRY(c_name)
#else
#define CAIRN__PLUGIN_EXPORTED_ENTRY(c_name)                                   \
  CAIRN_EXPORT const CairnPluginDescriptor *cairn_plugin_descriptor (void);    \
  CAIRN_EXPORT const CairnPluginDescriptor *cairn_plugin_descriptor (void)     \
  {                                                                            \
    return &cairn__descriptor_##c_name;                                        \
  }
#endif

#define CAIRN_PLUGIN_DEFINE(c_name, ...)                                       \
  static const CairnPluginDescriptor cairn__descriptor_##c_name                \
      = { .magic = CAIRN_PLUGIN_MAGIC,                                         \
          .struct_size = sizeof (CairnPluginDescriptor),                       \
          .abi_major = CAIRN_ABI_MAJOR,                                        \
          .abi_min_minor = CAIRN_PLUGIN_MIN_MINOR,                             \
          .abi_built_minor = CAIRN_ABI_MINOR,                                  \
          .build_fingerprint = CAIRN_BUILD_FINGERPRINT,                        \
          __VA_ARGS__ };                                                       \
  const CairnPluginDescriptor *cairn_plugin_descriptor_##c_name (void);        \
  const CairnPluginDescriptor *cairn_plugin_descriptor_##c_name (void)         \
  {                                                                            \
    return &cairn__descriptor_##c_name;                                        \
  }                                                                            \
  CAIRN__PLUGIN_EXPORTED_ENTRY (c_name)
