/* store-git: the state (and the private keys) as a compressed trie of git
 * trees.
 *
 * Each tree is a trie node. An entry's name is the encoded label of an
 * edge: the key bytes between this node and the next (a blob: the key
 * ends there; a tree: more keys below). A key that ends at a node with
 * children is the entry "@" of that node. The trie is compressed (a node
 * other than the root has a value or at least two children), so the
 * trees are a function of the set of keys alone: the same state is the
 * same tree id on every node, whatever history led to it. An edge whose
 * encoded label is longer than STORE_GIT_LABEL_MAX is cut (from its start,
 * at byte boundaries) into a chain of one-entry trees; a one-entry tree
 * (other than the root) is always such a piece.
 *
 * A write touches only the trees on the paths of its keys: one block's
 * write-set rewrites about log16(keys) small trees per written key and
 * shares every other subtree with the previous block. Iteration in key
 * order with a prefix visits only the subtree under the prefix.
 *
 * Encoding (store_git_encode): [A-Za-z0-9_-] as is, '/' as '+', any other
 * byte as '%' and two uppercase hex digits. It is a prefix code (so raw
 * prefixes are encoded prefixes), names never start with '.', contain
 * '/' or equal "@", so every name is valid for `git fsck --strict`.
 */
#include "store_git.h"

#include <string.h>

/* ---- encoding --------------------------------------------------------- */

static inline gboolean
is_plain (unsigned char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_';
}

static inline size_t
encoded_len (unsigned char c)
{
  return is_plain (c) || c == '/' ? 1 : 3;
}

void
store_git_encode (GString *out, const char *raw, size_t len)
{
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)raw[i];
    if (is_plain (c)) {
      g_string_append_c (out, (char)c);
    } else if (c == '/') {
      g_string_append_c (out, '+');
    } else {
      g_string_append_c (out, '%');
      g_string_append_c (out, hex[c >> 4]);
      g_string_append_c (out, hex[c & 15]);
    }
  }
}

