/* cairn plugin list|inspect|sign|new, and the default plugin search path the
 * node is started with. `list` reads the config and checks every plugin the
 * way the node would (load + resolve) without running any plugin code. */
#include <dlfcn.h>
#include <string.h>

#include <cairn/cairn.h>

#include "config.h"

#include "cli.h"
#include "cmd_plugin_new.h"
#include "plugin_host.h"
#include "plugin_sig.h"

char **
cairn_cli_default_plugin_path (void)
{
  g_autoptr (GStrvBuilder) dirs = g_strv_builder_new ();
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe) {
    g_autofree char *exe_dir = g_path_get_dirname (exe);
    /* A relocatable distribution (cairn dist): <root>/bin/cairn loads its
     * own <root>/lib/cairn-1/plugins and nothing from the system. */
    g_autofree char *root = cairn_cli_dist_root ();
    if (root) {
      g_autofree char *dist
          = g_build_filename (root, "lib", "cairn-1", "plugins", NULL);
      g_strv_builder_add (dirs, dist);
      return g_strv_builder_end (dirs);
    }
    /* Run from a build tree: build/core/cairn → build/plugins/<id>/<id>.so */
    g_autofree char *rel = g_build_filename (exe_dir, "..", "plugins", NULL);
    g_autofree char *dir = g_canonicalize_filename (rel, NULL);
    if (g_file_test (dir, G_FILE_TEST_IS_DIR))
      g_strv_builder_add (dirs, dir);
  }
#ifdef CAIRN_PLUGINSDIR
  g_strv_builder_add (dirs, CAIRN_PLUGINSDIR);
#endif
  return g_strv_builder_end (dirs);
}

static const char *
state_name (CairnPluginState state)
{
  switch (state) {
  case CAIRN_PLUGIN_STATE_FOUND:
    return "found";
  case CAIRN_PLUGIN_STATE_FAILED:
    return "failed";
  case CAIRN_PLUGIN_STATE_INITIALIZED:
    return "initialized";
  case CAIRN_PLUGIN_STATE_STARTED:
    return "started";
  case CAIRN_PLUGIN_STATE_STOPPED:
    return "stopped";
  }
  return "unknown";
}

static json_t *
services_json (const CairnServiceRef *refs)
{
  json_t *list = json_array ();
  for (const CairnServiceRef *r = refs; r && r->name; r++)
    json_array_append_new (list, json_sprintf ("%s/%u", r->name, r->version));
  return list;
}

static char *
services_text (const CairnServiceRef *refs)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (const CairnServiceRef *r = refs; r && r->name; r++)
    g_string_append_printf (s, "%s%s/%u", s->len ? ", " : "", r->name,
                            r->version);
  return g_strdup (s->len ? s->str : "-");
}

static json_t *
kinds_json (uint32_t kinds)
{
  json_t *list = json_array ();
  if (kinds == 0)
    return list;
  g_autofree char *text = cairn_plugin_kinds_to_string (kinds);
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  for (char **p = parts; *p; p++)
    if (**p)
      json_array_append_new (list, json_string (*p));
  return list;
}

static json_t *
str_or_null (const char *s)
{
  return s ? json_string (s) : json_null ();
}

/* The descriptor as JSON (what list and inspect both show). */
static json_t *
descriptor_json (const CairnPluginDescriptor *d)
{
  json_t *o = json_object ();
  json_object_set_new (o, "id", str_or_null (d->id));
  json_object_set_new (o, "version", str_or_null (d->version));
  json_object_set_new (o, "vendor", str_or_null (d->vendor));
  json_object_set_new (o, "license", str_or_null (d->license));
  json_object_set_new (o, "description", str_or_null (d->description));
  json_object_set_new (o, "kinds", kinds_json (d->kinds));
  json_object_set_new (o, "abi",
                       json_pack ("{s:i, s:i, s:i}", "major", d->abi_major,
                                  "built_minor", d->abi_built_minor,
                                  "min_minor", d->abi_min_minor));
  json_object_set_new (o, "provides", services_json (d->provides));
  json_object_set_new (o, "requires", services_json (d->requires));
  return o;
}

