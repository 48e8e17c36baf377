/* store-git: private declarations shared by the plugin's source files.
 *
 * A store directory holds:
 *   chain.git/    a bare git repository: one commit per block on
 *                 refs/heads/chain (HEAD points there), checkpoint tags
 *   private.git/  a second bare repository for the private namespace
 *                 (refs/heads/private); never part of the chain, so a clone
 *                 of chain.git carries no private data
 *   index/        LMDB: block hash -> height, tx id -> (height, index),
 *                 height -> commit id; a cache rebuilt from chain.git
 *   store.lock    flock()ed while the store is open
 *
 * The tree of the commit of block h (see README.md for examples):
 *   height          "<h>\n"
 *   hash            "<64 hex>\n"
 *   header.json, txs.json, certificate.json
 *                   the three members of the stored block
 *                   {"certificate":..,"header":..,"txs":..}, byte for byte;
 *                   a block of any other shape is one blob, block.json
 *   results         per tx: "<index> <tx id hex> <length>\n" <result> "\n"
 *   state/          the shared state as a compressed trie (store_git_trie.c)
 *
 * Commit order: objects (one pack, fsynced) -> private commit (when the
 * block has private writes) -> refs/heads/chain (fsynced): the commit
 * point -> index -> housekeeping (small packs merged, every pack_every
 * blocks a checkpoint packed by a thread: store_git_pack.c). Opening
 * reconciles: a private commit of a block the chain does not hold is
 * rolled back, the index catches up with the chain, an unfinished
 * checkpoint is packed again.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <git2.h>
#include <lmdb.h>

#include <cairn/cairn.h>

/* Written to chain.git/config as cairn.format; a change of the layout
 * bumps it. */
#define STORE_GIT_FORMAT_VERSION 1
/* The index's own format (a cache: another version is rebuilt). */
#define STORE_GIT_INDEX_VERSION 1u

#define STORE_GIT_CHAIN_DIR "chain.git"
#define STORE_GIT_PRIVATE_DIR "private.git"
#define STORE_GIT_INDEX_DIR "index"
#define STORE_GIT_CHAIN_REF "refs/heads/chain"
#define STORE_GIT_PRIVATE_REF "refs/heads/private"
#define STORE_GIT_CHECKPOINT_PREFIX "checkpoint-"

/* Every commit's author and committer (the time is the block's). */
#define STORE_GIT_IDENT "cairn <chain@cairn.invalid>"

/* ---- test hooks --------------------------------------------------------
 * The static library built for the tests calls store_git_test_hook (when
 * set) at each step of a commit, so a test can kill the process exactly
 * there. The shared module has no hook. */
#ifdef STORE_GIT_TEST_HOOKS
extern void (*store_git_test_hook) (const char *step);
#define STORE_GIT_STEP(name)                                                   \
  G_STMT_START                                                                 \
  {                                                                            \
    if (store_git_test_hook != NULL)                                           \
      store_git_test_hook (name);                                              \
  }                                                                            \
  G_STMT_END
#else
#define STORE_GIT_STEP(name)                                                   \
  G_STMT_START                                                                 \
  {                                                                            \
  }                                                                            \
  G_STMT_END
#endif

/* The plugin's configuration (host->set_data). */
typedef struct StoreGitPlugin {
  const CairnHost *host;
  CairnPlugin *self;
  gboolean sync;
  uint64_t pack_every;
  uint64_t index_map_size;
} StoreGitPlugin;

/* One bare repository (the chain or the private keys). New objects go to
 * an in-memory backend first and reach the disk as one pack per commit. */
typedef struct {
  CairnStore *store;
  const char *name; /* "chain" or "private", for messages */
  const char *ref;  /* STORE_GIT_CHAIN_REF or STORE_GIT_PRIVATE_REF */
  char *path;       /* <dir>/chain.git */
  git_repository *repo;
  git_odb *odb;
  git_odb_backend *mempack; /* owned by odb: this batch's objects */
  GByteArray *pack;         /* the same objects as a pack being built */
  guint32 pack_count;
  GZlibCompressor *deflate;
  GPtrArray *unsynced;    /* files written but not fsynced (deferred) */
  gboolean dirs_unsynced; /* objects/pack not fsynced */
  gboolean ref_unsynced;  /* the ref file and its directory */
  guint packs_since_consolidation; /* packs written since the last one */
  guint unkept_packs;              /* packs without .keep now */
} StoreGitRepo;

typedef struct StoreGitCheckpoint StoreGitCheckpoint;