static int
upper_hex (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

gboolean
store_git_decode (GString *out, const char *name)
{
  if (name[0] == '\0')
    return FALSE;
  for (const char *p = name; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (is_plain (c)) {
      g_string_append_c (out, (char)c);
    } else if (c == '+') {
      g_string_append_c (out, '/');
    } else if (c == '%') {
      int hi = upper_hex (p[1]), lo = hi < 0 ? -1 : upper_hex (p[2]);
      if (lo < 0)
        return FALSE;
      unsigned char b = (unsigned char)(hi << 4 | lo);
      /* Canonical only: one byte has one spelling, and keys have no NUL. */
      if (b == 0 || is_plain (b) || b == '/')
        return FALSE;
      g_string_append_c (out, (char)b);
      p += 2;
    } else {
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- nodes in memory ---------------------------------------------------- */

typedef struct {
  char *label; /* raw key bytes of the edge, never empty */
  gboolean is_tree;
  git_oid oid;
} Child;

typedef struct {
  gboolean has_value;
  git_oid value;
  GArray *children; /* Child, ordered by the first byte of the label */
} Node;

static void
child_clear (gpointer p)
{
  g_free (((Child *)p)->label);
}

static void
node_init (Node *n)
{
  n->has_value = FALSE;
  n->children = g_array_new (FALSE, FALSE, sizeof (Child));
  g_array_set_clear_func (n->children, child_clear);
}

static void
node_clear (Node *n)
{
  if (n->children != NULL)
    g_array_unref (n->children);
  n->children = NULL;
}

static gint
child_cmp (gconstpointer a, gconstpointer b)
{
  return (int)(unsigned char)((const Child *)a)->label[0]
         - (int)(unsigned char)((const Child *)b)->label[0];
}

static gboolean
fail_tree (StoreGitRepo *r, const git_oid *tree, GError **error,
           const char *what)
{
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr (hex, sizeof hex, tree);
  return store_git_fail_corrupt (r->store, r->path, error, "state tree %s: %s",
                                 hex, what);
}

static gboolean
lookup_tree (StoreGitRepo *r, const git_oid *oid, git_tree **out,
             GError **error)
{
  int rc = git_tree_lookup (out, r->repo, oid);
  if (rc < 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, oid);
    return store_git_fail (r, error, rc, "cannot read state tree %s", hex);
  }
  return TRUE;
}

/* Read a tree into a node: "@" is the value, other names decode to
 * labels. */
static gboolean
node_load (StoreGitRepo *r, const git_oid *oid, Node *n, GError **error)
{
  git_tree *tree;
  g_autoptr (GString) label = g_string_new (NULL);

  if (!lookup_tree (r, oid, &tree, error))
    return FALSE;
  size_t count = git_tree_entrycount (tree);
  gboolean ok = TRUE;
  for (size_t i = 0; i < count && ok; i++) {
    const git_tree_entry *e = git_tree_entry_byindex (tree, i);
    const char *name = git_tree_entry_name (e);
    git_object_t type = git_tree_entry_type (e);
    if (type != GIT_OBJECT_BLOB && type != GIT_OBJECT_TREE) {
      ok = fail_tree (r, oid, error, "an entry is neither a blob nor a tree");
    } else if (strcmp (name, STORE_GIT_VALUE_ENTRY) == 0) {
      if (type != GIT_OBJECT_BLOB)
        ok = fail_tree (r, oid, error, "its '@' entry is not a blob");
      n->has_value = TRUE;
      git_oid_cpy (&n->value, git_tree_entry_id (e));
    } else {
      g_string_truncate (label, 0);
      if (!store_git_decode (label, name)) {
        g_autofree char *what
            = g_strdup_printf ("entry '%.80s' is not an encoded key", name);
        ok = fail_tree (r, oid, error, what);
        break;
      }
      Child c = { g_strdup (label->str), type == GIT_OBJECT_TREE, { { 0 } } };
      git_oid_cpy (&c.oid, git_tree_entry_id (e));
      g_array_append_val (n->children, c);
    }
  }
  git_tree_free (tree);
  if (!ok)
    return FALSE;
  g_array_sort (n->children, child_cmp);
  for (guint i = 1; i < n->children->len; i++)
    if (child_cmp (&g_array_index (n->children, Child, i - 1),
                   &g_array_index (n->children, Child, i))
        == 0)
      return fail_tree (r, oid, error,
                        "two entries start with the same key byte");
  return TRUE;
}

/* Follow the one-entry trees that continue a long edge: c becomes the
 * whole edge. */
static gboolean
child_resolve (StoreGitRepo *r, Child *c, GError **error)
{
  g_autoptr (GString) label = g_string_new (c->label);
  while (c->is_tree) {
    git_tree *tree;
    if (!lookup_tree (r, &c->oid, &tree, error))
      return FALSE;
    const git_tree_entry *e = git_tree_entrycount (tree) == 1
                                  ? git_tree_entry_byindex (tree, 0)
                                  : NULL;
    if (e == NULL
        || strcmp (git_tree_entry_name (e), STORE_GIT_VALUE_ENTRY) == 0) {
      git_tree_free (tree);
      break;
    }
    gboolean ok = store_git_decode (label, git_tree_entry_name (e));
    c->is_tree = git_tree_entry_type (e) == GIT_OBJECT_TREE;
    git_oid tree_oid;
    git_oid_cpy (&tree_oid, &c->oid);
    git_oid_cpy (&c->oid, git_tree_entry_id (e));
    git_tree_free (tree);
    if (!ok)
      return fail_tree (r, &tree_oid, error, "an entry is not an encoded key");
  }
  g_free (c->label);
  c->label = g_strdup (label->str);
  return TRUE;
}

/* ---- writing trees ------------------------------------------------------- */

StoreGitEntry *
store_git_entry_new (const char *name, const git_oid *oid, gboolean is_tree)
{
  StoreGitEntry *e = g_new0 (StoreGitEntry, 1);
  e->name = g_strdup (name);
  git_oid_cpy (&e->oid, oid);
  e->is_tree = is_tree;
  return e;
}

void
store_git_entry_free (StoreGitEntry *e)
{
  g_free (e->name);
  g_free (e);
}

/* git's order: names compared bytewise, a tree's name as if it ended in
 * '/'. */
static gint
entry_cmp (gconstpointer pa, gconstpointer pb)
{
  const StoreGitEntry *a = *(StoreGitEntry *const *)pa;
  const StoreGitEntry *b = *(StoreGitEntry *const *)pb;
  size_t la = strlen (a->name), lb = strlen (b->name), m = MIN (la, lb);
  int c = memcmp (a->name, b->name, m);
  if (c != 0)
    return c;
  int ca = la > m ? (unsigned char)a->name[m] : a->is_tree ? '/' : 0;
  int cb = lb > m ? (unsigned char)b->name[m] : b->is_tree ? '/' : 0;
  return ca - cb;
}

gboolean
store_git_tree_write (StoreGitRepo *r, GPtrArray *entries, git_oid *out,
                      GError **error)
{
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_ptr_array_sort (entries, entry_cmp);
  for (guint i = 0; i < entries->len; i++) {
    const StoreGitEntry *e = entries->pdata[i];
    const char *mode = e->is_tree ? "40000 " : "100644 ";
    g_byte_array_append (buf, (const guint8 *)mode, (guint)strlen (mode));
    g_byte_array_append (buf, (const guint8 *)e->name,
                         (guint)strlen (e->name) + 1);
    g_byte_array_append (buf, e->oid.id, GIT_OID_RAWSZ);
  }
  return store_git_write (r, GIT_OBJECT_TREE, buf->data, buf->len, out, error);
}

/* The entry for a child: its encoded label, or for a long one the first
 * piece of a chain of one-entry trees. */
static gboolean
child_entry (StoreGitRepo *r, const Child *c, GPtrArray *entries,
             GError **error)
{
  g_autoptr (GString) enc = g_string_new (NULL);
  store_git_encode (enc, c->label, strlen (c->label));
  if (enc->len <= STORE_GIT_LABEL_MAX) {
    g_ptr_array_add (entries,
                     store_git_entry_new (enc->str, &c->oid, c->is_tree));
    return TRUE;
  }
  /* Pieces of at most STORE_GIT_LABEL_MAX characters, cut greedily from
   * the start and never inside a %XX. */
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (size_t));
  size_t start = 0;
  g_array_append_val (starts, start);
  for (size_t pos = 0; pos < enc->len;) {
    size_t step = enc->str[pos] == '%' ? 3 : 1;
    if (pos + step - start > STORE_GIT_LABEL_MAX) {
      start = pos;
      g_array_append_val (starts, start);
    }
    pos += step;
  }
  /* Build from the last piece up: each piece but the first is the only
   * entry of a tree. */
  git_oid oid;
  gboolean is_tree = c->is_tree;
  git_oid_cpy (&oid, &c->oid);
  for (guint i = starts->len; i-- > 1;) {
    size_t from = g_array_index (starts, size_t, i);
    size_t to = i + 1 < starts->len ? g_array_index (starts, size_t, i + 1)
                                    : enc->len;
    g_autofree char *piece = g_strndup (enc->str + from, to - from);
    g_autoptr (GPtrArray) one
        = g_ptr_array_new_with_free_func ((GDestroyNotify)store_git_entry_free);
    g_ptr_array_add (one, store_git_entry_new (piece, &oid, is_tree));
    if (!store_git_tree_write (r, one, &oid, error))
      return FALSE;
    is_tree = TRUE;
  }
  g_autofree char *first
      = g_strndup (enc->str, g_array_index (starts, size_t, 1));
  g_ptr_array_add (entries, store_git_entry_new (first, &oid, TRUE));
  return TRUE;
}

static gboolean
node_write (StoreGitRepo *r, const Node *n, git_oid *out, GError **error)
{
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)store_git_entry_free);
  if (n->has_value)
    g_ptr_array_add (
        entries, store_git_entry_new (STORE_GIT_VALUE_ENTRY, &n->value, FALSE));
  for (guint i = 0; i < n->children->len; i++)
    if (!child_entry (r, &g_array_index (n->children, Child, i), entries,
                      error))
      return FALSE;
  return store_git_tree_write (r, entries, out, error);
}

