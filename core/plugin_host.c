/* The plugin host: find, validate, order and run plugins. See
 * plugin_host.h for the load rule and sdk/include/cairn/plugin.h for the
 * descriptor. */
#include "plugin_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cairn/error.h>
#include <cairn/util.h>

#include "plugin_check.h"
#include "plugin_sig.h"

/* The host's record; CairnPlugin comes first so the two pointers are the
 * same. */
typedef struct {
  CairnPlugin pub;
  char *name;        /* requested id (or file stem): desc.id until read */
  gboolean init_ran; /* init was called: the handle is never closed */
  gboolean live;     /* init succeeded and fini has not run */
  /* The memfd a signed plugin was loaded from, open as long as the handle
   * is: glibc knows a loaded object by its path, and a reused fd number
   * must never name two plugins. -1 otherwise. */
  int memfd;
} PluginRecord;

struct CairnPluginHost {
  GPtrArray *plugins;  /* PluginRecord *, owned; load order, then resolved */
  GPtrArray *requests; /* every id passed to load, to skip repeats */
  char **path;
  gboolean resolved;
  CairnPluginTrust *trust; /* NULL: signatures are not looked at */
};

static const char *const kind_names[] = {
  "consensus", "storage", "blobstore", "privacy", "app", "interface",
};

char *
cairn_plugin_kinds_to_string (uint32_t kinds)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (kinds & (1u << i))
      g_string_append_printf (s, "%s%s", s->len ? "," : "", kind_names[i]);
  if (kinds & ~CAIRN_KIND_ALL)
    g_string_append_printf (s, "%s0x%" PRIx32, s->len ? "," : "",
                            kinds & ~CAIRN_KIND_ALL);
  if (s->len == 0)
    g_string_append (s, "none");
  return g_string_free (s, FALSE);
}

/* The verified bytes of a signed plugin in an anonymous file: what gets
 * loaded is what was checked, whatever happens to the file on disk. */
static int
memfd_of (const char *path, GBytes *bytes, GError **error)
{
  g_autofree char *base = g_path_get_basename (path);
  int fd = memfd_create (base, MFD_CLOEXEC);
  gsize len;
  const char *p = g_bytes_get_data (bytes, &len);
  while (fd >= 0 && len > 0) {
    ssize_t w = write (fd, p, len);
    if (w < 0) {
      close (fd);
      fd = -1;
      break;
    }
    p += w;
    len -= (gsize)w;
  }
  if (fd < 0)
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_IO,
                 "%s: cannot copy the verified plugin to memory: %s", path,
                 g_strerror (errno));
  return fd;
}

/* [signature check +] dlopen + dlsym + checks; on success *dl_out owns the
 * handle. */
static gboolean
open_plugin_file (const char *path, const CairnPluginTrust *trust,
                  CairnPluginDescriptor *out, void **dl_out, int *fd_out,
                  GError **error)
{
  /* Without a '/', dlopen would search the library path, not the file. */
  g_autofree char *dl_path
      = strchr (path, '/') ? g_strdup (path) : g_strconcat ("./", path, NULL);
  void *dl;
  void *sym;
  CairnPluginEntry entry;
  g_autoptr (GBytes) verified = NULL;
  g_autoptr (json_t) signed_desc = NULL;
  int fd = -1;

  *dl_out = NULL;
  if (trust != NULL) {
    if (!cairn_plugin_sig_check (trust, path, &verified, &signed_desc, error))
      return FALSE;
    if (verified != NULL) {
      fd = memfd_of (path, verified, error);
      if (fd < 0)
        return FALSE;
      g_free (dl_path);
      dl_path = g_strdup_printf ("/proc/self/fd/%d", fd);
    }
  }
  dlerror ();
  dl = dlopen (dl_path, RTLD_NOW | RTLD_LOCAL);
  if (!dl && fd >= 0)
    close (fd);
  if (!dl) {
    const char *why = dlerror ();
    if (!why)
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
    return FALSE;
  }
  dlerror ();
  sym = dlsym (dl, CAIRN_PLUGIN_ENTRY_SYMBOL);
  if (!sym) {
    const char *why = dlerror ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "%s: not a Cairn plugin: no '%s' symbol (%s); define the "
                 "plugin with CAIRN_PLUGIN_DEFINE and link it with "
                 "cairn-sdk-1's version script",
                 path, CAIRN_PLUGIN_ENTRY_SYMBOL, why ? why : "symbol is NULL");
    dlclose (dl);
    if (fd >= 0)
      close (fd);
    return FALSE;
  }
  entry = (CairnPluginEntry)sym;
  if (!cairn_plugin_check_descriptor (path, entry (), out, error)
      || (signed_desc != NULL
          && !cairn_plugin_sig_match (signed_desc, out, path, error))) {
    dlclose (dl);
    if (fd >= 0)
      close (fd);
    return FALSE;
  }
  *dl_out = dl;
  *fd_out = fd;
  return TRUE;
}

