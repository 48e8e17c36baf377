/* store-git: the ledger as an ordinary git repository (libgit2). One
 * commit per block on refs/heads/chain, the state as a trie of trees that
 * shares unchanged subtrees with the previous block, a tx index beside the
 * repository. This file: descriptor, config and registration. See
 * README.md for the layout and the guarantees. */
#include "store_git.h"

#include <string.h>

#define DEFAULT_INDEX_MAP_SIZE "16GiB"
#define MIN_INDEX_MAP_SIZE (1u << 20)
#define DEFAULT_PACK_EVERY 1000

static const CairnHost *host_table;

#ifdef STORE_GIT_TEST_HOOKS
void (*store_git_test_hook) (const char *step);
#endif

const CairnHost *
store_git_host (void)
{
  return host_table;
}

/* "16GiB", "512 MiB", "1048576": a decimal number of bytes with an optional
 * binary unit (B, KiB, MiB, GiB, TiB; any case). */
static gboolean
parse_size (const char *text, uint64_t *out)
{
  static const struct {
    const char *unit;
    unsigned shift;
  } units[] = {
    { "", 0 },     { "B", 0 },    { "KiB", 10 },
    { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
  };
  const char *p = text;
  uint64_t n = 0;

  while (g_ascii_isspace (*p))
    p++;
  if (!g_ascii_isdigit (*p))
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    if (__builtin_mul_overflow (n, 10, &n)
        || __builtin_add_overflow (n, (uint64_t)(*p - '0'), &n))
      return FALSE;
  while (g_ascii_isspace (*p))
    p++;
  g_autofree char *unit = g_strdup (p);
  g_strchomp (unit);
  for (size_t i = 0; i < G_N_ELEMENTS (units); i++) {
    if (g_ascii_strcasecmp (unit, units[i].unit) != 0)
      continue;
    if (n > (UINT64_MAX >> units[i].shift))
      return FALSE;
    *out = n << units[i].shift;
    return TRUE;
  }
  return FALSE;
}

static gboolean
read_config (CairnPlugin *self, const CairnHost *host, StoreGitPlugin *p,
             GError **error)
{
  g_autofree char *text = NULL;
  int64_t every;

  if (!host->config_bool (self, "sync", TRUE, &p->sync, error))
    return FALSE;
  if (!host->config_int (self, "pack_every", DEFAULT_PACK_EVERY, 0, 1000000000,
                         &every, error))
    return FALSE;
  p->pack_every = (uint64_t)every;
  if (!host->config_string (self, "index_map_size", DEFAULT_INDEX_MAP_SIZE,
                            &text, error))
    return FALSE;
  if (!parse_size (text, &p->index_map_size)) {
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
        "[store-git] index_map_size: not a size, or too large (got '%s'); "
        "write a number of bytes, optionally with KiB, MiB, GiB or TiB, "
        "e.g. 16GiB",
        text);
    return FALSE;
  }
  if (p->index_map_size < MIN_INDEX_MAP_SIZE
#if SIZE_MAX < UINT64_MAX
      || p->index_map_size > SIZE_MAX
#endif
  ) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[store-git] index_map_size: must be at least 1MiB and fit "
                 "the address space (got '%s')",
                 text);
    return FALSE;
  }
  return TRUE;
}

static const CairnStorageIface storage_iface = {
  .iface_version = CAIRN_STORAGE_IFACE_VERSION,
  .open = store_git_open,
  .close = store_git_close,
  .head = store_git_head,
  .commit = store_git_commit,
  .sync = store_git_sync,
  .block_get = store_git_block_get,
  .block_find = store_git_block_find,
  .tx_get = store_git_tx_get,
  .state_get = store_git_state_get,
  .state_iter = store_git_state_iter,
  .private_get = store_git_private_get,
  .private_iter = store_git_private_iter,
  .private_write = store_git_private_write,
};

static gboolean
store_git_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  g_autofree StoreGitPlugin *p = g_new0 (StoreGitPlugin, 1);

  p->host = host;
  p->self = self;
  if (!read_config (self, host, p, error))
    return FALSE;
  if (git_libgit2_init () < 0) {
    const git_error *e = git_error_last ();
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_FAILED,
                 "store-git: cannot initialise libgit2: %s",
                 e != NULL ? e->message : "unknown error");
    return FALSE;
  }
  /* The repositories are the node's, not the user's: no ~/.gitconfig or
   * /etc/gitconfig may change how they are written (e.g. an fsync or
   * packing setting). The search path is process-wide; only this plugin
   * uses libgit2 in a node. */
  static const git_config_level_t levels[]
      = { GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM,
          GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL };
  for (size_t i = 0; i < G_N_ELEMENTS (levels); i++)
    git_libgit2_opts (GIT_OPT_SET_SEARCH_PATH, levels[i], "");
  host_table = host;
  if (!host->register_storage (self, &storage_iface, sizeof storage_iface,
                               error)) {
    git_libgit2_shutdown ();
    return FALSE;
  }
  host->set_data (self, g_steal_pointer (&p));
  return TRUE;
}

static void
store_git_fini (CairnPlugin *self)
{
  if (host_table == NULL)
    return;
  StoreGitPlugin *p = host_table->get_data (self);
  if (p == NULL)
    return;
  g_free (p);
  host_table->set_data (self, NULL);
  git_libgit2_shutdown ();
}

CAIRN_PLUGIN_DEFINE (store_git, .id = "store-git", .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "The ledger as a git repository: one "
                                    "commit per block, state as shared "
                                    "trees (libgit2)",
                     .kinds = CAIRN_KIND_STORAGE, .init = store_git_init,
                     .fini = store_git_fini)