/* ---- applying writes ------------------------------------------------------
 */

/* The node at the end of an edge labelled prefix, as its parent's child:
 * FALSE in *present when nothing is left; a node with only a value is a
 * blob; a node with one child and no value merges into the edge. */
static gboolean
node_to_child (StoreGitRepo *r, Node *n, const char *prefix, size_t plen,
               Child *out, gboolean *present, GError **error)
{
  *present = TRUE;
  if (n->children->len == 0) {
    if (!n->has_value) {
      *present = FALSE;
      return TRUE;
    }
    out->label = g_strndup (prefix, plen);
    out->is_tree = FALSE;
    git_oid_cpy (&out->oid, &n->value);
    return TRUE;
  }
  if (n->children->len == 1 && !n->has_value) {
    Child *only = &g_array_index (n->children, Child, 0);
    /* A child loaded from a tree may be the first piece of a long edge:
     * merge the whole edge, or the pieces would be cut at other places
     * than a store that never split it would cut them. */
    if (!child_resolve (r, only, error))
      return FALSE;
    g_autofree char *head = g_strndup (prefix, plen);
    out->label = g_strconcat (head, only->label, NULL);
    out->is_tree = only->is_tree;
    git_oid_cpy (&out->oid, &only->oid);
    return TRUE;
  }
  out->label = g_strndup (prefix, plen);
  out->is_tree = TRUE;
  return node_write (r, n, &out->oid, error);
}

