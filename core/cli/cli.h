/* Internal interfaces of the `cairn` command-line tool (core/cli/).
 *
 * Every subcommand is `int cairn_cmd_<name> (int argc, char **argv)` with
 * argv[0] the subcommand's name; it returns the process exit code:
 *   0 ok, 1 operation failed (tx rejected, node error), 2 usage error,
 *   3 not found, 4 cannot reach the node.
 * Errors go to stderr as "cairn: <message>". */
#pragma once

#include <stdint.h>

#include <gio/gio.h>
#include <glib.h>
#include <jansson.h>

#include "cjson.h" /* g_autoptr (json_t) */
#include "crypto.h"

typedef enum {
  CAIRN_EXIT_OK = 0,
  CAIRN_EXIT_FAILED = 1,
  CAIRN_EXIT_USAGE = 2,
  CAIRN_EXIT_NOT_FOUND = 3,
  CAIRN_EXIT_UNREACHABLE = 4,
} CairnExit;

/* The CLI's own error domain; each code is the exit code it leads to. */
GQuark cairn_cli_error_quark (void);
#define CAIRN_CLI_ERROR (cairn_cli_error_quark ())

#ifndef CAIRN_VERSION
#ifdef PACKAGE_VERSION_STRING
#define CAIRN_VERSION PACKAGE_VERSION_STRING
#else
#define CAIRN_VERSION "unknown"
#endif
#endif

/* ---- subcommands ---- */
int cairn_cmd_init (int argc, char **argv);
int cairn_cmd_node (int argc, char **argv);
int cairn_cmd_keys (int argc, char **argv);
int cairn_cmd_tx (int argc, char **argv);
int cairn_cmd_query (int argc, char **argv);
int cairn_cmd_plugin (int argc, char **argv);
int cairn_cmd_bench (int argc, char **argv);
int cairn_cmd_testnet (int argc, char **argv);
int cairn_cmd_blob (int argc, char **argv);
int cairn_cmd_services (int argc, char **argv);
int cairn_cmd_group (int argc, char **argv);
int cairn_cmd_market (int argc, char **argv);
int cairn_cmd_im (int argc, char **argv);
int cairn_cmd_meter (int argc, char **argv);
int cairn_cmd_store (int argc, char **argv);
int cairn_cmd_dist (int argc, char **argv);

