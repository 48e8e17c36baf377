/* cairn-conformance: run the SDK's conformance suite on a plugin's shared
 * object.
 *
 *   cairn-conformance [--config KEY=VALUE]... PLUGIN.so [GTEST-OPTION]...
 *
 * Loads PLUGIN.so with the node's load rule (cairn_test_plugin_load: a
 * plugin built for another ABI is refused, naming the file and the field),
 * and by the kinds its descriptor declares registers the storage suite
 * (/storage/<id>/..., crash harness included) and/or the blob store suite
 * (/blob-store/<id>/...), with the config pairs for the plugin's group;
 * then runs them with GLib's test runner, which gets every argument after
 * PLUGIN.so (-p PATH, -s PATH, -l, --seed=..., --verbose, ...).
 *
 * Exit status: 0 when every test passed; not 0 when one failed (g_test_run's
 * status, or the abort of a failed assertion, as in any GLib test); 1 when
 * the plugin cannot be loaded or is of no kind with a suite; 2 for a usage
 * error. */
#include <stdio.h>
#include <string.h>

#include <cairn/testing/testing.h>

static const char usage[]
    = "Usage: cairn-conformance [--config KEY=VALUE]... PLUGIN.so "
      "[GTEST-OPTION]...\n"
      "\n"
      "Runs the conformance suite of cairn-sdk-testing-1 on a plugin's "
      "shared object:\n"
      "the storage suite (/storage/<id>/..., with the crash harness) for a "
      "storage\n"
      "plugin, the blob store suite (/blob-store/<id>/...) for a blobstore "
      "plugin.\n"
      "\n"
      "  --config KEY=VALUE  a key of the plugin's own config group (as in "
      "its\n"
      "                      conf.d snippet); repeat for more; every key "
      "must be\n"
      "                      read by the plugin's init\n"
      "  -h, --help          this text\n"
      "\n"
      "Every argument after PLUGIN.so goes to GLib's test runner, e.g. -l "
      "(list the\n"
      "tests), -p PATH (run only PATH), -s PATH (skip PATH), --seed=SEED, "
      "--verbose.\n"
      "The blob store suite needs the ipfs_cid tool (Debian package "
      "ipfs-cid).\n"
      "Exit status: 0 when every test passed, not 0 when one failed, 1 "
      "when the\n"
      "plugin cannot be loaded or has no suite, 2 for a usage error.\n";

static int usage_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
static int
usage_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "cairn-conformance: %s\n%s", msg, usage);
  return 2;
}

typedef struct {
  CairnPluginEntry entry;
  const char *const *config;
} BlobTarget;

static CairnTestBlobBackend *
open_blob (void *data)
{
  const BlobTarget *t = data;
  g_autoptr (GError) error = NULL;
  CairnTestBlobBackend *b
      = cairn_test_blob_backend_new (t->entry, NULL, t->config, &error);
  if (b == NULL)
    g_error ("starting the blob store plugin failed: %s", error->message);
  return b;
}

static char *
kinds_text (uint32_t kinds)
{
  static const char *const names[] = {
    "consensus", "storage", "blobstore", "privacy", "app", "interface",
  };
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (kinds & (1u << i))
      g_string_append_printf (s, "%s%s", s->len ? "," : "", names[i]);
  if (kinds & ~CAIRN_KIND_ALL)
    g_string_append_printf (s, "%s0x%x", s->len ? "," : "",
                            kinds & ~CAIRN_KIND_ALL);
  return g_string_free (s, FALSE);
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) config = g_ptr_array_new_with_free_func (g_free);
  const char *plugin = NULL;
  int i;

  for (i = 1; i < argc && plugin == NULL; i++) {
    const char *a = argv[i], *kv = NULL;
    if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
      fputs (usage, stdout);
      return 0;
    } else if (strcmp (a, "--config") == 0) {
      if (i + 1 >= argc)
        return usage_error ("%s needs KEY=VALUE", a);
      kv = argv[++i];
    } else if (g_str_has_prefix (a, "--config=")) {
      kv = a + strlen ("--config=");
    } else if (a[0] == '-') {
      return usage_error ("unknown option %s (GLib test options go after "
                          "PLUGIN.so)",
                          a);
    } else {
      plugin = a;
      continue;
    }
    const char *eq = strchr (kv, '=');
    if (eq == NULL || eq == kv)
      return usage_error ("--config '%s': expected KEY=VALUE", kv);
    g_ptr_array_add (config, g_strndup (kv, (gsize)(eq - kv)));
    g_ptr_array_add (config, g_strdup (eq + 1));
  }
  if (plugin == NULL)
    return usage_error ("%s", "no plugin given");
  g_ptr_array_add (config, NULL);
  const char *const *pairs = (const char *const *)config->pdata;

  g_autoptr (GError) error = NULL;
  CairnPluginEntry entry = cairn_test_plugin_load (plugin, &error);
  if (entry == NULL) {
    fprintf (stderr, "cairn-conformance: %s\n", error->message);
    return 1;
  }
  const CairnPluginDescriptor *desc = entry ();
  g_autofree char *kinds = kinds_text (desc->kinds);
  if ((desc->kinds & (CAIRN_KIND_STORAGE | CAIRN_KIND_BLOBSTORE)) == 0) {
    fprintf (stderr,
             "cairn-conformance: %s: plugin '%s' is of kind %s; there is a "
             "conformance suite for storage and blobstore plugins only\n",
             plugin, desc->id, kinds);
    return 1;
  }

  /* GLib's runner gets argv[0] and everything after PLUGIN.so. */
  int targc = 1 + (argc - i);
  g_autofree char **targv = g_new0 (char *, targc + 1);
  targv[0] = argv[0];
  for (int j = i; j < argc; j++)
    targv[1 + j - i] = argv[j];
  char **targv_run = targv;
  g_test_init (&targc, &targv_run, NULL);

  printf ("# cairn-conformance: %s: plugin '%s' %s (%s), built for ABI "
          "%u.%u, tested with SDK %d.%d\n",
          plugin, desc->id, desc->version, kinds, desc->abi_major,
          desc->abi_built_minor, CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
  if (desc->kinds & CAIRN_KIND_STORAGE)
    cairn_test_storage_add (desc->id, entry, pairs);
  static BlobTarget target;
  static CairnTestBlobSuite blob_suite;
  if (desc->kinds & CAIRN_KIND_BLOBSTORE) {
    target.entry = entry;
    target.config = pairs;
    blob_suite.name = desc->id;
    blob_suite.open = open_blob;
    blob_suite.data = &target;
    cairn_test_blob_suite_add (&blob_suite);
  }
  return g_test_run ();
}