static gint
find_child (const Node *n, unsigned char first)
{
  for (guint i = 0; i < n->children->len; i++)
    if ((unsigned char)g_array_index (n->children, Child, i).label[0] == first)
      return (gint)i;
  return -1;
}

static void
put_child (Node *n, gint index, Child *c, gboolean present)
{
  if (index >= 0)
    g_array_remove_index (n->children, (guint)index);
  if (!present)
    return;
  guint i = 0;
  while (i < n->children->len
         && child_cmp (&g_array_index (n->children, Child, i), c) < 0)
    i++;
  g_array_insert_val (n->children, i, *c);
}

static gboolean node_apply (StoreGitRepo *r, Node *n, size_t depth,
                            const CairnWrite *w, size_t count, GError **error);

/* Writes w[0..count) all continue with the byte `first` after depth. */
static gboolean
apply_group (StoreGitRepo *r, Node *n, size_t depth, const CairnWrite *w,
             size_t count, GError **error)
{
  unsigned char first = (unsigned char)w[0].key[depth];
  gint index = find_child (n, first);
  Node sub;
  Child out = { 0 };
  gboolean present, ok;

  node_init (&sub);
  if (index < 0) {
    /* A new edge: the node one byte further down, built from nothing. */
    ok = node_apply (r, &sub, depth + 1, w, count, error)
         && node_to_child (r, &sub, w[0].key + depth, 1, &out, &present, error);
  } else {
    Child *c = &g_array_index (n->children, Child, index);
    ok = child_resolve (r, c, error);
    const char *label = c->label;
    size_t llen = strlen (label), p = llen;
    /* How much of the edge every write shares. */
    for (size_t i = 0; ok && i < count && p > 0; i++) {
      const char *k = w[i].key + depth;
      size_t q = 0;
      while (q < p && k[q] == label[q])
        q++;
      p = q;
    }
    if (ok && p == llen) {
      /* Below the whole edge: into the child's node. */
      if (c->is_tree) {
        ok = node_load (r, &c->oid, &sub, error);
      } else {
        sub.has_value = TRUE;
        git_oid_cpy (&sub.value, &c->oid);
      }
      ok = ok && node_apply (r, &sub, depth + llen, w, count, error);
    } else if (ok) {
      /* The writes leave the edge after p bytes: split it there. */
      Child rest = { g_strdup (label + p), c->is_tree, { { 0 } } };
      git_oid_cpy (&rest.oid, &c->oid);
      g_array_append_val (sub.children, rest);
      ok = node_apply (r, &sub, depth + p, w, count, error);
      llen = p;
    }
    ok = ok
         && node_to_child (r, &sub, w[0].key + depth, llen, &out, &present,
                           error);
  }
  node_clear (&sub);
  if (!ok) {
    g_free (out.label);
    return FALSE;
  }
  put_child (n, index, &out, present);
  if (!present)
    g_free (out.label);
  return TRUE;
}

