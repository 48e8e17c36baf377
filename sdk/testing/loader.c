/* Loading a plugin's shared object and checking its descriptor by the
 * node's load rule: see <cairn/testing/fake_host.h>. The rule and the shape
 * of the messages are the node's (sdk/README.md, "Load rules"); the
 * library has its own copy because it links nothing of the core. */
#include "cairn/testing/fake_host.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <string.h>

/* The 1.0 descriptor ends with fini; later minors only append. */
#define DESCRIPTOR_SIZE_1_0                                                    \
  (offsetof (CairnPluginDescriptor, fini)                                      \
   + sizeof (((CairnPluginDescriptor *)0)->fini))

#define ID_RULE "[a-z0-9-]{1,32}"
#define MAX_SERVICES 64

static const char *const reserved_ids[] = {
  "node", "plugins", "http", "mempool", "block", "core", "p2p",
};

static gboolean
id_valid (const char *id)
{
  size_t n = 0;
  for (; id[n]; n++)
    if (n >= 32
        || !(g_ascii_islower (id[n]) || g_ascii_isdigit (id[n])
             || id[n] == '-'))
      return FALSE;
  return n >= 1;
}

static gboolean
id_reserved (const char *id)
{
  for (guint i = 0; i < G_N_ELEMENTS (reserved_ids); i++)
    if (strcmp (reserved_ids[i], id) == 0)
      return TRUE;
  return FALSE;
}

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
cairn_test_plugin_check_descriptor (const char *file,
                                    const CairnPluginDescriptor *raw,
                                    GError **error)
{
  CairnPluginDescriptor d = { 0 };

  if (raw == NULL) {
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
                 "%s: built for Cairn ABI %u.%u but this SDK (and a node "
                 "built with it) speaks ABI %d.%d (field abi_major: plugin "
                 "%u, host %d); rebuild the plugin against cairn-sdk-%d",
                 file, d.abi_major, d.abi_built_minor, CAIRN_ABI_MAJOR,
                 CAIRN_ABI_MINOR, d.abi_major, CAIRN_ABI_MAJOR,
                 CAIRN_ABI_MAJOR);
    return FALSE;
  }
  if (d.abi_min_minor > CAIRN_ABI_MINOR) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: needs Cairn ABI %u.%u or newer but this SDK speaks "
                 "ABI %d.%d (field abi_min_minor: plugin %u, host %d); "
                 "use a newer cairn-sdk-%d, or rebuild the plugin with a "
                 "lower CAIRN_PLUGIN_MIN_MINOR",
                 file, d.abi_major, d.abi_min_minor, CAIRN_ABI_MAJOR,
                 CAIRN_ABI_MINOR, d.abi_min_minor, CAIRN_ABI_MINOR,
                 CAIRN_ABI_MAJOR);
    return FALSE;
  }
  if (d.build_fingerprint != CAIRN_BUILD_FINGERPRINT) {
    g_autofree char *diff
        = fingerprint_diff (d.build_fingerprint, CAIRN_BUILD_FINGERPRINT);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: built for a different C ABI (field build_fingerprint: "
                 "plugin 0x%016" PRIx64 ", host 0x%016" PRIx64 "; %s); "
                 "rebuild the plugin for this platform and compiler target",
                 file, d.build_fingerprint, (uint64_t)CAIRN_BUILD_FINGERPRINT,
                 diff);
    return FALSE;
  }
  if (d.id == NULL || !id_valid (d.id)) {
    g_autofree char *shown = d.id ? g_strescape (d.id, NULL) : NULL;
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: invalid plugin id%s%s%s (field id: plugin %s%s%s, host "
                 "expects " ID_RULE ": lowercase letters, digits and '-'); "
                 "change .id in CAIRN_PLUGIN_DEFINE",
                 file, shown ? " '" : "", shown ? shown : "", shown ? "'" : "",
                 shown ? "'" : "", shown ? shown : "NULL", shown ? "'" : "");
    return FALSE;
  }
  if (id_reserved (d.id)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: plugin id '%s' is reserved for a core config group "
                 "(field id: plugin '%s', reserved: node, plugins, http, p2p, "
                 "mempool, block, core); choose another .id",
                 file, d.id, d.id);
    return FALSE;
  }
  if (d.version == NULL) {
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
                 "CAIRN_KIND_STORAGE",
                 file, d.id);
    return FALSE;
  }
  if (d.init == NULL) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: plugin '%s' has no init function (field init: plugin "
                 "NULL, host requires one); set .init in "
                 "CAIRN_PLUGIN_DEFINE",
                 file, d.id);
    return FALSE;
  }
  return check_services (file, d.id, "provides", d.provides, error)
         && check_services (file, d.id, "requires", d.requires, error);
}

CairnPluginEntry
cairn_test_plugin_load (const char *path, GError **error)
{
  /* Without a '/', dlopen would search the library path, not the file. */
  g_autofree char *dl_path
      = strchr (path, '/') ? g_strdup (path) : g_strconcat ("./", path, NULL);
  CairnPluginEntry entry;
  void *dl, *sym;

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: cannot load plugin: no such file", path);
    return NULL;
  }
  dlerror ();
  dl = dlopen (dl_path, RTLD_NOW | RTLD_LOCAL);
  if (dl == NULL) {
    const char *why = dlerror ();
    if (why == NULL)
      why = "unknown dlopen error";
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: cannot load plugin: %s; %s", path, why,
                 strstr (why, "undefined symbol")
                     ? "a plugin may only use symbols of libc, GLib, "
                       "Jansson and OpenSSL; link it with cairn-sdk-1's "
                       "plugin_link_args (-Wl,-z,defs) so this shows at "
                       "build time"
                     : "check that the file is a plugin built for this "
                       "platform and that the libraries it needs are "
                       "installed");
    return NULL;
  }
  dlerror ();
  sym = dlsym (dl, CAIRN_PLUGIN_ENTRY_SYMBOL);
  if (sym == NULL) {
    const char *why = dlerror ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: not a Cairn plugin: no '%s' symbol (%s); define the "
                 "plugin with CAIRN_PLUGIN_DEFINE and link it with "
                 "cairn-sdk-1's version script",
                 path, CAIRN_PLUGIN_ENTRY_SYMBOL, why ? why : "symbol is NULL");
    dlclose (dl);
    return NULL;
  }
  entry = (CairnPluginEntry)sym;
  if (!cairn_test_plugin_check_descriptor (path, entry (), error)) {
    dlclose (dl);
    return NULL;
  }
  /* dl stays open: the plugin's code runs for the rest of the process. */
  return entry;
}