struct CairnStore {
  StoreGitPlugin *plugin;
  char *dir;
  int lock_fd;
  /* Every operation holds it; recursive because an iteration callback may
   * read the store. libgit2 objects are not shared between threads. */
  GRecMutex lock;
  StoreGitRepo chain;
  StoreGitRepo priv;
  /* index (store_git_index.c) */
  char *index_dir;
  MDB_env *index_env;
  MDB_dbi meta, heights, hashes, txs;
  gboolean index_unsynced;
  /* the head, as refs/heads/chain says */
  gboolean has_head;
  uint64_t head;
  git_oid head_commit;
  /* Set when a failed commit could not be undone: every call fails with
   * this message until the store is reopened (which reconciles). */
  char *broken;
  /* A checkpoint being packed in the background (store_git_pack.c). */
  StoreGitCheckpoint *checkpoint;
};

/* The host table given to init (one per process). */
const CairnHost *store_git_host (void);

/* ---- errors and files (store_git_open.c) ---- */

/* "<path>: <what>: <libgit2's message>" with IO for OS errors and CORRUPT
 * for damaged objects, packs and refs (plus what to do). Returns FALSE. */
gboolean store_git_fail (StoreGitRepo *r, GError **error, int rc,
                         const char *fmt, ...) G_GNUC_PRINTF (4, 5);
/* CORRUPT: "<path>: <what>; <damage hint>". Returns FALSE. */
gboolean store_git_fail_corrupt (CairnStore *store, const char *path,
                                 GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);
gboolean store_git_fail_errno (GError **error, int err, const char *what,
                               const char *path);
/* "the store in <dir> is damaged: ..." (g_free). */
char *store_git_damage_hint (const CairnStore *store);
gboolean store_git_check_usable (CairnStore *store, GError **error);
void store_git_log (CairnStore *store, GLogLevelFlags level, const char *fmt,
                    ...) G_GNUC_PRINTF (3, 4);
/* fsync a file or a directory. */
gboolean store_git_fsync_path (const char *path, gboolean is_dir,
                               GError **error);

/* ---- open/close (store_git_open.c) ---- */

CairnStore *store_git_open (CairnPlugin *self, const char *dir, GError **error);
void store_git_close (CairnStore *store);

/* ---- repositories and packs (store_git_repo.c) ---- */

/* Open an existing repository or create a fresh one (in a staging
 * directory renamed into place). */
gboolean store_git_repo_open (CairnStore *store, StoreGitRepo *r,
                              const char *name, const char *dirname,
                              const char *ref, GError **error);
void store_git_repo_close (StoreGitRepo *r);
/* Close and open again (after packs were removed). */
gboolean store_git_repo_reopen (StoreGitRepo *r, GError **error);
/* Store an object in the in-memory batch; *oid receives its id. */
gboolean store_git_write (StoreGitRepo *r, git_object_t type, const void *data,
                          size_t len, git_oid *oid, GError **error);
/* Write the batch as one pack in objects/pack (fsynced unless sync is
 * FALSE, then remembered for store_git_repo_sync) and empty it. */
gboolean store_git_repo_flush (StoreGitRepo *r, gboolean sync, GError **error);
/* Append one object to a pack stream: its type and size header, then its
 * bytes through the zlib compressor z. */
gboolean store_git_pack_object (GByteArray *out, GZlibCompressor *z,
                                git_object_t type, const void *data, size_t len,
                                GError **error);
/* Check a whole pack in memory and write it with its .idx (libgit2's
 * indexer) as objects/pack/<stem>.pack (not fsynced). */
gboolean store_git_index_pack (StoreGitRepo *r, const uint8_t *pack, size_t len,
                               char **stem, GError **error);
/* Write the packbuilder's objects as pack-<sha>.pack/.idx in
 * objects/pack (not fsynced); *stem receives "pack-<sha>". */
gboolean store_git_pack_write (StoreGitRepo *r, git_packbuilder *pb,
                               char **stem, GError **error);
/* Drop the batch (a failed commit). */
void store_git_repo_discard (StoreGitRepo *r);
/* The commit the ref points to; FALSE with *exists FALSE when the ref is
 * absent, FALSE with an error when it is damaged. */
gboolean store_git_ref_read (StoreGitRepo *r, git_oid *oid, gboolean *exists,
                             GError **error);
/* Move the ref from old (NULL: it must not exist) to new, then fsync the
 * ref file and its directory when sync. */
gboolean store_git_ref_move (StoreGitRepo *r, const git_oid *old,
                             const git_oid *new_oid, gboolean sync,
                             const char *why, GError **error);
/* fsync what deferred writes left unsynced (packs first, then refs). */
gboolean store_git_repo_sync_packs (StoreGitRepo *r, GError **error);
gboolean store_git_repo_sync_ref (StoreGitRepo *r, GError **error);
/* A commit object: "tree", "parent" (NULL: none), fixed identity at time,
 * message. */
gboolean store_git_write_commit (StoreGitRepo *r, const git_oid *tree,
                                 const git_oid *parent, int64_t time_s,
                                 const char *message, git_oid *out,
                                 GError **error);
