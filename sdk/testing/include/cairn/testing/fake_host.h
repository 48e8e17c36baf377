/* Cairn SDK testing — a fake host for driving one plugin without a node,
 * and a loader for plugin shared objects.
 *
 * The fake host fills the part of the CairnHost table that storage and
 * blob store plugins use: identity, plugin data, logging, config_* from
 * key/value pairs the test sets, data_dir, register_storage and
 * register_blobstore. The rest is NULL, so CAIRN_HOST_HAS() reports those
 * functions as absent (a plugin that needs them fails its init, which is
 * what it should do on an older node). Interfaces are checked as the node
 * checks them: the struct copied into a zeroed one of the size this SDK
 * knows, a larger struct or an unknown iface_version refused, the required
 * callbacks named.
 *
 * App, privacy, interface and consensus plugins need the rest of the
 * table: the mock host (<cairn/testing/mock_host.h>) fills it, and its
 * plugins are CairnTestPlugins too (config, log and the functions below
 * work on them; the mock host owns and frees them).
 *
 * Log messages are captured (and shown with g_test_message), never sent to
 * g_log: tests run with G_DEBUG=fatal-warnings and a plugin's warning is
 * data here.
 *
 * Part of libcairn-sdk-testing-1 (pkg-config cairn-sdk-testing-1).
 *
 *   CairnPluginEntry entry = cairn_test_plugin_load ("my-store.so", &error);
 *   g_autoptr (CairnTestPlugin) tp = cairn_test_plugin_new (entry, dir);
 *   cairn_test_plugin_set_config (tp, "sync", "false");
 *   g_assert_true (cairn_test_plugin_init (tp, &error));
 *   const CairnStorageIface *iface = cairn_test_plugin_storage (tp);
 *   CairnStore *store = iface->open (cairn_test_plugin_self (tp), NULL, &e);
 */
#pragma once

#include <cairn/cairn.h>

G_BEGIN_DECLS

/* One plugin instance on the fake host. */
typedef struct CairnTestPlugin CairnTestPlugin;

/* A plugin instance for the descriptor that entry returns (asserts that
 * it is one: magic, init). data_dir is what host->data_dir() returns; it is
 * created (0700) on the plugin's first call, not here. Nothing of the
 * plugin runs before cairn_test_plugin_init. */
CairnTestPlugin *cairn_test_plugin_new (CairnPluginEntry entry,
                                        const char *data_dir);

/* Runs the plugin's fini if its init succeeded, then frees tp. NULL is
 * ignored. Close any store of the plugin first. */
void cairn_test_plugin_free (CairnTestPlugin *tp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnTestPlugin, cairn_test_plugin_free)

/* Sets key of the plugin's own config group (value NULL removes it), as a
 * line "key = value" of its conf.d snippet would. Set keys before init. */
void cairn_test_plugin_set_config (CairnTestPlugin *tp, const char *key,
                                   const char *value);

/* Sets every pair of config, a NULL-terminated list key, value, key,
 * value, ..., NULL (NULL itself sets nothing). */
void cairn_test_plugin_set_config_list (CairnTestPlugin *tp,
                                        const char *const *config);

/* Calls the descriptor's init with the fake host table. FALSE + the
 * plugin's error when it fails (a failed init registers nothing and its
 * fini is not run). Call at most once. */
gboolean cairn_test_plugin_init (CairnTestPlugin *tp, GError **error);

/* The handle the plugin gets as `self` in every call (CairnPlugin *). */
CairnPlugin *cairn_test_plugin_self (CairnTestPlugin *tp);

/* The descriptor (as the entry returned it). */
const CairnPluginDescriptor *cairn_test_plugin_descriptor (CairnTestPlugin *tp);

/* The storage interface the plugin registered during init (a copy, valid
 * as long as tp), or NULL. */
const CairnStorageIface *cairn_test_plugin_storage (CairnTestPlugin *tp);

/* The blob store interface the plugin registered during init (a copy,
 * valid as long as tp), or NULL. */
const CairnBlobstoreIface *cairn_test_plugin_blobstore (CairnTestPlugin *tp);

/* Config keys that were set but never read during init, sorted
 * (g_strfreev). The real node refuses to start with such keys, so a test
 * should expect none. */
char **cairn_test_plugin_unread_config (CairnTestPlugin *tp);

/* FALSE + a CAIRN_ERROR_CONFIG error naming the plugin and every key that
 * was set but never read during init; TRUE when there is none. */
gboolean cairn_test_plugin_check_config_read (CairnTestPlugin *tp,
                                              GError **error);

/* The plugin's log lines so far, "<level>: <message>" (level: error,
 * critical, warning, message, info or debug); owned by tp. */
const GPtrArray *cairn_test_plugin_log (CairnTestPlugin *tp);

/* Whether one of the plugin's log lines contains needle. */
gboolean cairn_test_plugin_log_contains (CairnTestPlugin *tp,
                                         const char *needle);

/* The fake host table itself, shared by every CairnTestPlugin (static,
 * never freed). A test may copy it and replace an entry. */
const CairnHost *cairn_test_host_table (void);

/* ---- loading a plugin's shared object ----------------------------------
 */

/* Checks a descriptor by the node's load rule (sdk/README.md, "Load
 * rules"): magic, struct_size, abi_major equal to this SDK's, abi_min_minor
 * not newer than this SDK's minor, the build fingerprint, then id,
 * version, kinds, init and the service lists. file names the plugin in
 * the message. FALSE + a CAIRN_ERROR_ABI error that names the file, the
 * field, the plugin's and this SDK's values and what to do. */
gboolean cairn_test_plugin_check_descriptor (const char *file,
                                             const CairnPluginDescriptor *desc,
                                             GError **error);

/* dlopens path (RTLD_NOW | RTLD_LOCAL; a path without '/' is taken
 * relative to the current directory, not searched), finds its
 * "cairn_plugin_descriptor" entry point and checks the descriptor with
 * cairn_test_plugin_check_descriptor. Returns the entry, to pass to
 * cairn_test_plugin_new or the suites; the shared object stays loaded for
 * the life of the process (as the node never dlcloses a plugin that ran).
 * NULL + a CAIRN_ERROR_ABI error naming the file when it cannot be loaded,
 * is not a plugin or is built for another ABI. */
CairnPluginEntry cairn_test_plugin_load (const char *path, GError **error);

G_END_DECLS
