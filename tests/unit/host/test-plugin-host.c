/* The plugin host against real .so fixtures (fixtures/meson.build): load
 * rule, every refusal message, search path, dependency order and the
 * lifecycle, with a fake host table that logs what the plugins do. */
#include <dlfcn.h>
#include <inttypes.h>
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/cairn.h>

#include "plugin_host.h"

#define FX(name) FIXTURE_DIR "/" name ".so"
#define ALT_DIR FIXTURE_DIR "/alt"

const CairnPluginDescriptor *cairn_plugin_descriptor_fx (void);

/* ---- a fake host table ---- */

static GString *calls;       /* "id:what id:what ..." */
static GHashTable *services; /* "name/version" -> vtable */
static int node_sentinel;

static void
th_logv (CairnPlugin *self, GLogLevelFlags level, const char *fmt, va_list ap)
{
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  g_autofree char *domain = g_strdup_printf ("cairn/%s", self->desc.id);

  /* Set by the host before init runs. */
  g_assert_cmpstr (self->log_domain, ==, domain);
  g_assert_true (self->node == &node_sentinel);
  g_string_append_printf (calls, "%s%s:%s", calls->len ? " " : "",
                          self->desc.id, msg);
}

static gboolean
th_provide_service (CairnPlugin *self, const char *name, uint32_t version,
                    const void *vtable, GError **error)
{
  char *key = g_strdup_printf ("%s/%" PRIu32, name, version);
  g_hash_table_insert (services, g_strdup (key), (gpointer)vtable);
  g_ptr_array_add (self->provided, key);
  return TRUE;
}

static const void *
th_lookup_service (CairnPlugin *self, const char *name, uint32_t version)
{
  g_autofree char *key = g_strdup_printf ("%s/%" PRIu32, name, version);
  return g_hash_table_lookup (services, key);
}

static const CairnHost test_host = {
  .size = sizeof (CairnHost),
  .abi_major = CAIRN_ABI_MAJOR,
  .abi_minor = CAIRN_ABI_MINOR,
  .logv = th_logv,
  .provide_service = th_provide_service,
  .lookup_service = th_lookup_service,
};

static void
reset_world (void)
{
  g_string_truncate (calls, 0);
  g_hash_table_remove_all (services);
}

/* ---- helpers ---- */

static void
assert_contains (const char *haystack, const char *needle)
{
  if (!strstr (haystack, needle))
    g_error ("expected \"%s\" in message: %s", needle, haystack);
}

static CairnPluginHost *
host_with_path (const char *first, const char *second)
{
  CairnPluginHost *ph = cairn_plugin_host_new ();
  const char *dirs[] = { first, second, NULL };
  cairn_plugin_host_set_path (ph, dirs);
  return ph;
}

/* Load ids (NULL-terminated) from FIXTURE_DIR; assert success. */
static CairnPluginHost *
load_ok (const char *const *ids)
{
  g_autoptr (GError) error = NULL;
  CairnPluginHost *ph = host_with_path (FIXTURE_DIR, NULL);
  g_assert_true (cairn_plugin_host_load (ph, ids, &error));
  g_assert_no_error (error);
  return ph;
}

static char *
order_of (CairnPluginHost *ph)
{
  GPtrArray *plugins = cairn_plugin_host_plugins (ph);
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < plugins->len; i++) {
    CairnPlugin *p = plugins->pdata[i];
    g_string_append_printf (s, "%s%s", i ? " " : "", p->desc.id);
  }
  return g_string_free (s, FALSE);
}

static CairnPluginState
state_of (CairnPluginHost *ph, const char *id)
{
  CairnPlugin *p = cairn_plugin_host_find (ph, id);
  g_assert_nonnull (p);
  return p->state;
}

/* Is the file still mapped in this process? */
static gboolean
is_loaded (const char *file)
{
  void *h = dlopen (file, RTLD_NOW | RTLD_NOLOAD);
  if (!h)
    return FALSE;
  dlclose (h);
  return TRUE;
}

/* ---- kinds ---- */