/* Remove what an interrupted pack write or consolidation left behind. */
void store_git_repo_cleanup_packs (StoreGitRepo *r);

/* ---- packing (store_git_pack.c) ---- */

/* Every pack_every blocks: pack everything new since the last checkpoint
 * into one kept pack (in a thread), tag commit checkpoint-<height>,
 * remove the packs it covers (remove_old) when finished. */
gboolean store_git_checkpoint_start (CairnStore *store, uint64_t height,
                                     const git_oid *commit, gboolean remove_old,
                                     GError **error);
/* Finish a checkpoint whose thread is done (or wait for it). */
void store_git_checkpoint_finish (CairnStore *store, gboolean wait);
/* On open: a checkpoint that a crash interrupted (no tag) is done again. */
gboolean store_git_checkpoint_repair (CairnStore *store, GError **error);
/* When STORE_GIT_MERGE_AT packs without .keep exist, merge the
 * STORE_GIT_MERGE_COUNT smallest into one (geometric: lookups, which try
 * every pack, stay fast between checkpoints). */
#define STORE_GIT_MERGE_AT 32
#define STORE_GIT_MERGE_COUNT 16
gboolean store_git_merge_small_packs (StoreGitRepo *r, GError **error);
/* The private repository: everything reachable from its ref into one pack
 * (it is small), every other pack removed. */
gboolean store_git_consolidate_private (CairnStore *store, GError **error);
/* Bytes of objects/ (for the README's numbers and the tests). */
uint64_t store_git_repo_disk_usage (StoreGitRepo *r);

/* ---- the state trie (store_git_trie.c) ---- */

/* Longest encoded trie label in one tree entry (a longer edge becomes a
 * chain of one-entry trees); keeps every path component below the 255
 * bytes of common file systems. */
#define STORE_GIT_LABEL_MAX 240
/* The entry that holds the value of a key ending at an inner node. */
#define STORE_GIT_VALUE_ENTRY "@"

/* The encoded form of key bytes (a git path component alphabet):
 * [A-Za-z0-9_-] as is, '/' as '+', any other byte as %XX. */
void store_git_encode (GString *out, const char *raw, size_t len);
/* Decode a whole label; FALSE when it is not a valid encoding. */
gboolean store_git_decode (GString *out, const char *name);

/* Apply sorted, unique writes to the trie whose root tree is *root (zero
 * oid: empty) and store the new root in *root (zero when empty). */
gboolean store_git_trie_apply (StoreGitRepo *r, git_oid *root,
                               const CairnWrite *writes, size_t n,
                               GError **error);
/* The value of key under root (NULL root: empty): FALSE with NOT_FOUND
 * when absent. */
GBytes *store_git_trie_get (StoreGitRepo *r, const git_oid *root,
                            const char *key, GError **error);
/* Keys starting with prefix in ascending bytewise order; stops when fn
 * returns FALSE (still TRUE). */
gboolean store_git_trie_iter (StoreGitRepo *r, const git_oid *root,
                              const char *prefix, CairnKvFn fn, void *user_data,
                              GError **error);

/* ---- blocks in the tree (store_git_block.c) ---- */

/* Add the block's blobs (split or whole) to the tree entries. */
gboolean store_git_block_write (StoreGitRepo *r, const uint8_t *block,
                                size_t len, GPtrArray *entries, GError **error);
/* The block bytes from a commit tree. */
GBytes *store_git_block_read (StoreGitRepo *r, git_tree *tree, GError **error);
/* header.time / 1000 when the block has one, else 0. */
int64_t store_git_block_time (const uint8_t *block, size_t len);
/* The results blob of a block, and the offset/length of each result. */
GBytes *store_git_results_encode (const CairnCommitTx *txs, size_t n,
                                  uint64_t *offsets);
typedef struct {
  uint8_t id[32];
  uint32_t index;
  uint64_t offset;
  uint64_t length;
} StoreGitResult;
/* Parse a results blob; FALSE (CORRUPT) when it does not decode. */
gboolean store_git_results_parse (CairnStore *store, const char *where,
                                  const uint8_t *data, size_t len, GArray *out,
                                  GError **error);

/* A tree entry to write (store_git_tree_write). */
typedef struct {
  char *name;
  git_oid oid;
  gboolean is_tree;
} StoreGitEntry;
StoreGitEntry *store_git_entry_new (const char *name, const git_oid *oid,
                                    gboolean is_tree);
void store_git_entry_free (StoreGitEntry *e);
/* Write a tree of entries (any order; sorted here as git sorts them). */
gboolean store_git_tree_write (StoreGitRepo *r, GPtrArray *entries,
                               git_oid *out, GError **error);
