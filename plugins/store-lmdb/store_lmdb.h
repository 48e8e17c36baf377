/* store-lmdb: private declarations shared by the plugin's source files.
 *
 * On-disk layout (format version 2), one LMDB environment with named DBs:
 *   meta     "format" -> u32be version, "head" -> u64be height
 *   blocks   u64be height -> block bytes
 *   hashes   32-byte block hash -> u64be height
 *   txlist   u64be height -> the block's tx ids and results, for heights
 *            with txs (store_lmdb_txlist.c)
 *   state    token(key) -> versions: the head value first, then some older
 *            ones (see "Versions" below)
 *   history  token(key) '\0' u64be(UINT64_MAX - height) -> tag, value:
 *            the versions that no longer fit in the state record
 *   private  token(key) -> value
 *
 * Tokens. A token is the key itself when it has at most
 * STORE_LMDB_TOKEN_PREFIX bytes; a longer key (LMDB keys are limited to 511
 * bytes, Cairn keys are "<ns>/" plus up to 512 bytes) becomes its first
 * STORE_LMDB_TOKEN_PREFIX bytes, 0x01 and its SHA-256, and its records
 * (state, history after the tag, private) start with the full key and a
 * '\0' so that iteration can give the key back (see store_lmdb_keys.c).
 *
 * Versions. A state record is a list of (varint height, varint length,
 * bytes), newest first: the head value and the versions before it, so that
 * a commit changes one page per written key instead of two (state +
 * history) and a read of a recent height is one lookup. When a record
 * would grow past STORE_LMDB_RECORD_CAP bytes, its older versions move to
 * history (one contiguous run per key); a deleted key moves all its
 * versions there, plus a delete tag. Invariant: history holds exactly the
 * versions of a key older than the oldest one in its state record (all of
 * them when it has no state record). A read at height h: the state record
 * when its oldest version is at or below h, else one MDB_SET_RANGE in
 * history.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include <cairn/cairn.h>

#define STORE_LMDB_FORMAT_VERSION 2u

/* Keys of table meta. */
#define STORE_LMDB_META_FORMAT "format"
#define STORE_LMDB_META_HEAD "head"

/* Token layout constants: part of the on-disk format. */
#define STORE_LMDB_TOKEN_PREFIX 469u
#define STORE_LMDB_TOKEN_LONG (STORE_LMDB_TOKEN_PREFIX + 1u + 32u)
#define STORE_LMDB_TOKEN_MAX STORE_LMDB_TOKEN_LONG
/* token + '\0' + u64be */
#define STORE_LMDB_HKEY_MAX (STORE_LMDB_TOKEN_MAX + 9u)
/* LMDB key size the format needs (the library default). */
#define STORE_LMDB_NEEDED_KEYSIZE 511

/* Bytes of versions a state record may hold before the older ones move to
 * history (a single version may be larger). Small keeps the state table
 * compact (fewer pages to rewrite per commit), large moves versions less
 * often. Not part of the format: any record that decodes is valid. */
#define STORE_LMDB_RECORD_CAP 192u

/* History record tags. */
#define STORE_LMDB_TAG_PUT 'P'
#define STORE_LMDB_TAG_DELETE 'D'

/* The plugin's configuration (host->set_data). */
typedef struct StoreLmdbPlugin {
  const CairnHost *host;
  CairnPlugin *self;
  uint64_t map_size;
  gboolean sync;
  uint64_t resident_limit; /* 0: never drop the map's pages */
} StoreLmdbPlugin;

typedef struct StoreLmdbTxIndex StoreLmdbTxIndex;

struct CairnStore {
  StoreLmdbPlugin *plugin;
  char *dir;
  char *data_path; /* <dir>/data.mdb, for messages */
  int lock_fd;     /* flock()ed <dir>/store.lock: one opener at a time */
  MDB_env *env;
  MDB_dbi meta, blocks, hashes, txlist, state, history, priv;
  GMutex readers_lock;
  GPtrArray *idle_readers;      /* reset MDB_txn *, renewed on the next read */
  StoreLmdbTxIndex *txindex;    /* NULL until open succeeded */
  uint64_t resident_after_trim; /* file pages mapped after the last trim */
  int statm_fd;   /* /proc/self/statm, opened at the first trim check */
  void *map_addr; /* LMDB's mapping of data.mdb (trim_map) */
  size_t map_len;
};