static void
test_kinds_to_string (void)
{
  static const struct {
    uint32_t kinds;
    const char *text;
  } cases[] = {
    { 0, "none" },
    { CAIRN_KIND_APP, "app" },
    { CAIRN_KIND_CONSENSUS | CAIRN_KIND_APP, "consensus,app" },
    { CAIRN_KIND_ALL, "consensus,storage,blobstore,privacy,app,interface" },
    { CAIRN_KIND_STORAGE | 0x100, "storage,0x100" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *s = cairn_plugin_kinds_to_string (cases[i].kinds);
    g_assert_cmpstr (s, ==, cases[i].text);
  }
}

/* ---- inspect and the refusals ---- */

static void
test_inspect_good (void)
{
  g_autoptr (GError) error = NULL;
  CairnPluginDescriptor d;
  void *dl = NULL;

  reset_world ();
  g_assert_true (cairn_plugin_inspect_file (FX ("good"), &d, &dl, &error));
  g_assert_no_error (error);
  g_assert_nonnull (dl);
  g_assert_cmpstr (d.id, ==, "good");
  g_assert_cmpstr (d.version, ==, "1.0.0");
  g_assert_cmpstr (d.vendor, ==, "Cairn tests");
  g_assert_cmpuint (d.kinds, ==, CAIRN_KIND_APP);
  g_assert_cmpstr (d.provides[0].name, ==, "test.good");
  g_assert_cmpuint (d.provides[0].version, ==, 1);
  g_assert_null (d.provides[1].name);
  g_assert_nonnull (d.init);
  /* inspect never runs plugin code */
  g_assert_cmpstr (calls->str, ==, "");
  dlclose (dl);
}

/* A bare file name means the file in the current directory, not a library
 * on the system search path. */
static void
test_inspect_relative (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *cwd = g_get_current_dir ();
  CairnPluginDescriptor d;
  void *dl = NULL;

  g_assert_cmpint (g_chdir (FIXTURE_DIR), ==, 0);
  g_assert_true (cairn_plugin_inspect_file ("alpha.so", &d, &dl, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (d.id, ==, "alpha");
  dlclose (dl);
  g_assert_false (cairn_plugin_inspect_file ("libc.so.6", &d, &dl, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI);
  g_assert_true (g_str_has_prefix (error->message, "libc.so.6: cannot load"));
  g_assert_cmpint (g_chdir (cwd), ==, 0);
}

typedef struct {
  const char *file;
  int code;
  const char *needles[6];
} Refusal;

static char *
hex64 (uint64_t v)
{
  return g_strdup_printf ("0x%016" PRIx64, v);
}

static void
test_refusals (void)
{
  uint64_t host_fp = CAIRN_BUILD_FINGERPRINT;
  uint64_t plugin_fp = (host_fp & ~((uint64_t)0xff << 24)) | (4ull << 24);
  g_autofree char *host_hex = hex64 (host_fp);
  g_autofree char *plugin_hex = hex64 (plugin_fp);
  g_autofree char *min_size
      = g_strdup_printf ("at least %zu", sizeof (CairnPluginDescriptor));
  g_autofree char *speaks
      = g_strdup_printf ("speaks ABI %d.%d", CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
  g_autofree char *newer
      = g_strdup_printf ("field abi_min_minor: plugin %d, "
                         "host %d",
                         CAIRN_ABI_MINOR + 1, CAIRN_ABI_MINOR);
  g_autofree char *needs = g_strdup_printf (
      "needs Cairn ABI %d.%d", CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR + 1);
  const Refusal cases[] = {
    { FX ("abi2"),
      CAIRN_ERROR_ABI,
      { "field abi_major: plugin 2, host 1", "built for Cairn ABI 2.", speaks,
        "rebuild the plugin against cairn-sdk-1" } },
    { FX ("newminor"), CAIRN_ERROR_ABI, { newer, needs, "upgrade the node" } },
    { FX ("fingerprint"),
      CAIRN_ERROR_ABI,
      { "field build_fingerprint", plugin_hex, host_hex,
        "sizeof(long): plugin 4, host 8", "rebuild" } },
    { FX ("badmagic"),
      CAIRN_ERROR_ABI,
      { "field magic: plugin 0xdeadbeef, host 0xca1e9106",
        "CAIRN_PLUGIN_DEFINE" } },
    { FX ("small"),
      CAIRN_ERROR_ABI,
      { "field struct_size: plugin 64", min_size, "rebuild" } },
    { FX ("noentry"),
      CAIRN_ERROR_ABI,
      { "no 'cairn_plugin_descriptor' symbol", "CAIRN_PLUGIN_DEFINE" } },
    { FX ("undef"),
      CAIRN_ERROR_ABI,
      { "undefined symbol", "cairn_fixture_no_such_function", "-Wl,-z,defs" } },
    { FX ("badid"),
      CAIRN_ERROR_ABI,
      { "field id: plugin 'Bad_ID'", "[a-z0-9-]{1,32}" } },
    { FX ("reserved"),
      CAIRN_ERROR_ABI,
      { "field id: plugin 'http'", "reserved", "choose another .id" } },
    { FX ("noversion"),
      CAIRN_ERROR_ABI,
      { "field version: plugin NULL", "set .version" } },
    { FX ("noinit"),
      CAIRN_ERROR_ABI,
      { "field init: plugin NULL", "set .init" } },
    { FIXTURE_DIR "/no-such-file.so",
      CAIRN_ERROR_ABI,
      { "cannot load plugin", "No such file" } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const Refusal *c = &cases[i];
    g_autoptr (GError) error = NULL;
    g_autoptr (GError) error2 = NULL;
    g_autoptr (CairnPluginHost) ph = cairn_plugin_host_new ();
    const char *ids[] = { c->file, NULL };
    CairnPluginDescriptor d;
    CairnPlugin *p;
    void *dl = (void *)&d;

    g_assert_false (cairn_plugin_inspect_file (c->file, &d, &dl, &error));
    g_assert_error (error, CAIRN_ERROR, c->code);
    g_test_message ("%s", error->message);
    g_assert_null (dl);
    g_assert_true (g_str_has_prefix (error->message, c->file));
    for (guint n = 0; n < G_N_ELEMENTS (c->needles) && c->needles[n]; n++)
      assert_contains (error->message, c->needles[n]);

    /* The same refusal through load: recorded, listed, first error. */
    g_assert_false (cairn_plugin_host_load (ph, ids, &error2));
    g_assert_error (error2, CAIRN_ERROR, c->code);
    g_assert_cmpstr (error2->message, ==, error->message);
    g_assert_cmpuint (cairn_plugin_host_plugins (ph)->len, ==, 1);
    p = cairn_plugin_host_plugins (ph)->pdata[0];
    g_assert_cmpint (p->state, ==, CAIRN_PLUGIN_STATE_FAILED);
    g_assert_cmpstr (p->file, ==, c->file);
    g_assert_nonnull (p->desc.id);
    g_assert_null (p->dl);
    g_assert_cmpstr (p->error->message, ==, error->message);
  }
}

/* Checks that only in-memory descriptors reach. */
static gboolean
dummy_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  return TRUE;
}

static void
test_check_descriptor (void)
{
  static const CairnServiceRef bad_version[]
      = { { "x.y", 0, 0 }, { NULL, 0, 0 } };
  const CairnPluginDescriptor good = {
    .magic = CAIRN_PLUGIN_MAGIC,
    .struct_size = sizeof (CairnPluginDescriptor),
    .abi_major = CAIRN_ABI_MAJOR,
    .build_fingerprint = CAIRN_BUILD_FINGERPRINT,
    .id = "mem",
    .version = "1",
    .kinds = CAIRN_KIND_APP,
    .init = dummy_init,
  };
  CairnPluginDescriptor d, out;
  g_autoptr (GError) error = NULL;
  /* A descriptor from a future minor: longer than ours, extra bytes set. */
  struct {
    CairnPluginDescriptor d;
    uint64_t future[4];
  } longer = { good, { 1, 2, 3, 4 } };

  g_assert_true (cairn_plugin_check_descriptor ("mem", &good, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (out.id, ==, "mem");

  longer.d.struct_size = sizeof longer;
  g_assert_true (
      cairn_plugin_check_descriptor ("mem", &longer.d, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out.struct_size, ==, sizeof longer);

  g_assert_false (cairn_plugin_check_descriptor ("mem", NULL, &out, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI);
  assert_contains (error->message, "mem: cairn_plugin_descriptor() returned "
                                   "NULL");
  g_clear_error (&error);

  d = good;
  d.kinds = 0;
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI);
  assert_contains (error->message, "field kinds: plugin 0");
  g_clear_error (&error);

  d = good;
  d.id = NULL;
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field id: plugin NULL");
  g_clear_error (&error);

  d = good;
  d.id = "a23456789012345678901234567890123"; /* 33 */
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "invalid plugin id");
  g_clear_error (&error);

  d = good;
  d.id = "a2345678901234567890123456789012"; /* 32 */
  g_assert_true (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  g_assert_no_error (error);

  d = good;
  d.id = "";
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field id: plugin ''");
  g_clear_error (&error);

  d = good;
  d.requires = bad_version;
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field requires[0]: plugin 'x.y' "
                                   "version 0");
  g_clear_error (&error);

  /* Refusals come in the documented order: magic before size before
   * major before minor before fingerprint before id. */
  d = good;
  d.abi_major = 7;
  d.abi_min_minor = 9;
  d.build_fingerprint = 0;
  d.id = "BAD";
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field abi_major");
  g_clear_error (&error);
  d.abi_major = CAIRN_ABI_MAJOR;
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field abi_min_minor");
  g_clear_error (&error);
  d.abi_min_minor = 0;
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field build_fingerprint");
  g_clear_error (&error);
  d.build_fingerprint = CAIRN_BUILD_FINGERPRINT;
  d.struct_size = 8;
  g_assert_false (cairn_plugin_check_descriptor ("mem", &d, &out, &error));
  assert_contains (error->message, "field struct_size");
  g_clear_error (&error);
}

/* ---- finding plugins ---- */

static void
test_search_path (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnPluginHost) ph
      = host_with_path ("/nonexistent-dir", FIXTURE_DIR);
  const char *ids[] = { "good", "nested", NULL };
  CairnPlugin *p;

  g_assert_true (cairn_plugin_host_load (ph, ids, &error));
  g_assert_no_error (error);
  p = cairn_plugin_host_find (ph, "good");
  g_assert_cmpstr (p->file, ==, FIXTURE_DIR "/good.so");
  g_assert_cmpint (p->state, ==, CAIRN_PLUGIN_STATE_FOUND);
  g_assert_nonnull (p->dl);
  p = cairn_plugin_host_find (ph, "nested");
  g_assert_cmpstr (p->file, ==, FIXTURE_DIR "/nested/nested.so");
  g_assert_null (cairn_plugin_host_find (ph, "absent"));
}

static void
test_search_order (void)
{
  const char *ids[] = { "good", NULL };

  for (int alt_first = 0; alt_first < 2; alt_first++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (CairnPluginHost) ph
        = alt_first ? host_with_path (ALT_DIR, FIXTURE_DIR)
                    : host_with_path (FIXTURE_DIR, ALT_DIR);
    CairnPlugin *p;

    g_assert_true (cairn_plugin_host_load (ph, ids, &error));
    p = cairn_plugin_host_find (ph, "good");
    g_assert_cmpstr (p->file, ==, alt_first ? ALT_DIR "/good.so" : FX ("good"));
    g_assert_cmpstr (p->desc.description, ==,
                     alt_first ? "alt" : "test fixture");
  }
}

static void
test_not_found (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnPluginHost) ph = host_with_path (FIXTURE_DIR, ALT_DIR);
  const char *ids[] = { "missing", "good", NULL };
  CairnPlugin *p;

  g_assert_false (cairn_plugin_host_load (ph, ids, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND);
  assert_contains (error->message, "plugin 'missing' not found");
  assert_contains (error->message, "missing.so and missing/missing.so");
  assert_contains (error->message, FIXTURE_DIR ", " ALT_DIR);
  assert_contains (error->message, "[plugins] path");
  /* The failure is recorded and the other plugin still loaded. */
  g_assert_cmpuint (cairn_plugin_host_plugins (ph)->len, ==, 2);
  p = cairn_plugin_host_find (ph, "missing");
  g_assert_cmpint (p->state, ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpstr (p->error->message, ==, error->message);
  g_assert_cmpint (state_of (ph, "good"), ==, CAIRN_PLUGIN_STATE_FOUND);
}

static void
test_duplicate (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnPluginHost) ph = host_with_path (FIXTURE_DIR, NULL);
  /* "good" twice is one plugin ([plugins] load appends across files). */
  const char *ids[] = { "good", "good", FX ("dup"), NULL };
  GPtrArray *plugins;
  CairnPlugin *second;

  g_assert_false (cairn_plugin_host_load (ph, ids, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, FX ("dup")));
  assert_contains (error->message, "duplicate plugin id 'good'");
  assert_contains (error->message, "already loaded from " FX ("good"));
  plugins = cairn_plugin_host_plugins (ph);
  g_assert_cmpuint (plugins->len, ==, 2);
  second = plugins->pdata[1];
  g_assert_cmpint (second->state, ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpstr (second->desc.description, ==, "duplicate");
  /* find prefers the plugin that loaded */
  g_assert_cmpint (state_of (ph, "good"), ==, CAIRN_PLUGIN_STATE_FOUND);
}

static void
test_misnamed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnPluginHost) ph = host_with_path (FIXTURE_DIR, NULL);
  const char *ids[] = { "misnamed", NULL };

  g_assert_false (cairn_plugin_host_load (ph, ids, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_true (g_str_has_prefix (error->message, FX ("misnamed")));
  assert_contains (error->message,
                   "field id: plugin 'other', requested 'misnamed'");
  g_assert_cmpint (state_of (ph, "misnamed"), ==, CAIRN_PLUGIN_STATE_FAILED);
}

/* ---- dependency order ---- */

static void
test_resolve_order (void)
{
  const char *orders[][4] = {
    { "needy", "good", "alpha", NULL },
    { "alpha", "needy", "good", NULL },
    { "good", "alpha", "needy", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (orders); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (CairnPluginHost) ph = load_ok (orders[i]);
    g_autofree char *before = order_of (ph);
    g_autofree char *loaded = g_strjoinv (" ", (char **)orders[i]);
    g_autofree char *after = NULL;

    /* Load call order until resolved. */
    g_assert_cmpstr (before, ==, loaded);
    g_assert_true (cairn_plugin_host_resolve (ph, &error));
    g_assert_no_error (error);
    after = order_of (ph);
    /* good before needy (requires test.good/1); alpha by id. */
    g_assert_cmpstr (after, ==, "alpha good needy");
  }
}

static void
test_missing_provider (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "lonely", "alpha", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);
  g_autofree char *order = NULL;
  CairnPlugin *p;

  g_assert_false (cairn_plugin_host_resolve (ph, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "plugin 'lonely' requires service test.missing/1, which "
                   "no loaded plugin provides; add 'missing' (or the plugin "
                   "that provides it) to [plugins] load");
  p = cairn_plugin_host_find (ph, "lonely");
  g_assert_cmpint (p->state, ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpstr (p->error->message, ==, error->message);
  /* Ordered plugins first, failed ones listed after them. */
  order = order_of (ph);
  g_assert_cmpstr (order, ==, "alpha lonely");
}

static void
test_missing_provider_cascade (void)
{
  g_autoptr (GError) error = NULL;
  /* startfail requires needy, which requires good (not loaded). */
  const char *ids[] = { "startfail", "needy", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);
  CairnPlugin *p;

  g_assert_false (cairn_plugin_host_resolve (ph, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  assert_contains (error->message, "plugin 'needy' requires service "
                                   "test.good/1, which no loaded plugin "
                                   "provides; add 'good'");
  p = cairn_plugin_host_find (ph, "startfail");
  g_assert_cmpint (p->state, ==, CAIRN_PLUGIN_STATE_FAILED);
  assert_contains (p->error->message, "plugin 'startfail' requires service "
                                      "test.needy/1, whose provider 'needy'");
  assert_contains (p->error->message, FX ("needy"));
}

static void
test_version_mismatch (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "good", "needy2", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);

  g_assert_false (cairn_plugin_host_resolve (ph, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  assert_contains (error->message, "plugin 'needy2' requires service "
                                   "test.good/2, but plugin 'good' provides "
                                   "test.good/1");
}

static void
test_duplicate_provider (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "good2", "good", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);

  g_assert_false (cairn_plugin_host_resolve (ph, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "plugins 'good2' (" FX ("good2") ") and 'good' (" FX (
                       "good") ") both provide service test.good/1; load only "
                               "one of them");
  g_assert_cmpint (state_of (ph, "good2"), ==, CAIRN_PLUGIN_STATE_FOUND);
  g_assert_cmpint (state_of (ph, "good"), ==, CAIRN_PLUGIN_STATE_FAILED);
}

static void
test_cycle (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "cyc-b", "alpha", "cyc-a", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);
  g_autofree char *order = NULL;

  g_assert_false (cairn_plugin_host_resolve (ph, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  g_assert_cmpstr (error->message, ==,
                   "plugin dependency cycle: cyc-a -> cyc-b -> cyc-a (cyc-a "
                   "requires test.b/1 from cyc-b, cyc-b requires test.a/1 "
                   "from cyc-a); remove one of these plugins from [plugins] "
                   "load or break the cycle in their requires");
  g_assert_cmpint (state_of (ph, "cyc-a"), ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpint (state_of (ph, "cyc-b"), ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpint (state_of (ph, "alpha"), ==, CAIRN_PLUGIN_STATE_FOUND);
  order = order_of (ph);
  g_assert_cmpstr (order, ==, "alpha cyc-b cyc-a");
}

/* ---- lifecycle ---- */

static void
test_lifecycle (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "needy", "good", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);
  CairnPlugin *good, *needy;

  reset_world ();
  g_assert_true (cairn_plugin_host_resolve (ph, &error));
  g_assert_true (
      cairn_plugin_host_init_all (ph, &test_host, &node_sentinel, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (calls->str, ==, "good:init needy:init");
  good = cairn_plugin_host_find (ph, "good");
  needy = cairn_plugin_host_find (ph, "needy");
  g_assert_cmpint (good->state, ==, CAIRN_PLUGIN_STATE_INITIALIZED);
  g_assert_cmpstr (good->log_domain, ==, "cairn/good");
  g_assert_true (good->node == &node_sentinel);
  g_assert_cmpuint (good->provided->len, ==, 1);
  g_assert_cmpstr (good->provided->pdata[0], ==, "test.good/1");
  g_assert_cmpstr (needy->provided->pdata[0], ==, "test.needy/1");

  g_string_truncate (calls, 0);
  g_assert_true (cairn_plugin_host_start_all (ph, &error));
  g_assert_cmpstr (calls->str, ==, "good:start needy:start");
  g_assert_cmpint (needy->state, ==, CAIRN_PLUGIN_STATE_STARTED);

  g_string_truncate (calls, 0);
  cairn_plugin_host_stop_all (ph);
  cairn_plugin_host_stop_all (ph);
  g_assert_cmpstr (calls->str, ==, "needy:stop good:stop");
  g_assert_cmpint (good->state, ==, CAIRN_PLUGIN_STATE_STOPPED);

  g_string_truncate (calls, 0);
  cairn_plugin_host_fini_all (ph);
  cairn_plugin_host_fini_all (ph);
  g_assert_cmpstr (calls->str, ==, "needy:fini good:fini");

  g_string_truncate (calls, 0);
  g_clear_pointer (&ph, cairn_plugin_host_free);
  g_assert_cmpstr (calls->str, ==, "");
  /* init ran: never unloaded. */
  g_assert_true (is_loaded (FX ("good")));
}

static void
test_free_runs_stop_and_fini (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "good", NULL };
  CairnPluginHost *ph = load_ok (ids);

  reset_world ();
  g_assert_true (
      cairn_plugin_host_init_all (ph, &test_host, &node_sentinel, &error));
  g_assert_true (cairn_plugin_host_start_all (ph, &error));
  cairn_plugin_host_free (ph);
  g_assert_cmpstr (calls->str, ==, "good:init good:start good:stop good:fini");
}

static void
test_uninitialised_is_unloaded (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "nested", NULL };
  CairnPluginHost *ph = host_with_path (FIXTURE_DIR, NULL);

  g_assert_true (cairn_plugin_host_load (ph, ids, &error));
  g_assert_true (is_loaded (FIXTURE_DIR "/nested/nested.so"));
  cairn_plugin_host_free (ph);
  g_assert_false (is_loaded (FIXTURE_DIR "/nested/nested.so"));
}

static void
test_init_failure (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "initfail", "needy", "good", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);
  CairnPlugin *p;

  reset_world ();
  /* init_all resolves first when nobody did. */
  g_assert_false (
      cairn_plugin_host_init_all (ph, &test_host, &node_sentinel, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_INVALID);
  g_assert_cmpstr (
      error->message, ==,
      "plugin 'initfail' (" FX ("initfail") "): init failed: "
                                            "fixture refuses to initialise");
  /* No fini for the one whose init failed; the others in reverse. */
  g_assert_cmpstr (calls->str, ==,
                   "good:init needy:init initfail:init needy:fini good:fini");
  p = cairn_plugin_host_find (ph, "initfail");
  g_assert_cmpint (p->state, ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpstr (p->error->message, ==, error->message);
  g_assert_cmpint (state_of (ph, "good"), ==, CAIRN_PLUGIN_STATE_STOPPED);

  g_string_truncate (calls, 0);
  cairn_plugin_host_stop_all (ph);
  cairn_plugin_host_fini_all (ph);
  g_assert_cmpstr (calls->str, ==, "");
  g_clear_pointer (&ph, cairn_plugin_host_free);
  g_assert_true (is_loaded (FX ("initfail")));
}

static void
test_unregistered_service (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "noreg", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);

  reset_world ();
  g_assert_true (cairn_plugin_host_resolve (ph, &error));
  g_assert_false (
      cairn_plugin_host_init_all (ph, &test_host, &node_sentinel, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI);
  assert_contains (error->message, "plugin 'noreg' (" FX ("noreg") ")");
  assert_contains (error->message, "lists service test.noreg/1 in provides "
                                   "but did not register it during init "
                                   "(registered: none)");
  assert_contains (error->message, "provide_service");
  /* Its init succeeded, so its fini runs. */
  g_assert_cmpstr (calls->str, ==, "noreg:init noreg:fini");
  g_assert_cmpint (state_of (ph, "noreg"), ==, CAIRN_PLUGIN_STATE_FAILED);
}

static void
test_start_failure (void)
{
  g_autoptr (GError) error = NULL;
  const char *ids[] = { "startfail", "alpha", "needy", "good", NULL };
  g_autoptr (CairnPluginHost) ph = load_ok (ids);

  reset_world ();
  g_assert_true (cairn_plugin_host_resolve (ph, &error));
  g_assert_true (
      cairn_plugin_host_init_all (ph, &test_host, &node_sentinel, &error));
  g_string_truncate (calls, 0);
  g_assert_false (cairn_plugin_host_start_all (ph, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_IO);
  g_assert_cmpstr (
      error->message, ==,
      "plugin 'startfail' (" FX ("startfail") "): start "
                                              "failed: fixture cannot start");
  g_assert_cmpstr (calls->str, ==,
                   "alpha:start good:start needy:start startfail:start "
                   "needy:stop good:stop alpha:stop");
  g_assert_cmpint (state_of (ph, "startfail"), ==, CAIRN_PLUGIN_STATE_FAILED);
  g_assert_cmpint (state_of (ph, "needy"), ==, CAIRN_PLUGIN_STATE_STOPPED);

  /* fini is the caller's, once, for every initialised plugin. */
  g_string_truncate (calls, 0);
  cairn_plugin_host_stop_all (ph);
  cairn_plugin_host_fini_all (ph);
  g_assert_cmpstr (calls->str, ==,
                   "startfail:fini needy:fini good:fini alpha:fini");
  g_string_truncate (calls, 0);
  cairn_plugin_host_fini_all (ph);
  g_assert_cmpstr (calls->str, ==, "");
}

/* ---- statically linked plugins ---- */

static const CairnPluginDescriptor *
bad_static_entry (void)
{
  static CairnPluginDescriptor d = { .magic = 1 };
  return &d;
}

static void
test_static (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnPluginHost) ph = cairn_plugin_host_new ();
  CairnPlugin *p;

  reset_world ();
  g_assert_true (
      cairn_plugin_host_add_static (ph, cairn_plugin_descriptor_fx, &error));
  g_assert_no_error (error);
  p = cairn_plugin_host_find (ph, "builtin");
  g_assert_cmpstr (p->file, ==, "<static>");
  g_assert_null (p->dl);

  g_assert_false (
      cairn_plugin_host_add_static (ph, cairn_plugin_descriptor_fx, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG);
  assert_contains (error->message, "duplicate plugin id 'builtin'");
  g_clear_error (&error);

  g_assert_false (cairn_plugin_host_add_static (ph, bad_static_entry, &error));
  g_assert_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI);
  assert_contains (error->message, "<static>: not a Cairn plugin descriptor "
                                   "(field magic: plugin 0x00000001");
  g_clear_error (&error);
  g_assert_cmpuint (cairn_plugin_host_plugins (ph)->len, ==, 3);

  g_assert_true (cairn_plugin_host_resolve (ph, &error));
  g_assert_true (
      cairn_plugin_host_init_all (ph, &test_host, &node_sentinel, &error));
  g_assert_cmpstr (p->provided->pdata[0], ==, "test.builtin/1");
  cairn_plugin_host_fini_all (ph);
  g_assert_cmpstr (calls->str, ==, "builtin:init builtin:fini");
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  calls = g_string_new (NULL);
  services = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_test_add_func ("/plugin-host/kinds-to-string", test_kinds_to_string);
  g_test_add_func ("/plugin-host/inspect-good", test_inspect_good);
  g_test_add_func ("/plugin-host/inspect-relative", test_inspect_relative);
  g_test_add_func ("/plugin-host/refusals", test_refusals);
  g_test_add_func ("/plugin-host/check-descriptor", test_check_descriptor);
  g_test_add_func ("/plugin-host/search-path", test_search_path);
  g_test_add_func ("/plugin-host/search-order", test_search_order);
  g_test_add_func ("/plugin-host/not-found", test_not_found);
  g_test_add_func ("/plugin-host/duplicate", test_duplicate);
  g_test_add_func ("/plugin-host/misnamed", test_misnamed);
  g_test_add_func ("/plugin-host/resolve-order", test_resolve_order);
  g_test_add_func ("/plugin-host/missing-provider", test_missing_provider);
  g_test_add_func ("/plugin-host/missing-provider-cascade",
                   test_missing_provider_cascade);
  g_test_add_func ("/plugin-host/version-mismatch", test_version_mismatch);
  g_test_add_func ("/plugin-host/duplicate-provider", test_duplicate_provider);
  g_test_add_func ("/plugin-host/cycle", test_cycle);
  g_test_add_func ("/plugin-host/lifecycle", test_lifecycle);
  g_test_add_func ("/plugin-host/free-runs-stop-and-fini",
                   test_free_runs_stop_and_fini);
  g_test_add_func ("/plugin-host/uninitialised-is-unloaded",
                   test_uninitialised_is_unloaded);
  g_test_add_func ("/plugin-host/init-failure", test_init_failure);
  g_test_add_func ("/plugin-host/unregistered-service",
                   test_unregistered_service);
  g_test_add_func ("/plugin-host/start-failure", test_start_failure);
  g_test_add_func ("/plugin-host/static", test_static);

  rc = g_test_run ();
  g_hash_table_unref (services);
  g_string_free (calls, TRUE);
  return rc;
}