/* ---- output.c: messages, exit codes, option parsing, JSON/human ---- */
void cairn_cli_printerr (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Set *error in CAIRN_CLI_ERROR with code (an exit code); returns FALSE. */
gboolean cairn_cli_set_error (GError **error, int code, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);
/* The exit code an error leads to (CAIRN_CLI_ERROR codes, G_OPTION_ERROR
 * = usage, *_NOT_FOUND = not found, anything else = failed). */
int cairn_cli_exit_code (const GError *error);
/* Print "cairn: <message>" and return the exit code; frees error. */
int cairn_cli_fail (GError *error);
/* Print "cairn: <message>" plus a hint to --help; returns 2. */
int cairn_cli_usage (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

/* A context with the common look; entries may be NULL. */
GOptionContext *cairn_cli_context_new (const char *parameters,
                                       const char *summary,
                                       const char *description,
                                       const GOptionEntry *entries);
/* Parse; on failure print the error and set *exit_code to 2. */
gboolean cairn_cli_parse (GOptionContext *ctx, int *argc, char ***argv,
                          int *exit_code);
/* --home or $CAIRN_HOME; NULL (and a usage message printed) when neither. */
const char *cairn_cli_require_home (const char *home_opt);

/* JSON pretty-printed (sorted keys, 2-space indent) on stdout. */
void cairn_cli_print_json (const json_t *value);
/* One compact line of JSON on stdout. */
void cairn_cli_print_json_line (const json_t *value);
/* A scalar as text (strings unquoted); g_free. */
char *cairn_cli_json_text (const json_t *value);
/* "label       value" lines for humans. */
void cairn_cli_print_field (const char *label, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);
/* Every leaf as "path.to.leaf: value" (objects sorted by key). */
void cairn_cli_print_flat (const json_t *value);
/* A member of obj, or of obj's "header" object (blocks); NULL if absent. */
json_t *cairn_cli_json_find (const json_t *obj, const char *key);
/* Dump with the path and a short description of the first real (float) in
 * value, e.g. "body.amount (1.5)"; NULL when there is none. g_free. */
char *cairn_cli_find_real (const json_t *value, const char *root);

/* A free TCP port on 127.0.0.1 (another process may take it before use). */
gboolean cairn_cli_free_port (guint16 *port, GError **error);

/* ---- client.c: the only HTTP client code (libsoup 3, sync API) ---- */
typedef struct CairnClient CairnClient;

/* base_url "http://127.0.0.1:7700"; timeout_s 0 = none (streams). The
 * session belongs to the calling thread's thread-default main context. */
CairnClient *cairn_client_new (const char *base_url, guint timeout_s,
                               GError **error);
void cairn_client_free (CairnClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnClient, cairn_client_free)
const char *cairn_client_url (CairnClient *client);
/* Cancels blocking calls made after it is set (may be NULL). */
void cairn_client_set_cancellable (CairnClient *client, GCancellable *cancel);

/* Any status: the parsed JSON body and the HTTP status. Fails only when the
 * node cannot be reached (CAIRN_CLI_ERROR_UNREACHABLE) or the body is not
 * JSON. body may be NULL (no request body). */
json_t *cairn_client_call (CairnClient *client, const char *method,
                           const char *path, const char *body, size_t len,
                           guint *status, GError **error);
/* 2xx only: an API error {"error":{"code","message"}} becomes a GError
 * (NOT_FOUND for 404, FAILED otherwise) whose message holds the code. */
json_t *cairn_client_get (CairnClient *client, const char *path,
                          GError **error);
json_t *cairn_client_post (CairnClient *client, const char *path,
                           const char *body, size_t len, GError **error);
/* What cairn_client_call's value and status make for cairn_client_get and
 * _post: the value (taken) if 2xx, else its API error as a GError. */
json_t *cairn_client_reply_ok (json_t *value, guint status, const char *method,
                               const char *path, GError **error);
/* Open a streaming GET (server-sent events); read it on this thread. */
GInputStream *cairn_client_open_stream (CairnClient *client, const char *path,
                                        GError **error);

/* POST a body streamed from `in` (length bytes, octet-stream); 2xx only,
 * like cairn_client_post. */
json_t *cairn_client_upload (CairnClient *client, const char *path,
                             GInputStream *in, goffset length, GError **error);
/* GET a binary body into out (range: a Range header value, or NULL). A
 * non-2xx reply's API error becomes the GError; a body shorter than its
 * Content-Length fails. */
gboolean cairn_client_download (CairnClient *client, const char *path,
                                const char *range, GOutputStream *out,
                                uint64_t *written, GError **error);
/* The node URL: node_opt if given, else http://<[http] listen> of home's
 * config (0.0.0.0 becomes 127.0.0.1). */
char *cairn_client_url_for (const char *home, const char *node_opt,
                            GError **error);
/* GET /v1/status → chain_id. */
char *cairn_client_chain_id (CairnClient *client, GError **error);
/* GET /v1/accounts/{addr} → "next_nonce" (0 for an unknown account). */
gboolean cairn_client_next_nonce (CairnClient *client, const char *address,
                                  uint64_t *out, GError **error);
/* The account's committed nonce ("nonce"; next_nonce also counts the txs
 * waiting in the mempool); 0 for an account the chain has not seen. */
gboolean cairn_client_committed_nonce (CairnClient *client, const char *address,
                                       uint64_t *out, GError **error);
/* Poll GET /v1/txs/{id} until "status" is "committed"; returns that JSON.
 * Fails with FAILED after timeout_s seconds. */
json_t *cairn_client_wait_tx (CairnClient *client, const char *id,
                              double timeout_s, GError **error);
/* For a committed tx's JSON: TRUE when result.ok is true; otherwise *why
 * (g_free) is "<code>: <error>". */
gboolean cairn_client_tx_result_ok (const json_t *tx_json, char **why);

/* ---- cmd_tx.c ---- */
/* Sign body as a `type` tx with key and submit it to client's node, at
 * *nonce_opt or (NULL) the account's next nonce; the chain id comes from
 * the node. A chosen nonce that another submitter of the same key (the
 * node's own automatic txs) takes between the lookup and the POST is chosen
 * again, up to a few times. Without wait: {"id","from","nonce"} once
 * accepted. With wait:
 * the committed tx's JSON (cairn_client_wait_tx; check it with
 * cairn_client_tx_result_ok). Errors: CAIRN_CLI_ERROR (exit codes), or the
 * node's refusal as cairn_client_post reports it. */
json_t *cairn_cli_tx_submit (CairnClient *client, const CairnKey *key,
                             const char *type, const json_t *body,
                             const uint64_t *nonce_opt, gboolean wait,
                             double timeout_s, GError **error);

/* ---- cmd_keys.c ---- */
/* [A-Za-z0-9_-]{1,64} */
gboolean cairn_cli_key_name_valid (const char *name);
/* NAME (home/keys/NAME.pem) or a path to a PEM file (contains '/' or ends
 * in .pem). *path_out (may be NULL) receives the file (g_free). */
CairnKey *cairn_cli_load_key (const char *home, const char *name_or_path,
                              char **path_out, GError **error);
/* An address, or the name of a key in home (home may be NULL). */
char *cairn_cli_resolve_address (const char *home, const char *what,
                                 GError **error);

/* ---- cmd_init.c ---- */
typedef struct CairnInitSpec {
  const char *home;
  /* NULL: the genesis template's chain_id, else "dev". */
  const char *chain_id;
  const char *profile;
  /* Storage and blob-store plugins: NULL = the defaults of conf.d
   * (store-lmdb, blob-fs); another name takes conf/alternatives/. */
  const char *store;
  const char *blobstore;
  gboolean force;
  /* Extra accounts funded in genesis with {"cairn": funded_balance}. */
  const char *const *funded; /* NULL-terminated addresses, may be NULL */
  int64_t funded_balance;
} CairnInitSpec;

/* Write a new home (config, profile, keys, genesis) from the configuration
 * cairn_conf_source_default () finds, and its genesis template if any.
 * *admin_address and *node_address (may be NULL) receive the two
 * addresses (g_free). */
gboolean cairn_cli_init_home (const CairnInitSpec *spec, char **admin_address,
                              char **node_address, GError **error);

/* A genesis template (README "Vendor distributions"): a JSON object with
 * optional "chain_id" (the default of `cairn init --chain-id`), "accounts"
 * (extra genesis accounts: address, pubkey, roles, balances) and
 * "app_state" (per plugin), nothing else. Read strictly and checked by
 * building a trial genesis with it; errors name origin and the field. */
json_t *cairn_cli_genesis_template_load (const char *path, GError **error);

/* ---- cmd_testnet.c: a local network on loopback (also cairn bench's) ----
 * init writes dir/node0..node{n-1} from tmpl (its home is ignored): shared
 * genesis, free ports, full mesh; pos: every node runs pos and node0..
 * node{n_val-1} are the genesis validators; else node0 runs solo (n_val must
 * be 1) and the others follow it. quiet: print nothing. start spawns every
 * node not running (node.log, node.pid in its home) and waits for each API;
 * owned: quiet, and the nodes get SIGKILL when the calling thread ends (the
 * caller reaps them; stop does); ready_us (n entries, may be NULL) receives
 * the monotonic time each node answered. stop: SIGTERM, SIGKILL after
 * 10 s. */
gboolean cairn_testnet_init (const char *dir, guint n, guint n_val,
                             gboolean pos, const CairnInitSpec *tmpl,
                             gboolean force, gboolean quiet, GError **error);
gboolean cairn_testnet_start (const char *dir, gboolean owned, gint64 *ready_us,
                              GError **error);
gboolean cairn_testnet_stop (const char *dir, gboolean quiet, GError **error);
/* dir/nodeI (g_free). */
char *cairn_testnet_node_home (const char *dir, guint i);
/* The pid in home/node.pid when that process runs cairn, else 0. */
GPid cairn_testnet_node_pid (const char *home);

/* rm -rf path (not following symlinks); TRUE when path is absent. */
gboolean cairn_cli_remove_tree (const char *path, GError **error);

/* ---- cmd_plugin.c ---- */
/* Default plugin search path (NULL-terminated, g_strfreev): for a vendor
 * distribution's bin/cairn (cairn_cli_dist_root), its
 * "../lib/cairn-1/plugins" alone; otherwise
 * "<dir of /proc/self/exe>/../plugins" when it exists (the build tree),
 * then the compiled-in CAIRN_PLUGINSDIR. */
char **cairn_cli_default_plugin_path (void);

/* ---- conf_source.c: where `cairn init` takes its configuration from ---- */
/* Names under a distribution's share/cairn/. */
#define CAIRN_DIST_BRANDING "branding.json"
#define CAIRN_DIST_GENESIS_TEMPLATE "genesis-template.json"

/* The root of the relocatable distribution this executable belongs to: the
 * parent of its bin/ when that holds etc/cairn/cairn.conf and
 * lib/cairn-1/plugins/; else NULL. g_free. */
char *cairn_cli_dist_root (void);

typedef struct CairnConfSource CairnConfSource;
/* The distribution's etc/cairn/ when cairn_cli_dist_root () finds one,
 * else the conf/ tree compiled into the binary (a GResource). */
CairnConfSource *cairn_conf_source_default (void);
void cairn_conf_source_free (CairnConfSource *src);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnConfSource, cairn_conf_source_free)
/* For messages: the directory, or "the configuration built into cairn". */
const char *cairn_conf_source_describe (const CairnConfSource *src);
/* rel is "cairn.conf", "conf.d/20-bank.conf", "profiles/dev.conf",
 * "alternatives/10-store-git.conf", … */
gboolean cairn_conf_source_has (const CairnConfSource *src, const char *rel);
GBytes *cairn_conf_source_read (const CairnConfSource *src, const char *rel,
                                GError **error);
/* The *.conf names in dir ("conf.d", "profiles", "alternatives"), sorted;
 * empty when the directory is absent. g_strfreev. */
char **cairn_conf_source_list (const CairnConfSource *src, const char *dir,
                               GError **error);
/* The distribution's share/cairn/genesis-template.json, or NULL. */
const char *cairn_conf_source_genesis_template (const CairnConfSource *src);