gboolean
cairn_plugin_inspect_file (const char *path, CairnPluginDescriptor *out,
                           void **dl_out, GError **error)
{
  memset (out, 0, sizeof *out);
  int fd;
  return open_plugin_file (path, NULL, out, dl_out, &fd, error);
}

/* ---- records ---- */

static gboolean
str_in_array (GPtrArray *strs, const char *s)
{
  return g_ptr_array_find_with_equal_func (strs, s, g_str_equal, NULL);
}

static void
record_free (gpointer p)
{
  PluginRecord *r = p;

  /* Code that ran init may have left callbacks anywhere in the process. */
  if (r->pub.dl && !r->init_ran) {
    dlclose (r->pub.dl);
    if (r->memfd >= 0)
      close (r->memfd);
  }
  g_free (r->pub.file);
  g_clear_error (&r->pub.error);
  g_free (r->pub.log_domain);
  g_free (r->pub.data_dir);
  g_ptr_array_unref (r->pub.provided);
  g_free (r->name);
  g_free (r);
}

static PluginRecord *
record_new (CairnPluginHost *ph, const char *name, const char *file)
{
  PluginRecord *r = g_new0 (PluginRecord, 1);

  r->name = g_strdup (name);
  r->memfd = -1;
  r->pub.desc.id = r->name;
  r->pub.file = g_strdup (file);
  r->pub.provided = g_ptr_array_new_with_free_func (g_free);
  r->pub.state = CAIRN_PLUGIN_STATE_FOUND;
  g_ptr_array_add (ph->plugins, r);
  ph->resolved = FALSE;
  return r;
}

/* Mark failed, keep a copy of the error for `plugin list`. */
static void
record_fail (PluginRecord *r, const GError *err)
{
  r->pub.state = CAIRN_PLUGIN_STATE_FAILED;
  g_clear_error (&r->pub.error);
  r->pub.error = g_error_copy (err);
}

static PluginRecord *
find_live (CairnPluginHost *ph, const char *id, const PluginRecord *except)
{
  for (guint i = 0; i < ph->plugins->len; i++) {
    PluginRecord *r = ph->plugins->pdata[i];
    if (r != except && r->pub.state != CAIRN_PLUGIN_STATE_FAILED
        && strcmp (r->pub.desc.id, id) == 0)
      return r;
  }
  return NULL;
}

/* Install a checked descriptor in r, refusing a duplicate id. */
static gboolean
record_accept (CairnPluginHost *ph, PluginRecord *r,
               const CairnPluginDescriptor *desc, void *dl, GError **error)
{
  PluginRecord *other;

  r->pub.desc = *desc;
  r->pub.dl = dl;
  other = find_live (ph, desc->id, r);
  if (other) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "%s: duplicate plugin id '%s', already loaded from %s "
                 "(field id: plugin '%s', loaded '%s'); load only one of "
                 "them: fix [plugins] load or [plugins] path",
                 r->pub.file, desc->id, other->pub.file, desc->id,
                 other->pub.desc.id);
    return FALSE;
  }
  return TRUE;
}

