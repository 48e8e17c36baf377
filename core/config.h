/* Node configuration: <home>/cairn.conf plus <home>/conf.d/NAME.conf (sorted by
 * name), GKeyFile syntax.
 *
 * Core groups and keys (all optional, defaults in conf/cairn.conf):
 *   [node]    chain_id (string, must match genesis), log_level
 *             (error|warning|message|info|debug), key (path of the node key,
 *             default keys/node.pem), genesis (default genesis.json),
 *             data_dir (default data)
 *   [plugins] path (';' list of dirs, relative to home), load (';' list of
 *             plugin ids). `load` APPENDS across files so a conf.d snippet
 *             enables its plugin with `[plugins] load = NAME`; `path` too.
 *   [http]    listen (host:port, default 127.0.0.1:7700), enabled (bool),
 *             max_blob_bytes, max_connections, max_connections_per_ip,
 *             max_body_bytes, requests_per_second_per_ip,
 *             requests_burst_per_ip, rate_limit_exempt_loopback,
 *             request_timeout_ms
 *   [mempool] max_txs, max_bytes, max_nonce_gap, ttl_seconds,
 *             max_txs_per_sender
 *   [block]   max_txs, max_bytes
 *   [p2p]     enabled (bool, default false), listen (host:port, default
 *             127.0.0.1:7710), persistent_peers (';' list of id@host:port
 *             to dial), allow (';' list of extra node ids allowed to
 *             connect; genesis validators and persistent peers always are),
 *             max_inbound, max_inbound_per_ip, handshake_timeout_ms,
 *             frame_timeout_ms, max_frame_bytes, rate_bytes_per_second,
 *             rate_burst_bytes, rate_frames_per_second, rate_burst_frames
 *   [<plugin id>]  the plugin's own keys, read through the host table.
 * Any other group or key is an error naming file, group and key. A later
 * file's value for the same core key wins (lists append). */
#pragma once

#include <stdint.h>

#include <glib.h>

typedef struct CairnConfig CairnConfig;

/* Parse every file. Syntax errors name the file and line. */
CairnConfig *cairn_config_load (const char *home, GError **error);
/* Load from in-memory text (tests); origin names it in messages. */
CairnConfig *cairn_config_load_data (const char *home, const char *origin,
                                     const char *text, GError **error);
void cairn_config_free (CairnConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnConfig, cairn_config_free)

const char *cairn_config_home (const CairnConfig *cfg);
/* Resolve a possibly relative path against home (g_free). */
char *cairn_config_path (const CairnConfig *cfg, const char *path);

/* Typed getters. Every call marks the key as known. A missing key yields
 * def; a present but bad value fails with CAIRN_ERROR_CONFIG and a message
 * "<file>: [group] key: <why> (got '<value>')". */
gboolean cairn_config_string (CairnConfig *cfg, const char *group,
                              const char *key, const char *def, char **out,
                              GError **error);
gboolean cairn_config_int (CairnConfig *cfg, const char *group, const char *key,
                           int64_t def, int64_t min, int64_t max, int64_t *out,
                           GError **error);
/* Accepts sizes with a suffix too: 64KiB, 16MiB, 1GiB. */
gboolean cairn_config_size (CairnConfig *cfg, const char *group,
                            const char *key, uint64_t def, uint64_t min,
                            uint64_t max, uint64_t *out, GError **error);
gboolean cairn_config_bool (CairnConfig *cfg, const char *group,
                            const char *key, gboolean def, gboolean *out,
                            GError **error);
/* ';'-separated list, empty entries dropped; appended across files for
 * [plugins] path/load, last file wins otherwise. Never NULL on success. */
gboolean cairn_config_strv (CairnConfig *cfg, const char *group,
                            const char *key, char ***out, GError **error);
gboolean cairn_config_has_group (const CairnConfig *cfg, const char *group);

/* After every reader ran: fail on the first group or key nobody read,
 * naming the file, the group and the key (and, for a group named like no
 * loaded plugin, saying so). */
gboolean cairn_config_check_unknown (const CairnConfig *cfg, GError **error);
