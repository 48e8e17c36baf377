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
   * A plugin whose init fails is never fini'd: it frees what it made
   * before returning FALSE (and the node does not start).
   * start: the node is assembled (storage open, state at head, the P2P
   * transport up); begin work. A plugin whose start fails is not stopped,
   * but is fini'd.
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

/* The rule for plugin ids (the node refuses others at load time): 1 to 32
 * of a-z, 0-9 and '-'. */
static inline gboolean
cairn_plugin_id_valid (const char *id)
{
  size_t n = 0;
  if (id == NULL)
    return FALSE;
  for (; id[n] != '\0'; n++)
    if (n >= 32
        || !((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= '0' && id[n] <= '9')
             || id[n] == '-'))
      return FALSE;
  return n >= 1;
}

/* The node's own config groups, which no plugin id may take. */
#define CAIRN_PLUGIN_RESERVED_IDS                                              \
  "node", "plugins", "http", "mempool", "block", "core", "p2p"

static inline gboolean
cairn_plugin_id_reserved (const char *id)
{
  static const char *const reserved[] = { CAIRN_PLUGIN_RESERVED_IDS };
  for (size_t i = 0; id != NULL && i < sizeof reserved / sizeof *reserved; i++)
    if (g_strcmp0 (reserved[i], id) == 0)
      return TRUE;
  return FALSE;
}

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