/* Apply writes (sorted, unique, all sharing their first depth bytes) to
 * the node at depth. */
static gboolean
node_apply (StoreGitRepo *r, Node *n, size_t depth, const CairnWrite *w,
            size_t count, GError **error)
{
  size_t i = 0;
  /* A key ending here sorts first (it is a prefix of the others). */
  if (count > 0 && w[0].key[depth] == '\0') {
    if (w[0].flags & CAIRN_WRITE_DELETE) {
      n->has_value = FALSE;
    } else {
      if (!store_git_write (r, GIT_OBJECT_BLOB,
                            w[0].value != NULL ? (const void *)w[0].value : "",
                            w[0].value_len, &n->value, error))
        return FALSE;
      n->has_value = TRUE;
    }
    i = 1;
  }
  while (i < count) {
    size_t j = i + 1;
    while (j < count && w[j].key[depth] == w[i].key[depth])
      j++;
    if (!apply_group (r, n, depth, w + i, j - i, error))
      return FALSE;
    i = j;
  }
  return TRUE;
}

gboolean
store_git_trie_apply (StoreGitRepo *r, git_oid *root, const CairnWrite *writes,
                      size_t n, GError **error)
{
  Node node;
  gboolean ok = TRUE;

  if (n == 0)
    return TRUE;
  node_init (&node);
  if (!git_oid_is_zero (root))
    ok = node_load (r, root, &node, error);
  ok = ok && node_apply (r, &node, 0, writes, n, error);
  if (ok) {
    /* The root stays a tree (it has no edge to merge into). */
    if (node.children->len == 0 && !node.has_value)
      memset (root, 0, sizeof *root);
    else
      ok = node_write (r, &node, root, error);
  }
  node_clear (&node);
  return ok;
}

/* ---- reading ----------------------------------------------------------------
 */

static GBytes *
read_blob (StoreGitRepo *r, const git_oid *oid, GError **error)
{
  git_blob *blob;
  int rc = git_blob_lookup (&blob, r->repo, oid);
  if (rc < 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, oid);
    store_git_fail (r, error, rc, "cannot read value blob %s", hex);
    return NULL;
  }
  GBytes *out = g_bytes_new (git_blob_rawcontent (blob),
                             (gsize)git_blob_rawsize (blob));
  git_blob_free (blob);
  return out;
}

static GBytes *
not_found (const char *key, GError **error)
{
  /* An ordinary answer that reaches API clients: no path in it. */
  g_set_error (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND, "key '%s' not found",
               key);
  return NULL;
}

