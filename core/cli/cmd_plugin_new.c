/* cairn plugin new NAME --kind KIND [--dir D]: writes an out-of-tree plugin
 * project that builds against the installed SDK only and whose test passes
 * at once: meson.build, NAME.c (the descriptor and every callback of the
 * kind stubbed with a "NAME: <callback> is not implemented yet" error),
 * test-NAME.c (on the SDK's mock host, or its fake host for storage and
 * blob stores), NAME.conf (the conf.d snippet) and README.md.
 *
 * The templates are sdk/templates/, compiled into this binary as a
 * GResource (/org/cairn/templates/common/ and /<kind>/). Placeholders:
 * @NAME@ (the plugin id), @C_NAME@ (a C identifier made of it), @KIND@,
 * @TEST_HOST@ (what the test runs on), @CONF_FILE@ (the snippet's name in
 * conf.d/, numbered to load where the kind's defaults do) and, in the
 * README, @KIND_SECTION@ (the kind's part). */
#include <errno.h>
#include <string.h>

#include <glib/gstdio.h>

#include <cairn/plugin.h>

#include "cli.h"
#include "cmd_plugin_new.h"

#define TEMPLATES "/org/cairn/templates"

typedef struct {
  const char *name;
  const char *test_host; /* what the generated test runs on */
  const char *conf_number;
} Kind;

static const Kind kinds[] = {
  { "app", "the SDK's mock host", "50" },
  { "consensus", "the SDK's mock host", "30" },
  { "storage", "the SDK's fake host, ready for the storage conformance suite",
    "10" },
  { "blobstore",
    "the SDK's fake host, ready for the blob store conformance suite", "15" },
  { "privacy", "the SDK's mock host", "50" },
  { "interface", "the SDK's mock host", "90" },
};

static const Kind *
find_kind (const char *name)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (kinds); i++)
    if (strcmp (kinds[i].name, name) == 0)
      return &kinds[i];
  return NULL;
}

static char *
kind_list (void)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", kinds[i].name);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The node's rule for plugin ids: [a-z0-9-]{1,32}, not reserved. NULL when
 * the name is good, else why not (g_free). */
static char *
name_problem (const char *name)
{
  size_t n = strlen (name);
  if (n == 0 || n > 32)
    return g_strdup_printf ("is %zu characters long; a plugin id has 1 to 32",
                            n);
  for (size_t i = 0; i < n; i++)
    if (!(g_ascii_islower (name[i]) || g_ascii_isdigit (name[i])
          || name[i] == '-'))
      return g_strdup_printf ("has '%c' at position %zu; a plugin id is made "
                              "of a-z, 0-9 and '-'",
                              name[i], i + 1);
  if (cairn_plugin_id_reserved (name))
    return g_strdup ("is reserved for a config group of the node itself "
                     "(node, plugins, http, mempool, block, core, p2p)");
  return NULL;
}

/* A C identifier for CAIRN_PLUGIN_DEFINE: '-' becomes '_', and a name that
 * starts with a digit gets a "p" in front. */
static char *
c_name_of (const char *name)
{
  GString *s = g_string_new (g_ascii_isdigit (name[0]) ? "p" : "");
  for (const char *p = name; *p; p++)
    g_string_append_c (s, *p == '-' ? '_' : *p);
  return g_string_free (s, FALSE);
}

typedef struct {
  const char *name;
  const char *c_name;
  const Kind *kind;
  const char *conf_file;
  const char *kind_section; /* the README's; NULL elsewhere */
} Vars;

static void
replace_all (GString *s, const char *placeholder, const char *value)
{
  if (value != NULL)
    g_string_replace (s, placeholder, value, 0);
}