static void
print_descriptor_human (const CairnPluginDescriptor *d)
{
  g_autofree char *kinds = cairn_plugin_kinds_to_string (d->kinds);
  g_autofree char *provides = services_text (d->provides);
  g_autofree char *requires = services_text (d->requires);
  cairn_cli_print_field ("  kind", "%s", kinds && *kinds ? kinds : "-");
  cairn_cli_print_field ("  version", "%s", d->version ? d->version : "-");
  cairn_cli_print_field ("  abi", "%u.%u (needs host minor >= %u)",
                         d->abi_major, d->abi_built_minor, d->abi_min_minor);
  cairn_cli_print_field ("  vendor", "%s", d->vendor ? d->vendor : "-");
  cairn_cli_print_field ("  provides", "%s", provides);
  cairn_cli_print_field ("  requires", "%s", requires);
}

/* The ids the config enables and the dirs the node would search. */
static gboolean
read_plugin_config (const char *home, char ***ids, char ***dirs,
                    CairnPluginTrust **trust, GError **error)
{
  g_autoptr (CairnConfig) cfg = cairn_config_load (home, error);
  if (cfg == NULL)
    return FALSE;
  *trust = cairn_plugin_trust_from_config (cfg, error);
  if (*trust == NULL)
    return FALSE;
  g_auto (GStrv) load = NULL;
  g_auto (GStrv) cfg_path = NULL;
  if (!cairn_config_strv (cfg, "plugins", "load", &load, error)
      || !cairn_config_strv (cfg, "plugins", "path", &cfg_path, error))
    return FALSE;
  /* Same order as the node: [plugins] path, then the built-in dirs. */
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (char **p = cfg_path; *p; p++) {
    g_autofree char *resolved = cairn_config_path (cfg, *p);
    g_strv_builder_add (b, resolved);
  }
  g_auto (GStrv) defaults = cairn_cli_default_plugin_path ();
  g_strv_builder_addv (b, (const char **)defaults);
  *dirs = g_strv_builder_end (b);
  *ids = g_steal_pointer (&load);
  return TRUE;
}

static int
plugin_list (const char *home, gboolean json)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) ids = NULL;
  g_auto (GStrv) dirs = NULL;
  CairnPluginTrust *trust = NULL;
  if (!read_plugin_config (home, &ids, &dirs, &trust, &error))
    return cairn_cli_fail (g_steal_pointer (&error));

  g_autoptr (CairnPluginHost) ph = cairn_plugin_host_new ();
  cairn_plugin_host_set_path (ph, (const char *const *)dirs);
  cairn_plugin_host_set_trust (ph, trust);
  /* Failures are recorded per plugin and listed; they do not stop us. */
  g_autoptr (GError) load_error = NULL;
  g_autoptr (GError) resolve_error = NULL;
  gboolean ok
      = cairn_plugin_host_load (ph, (const char *const *)ids, &load_error);
  ok = cairn_plugin_host_resolve (ph, &resolve_error) && ok;

  GPtrArray *plugins = cairn_plugin_host_plugins (ph);
  g_autoptr (json_t) list = json_array ();
  for (guint i = 0; i < plugins->len; i++) {
    CairnPlugin *p = plugins->pdata[i];
    if (p->state == CAIRN_PLUGIN_STATE_FAILED)
      ok = FALSE;
    if (json) {
      json_t *o = descriptor_json (&p->desc);
      json_object_set_new (o, "file", str_or_null (p->file));
      json_object_set_new (o, "state", json_string (state_name (p->state)));
      json_object_set_new (o, "error",
                           str_or_null (p->error ? p->error->message : NULL));
      json_array_append_new (list, o);
      continue;
    }
    g_print ("%s%s  [%s]\n", i ? "\n" : "", p->desc.id ? p->desc.id : "?",
             state_name (p->state));
    print_descriptor_human (&p->desc);
    cairn_cli_print_field ("  file", "%s", p->file ? p->file : "-");
    if (p->error)
      cairn_cli_print_field ("  error", "%s", p->error->message);
  }
  /* A dependency problem belongs to no single record: show it too. */
  const GError *first = load_error ? load_error : resolve_error;
  if (json) {
    g_autoptr (json_t) out
        = json_pack ("{s:O, s:[], s:o, s:b}", "plugins", list, "path", "error",
                     str_or_null (first ? first->message : NULL), "ok", ok);
    for (char **d = dirs; *d; d++)
      json_array_append_new (json_object_get (out, "path"), json_string (*d));
    cairn_cli_print_json (out);
  } else {
    if (plugins->len == 0)
      g_print ("no plugins enabled in %s ([plugins] load is empty)\n", home);
    g_autofree char *path = g_strjoinv (":", dirs);
    g_print ("\nsearch path: %s\n", path);
    if (resolve_error)
      cairn_cli_printerr ("%s", resolve_error->message);
  }
  return ok ? CAIRN_EXIT_OK : CAIRN_EXIT_FAILED;
}

