/* A fake Cairn host for driving one plugin without a node.
 *
 * It fills the part of the CairnHost table that storage plugins use
 * (identity, plugin data, logging, config_* from key/value pairs the test
 * sets, data_dir, register_storage) and leaves the rest NULL, so
 * CAIRN_HOST_HAS() reports those functions as absent. Log messages are
 * captured (and shown with g_test_message), never sent to g_log: the tests
 * run with G_DEBUG=fatal-warnings and a plugin's warning is data here.
 */
#pragma once

#include <cairn/cairn.h>

typedef struct FakePlugin FakePlugin;

/* A plugin handle for the descriptor returned by entry. data_dir is what
 * host->data_dir() returns (created on the first call). */
FakePlugin *fake_plugin_new (CairnPluginEntry entry, const char *data_dir);
/* Runs fini when init succeeded. */
void fake_plugin_free (FakePlugin *fp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakePlugin, fake_plugin_free)

/* Config of the plugin's own group; value NULL removes the key. */
void fake_plugin_set_config (FakePlugin *fp, const char *key,
                             const char *value);
/* Calls the descriptor's init with the fake host table. */
gboolean fake_plugin_init (FakePlugin *fp, GError **error);

CairnPlugin *fake_plugin_handle (FakePlugin *fp);
const CairnPluginDescriptor *fake_plugin_descriptor (FakePlugin *fp);
/* The storage interface registered during init, or NULL. */
const CairnStorageIface *fake_plugin_storage (FakePlugin *fp);
/* Config keys set but never read during init, sorted (g_strfreev). The real
 * host refuses to start with such keys. */
char **fake_plugin_unread_config (FakePlugin *fp);
/* Captured log lines, "<level>: <message>". */
const GPtrArray *fake_plugin_log (FakePlugin *fp);
gboolean fake_plugin_log_contains (FakePlugin *fp, const char *needle);

/* The host table itself (shared by every FakePlugin). */
const CairnHost *fake_host_table (void);