/* A template with its placeholders filled (g_free). */
static char *
render (const char *resource, const Vars *v, GError **error)
{
  g_autofree char *path = g_strconcat (TEMPLATES "/", resource, NULL);
  g_autoptr (GBytes) data
      = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (data == NULL) {
    g_prefix_error (error, "plugin template %s: ", resource);
    return NULL;
  }
  gsize len;
  const char *text = g_bytes_get_data (data, &len);
  g_autoptr (GString) s = g_string_new_len (text, (gssize)len);
  /* The section first: it holds placeholders of its own. */
  replace_all (s, "@KIND_SECTION@", v->kind_section);
  replace_all (s, "@NAME@", v->name);
  replace_all (s, "@C_NAME@", v->c_name);
  replace_all (s, "@KIND@", v->kind->name);
  replace_all (s, "@TEST_HOST@", v->kind->test_host);
  replace_all (s, "@CONF_FILE@", v->conf_file);
  g_autoptr (GRegex) left = g_regex_new ("@[A-Z_]+@", 0, 0, NULL);
  g_autoptr (GMatchInfo) m = NULL;
  if (g_regex_match (left, s->str, 0, &m)) {
    g_autofree char *what = g_match_info_fetch (m, 0);
    cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                         "plugin template %s: placeholder %s is not filled "
                         "(a bug of this cairn)",
                         resource, what);
    return NULL;
  }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

typedef struct {
  const char *out;      /* file name in the project */
  const char *resource; /* below /org/cairn/templates/ */
} Output;

static const Output outputs[] = {
  { "meson.build", "common/meson.build.in" },
  { "@NAME@.c", "@KIND@/plugin.c.in" },
  { "test-@NAME@.c", "@KIND@/test.c.in" },
  { "@NAME@.conf", "@KIND@/plugin.conf.in" },
  { "README.md", "common/README.md.in" },
};

/* pattern with @NAME@ and @KIND@ filled (g_free). */
static char *
fill (const char *pattern, const Vars *v)
{
  GString *s = g_string_new (pattern);
  g_string_replace (s, "@NAME@", v->name, 0);
  g_string_replace (s, "@KIND@", v->kind->name, 0);
  return g_string_free (s, FALSE);
}

/* Writes every file of the project into dir (which exists, empty). */
static gboolean
write_project (const char *dir, const Vars *v, GPtrArray *written,
               GError **error)
{
  g_autofree char *section_res
      = g_strdup_printf ("%s/README.md.in", v->kind->name);
  g_autofree char *section = render (section_res, v, error);
  if (section == NULL)
    return FALSE;
  Vars readme = *v;
  readme.kind_section = section;
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++) {
    g_autofree char *name = fill (outputs[i].out, v);
    g_autofree char *res = fill (outputs[i].resource, v);
    gboolean is_readme = strcmp (outputs[i].out, "README.md") == 0;
    g_autofree char *text = render (res, is_readme ? &readme : v, error);
    if (text == NULL)
      return FALSE;
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (!g_file_set_contents_full (path, text, -1,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0644, error))
      return FALSE;
    g_ptr_array_add (written, g_steal_pointer (&name));
  }
  return TRUE;
}