static int
plugin_inspect (const char *file, gboolean json)
{
  if (!g_file_test (file, G_FILE_TEST_EXISTS)) {
    cairn_cli_printerr ("%s: no such file", file);
    return CAIRN_EXIT_NOT_FOUND;
  }
  CairnPluginDescriptor d;
  void *dl = NULL;
  g_autoptr (GError) error = NULL;
  if (!cairn_plugin_inspect_file (file, &d, &dl, &error)) {
    if (dl)
      dlclose (dl);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree char *magic = g_strdup_printf ("0x%08x", d.magic);
  g_autofree char *fp = g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x",
                                         (guint64)d.build_fingerprint);
  g_autofree char *host_fp = g_strdup_printf ("0x%016" G_GINT64_MODIFIER "x",
                                              (guint64)CAIRN_BUILD_FINGERPRINT);
  g_autoptr (json_t) sig = cairn_plugin_sig_status (NULL, file);
  if (json) {
    g_autoptr (json_t) o = descriptor_json (&d);
    json_object_set_new (o, "file", json_string (file));
    json_object_set (o, "signature", sig);
    json_object_set_new (o, "magic", json_string (magic));
    json_object_set_new (o, "struct_size", json_integer (d.struct_size));
    json_object_set_new (o, "build_fingerprint", json_string (fp));
    json_object_set_new (o, "host_build_fingerprint", json_string (host_fp));
    json_object_set_new (o, "kinds_mask", json_integer (d.kinds));
    json_object_set_new (o, "callbacks",
                         json_pack ("{s:b, s:b, s:b, s:b}", "init",
                                    d.init != NULL, "start", d.start != NULL,
                                    "stop", d.stop != NULL, "fini",
                                    d.fini != NULL));
    json_object_set_new (o, "compatible", json_true ());
    cairn_cli_print_json (o);
  } else {
    g_print ("%s  (%s)\n", d.id, file);
    print_descriptor_human (&d);
    cairn_cli_print_field ("  license", "%s", d.license ? d.license : "-");
    cairn_cli_print_field ("  about", "%s",
                           d.description ? d.description : "-");
    cairn_cli_print_field ("  magic", "%s", magic);
    cairn_cli_print_field ("  size", "%u bytes", d.struct_size);
    cairn_cli_print_field ("  build", "%s (host %s)", fp, host_fp);
    cairn_cli_print_field ("  callbacks", "init%s%s%s", d.start ? " start" : "",
                           d.stop ? " stop" : "", d.fini ? " fini" : "");
    const char *st = json_string_value (json_object_get (sig, "status"));
    const char *by = json_string_value (json_object_get (sig, "pubkey"));
    const char *why = json_string_value (json_object_get (sig, "error"));
    cairn_cli_print_field ("  signature", "%s%s%s%s%s", st, by ? " by " : "",
                           by ? by : "", why ? ": " : "", why ? why : "");
    cairn_cli_print_field ("  verdict", "loadable by this cairn (ABI %d.%d)",
                           CAIRN_ABI_MAJOR, CAIRN_ABI_MINOR);
  }
  /* The strings above point into the library: close it only now. */
  if (dl)
    dlclose (dl);
  return CAIRN_EXIT_OK;
}

