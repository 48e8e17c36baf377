/* The descriptor load rule (sdk/README.md, "Load rules and every
 * refusal"): what the node checks in a plugin's descriptor before it runs
 * any of the plugin's code, and the message for each refusal.
 *
 * One source for two users: the node's plugin host, and the SDK test
 * library (sdk/testing/loader.c), which links nothing else of the core and
 * compiles this file with -DCAIRN_PLUGIN_CHECK_DESCRIPTOR=<its own name>
 * so that its symbols keep its prefix. */
#include "plugin_check.h"

#include <inttypes.h>
#include <string.h>

#include <cairn/error.h>

/* The 1.0 descriptor ends with fini; later minors only append. */
#define DESCRIPTOR_SIZE_1_0                                                    \
  (offsetof (CairnPluginDescriptor, fini)                                      \
   + sizeof (((CairnPluginDescriptor *)0)->fini))

#define ID_RULE "[a-z0-9-]{1,32}"
#define MAX_SERVICES 64

/* Which C type sizes differ between two fingerprints ("sizeof(long):
 * plugin 4, host 8"); see CAIRN_BUILD_FINGERPRINT. */
static char *
fingerprint_diff (uint64_t plugin, uint64_t host)
{
  static const struct {
    const char *what;
    int shift;
  } parts[] = {
    { "marker", 56 },         { "sizeof(void *)", 32 }, { "sizeof(long)", 24 },
    { "sizeof(time_t)", 16 }, { "sizeof(size_t)", 8 },  { "sizeof(int)", 0 },
  };
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++) {
    unsigned p = (unsigned)((plugin >> parts[i].shift) & 0xff);
    unsigned h = (unsigned)((host >> parts[i].shift) & 0xff);
    if (p != h)
      g_string_append_printf (s, "%s%s: plugin %u, host %u", s->len ? ", " : "",
                              parts[i].what, p, h);
  }
  if (s->len == 0)
    g_string_append (s, "unused bits differ");
  return g_string_free (s, FALSE);
}

static gboolean
check_services (const char *file, const char *id, const char *field,
                const CairnServiceRef *list, GError **error)
{
  for (guint i = 0; list && list[i].name; i++) {
    if (i >= MAX_SERVICES) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                   "%s: plugin '%s' lists more than %d services (field "
                   "%s: plugin >%d entries, host at most %d); end the "
                   "list with {NULL, 0}",
                   file, id, MAX_SERVICES, field, MAX_SERVICES, MAX_SERVICES);
      return FALSE;
    }
    if (list[i].name[0] == '\0' || list[i].version == 0) {
      g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                   "%s: plugin '%s' has an invalid service (field "
                   "%s[%u]: plugin '%s' version %" PRIu32 ", host needs "
                   "a non-empty name and a version >= 1); fix .%s",
                   file, id, field, i, list[i].name, list[i].version, field);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
