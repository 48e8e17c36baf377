/* Loading a plugin's shared object and checking its descriptor by the
 * node's load rule: see <cairn/testing/fake_host.h>. The rule and its
 * messages are the node's own code (sdk/README.md, "Load rules"). */
#include "cairn/testing/fake_host.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <string.h>

/* The node's own check (core/plugin_check.c, compiled into this library
 * under this name). */
#define CAIRN_PLUGIN_CHECK_DESCRIPTOR cairn_test__plugin_check_descriptor
#include "plugin_check.h"

gboolean
cairn_test_plugin_check_descriptor (const char *file,
                                    const CairnPluginDescriptor *raw,
                                    GError **error)
{
  CairnPluginDescriptor d;
  return cairn_test__plugin_check_descriptor (file, raw, &d, error);
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