static int
plugin_sign (const char *file, const char *key_path, gboolean json)
{
  if (key_path == NULL)
    return cairn_cli_usage ("plugin sign: --key VENDOR.pem is required");
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnKey) key = cairn_key_load (key_path, &error);
  if (key == NULL)
    return cairn_cli_fail (g_steal_pointer (&error));
  if (!g_file_test (file, G_FILE_TEST_IS_REGULAR)) {
    cairn_cli_printerr ("%s: no such file", file);
    return CAIRN_EXIT_NOT_FOUND;
  }
  /* The descriptor is part of what is signed: read it the way the node
   * does (which also refuses a file that is not a loadable plugin). */
  CairnPluginDescriptor d;
  void *dl = NULL;
  if (!cairn_plugin_inspect_file (file, &d, &dl, &error)) {
    if (dl)
      dlclose (dl);
    return cairn_cli_fail (g_steal_pointer (&error));
  }
  g_autofree char *sig_path = NULL;
  gboolean ok = cairn_plugin_sig_write (file, &d, key, &sig_path, &error);
  g_autofree char *id = g_strdup (d.id);
  dlclose (dl);
  if (!ok)
    return cairn_cli_fail (g_steal_pointer (&error));
  g_autofree char *pk = cairn_hex_encode (cairn_key_pubkey (key), 32);
  if (json) {
    g_autoptr (json_t) o
        = json_pack ("{s:s,s:s,s:s,s:s}", "file", file, "signature", sig_path,
                     "id", id, "pubkey", pk);
    cairn_cli_print_json (o);
  } else {
    g_print ("signed %s (plugin %s) with key %s: %s\n", file, id, pk, sig_path);
  }
  return CAIRN_EXIT_OK;
}

int
cairn_cmd_plugin (int argc, char **argv)
{
  g_autofree char *home_opt = NULL;
  g_autofree char *key_opt = NULL;
  gboolean json = FALSE;
  const GOptionEntry entries[] = {
    { "home", 0, 0, G_OPTION_ARG_FILENAME, &home_opt,
      "Node home whose config is listed (default: $CAIRN_HOME)", "DIR" },
    { "key", 0, 0, G_OPTION_ARG_FILENAME, &key_opt,
      "sign: the vendor's Ed25519 key (PEM)", "VENDOR.pem" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "list | inspect FILE.so | sign FILE.so | new NAME --kind KIND",
      "Inspect and sign plugins without running a node.",
      "Commands:\n"
      "  list           the plugins DIR's config enables, checked the way the\n"
      "                 node loads them: id, kind, version, ABI, vendor, "
      "file,\n"
      "                 provides/requires, state and error (exit 1 if any "
      "failed)\n"
      "  inspect FILE   every field of a plugin file's descriptor and its\n"
      "                 signature\n"
      "  sign FILE      write FILE.sig: the vendor's Ed25519 signature over\n"
      "                 the file's SHA-256 and its descriptor (--key); nodes\n"
      "                 with [plugins] require_signed_plugins = true load\n"
      "                 only plugins signed by a key in trusted_keys\n"
      "  new NAME --kind app|consensus|storage|blobstore|privacy|interface\n"
      "                 [--dir DIR]: write a plugin project that builds\n"
      "                 against the installed SDK, every callback stubbed,\n"
      "                 with a passing test (cairn plugin new --help)",
      entries);
  /* `new` has options of its own (--kind, --dir): it parses them itself. */
  if (argc >= 2 && g_str_equal (argv[1], "new"))
    return cairn_cli_plugin_new (argc - 1, argv + 1);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc < 2)
    return cairn_cli_usage ("missing command: list, inspect, sign or new");
  const char *sub = argv[1];
  if (g_str_equal (sub, "new"))
    return cairn_cli_usage ("plugin new: put its options after it: plugin "
                            "new NAME --kind KIND [--dir DIR]");
  if (g_str_equal (sub, "sign")) {
    if (argc != 3)
      return cairn_cli_usage ("usage: plugin sign --key VENDOR.pem FILE.so");
    return plugin_sign (argv[2], key_opt, json);
  }
  if (g_str_equal (sub, "inspect")) {
    if (argc != 3)
      return cairn_cli_usage ("usage: plugin inspect FILE.so");
    return plugin_inspect (argv[2], json);
  }
  if (!g_str_equal (sub, "list"))
    return cairn_cli_usage (
        "unknown plugin command '%s' (list, inspect, sign, new)", sub);
  if (argc != 2)
    return cairn_cli_usage ("unexpected argument '%s'", argv[2]);
  const char *home = cairn_cli_require_home (home_opt);
  if (home == NULL)
    return CAIRN_EXIT_USAGE;
  return plugin_list (home, json);
}