CairnPluginHost *
cairn_plugin_host_new (void)
{
  CairnPluginHost *ph = g_new0 (CairnPluginHost, 1);
  ph->plugins = g_ptr_array_new_with_free_func (record_free);
  ph->requests = g_ptr_array_new_with_free_func (g_free);
  return ph;
}

void
cairn_plugin_host_free (CairnPluginHost *ph)
{
  if (!ph)
    return;
  /* The owner should have done this; both are no-ops when it did. */
  cairn_plugin_host_stop_all (ph);
  cairn_plugin_host_fini_all (ph);
  g_ptr_array_unref (ph->plugins);
  g_ptr_array_unref (ph->requests);
  g_strfreev (ph->path);
  cairn_plugin_trust_free (ph->trust);
  g_free (ph);
}

void
cairn_plugin_host_set_trust (CairnPluginHost *ph, CairnPluginTrust *trust)
{
  cairn_plugin_trust_free (ph->trust);
  ph->trust = trust;
}

void
cairn_plugin_host_set_path (CairnPluginHost *ph, const char *const *dirs)
{
  g_strfreev (ph->path);
  ph->path = g_strdupv ((char **)dirs);
}

gboolean
cairn_plugin_host_add_static (CairnPluginHost *ph, CairnPluginEntry entry,
                              GError **error)
{
  CairnPluginDescriptor desc;
  g_autoptr (GError) local = NULL;
  PluginRecord *r = record_new (ph, "<static>", "<static>");

  if (!cairn_plugin_check_descriptor ("<static>", entry ? entry () : NULL,
                                      &desc, &local)
      || !record_accept (ph, r, &desc, NULL, &local)) {
    record_fail (r, local);
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  return TRUE;
}

/* "<dir>/<id>.so", then "<dir>/<id>/<id>.so", for each dir in order. */
static char *
search_plugin (CairnPluginHost *ph, const char *id, GError **error)
{
  g_autofree char *so = g_strconcat (id, ".so", NULL);
  g_autofree char *dirs = NULL;

  for (char **d = ph->path; d && *d; d++) {
    char *flat = g_build_filename (*d, so, NULL);
    char *nested;

    if (g_file_test (flat, G_FILE_TEST_IS_REGULAR))
      return flat;
    g_free (flat);
    nested = g_build_filename (*d, id, so, NULL);
    if (g_file_test (nested, G_FILE_TEST_IS_REGULAR))
      return nested;
    g_free (nested);
  }
  dirs = ph->path && ph->path[0] ? g_strjoinv (", ", ph->path)
                                 : g_strdup ("(no directories)");
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND,
               "plugin '%s' not found: looked for %s.so and %s/%s.so in %s; "
               "install it there, add its directory to [plugins] path, or "
               "remove '%s' from [plugins] load",
               id, id, id, id, dirs, id);
  return NULL;
}

static gboolean
load_one (CairnPluginHost *ph, const char *id, GError **error)
{
  gboolean is_path = strchr (id, '/') != NULL;
  g_autofree char *name = NULL;
  g_autofree char *file = NULL;
  g_autoptr (GError) local = NULL;
  CairnPluginDescriptor desc;
  PluginRecord *r;
  void *dl;

  if (is_path) {
    name = g_path_get_basename (id);
    if (g_str_has_suffix (name, ".so"))
      name[strlen (name) - 3] = '\0';
    file = g_strdup (id);
  } else {
    name = g_strdup (id);
    file = search_plugin (ph, id, &local);
  }
  r = record_new (ph, name, file ? file : "(not found)");
  if (!file
      || !open_plugin_file (file, ph->trust, &desc, &dl, &r->memfd, &local))
    goto fail;
  if (!is_path && strcmp (desc.id, id) != 0) {
    g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "%s: file is named for plugin '%s' but its descriptor "
                 "says '%s' (field id: plugin '%s', requested '%s'); name "
                 "the file %s.so or load '%s'",
                 file, id, desc.id, desc.id, id, desc.id, desc.id);
    dlclose (dl); /* desc's strings point into it */
    if (r->memfd >= 0)
      close (r->memfd);
    r->memfd = -1;
    goto fail;
  }
  if (!record_accept (ph, r, &desc, dl, &local))
    goto fail;
  return TRUE;