/* Makes dir, which must not exist; missing parents are made too. */
static gboolean
make_dir (const char *dir, GError **error)
{
  if (g_file_test (dir, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                "%s already exists; plugin new never "
                                "overwrites: choose another --dir or remove "
                                "it",
                                dir);
  g_autofree char *parent = g_path_get_dirname (dir);
  if (g_mkdir_with_parents (parent, 0755) != 0) {
    int err = errno;
    return cairn_cli_set_error (error, CAIRN_EXIT_FAILED,
                                "cannot create %s: %s", parent,
                                g_strerror (err));
  }
  if (g_mkdir (dir, 0755) != 0) {
    int err = errno;
    return cairn_cli_set_error (
        error, CAIRN_EXIT_FAILED, "cannot create %s: %s%s", dir,
        g_strerror (err), err == EEXIST ? " (it appeared meanwhile)" : "");
  }
  return TRUE;
}

int
cairn_cli_plugin_new (int argc, char **argv)
{
  g_autofree char *kind_opt = NULL;
  g_autofree char *dir_opt = NULL;
  gboolean json = FALSE;
  g_set_prgname ("cairn plugin new"); /* for --help and usage messages */
  g_autofree char *list = kind_list ();
  g_autofree char *kind_help = g_strdup_printf ("The plugin's kind: %s", list);
  const GOptionEntry entries[] = {
    { "kind", 0, 0, G_OPTION_ARG_STRING, &kind_opt, kind_help, "KIND" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_opt,
      "Where to write the project (default: ./NAME); must not exist", "DIR" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json,
      "Print {\"name\",\"kind\",\"dir\",\"files\"}", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = cairn_cli_context_new (
      "NAME --kind KIND [--dir DIR]",
      "Create an out-of-tree plugin project that builds against the "
      "installed SDK.",
      "NAME is the plugin id ([a-z0-9-], 1 to 32 characters): the .so's\n"
      "name, its config group and its state, tx-type and route prefix.\n"
      "The project has meson.build (cairn-sdk-1, and cairn-sdk-testing-1\n"
      "for the test), NAME.c with every callback of the kind stubbed with\n"
      "a \"NAME: <callback> is not implemented yet\" error, test-NAME.c,\n"
      "NAME.conf (a conf.d snippet) and README.md. Then:\n"
      "  cd DIR && meson setup build && meson test -C build\n",
      entries);
  int rc;
  if (!cairn_cli_parse (ctx, &argc, &argv, &rc))
    return rc;
  if (argc < 2)
    return cairn_cli_usage ("plugin new: missing NAME (plugin new NAME --kind "
                            "KIND, KIND one of %s)",
                            list);
  if (argc > 2)
    return cairn_cli_usage ("plugin new: unexpected argument '%s'", argv[2]);
  const char *name = argv[1];
  g_autofree char *why = name_problem (name);
  if (why != NULL)
    return cairn_cli_usage ("plugin new: name '%s' %s", name, why);
  if (kind_opt == NULL)
    return cairn_cli_usage ("plugin new: missing --kind (one of %s)", list);
  const Kind *kind = find_kind (kind_opt);
  if (kind == NULL)
    return cairn_cli_usage ("plugin new: unknown kind '%s' (one of %s)",
                            kind_opt, list);

  g_autofree char *dir = g_strdup (dir_opt != NULL ? dir_opt : name);
  g_autofree char *c_name = c_name_of (name);
  g_autofree char *conf_file
      = g_strdup_printf ("%s-%s.conf", kind->conf_number, name);
  Vars v = {
    .name = name, .c_name = c_name, .kind = kind, .conf_file = conf_file
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  if (!make_dir (dir, &error))
    return cairn_cli_fail (g_steal_pointer (&error));
  if (!write_project (dir, &v, files, &error)) {
    /* Leave nothing half-written behind. */
    g_autoptr (GError) rm_error = NULL;
    if (!cairn_cli_remove_tree (dir, &rm_error))
      cairn_cli_printerr ("%s", rm_error->message);
    g_prefix_error (&error, "plugin new %s: ", name);
    return cairn_cli_fail (g_steal_pointer (&error));
  }

  if (json) {
    g_autoptr (json_t) out
        = json_pack ("{s:s, s:s, s:s, s:[]}", "name", name, "kind", kind->name,
                     "dir", dir, "files");
    for (guint i = 0; i < files->len; i++)
      json_array_append_new (json_object_get (out, "files"),
                             json_string (files->pdata[i]));
    cairn_cli_print_json (out);
    return CAIRN_EXIT_OK;
  }
  g_print ("created the %s plugin project '%s' in %s/:\n", kind->name, name,
           dir);
  for (guint i = 0; i < files->len; i++)
    g_print ("  %s\n", (const char *)files->pdata[i]);
  g_autofree char *qdir = g_shell_quote (dir);
  g_print ("next:\n  cd %s && meson setup build && meson test -C build\n"
           "then fill in the stubs of %s.c (README.md says what each is "
           "for)\n",
           qdir, name);
  return CAIRN_EXIT_OK;
}
