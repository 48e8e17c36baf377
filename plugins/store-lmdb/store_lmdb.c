/* store-lmdb: the default storage backend. Blocks, the tx index and the
 * versioned key-value state in one LMDB environment; every block is one
 * LMDB write transaction. This file: descriptor, config and registration.
 * See README.md for the layout and the durability guarantees. */
#include "store_lmdb.h"

#include <string.h>

#define DEFAULT_MAP_SIZE "64GiB"
#define DEFAULT_RESIDENT_LIMIT "64MiB"
#define MIN_MAP_SIZE (1u << 20)

static const CairnHost *host_table;

const CairnHost *
store_lmdb_host (void)
{
  return host_table;
}

/* "64GiB", "512 MiB", "1048576": a decimal number of bytes with an optional
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
read_config (CairnPlugin *self, const CairnHost *host, StoreLmdbPlugin *p,
             GError **error)
{
  g_autofree char *text = NULL;

  if (!host->config_string (self, "map_size", DEFAULT_MAP_SIZE, &text, error))
    return FALSE;
  if (!parse_size (text, &p->map_size)) {
    g_set_error (
        error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
        "[store-lmdb] map_size: not a size, or too large (got '%s'); write a "
        "number of bytes, optionally with KiB, MiB, GiB or TiB, "
        "e.g. 64GiB",
        text);
    return FALSE;
  }
  if (p->map_size < MIN_MAP_SIZE
#if SIZE_MAX < UINT64_MAX
      || p->map_size > SIZE_MAX
#endif
  ) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[store-lmdb] map_size: must be at least 1MiB and fit the "
                 "address space (got '%s')",
                 text);
    return FALSE;
  }
  g_autofree char *resident = NULL;
  if (!host->config_string (self, "resident_limit", DEFAULT_RESIDENT_LIMIT,
                            &resident, error))
    return FALSE;
  if (!parse_size (resident, &p->resident_limit)) {
    g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_CONFIG,
                 "[store-lmdb] resident_limit: not a size (got '%s'); write "
                 "a number of bytes, optionally with KiB, MiB or GiB, e.g. "
                 "64MiB, or 0 to keep every mapped page",
                 resident);
    return FALSE;
  }
  return host->config_bool (self, "sync", TRUE, &p->sync, error);
}

static const CairnStorageIface storage_iface = {
  .iface_version = CAIRN_STORAGE_IFACE_VERSION,
  .open = store_lmdb_open,
  .close = store_lmdb_close,
  .head = store_lmdb_head,
  .commit = store_lmdb_commit,
  .sync = store_lmdb_sync,
  .block_get = store_lmdb_block_get,
  .block_find = store_lmdb_block_find,
  .tx_get = store_lmdb_tx_get,
  .state_get = store_lmdb_state_get,
  .state_iter = store_lmdb_state_iter,
  .private_get = store_lmdb_private_get,
  .private_iter = store_lmdb_private_iter,
  .private_write = store_lmdb_private_write,
};

static gboolean
store_lmdb_init (CairnPlugin *self, const CairnHost *host, GError **error)
{
  g_autofree StoreLmdbPlugin *p = g_new0 (StoreLmdbPlugin, 1);

  p->host = host;
  p->self = self;
  if (!read_config (self, host, p, error))
    return FALSE;
  host_table = host;
  if (!host->register_storage (self, &storage_iface, sizeof storage_iface,
                               error))
    return FALSE;
  host->set_data (self, g_steal_pointer (&p));
  return TRUE;
}

static void
store_lmdb_fini (CairnPlugin *self)
{
  if (host_table == NULL)
    return;
  g_free (host_table->get_data (self));
  host_table->set_data (self, NULL);
}

CAIRN_PLUGIN_DEFINE (store_lmdb, .id = "store-lmdb", .version = "0.1.0",
                     .vendor = "Cairn", .license = "Apache-2.0",
                     .description = "Blocks, tx index and versioned state in "
                                    "LMDB (the default storage backend)",
                     .kinds = CAIRN_KIND_STORAGE, .init = store_lmdb_init,
                     .fini = store_lmdb_fini)