fail:
  record_fail (r, local);
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

gboolean
cairn_plugin_host_load (CairnPluginHost *ph, const char *const *ids,
                        GError **error)
{
  GError *first = NULL;

  for (const char *const *id = ids; id && *id; id++) {
    g_autoptr (GError) local = NULL;

    /* [plugins] load appends across files: the same id twice is one
     * plugin, not a duplicate. */
    if (str_in_array (ph->requests, *id))
      continue;
    g_ptr_array_add (ph->requests, g_strdup (*id));
    if (!load_one (ph, *id, &local) && !first)
      first = g_steal_pointer (&local);
  }
  if (first) {
    g_propagate_error (error, first);
    return FALSE;
  }
  return TRUE;
}

GPtrArray *
cairn_plugin_host_plugins (CairnPluginHost *ph)
{
  return ph->plugins;
}

CairnPlugin *
cairn_plugin_host_find (CairnPluginHost *ph, const char *id)
{
  PluginRecord *r = find_live (ph, id, NULL);

  for (guint i = 0; !r && i < ph->plugins->len; i++)
    if (strcmp (((PluginRecord *)ph->plugins->pdata[i])->pub.desc.id, id) == 0)
      r = ph->plugins->pdata[i];
  return r ? &r->pub : NULL;
}

/* ---- dependency order ---- */

static gboolean
is_failed (const PluginRecord *r)
{
  return r->pub.state == CAIRN_PLUGIN_STATE_FAILED;
}

static gboolean
provides_service (const PluginRecord *r, const CairnServiceRef *s,
                  gboolean any_version)
{
  for (const CairnServiceRef *p = r->pub.desc.provides; p && p->name; p++)
    if (strcmp (p->name, s->name) == 0
        && (any_version || p->version == s->version))
      return TRUE;
  return FALSE;
}

/* The provider of s among plugins that did not fail (failed == FALSE) or
 * among those that did (failed == TRUE). */
static PluginRecord *
provider_of (CairnPluginHost *ph, const CairnServiceRef *s, gboolean failed,
             gboolean any_version)
{
  for (guint i = 0; i < ph->plugins->len; i++) {
    PluginRecord *r = ph->plugins->pdata[i];
    if (is_failed (r) == failed && provides_service (r, s, any_version))
      return r;
  }
  return NULL;
}

static const CairnServiceRef *
provided_version (const PluginRecord *r, const char *name)
{
  for (const CairnServiceRef *p = r->pub.desc.provides; p && p->name; p++)
    if (strcmp (p->name, name) == 0)
      return p;
  return NULL;
}

/* A plugin id to suggest for a service: "cairn.bank" -> "bank". */
static char *
guess_provider (const char *service)
{
  const char *dot = strrchr (service, '.');
  const char *tail = dot ? dot + 1 : service;
  if (cairn_plugin_id_valid (tail) && !cairn_plugin_id_reserved (tail))
    return g_strdup_printf ("add '%s' (or the plugin that provides it) to "
                            "[plugins] load",
                            tail);
  return g_strdup ("add the plugin that provides it to [plugins] load");
}

/* Two live plugins providing the same service: refuse the later one. */
static void
check_duplicate_providers (CairnPluginHost *ph, GError **first)
{
  for (guint j = 0; j < ph->plugins->len; j++) {
    PluginRecord *b = ph->plugins->pdata[j];
    for (const CairnServiceRef *s = b->pub.desc.provides;
         !is_failed (b) && s && s->name; s++)
      for (guint i = 0; i < j; i++) {
        PluginRecord *a = ph->plugins->pdata[i];
        g_autoptr (GError) err = NULL;
        if (is_failed (a) || !provides_service (a, s, FALSE))
          continue;
        g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                     "plugins '%s' (%s) and '%s' (%s) both provide "
                     "service %s/%" PRIu32 "; load only one of them",
                     a->pub.desc.id, a->pub.file, b->pub.desc.id, b->pub.file,
                     s->name, s->version);
        record_fail (b, err);
        if (!*first)
          *first = g_steal_pointer (&err);
        break;
      }
  }
}