CAIRN_PLUGIN_CHECK_DESCRIPTOR (const char *file,
                               const CairnPluginDescriptor *raw,
                               CairnPluginDescriptor *out, GError **error)
{
  CairnPluginDescriptor d = { 0 };

  if (!raw) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: %s() returned NULL (field descriptor: plugin NULL, "
                 "host needs a descriptor); define it with "
                 "CAIRN_PLUGIN_DEFINE",
                 file, CAIRN_PLUGIN_ENTRY_SYMBOL);
    return FALSE;
  }
  if (raw->magic != CAIRN_PLUGIN_MAGIC) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: not a Cairn plugin descriptor (field magic: plugin "
                 "0x%08" PRIx32 ", host 0x%08x); build the plugin with "
                 "CAIRN_PLUGIN_DEFINE from cairn-sdk-%d",
                 file, raw->magic, CAIRN_PLUGIN_MAGIC, CAIRN_ABI_MAJOR);
    return FALSE;
  }
  if (raw->struct_size < DESCRIPTOR_SIZE_1_0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: descriptor is smaller than Cairn ABI %d.0 defines "
                 "(field struct_size: plugin %" PRIu32 ", host needs at "
                 "least %zu); rebuild the plugin against cairn-sdk-%d",
                 file, CAIRN_ABI_MAJOR, raw->struct_size,
                 (size_t)DESCRIPTOR_SIZE_1_0, CAIRN_ABI_MAJOR);
    return FALSE;
  }
  /* A newer plugin's descriptor may be longer: take the part we know. */
  memcpy (&d, raw, MIN ((size_t)raw->struct_size, sizeof d));

  if (d.abi_major != CAIRN_ABI_MAJOR) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: built for Cairn ABI %u.%u but this node speaks ABI "
                 "%d.%d (field abi_major: plugin %u, host %d); rebuild the "
                 "plugin against cairn-sdk-%d",
                 file, d.abi_major, d.abi_built_minor, CAIRN_ABI_MAJOR,
                 CAIRN_ABI_MINOR, d.abi_major, CAIRN_ABI_MAJOR,
                 CAIRN_ABI_MAJOR);
    return FALSE;
  }
  if (d.abi_min_minor > CAIRN_ABI_MINOR) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: needs Cairn ABI %u.%u or newer but this node speaks "
                 "ABI %d.%d (field abi_min_minor: plugin %u, host %d); "
                 "upgrade the node, or rebuild the plugin with a lower "
                 "CAIRN_PLUGIN_MIN_MINOR",
                 file, d.abi_major, d.abi_min_minor, CAIRN_ABI_MAJOR,
                 CAIRN_ABI_MINOR, d.abi_min_minor, CAIRN_ABI_MINOR);
    return FALSE;
  }
  if (d.build_fingerprint != CAIRN_BUILD_FINGERPRINT) {
    g_autofree char *diff
        = fingerprint_diff (d.build_fingerprint, CAIRN_BUILD_FINGERPRINT);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: built for a different C ABI (field build_fingerprint: "
                 "plugin 0x%016" PRIx64 ", host 0x%016" PRIx64 "; %s); "
                 "rebuild the plugin for the node's platform and compiler "
                 "target",
                 file, d.build_fingerprint, (uint64_t)CAIRN_BUILD_FINGERPRINT,
                 diff);
    return FALSE;
  }
  if (!d.id || !cairn_plugin_id_valid (d.id)) {
    g_autofree char *shown = d.id ? g_strescape (d.id, NULL) : NULL;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: invalid plugin id%s%s%s (field id: plugin %s%s%s, host "
                 "expects " ID_RULE ": lowercase letters, digits and '-'); "
                 "change .id in CAIRN_PLUGIN_DEFINE",
                 file, shown ? " '" : "", shown ? shown : "", shown ? "'" : "",
                 shown ? "'" : "", shown ? shown : "NULL", shown ? "'" : "");
    return FALSE;
  }
  if (cairn_plugin_id_reserved (d.id)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: plugin id '%s' is reserved for a core config group "
                 "(field id: plugin '%s', reserved: node, plugins, http, p2p, "
                 "mempool, block, core); choose another .id",
                 file, d.id, d.id);
    return FALSE;
  }
  if (!d.version) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: plugin '%s' has no version (field version: plugin "
                 "NULL, host requires a string); set .version in "
                 "CAIRN_PLUGIN_DEFINE",
                 file, d.id);
    return FALSE;
  }
  if (d.kinds == 0) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: plugin '%s' declares no kind (field kinds: plugin 0, "
                 "host requires at least one of consensus, storage, "
                 "blobstore, privacy, app, interface); set .kinds, e.g. "
                 "CAIRN_KIND_APP",
                 file, d.id);
    return FALSE;
  }
  if (!d.init) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: plugin '%s' has no init function (field init: plugin "
                 "NULL, host requires one); set .init in "
                 "CAIRN_PLUGIN_DEFINE",
                 file, d.id);
    return FALSE;
  }
  if (!check_services (file, d.id, "provides", d.provides, error)
      || !check_services (file, d.id, "requires", d.requires, error))
    return FALSE;

  *out = d;
  return TRUE;
}
