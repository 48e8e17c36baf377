/* Cairn SDK testing (libcairn-sdk-testing-1) — include this one header.
 *
 * A static library and its headers for testing plugins without a node,
 * shipped with the SDK (pkg-config cairn-sdk-testing-1):
 *
 *   fake_host.h  a fake host that drives one plugin (config, log, data dir,
 *                registered interfaces) and cairn_test_plugin_load, which
 *                dlopens a plugin's .so by the node's load rule
 *   mock_host.h  the whole host table in memory for app, privacy,
 *                interface and consensus plugins: state, txs and blocks,
 *                events, routes, a fake clock, the bank service
 *   commit.h     CairnCommitData built from puts, deletes and txs
 *   storage.h    the storage conformance suite with its crash harness, a
 *                store on the fake host, the harness's deterministic chain
 *   blob.h       the blob store conformance suite, a blob store on the fake
 *                host, generated content
 *   util.h       temporary directories, assertions on bytes, peak memory
 *
 * Every suite is a set of GLib tests (g_test_add_*): register them between
 * g_test_init and g_test_run. The cairn-conformance program runs them on a
 * plugin's .so. The names are cairn_test_* and CairnTest*. See the SDK's
 * README, "Testing your plugin".
 */
#pragma once

#include <cairn/cairn.h>

#include "blob.h"
#include "commit.h"
#include "fake_host.h"
#include "mock_host.h"
#include "storage.h"
#include "util.h"