/* Fail every live plugin whose required service has no live provider,
 * until none is left (a failure can orphan others). */
static void
check_missing_providers (CairnPluginHost *ph, GError **first)
{
  gboolean changed = TRUE;

  while (changed) {
    changed = FALSE;
    for (guint i = 0; i < ph->plugins->len; i++) {
      PluginRecord *r = ph->plugins->pdata[i];
      for (const CairnServiceRef *s = r->pub.desc.requires;
           !is_failed (r) && s && s->name; s++) {
        g_autoptr (GError) err = NULL;
        PluginRecord *p;

        if (provider_of (ph, s, FALSE, FALSE))
          continue;
        if ((p = provider_of (ph, s, TRUE, FALSE)))
          g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                       "plugin '%s' requires service %s/%" PRIu32
                       ", whose provider '%s' (%s) failed: %s",
                       r->pub.desc.id, s->name, s->version, p->pub.desc.id,
                       p->pub.file, p->pub.error->message);
        else if ((p = provider_of (ph, s, FALSE, TRUE)))
          g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                       "plugin '%s' requires service %s/%" PRIu32
                       ", but plugin '%s' provides %s/%" PRIu32
                       "; use versions of the two plugins that match",
                       r->pub.desc.id, s->name, s->version, p->pub.desc.id,
                       s->name, provided_version (p, s->name)->version);
        else {
          g_autofree char *hint = guess_provider (s->name);
          g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                       "plugin '%s' requires service %s/%" PRIu32
                       ", which no loaded plugin provides; %s",
                       r->pub.desc.id, s->name, s->version, hint);
        }
        record_fail (r, err);
        if (!*first)
          *first = g_steal_pointer (&err);
        changed = TRUE;
      }
    }
  }
}

/* The first dependency of r (smallest provider id) that is not placed. */
static PluginRecord *
unplaced_dependency (CairnPluginHost *ph, PluginRecord *r, GHashTable *placed,
                     const CairnServiceRef **via)
{
  PluginRecord *best = NULL;

  for (const CairnServiceRef *s = r->pub.desc.requires; s && s->name; s++) {
    PluginRecord *p = provider_of (ph, s, FALSE, FALSE);
    if (p && !g_hash_table_contains (placed, p)
        && (!best || strcmp (p->pub.desc.id, best->pub.desc.id) < 0)) {
      best = p;
      *via = s;
    }
  }
  return best;
}

/* Follow unplaced dependencies from the smallest remaining id until one
 * repeats; fail the plugins on that cycle and everything waiting on it. */
static void
fail_cycle (CairnPluginHost *ph, GPtrArray *rest, GHashTable *placed,
            GError **first)
{
  g_autoptr (GPtrArray) path = g_ptr_array_new ();
  g_autoptr (GPtrArray) vias = g_ptr_array_new ();
  g_autoptr (GString) chain = g_string_new (NULL);
  g_autoptr (GString) why = g_string_new (NULL);
  g_autoptr (GError) err = NULL;
  PluginRecord *cur = rest->pdata[0];
  guint start;

  for (guint i = 1; i < rest->len; i++)
    if (strcmp (((PluginRecord *)rest->pdata[i])->pub.desc.id, cur->pub.desc.id)
        < 0)
      cur = rest->pdata[i];
  while (!g_ptr_array_find (path, cur, &start)) {
    const CairnServiceRef *via = NULL;
    g_ptr_array_add (path, cur);
    cur = unplaced_dependency (ph, cur, placed, &via);
    g_ptr_array_add (vias, (gpointer)via);
  }
  for (guint i = start; i < path->len; i++) {
    PluginRecord *a = path->pdata[i];
    PluginRecord *b
        = i + 1 < path->len ? path->pdata[i + 1] : path->pdata[start];
    const CairnServiceRef *s = vias->pdata[i];
    g_string_append_printf (chain, "%s -> ", a->pub.desc.id);
    g_string_append_printf (why, "%s%s requires %s/%" PRIu32 " from %s",
                            why->len ? ", " : "", a->pub.desc.id, s->name,
                            s->version, b->pub.desc.id);
  }
  g_string_append (chain, ((PluginRecord *)path->pdata[start])->pub.desc.id);
  g_set_error (&err, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
               "plugin dependency cycle: %s (%s); remove one of these "
               "plugins from [plugins] load or break the cycle in their "
               "requires",
               chain->str, why->str);
  for (guint i = 0; i < rest->len; i++) {
    PluginRecord *r = rest->pdata[i];
    guint at;
    if (g_ptr_array_find (path, r, &at) && at >= start)
      record_fail (r, err);
    else {
      g_autoptr (GError) dep
          = g_error_new (CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                         "plugin '%s' depends on plugins in a cycle: %s",
                         r->pub.desc.id, err->message);
      record_fail (r, dep);
    }
  }
  if (!*first)
    *first = g_steal_pointer (&err);
}

