/* Fuzz target: the config loader (core/config.c) on fuzzed key-file text:
 * the line scanner, groups and keys, then every core key read through the
 * typed getters with the node's own defaults and bounds (core/node.c,
 * core/plugin_sig.c), a plugin's group as the host table reads it, and
 * the unknown-key check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
str (CairnConfig *cfg, const char *g, const char *k, const char *def)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  if (cairn_config_string (cfg, g, k, def, &out, &error))
    CHECK (def == NULL || out != NULL);
  else
    CHECK (error != NULL);
}

static void
num (CairnConfig *cfg, const char *g, const char *k, int64_t def, int64_t min,
     int64_t max)
{
  g_autoptr (GError) error = NULL;
  int64_t out = 0;
  if (cairn_config_int (cfg, g, k, def, min, max, &out, &error))
    CHECK (out >= min && out <= max);
}

static void
size_ (CairnConfig *cfg, const char *g, const char *k, uint64_t def,
       uint64_t min, uint64_t max)
{
  g_autoptr (GError) error = NULL;
  uint64_t out = 0;
  if (cairn_config_size (cfg, g, k, def, min, max, &out, &error))
    CHECK (out >= min && out <= max);
}

static void
flag (CairnConfig *cfg, const char *g, const char *k, gboolean def)
{
  g_autoptr (GError) error = NULL;
  gboolean out;
  cairn_config_bool (cfg, g, k, def, &out, &error);
}

static void
list (CairnConfig *cfg, const char *g, const char *k)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) out = NULL;
  if (cairn_config_strv (cfg, g, k, &out, &error))
    CHECK (out != NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* The loader takes NUL-terminated text (a file's contents). */
  g_autofree char *text = g_strndup ((const char *)data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (CairnConfig) cfg
      = cairn_config_load_data ("/nonexistent-home", "fuzz.conf", text, &error);

  if (cfg == NULL) {
    CHECK (error != NULL);
    return 0;
  }
  str (cfg, "node", "chain_id", NULL);
  str (cfg, "node", "log_level", "info");
  str (cfg, "node", "key", "keys/node.pem");
  str (cfg, "node", "genesis", "genesis.json");
  str (cfg, "node", "data_dir", "data");
  list (cfg, "plugins", "path");
  list (cfg, "plugins", "load");
  flag (cfg, "plugins", "require_signed_plugins", FALSE);
  list (cfg, "plugins", "trusted_keys");
  flag (cfg, "http", "enabled", TRUE);
  str (cfg, "http", "listen", "127.0.0.1:7700");
  size_ (cfg, "http", "max_blob_bytes", (uint64_t)8 << 30, 1,
         (uint64_t)1 << 40);
  num (cfg, "mempool", "max_txs", 200000, 1, 10000000);
  size_ (cfg, "mempool", "max_bytes", 256u << 20, 1 << 16, (uint64_t)64 << 30);
  num (cfg, "mempool", "max_nonce_gap", 1024, 0, 1 << 20);
  num (cfg, "mempool", "ttl_seconds", 600, 1, 86400 * 7);
  num (cfg, "block", "max_txs", 10000, 1, 1000000);
  size_ (cfg, "block", "max_bytes", 3u << 20, 1 << 16, 4u << 20);
  flag (cfg, "p2p", "enabled", FALSE);
  str (cfg, "p2p", "listen", "127.0.0.1:7710");
  list (cfg, "p2p", "persistent_peers");
  list (cfg, "p2p", "allow");
  /* A plugin's group, as host.c reads it. */
  str (cfg, "bank", "denom", "cairn");
  num (cfg, "bank", "max", 0, G_MININT64, G_MAXINT64);
  flag (cfg, "bank", "enabled", TRUE);
  list (cfg, "bank", "minters");
  cairn_config_has_group (cfg, "bank");
  g_autofree char *path = cairn_config_path (cfg, "data");
  CHECK (path != NULL);
  g_autoptr (GError) unknown = NULL;
  if (!cairn_config_check_unknown (cfg, &unknown))
    CHECK (unknown != NULL);
  return 0;
}