GBytes *
store_git_trie_get (StoreGitRepo *r, const git_oid *root, const char *key,
                    GError **error)
{
  g_autoptr (GString) enc = g_string_new (NULL);
  git_oid at;
  size_t pos = 0;

  if (root == NULL || git_oid_is_zero (root))
    return not_found (key, error);
  store_git_encode (enc, key, strlen (key));
  git_oid_cpy (&at, root);
  for (;;) {
    git_tree *tree;
    const git_tree_entry *hit = NULL;
    if (!lookup_tree (r, &at, &tree, error))
      return NULL;
    const char *rest = enc->str + pos;
    size_t rest_len = enc->len - pos;
    if (rest_len == 0) {
      hit = git_tree_entry_byname (tree, STORE_GIT_VALUE_ENTRY);
    } else {
      size_t count = git_tree_entrycount (tree);
      for (size_t i = 0; i < count && hit == NULL; i++) {
        const git_tree_entry *e = git_tree_entry_byindex (tree, i);
        const char *name = git_tree_entry_name (e);
        size_t nlen = strlen (name);
        if (nlen <= rest_len && memcmp (name, rest, nlen) == 0
            && (git_tree_entry_type (e) == GIT_OBJECT_TREE || nlen == rest_len))
          hit = e;
      }
    }
    if (hit == NULL) {
      git_tree_free (tree);
      return not_found (key, error);
    }
    git_oid next;
    git_oid_cpy (&next, git_tree_entry_id (hit));
    gboolean is_tree = git_tree_entry_type (hit) == GIT_OBJECT_TREE;
    pos += rest_len == 0 ? 0 : strlen (git_tree_entry_name (hit));
    git_tree_free (tree);
    if (!is_tree)
      return read_blob (r, &next, error);
    if (rest_len == 0) {
      fail_tree (r, &at, error, "its '@' entry is not a blob");
      return NULL;
    }
    git_oid_cpy (&at, &next);
  }
}

typedef struct {
  StoreGitRepo *r;
  CairnKvFn fn;
  void *user_data;
  gboolean stopped;
  GString *key;
} Iter;

static gboolean
emit (Iter *it, const git_oid *blob, GError **error)
{
  git_blob *b;
  int rc = git_blob_lookup (&b, it->r->repo, blob);
  if (rc < 0) {
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr (hex, sizeof hex, blob);
    return store_git_fail (it->r, error, rc, "cannot read value blob %s", hex);
  }
  if (!it->fn (it->key->str, git_blob_rawcontent (b),
               (size_t)git_blob_rawsize (b), it->user_data))
    it->stopped = TRUE;
  git_blob_free (b);
  return TRUE;
}

/* Visit the node `oid` (its key so far in it->key) for keys starting with
 * it->key + rest. */
static gboolean
iter_node (Iter *it, const git_oid *oid, const char *rest, GError **error)
{
  Node n;
  node_init (&n);
  gboolean ok = node_load (it->r, oid, &n, error);
  size_t rlen = strlen (rest);
  if (ok && rlen == 0 && n.has_value)
    ok = emit (it, &n.value, error);
  for (guint i = 0; ok && !it->stopped && i < n.children->len; i++) {
    const Child *c = &g_array_index (n.children, Child, i);
    size_t llen = strlen (c->label), keep = it->key->len;
    const char *next_rest;
    if (rlen == 0 || (llen >= rlen && memcmp (c->label, rest, rlen) == 0))
      next_rest = ""; /* the whole subtree matches */
    else if (llen < rlen && memcmp (c->label, rest, llen) == 0 && c->is_tree)
      next_rest = rest + llen; /* the prefix goes on below */
    else
      continue;
    g_string_append (it->key, c->label);
    if (c->is_tree)
      ok = iter_node (it, &c->oid, next_rest, error);
    else
      ok = emit (it, &c->oid, error);
    g_string_truncate (it->key, keep);
  }
  node_clear (&n);
  return ok;
}

gboolean
store_git_trie_iter (StoreGitRepo *r, const git_oid *root, const char *prefix,
                     CairnKvFn fn, void *user_data, GError **error)
{
  if (root == NULL || git_oid_is_zero (root))
    return TRUE;
  Iter it = { r, fn, user_data, FALSE, g_string_new (NULL) };
  gboolean ok = iter_node (&it, root, prefix != NULL ? prefix : "", error);
  g_string_free (it.key, TRUE);
  return ok;
}