gboolean
cairn_plugin_host_resolve (CairnPluginHost *ph, GError **error)
{
  g_autoptr (GHashTable) placed = g_hash_table_new (NULL, NULL);
  g_autoptr (GPtrArray) order = g_ptr_array_new ();
  g_autoptr (GPtrArray) rest = g_ptr_array_new ();
  GPtrArray *sorted;
  GError *first = NULL;

  check_duplicate_providers (ph, &first);
  check_missing_providers (ph, &first);

  /* Kahn's algorithm, always taking the smallest ready id. */
  for (;;) {
    PluginRecord *next = NULL;
    for (guint i = 0; i < ph->plugins->len; i++) {
      PluginRecord *r = ph->plugins->pdata[i];
      const CairnServiceRef *via;
      if (is_failed (r) || g_hash_table_contains (placed, r)
          || unplaced_dependency (ph, r, placed, &via))
        continue;
      if (!next || strcmp (r->pub.desc.id, next->pub.desc.id) < 0)
        next = r;
    }
    if (!next)
      break;
    g_hash_table_add (placed, next);
    g_ptr_array_add (order, next);
  }
  for (guint i = 0; i < ph->plugins->len; i++) {
    PluginRecord *r = ph->plugins->pdata[i];
    if (!is_failed (r) && !g_hash_table_contains (placed, r))
      g_ptr_array_add (rest, r);
  }
  if (rest->len > 0)
    fail_cycle (ph, rest, placed, &first);

  /* Ordered plugins first, then the failed ones as they were. */
  sorted = g_ptr_array_new_full (ph->plugins->len, record_free);
  for (guint i = 0; i < order->len; i++)
    g_ptr_array_add (sorted, order->pdata[i]);
  for (guint i = 0; i < ph->plugins->len; i++)
    if (!g_hash_table_contains (placed, ph->plugins->pdata[i]))
      g_ptr_array_add (sorted, ph->plugins->pdata[i]);
  g_ptr_array_set_free_func (ph->plugins, NULL);
  g_ptr_array_unref (ph->plugins);
  ph->plugins = sorted;
  ph->resolved = TRUE;

  if (first) {
    g_propagate_error (error, first);
    return FALSE;
  }
  return TRUE;
}

/* ---- lifecycle ---- */

static void
fini_one (PluginRecord *r)
{
  if (!r->live)
    return;
  r->live = FALSE;
  if (r->pub.desc.fini)
    r->pub.desc.fini (&r->pub);
  if (!is_failed (r))
    r->pub.state = CAIRN_PLUGIN_STATE_STOPPED;
}

static gboolean
has_provided (const PluginRecord *r, const char *entry)
{
  return str_in_array (r->pub.provided, entry);
}