/* The host table given to init (one per process). */
const CairnHost *store_lmdb_host (void);

/* ---- errors (store_lmdb_open.c) ---- */

/* Set *error from an LMDB return code: "<data.mdb>: <what>: <reason>",
 * with the code and a hint chosen from rc. Always returns FALSE. */
gboolean store_lmdb_fail (CairnStore *store, GError **error, int rc,
                          const char *what);
/* CORRUPT: "<data.mdb>: <what>; <damage hint>". Always returns FALSE. */
gboolean store_lmdb_fail_corrupt (CairnStore *store, GError **error,
                                  const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* The advice appended to every "damaged store" message. */
char *store_lmdb_damage_hint (const CairnStore *store);
/* "; the file system holding DIR is full ..." when a failed write is
 * explained by a (nearly) full file system, else "". */
char *store_lmdb_space_hint (const CairnStore *store);

/* ---- open/close (store_lmdb_open.c) ---- */

/* Put this release's format version into table meta; an LMDB code. */
int store_lmdb_put_format (MDB_txn *txn, MDB_dbi meta);
/* Log through the host, as the plugin. */
void store_lmdb_log (CairnStore *store, GLogLevelFlags level, const char *fmt,
                     ...) G_GNUC_PRINTF (3, 4);

CairnStore *store_lmdb_open (CairnPlugin *self, const char *dir,
                             GError **error);
void store_lmdb_close (CairnStore *store);

/* ---- commit (store_lmdb_commit.c) ---- */

gboolean store_lmdb_commit (CairnStore *store, const CairnCommitData *data,
                            GError **error);
/* fsync everything committed so far (after deferred commits). */
gboolean store_lmdb_sync (CairnStore *store, GError **error);
gboolean store_lmdb_private_write (CairnStore *store, const CairnWrite *writes,
                                   size_t n, GError **error);

/* ---- tx lists (store_lmdb_txlist.c) ----
 *
 * One record per height with txs: u32be n, then n times (32-byte id, u32be
 * end of its result), then the results, each canonical JSON. */

size_t store_lmdb_txlist_size (const CairnCommitTx *txs, size_t n);
/* Write the record of txs into out (store_lmdb_txlist_size bytes). */
void store_lmdb_txlist_write (uint8_t *out, const CairnCommitTx *txs, size_t n);
/* Check that rec decodes; *n = its number of txs. */
gboolean store_lmdb_txlist_check (const uint8_t *rec, size_t len, uint32_t *n);
/* Entry i of a checked record. */
void store_lmdb_txlist_entry (const uint8_t *rec, uint32_t i,
                              const uint8_t **id, const uint8_t **result,
                              size_t *result_len);

/* ---- the tx index (store_lmdb_txindex.c) ---- */

/* Open <dir>/txindex (rebuilt from txlist when it cannot be used) and index
 * the heights up to the head it lacks. */
gboolean store_lmdb_txindex_open (CairnStore *store, GError **error);
void store_lmdb_txindex_close (CairnStore *store);
/* After the commit of height: index txs (from txlist when the index is
 * behind; a failure is logged and tried again at the next commit). */
void store_lmdb_txindex_add (CairnStore *store, uint64_t height,
                             const CairnCommitTx *txs, size_t n);
/* Height and index of tx id; NOT_FOUND when not indexed. */
gboolean store_lmdb_txindex_find (CairnStore *store, const uint8_t id[32],
                                  uint64_t *height, uint32_t *index,
                                  GError **error);

/* ---- migration (store_lmdb_migrate.c) ---- */

/* Convert a format-1 store in place: table txs becomes table txlist; the
 * last write txn drops txs and sets format 2. */
gboolean store_lmdb_migrate_v1 (CairnStore *store, GError **error);

/* ---- reads (store_lmdb_read.c) ---- */

/* Read txns: a small pool of reset txns renewed on use (MDB_NOTLS), so a
 * read costs no reader-slot search and nested or concurrent reads work. */
MDB_txn *store_lmdb_reader_acquire (CairnStore *store, GError **error);
void store_lmdb_reader_release (CairnStore *store, MDB_txn *txn);
/* Head height inside txn; FALSE with NOT_FOUND on an empty store. */
gboolean store_lmdb_read_head (CairnStore *store, MDB_txn *txn,
                               uint64_t *height, GError **error);

gboolean store_lmdb_head (CairnStore *store, uint64_t *height, GError **error);
GBytes *store_lmdb_block_get (CairnStore *store, uint64_t height,
                              GError **error);
gboolean store_lmdb_block_find (CairnStore *store, const uint8_t hash[32],
                                uint64_t *height, GError **error);
gboolean store_lmdb_tx_get (CairnStore *store, const uint8_t id[32],
                            uint64_t *height, uint32_t *index, GBytes **result,
                            GError **error);
GBytes *store_lmdb_state_get (CairnStore *store, const char *key,
                              uint64_t height, GError **error);
gboolean store_lmdb_state_iter (CairnStore *store, const char *prefix,
                                uint64_t height, CairnKvFn fn, void *user_data,
                                GError **error);
GBytes *store_lmdb_private_get (CairnStore *store, const char *key,
                                GError **error);
gboolean store_lmdb_private_iter (CairnStore *store, const char *prefix,
                                  CairnKvFn fn, void *user_data,
                                  GError **error);

/* ---- keys and records (store_lmdb_keys.c) ---- */

/* The token of key (len bytes, no '\0' inside) into out; returns its
 * length. */
size_t store_lmdb_token (const char *key, size_t len,
                         uint8_t out[STORE_LMDB_TOKEN_MAX]);
static inline gboolean
store_lmdb_token_is_long (size_t token_len)
{
  return token_len > STORE_LMDB_TOKEN_PREFIX;
}
/* History key: token '\0' u64be(UINT64_MAX - height); returns its length. */
size_t store_lmdb_history_key (const uint8_t *token, size_t token_len,
                               uint64_t height,
                               uint8_t out[STORE_LMDB_HKEY_MAX]);
/* Split a stored record whose token is long: the full key (NUL-terminated,
 * inside the record) and the value after it. The key must have the token
 * `token`. FALSE (CORRUPT, naming `table`) when the record does not decode. */
gboolean store_lmdb_split_long (CairnStore *store, const char *table,
                                const uint8_t *token, size_t token_len,
                                const uint8_t *rec, size_t rec_len,
                                const char **key, const uint8_t **value,
                                size_t *value_len, GError **error);

/* ---- versioned state records (store_lmdb_record.c) ---- */

typedef struct {
  uint64_t height;
  const uint8_t *value;
  size_t len;
} StoreLmdbVersion;

/* Worst-case bytes of one version's header (two varints). */
#define STORE_LMDB_VERSION_HEADER_MAX 20u

/* Append one version (height, value) to out. */
void store_lmdb_version_append (GByteArray *out, uint64_t height,
                                const uint8_t *value, size_t len);
/* Read the version at *p (advancing it); FALSE when it does not decode. */
gboolean store_lmdb_version_next (const uint8_t **p, const uint8_t *end,
                                  StoreLmdbVersion *v);
/* The versions part of a state record (after the full key of a long
 * token), checked to decode with strictly decreasing heights. *key is the
 * full key of a long token, else NULL. FALSE (CORRUPT) otherwise. */
gboolean store_lmdb_record_split (CairnStore *store, const uint8_t *token,
                                  size_t token_len, const MDB_val *rec,
                                  const char **key, const uint8_t **versions,
                                  size_t *versions_len, GError **error);

static inline void
store_lmdb_put_u64be (uint8_t *out, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    out[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}
static inline uint64_t
store_lmdb_get_u64be (const uint8_t *in)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | in[i];
  return v;
}
static inline void
store_lmdb_put_u32be (uint8_t *out, uint32_t v)
{
  for (int i = 3; i >= 0; i--) {
    out[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}
static inline uint32_t
store_lmdb_get_u32be (const uint8_t *in)
{
  return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8
         | (uint32_t)in[3];
}