/* A blob by path in tree: NULL with NOT_FOUND (absent) or CORRUPT. */
GBytes *store_git_tree_blob (StoreGitRepo *r, git_tree *tree, const char *path,
                             gboolean required, GError **error);

/* ---- commit (store_git_commit.c) ---- */

gboolean store_git_commit (CairnStore *store, const CairnCommitData *data,
                           GError **error);
gboolean store_git_sync (CairnStore *store, GError **error);
/* Shared by commit and private_write: writes sorted and unique. */
gboolean store_git_check_writes (uint64_t height, const char *field,
                                 const CairnWrite *writes, size_t n,
                                 GError **error);

/* ---- private namespace (store_git_private.c) ---- */

/* Write a private commit for block `height` (chain commit `chain`) or,
 * with height CAIRN_HEAD, a private write; moves refs/heads/private. */
gboolean store_git_private_commit (CairnStore *store, uint64_t height,
                                   const git_oid *chain,
                                   const CairnWrite *writes, size_t n,
                                   int64_t time_s, gboolean sync,
                                   GError **error);
/* Undo the private commits of blocks above the chain's head. */
gboolean store_git_private_reconcile (CairnStore *store, GError **error);
/* Undo the last private commit of block `height` (a failed commit). */
gboolean store_git_private_rollback (CairnStore *store, uint64_t height,
                                     GError **error);
GBytes *store_git_private_get (CairnStore *store, const char *key,
                               GError **error);
gboolean store_git_private_iter (CairnStore *store, const char *prefix,
                                 CairnKvFn fn, void *user_data, GError **error);
gboolean store_git_private_write (CairnStore *store, const CairnWrite *writes,
                                  size_t n, GError **error);

/* ---- the index (store_git_index.c) ---- */

gboolean store_git_index_open (CairnStore *store, GError **error);
void store_git_index_close (CairnStore *store);
/* Make the index hold exactly the chain's blocks (rebuild what is
 * missing or wrong from chain.git). */
gboolean store_git_index_reconcile (CairnStore *store, GError **error);
/* Index one block (after its ref moved). */
gboolean store_git_index_add (CairnStore *store, uint64_t height,
                              const git_oid *commit, const uint8_t hash[32],
                              const CairnCommitTx *txs, size_t n_txs,
                              const uint64_t *offsets, gboolean sync,
                              GError **error);
/* Is this block hash / tx id indexed (at *height)? */
gboolean store_git_index_has_hash (CairnStore *store, const uint8_t hash[32],
                                   uint64_t *height, GError **error);
gboolean store_git_index_has_tx (CairnStore *store, const uint8_t id[32],
                                 gboolean *found, GError **error);
gboolean store_git_index_commit_at (CairnStore *store, uint64_t height,
                                    git_oid *out, GError **error);
gboolean store_git_index_tx (CairnStore *store, const uint8_t id[32],
                             uint64_t *height, uint32_t *index,
                             uint64_t *offset, uint64_t *length,
                             GError **error);
gboolean store_git_index_sync (CairnStore *store, GError **error);

/* ---- reads (store_git_read.c) ---- */

gboolean store_git_head (CairnStore *store, uint64_t *height, GError **error);
GBytes *store_git_block_get (CairnStore *store, uint64_t height,
                             GError **error);
gboolean store_git_block_find (CairnStore *store, const uint8_t hash[32],
                               uint64_t *height, GError **error);
gboolean store_git_tx_get (CairnStore *store, const uint8_t id[32],
                           uint64_t *height, uint32_t *index, GBytes **result,
                           GError **error);
GBytes *store_git_state_get (CairnStore *store, const char *key,
                             uint64_t height, GError **error);
gboolean store_git_state_iter (CairnStore *store, const char *prefix,
                               uint64_t height, CairnKvFn fn, void *user_data,
                               GError **error);
/* The commit of height (CAIRN_HEAD: the head) and its state root (zero
 * when the state is empty). */
gboolean store_git_commit_state (CairnStore *store, uint64_t height,
                                 git_oid *commit, git_oid *state,
                                 GError **error);
/* Read the height blob of a commit. */
gboolean store_git_commit_height (StoreGitRepo *r, git_commit *commit,
                                  uint64_t *height, GError **error);

static inline void
store_git_put_u64be (uint8_t *out, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    out[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}
static inline uint64_t
store_git_get_u64be (const uint8_t *in)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | in[i];
  return v;
}
static inline void
store_git_put_u32be (uint8_t *out, uint32_t v)
{
  for (int i = 3; i >= 0; i--) {
    out[i] = (uint8_t)(v & 0xff);
    v >>= 8;
  }
}
static inline uint32_t
store_git_get_u32be (const uint8_t *in)
{
  return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8
         | (uint32_t)in[3];
}
