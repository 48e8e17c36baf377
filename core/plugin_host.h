/* The plugin host: finds, validates, orders and runs plugins.
 *
 * Load rule for a file (see sdk/README.md): dlopen(RTLD_NOW|RTLD_LOCAL);
 * dlsym("cairn_plugin_descriptor"); magic; struct_size at least the 1.0
 * size (copy min(struct_size, ours) into a zeroed struct); abi_major equal;
 * abi_min_minor <= host minor; build_fingerprint equal; id matches
 * [a-z0-9-]{1,32} and is not a reserved config group (node, plugins, http,
 * mempool, block, core); version, kinds and init present; no duplicate id.
 * Every refusal is CAIRN_ERROR_ABI (or _CONFIG / _NOT_FOUND) with a message
 * that names the file, the field, both values and what to do, e.g.
 *   "build/plugins/x/x.so: built for Cairn ABI 2.0 but this node speaks
 *    ABI 1.0 (field abi_major: plugin 2, host 1); rebuild the plugin
 *    against cairn-sdk-1".
 * A plugin whose init ran is never dlclose()d. */
#pragma once

#include <glib.h>

#include <cairn/plugin.h>

typedef struct CairnPluginHost CairnPluginHost;

typedef enum {
  CAIRN_PLUGIN_STATE_FOUND = 0, /* descriptor read and valid */
  CAIRN_PLUGIN_STATE_FAILED,    /* refused or failed; see error */
  CAIRN_PLUGIN_STATE_INITIALIZED,
  CAIRN_PLUGIN_STATE_STARTED,
  CAIRN_PLUGIN_STATE_STOPPED,
} CairnPluginState;

/* The core's record of one plugin. `CairnPlugin` (the SDK's opaque handle)
 * is this struct. */
struct CairnPlugin {
  CairnPluginDescriptor desc; /* zero-extended copy */
  char *file;                 /* path it was loaded from, or "<static>" */
  void *dl;                   /* dlopen handle or NULL */
  CairnPluginState state;
  GError *error;    /* why it failed, when FAILED */
  void *data;       /* CairnHost.set_data */
  void *node;       /* owner (CairnNode *), set by the node */
  char *log_domain; /* "cairn/<id>" */
  char *data_dir;
  GPtrArray *provided; /* char* "name/version" registered in init */
};

/* Human-readable kind list ("app", "consensus,app"); g_free. */
char *cairn_plugin_kinds_to_string (uint32_t kinds);
/* Read and check a descriptor from a file without running init (plugin
 * inspect). Returns a zero-extended copy; *dl_out receives the handle
 * (dlclose it when done; the strings in the copy point into it). */
gboolean cairn_plugin_inspect_file (const char *path,
                                    CairnPluginDescriptor *out, void **dl_out,
                                    GError **error);
/* Check a descriptor already in memory (shared by files and static ones). */
gboolean cairn_plugin_check_descriptor (const char *file,
                                        const CairnPluginDescriptor *raw,
                                        CairnPluginDescriptor *out,
                                        GError **error);

CairnPluginHost *cairn_plugin_host_new (void);
void cairn_plugin_host_free (CairnPluginHost *ph);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnPluginHost, cairn_plugin_host_free)

/* Plugin signatures (plugin_sig.h): with a trust set, each file is checked
 * against FILE.sig before dlopen and the verified bytes are what is
 * loaded. Takes ownership; NULL (the default) looks at no signature. */
typedef struct CairnPluginTrust CairnPluginTrust;
void cairn_plugin_host_set_trust (CairnPluginHost *ph, CairnPluginTrust *trust);
/* Directories to search for "<id>.so" and "<id>/<id>.so", in order. */
void cairn_plugin_host_set_path (CairnPluginHost *ph, const char *const *dirs);
/* Register a statically linked plugin (tests). */
gboolean cairn_plugin_host_add_static (CairnPluginHost *ph,
                                       CairnPluginEntry entry, GError **error);
/* Find and validate each id (a path containing '/' is loaded as a file).
 * Failures are recorded per plugin and the first one is returned. */
gboolean cairn_plugin_host_load (CairnPluginHost *ph, const char *const *ids,
                                 GError **error);
/* Order by provides/requires (ties by id); errors for missing providers
 * ("plugin 'pos' requires service cairn.bank/1, which no loaded plugin
 * provides; add 'bank' to [plugins] load") and cycles (names the cycle). */
gboolean cairn_plugin_host_resolve (CairnPluginHost *ph, GError **error);
/* The plugins in load order (after resolve) or in load call order. */
GPtrArray *cairn_plugin_host_plugins (CairnPluginHost *ph); /* CairnPlugin* */
CairnPlugin *cairn_plugin_host_find (CairnPluginHost *ph, const char *id);

/* Lifecycle. `host` is the table handed to init; `node` is stored in each
 * CairnPlugin.node before init. init_all stops at the first failure after
 * fini-ing the ones already initialised (reverse order); start_all stops
 * at the first failure after stopping the started ones, and leaves fini to
 * the caller (fini_all), which may first release what the plugins made,
 * such as an open store. init_all checks after init that every service in
 * `provides` was registered. */
gboolean cairn_plugin_host_init_all (CairnPluginHost *ph,
                                     const struct CairnHost *host, void *node,
                                     GError **error);
gboolean cairn_plugin_host_start_all (CairnPluginHost *ph, GError **error);
void cairn_plugin_host_stop_all (CairnPluginHost *ph);
void cairn_plugin_host_fini_all (CairnPluginHost *ph);