/* After init: every service in `provides` must have been registered. */
static gboolean
check_provided (const PluginRecord *r, GError **error)
{
  for (const CairnServiceRef *s = r->pub.desc.provides; s && s->name; s++) {
    g_autofree char *want
        = g_strdup_printf ("%s/%" PRIu32, s->name, s->version);
    g_autofree char *got = NULL;

    if (has_provided (r, want))
      continue;
    g_ptr_array_add (r->pub.provided, NULL);
    got = g_strjoinv (", ", (char **)r->pub.provided->pdata);
    g_ptr_array_remove_index (r->pub.provided, r->pub.provided->len - 1);
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_ABI,
                 "plugin '%s' (%s) lists service %s in provides but did "
                 "not register it during init (registered: %s); call "
                 "host->provide_service (self, \"%s\", %" PRIu32
                 ", &vtable, error) in init or remove it from .provides",
                 r->pub.desc.id, r->pub.file, want, got[0] ? got : "none",
                 s->name, s->version);
    return FALSE;
  }
  return TRUE;
}

gboolean
cairn_plugin_host_init_all (CairnPluginHost *ph, const struct CairnHost *host,
                            void *node, GError **error)
{
  if (!ph->resolved && !cairn_plugin_host_resolve (ph, error))
    return FALSE;

  for (guint i = 0; i < ph->plugins->len; i++) {
    PluginRecord *r = ph->plugins->pdata[i];
    g_autoptr (GError) local = NULL;

    if (r->pub.state != CAIRN_PLUGIN_STATE_FOUND)
      continue;
    r->pub.node = node;
    g_free (r->pub.log_domain);
    r->pub.log_domain = g_strdup_printf ("cairn/%s", r->pub.desc.id);
    g_ptr_array_set_size (r->pub.provided, 0);
    r->init_ran = TRUE;
    if (r->pub.desc.init (&r->pub, host, &local)) {
      r->live = TRUE;
      r->pub.state = CAIRN_PLUGIN_STATE_INITIALIZED;
      if (check_provided (r, &local))
        continue;
    } else {
      if (!local)
        g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                     "init returned FALSE without setting an error");
      g_prefix_error (&local, "plugin '%s' (%s): init failed: ", r->pub.desc.id,
                      r->pub.file);
    }
    record_fail (r, local);
    for (guint j = i + 1; j-- > 0;)
      fini_one (ph->plugins->pdata[j]);
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  return TRUE;
}

gboolean
cairn_plugin_host_start_all (CairnPluginHost *ph, GError **error)
{
  for (guint i = 0; i < ph->plugins->len; i++) {
    PluginRecord *r = ph->plugins->pdata[i];
    g_autoptr (GError) local = NULL;

    if (r->pub.state != CAIRN_PLUGIN_STATE_INITIALIZED)
      continue;
    if (!r->pub.desc.start || r->pub.desc.start (&r->pub, &local)) {
      r->pub.state = CAIRN_PLUGIN_STATE_STARTED;
      continue;
    }
    if (!local)
      g_set_error (&local, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                   "start returned FALSE without setting an error");
    g_prefix_error (&local, "plugin '%s' (%s): start failed: ", r->pub.desc.id,
                    r->pub.file);
    record_fail (r, local);
    /* Not fini'd here: the owner may still hold resources the plugins
     * made (an open store) and releases them before fini_all. */
    cairn_plugin_host_stop_all (ph);
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  return TRUE;
}

void
cairn_plugin_host_stop_all (CairnPluginHost *ph)
{
  for (guint i = ph->plugins->len; i-- > 0;) {
    PluginRecord *r = ph->plugins->pdata[i];
    if (r->pub.state != CAIRN_PLUGIN_STATE_STARTED)
      continue;
    r->pub.state = CAIRN_PLUGIN_STATE_STOPPED;
    if (r->pub.desc.stop)
      r->pub.desc.stop (&r->pub);
  }
}

void
cairn_plugin_host_fini_all (CairnPluginHost *ph)
{
  cairn_plugin_host_stop_all (ph);
  for (guint i = ph->plugins->len; i-- > 0;)
    fini_one (ph->plugins->pdata[i]);
}
