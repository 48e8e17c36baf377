/* Fuzz target: the tx bodies of every default app plugin (bank, pos,
 * market, services, groups, im, metering), decoded and validated by the
 * plugins' own handlers, run on the SDK's mock host (sdk/testing,
 * <cairn/testing/mock_host.h>) as in tests/sdk/test-plugins.c.
 *
 * The first byte picks the tx type (from the list below, every one of
 * which must be registered: checked at start); the rest is the body text.
 * The handler's stateless check runs as at admission, on one long-lived
 * host. When it accepts the body, the tx is also applied: in a block of
 * its own on a fresh host (so that a crash does not depend on what ran
 * before), from an account that holds funds, to reach the state-reading
 * decoding of apply as well. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairn/testing/mock_host.h>

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

const CairnPluginDescriptor *cairn_plugin_descriptor_bank (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_pos (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_market (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_services (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_groups (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_im (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_threshold (void);
const CairnPluginDescriptor *cairn_plugin_descriptor_metering (void);

static const char *const types[] = {
  "bank.transfer",
  "pos.bond",
  "pos.unbond",
  "pos.delegate",
  "pos.undelegate",
  "pos.unjail",
  "pos.evidence",
  "market.create",
  "market.serve",
  "market.usage",
  "market.rate",
  "market.rank",
  "market.distribute",
  "market.trade",
  "market.order",
  "market.fill",
  "market.cancel",
  "services.register_provider",
  "services.publish",
  "services.entitle",
  "services.feedback",
  "services.review",
  "services.publish_opinion",
  "groups.register_key",
  "groups.create",
  "groups.publish",
  "groups.update",
  "groups.add_member",
  "groups.remove_member",
  "groups.close",
  "im.register",
  "im.rotate_key",
  "im.revoke",
  "im.bind_request",
  "im.bind_accept",
  "im.bind_reject",
  "im.unbind_request",
  "im.unbind_confirm",
  "im.settings",
  "im.send",
  "metering.configure",
  "metering.set_centers",
  "metering.set_finance",
  "metering.register_terminal",
  "metering.update_terminal",
  "metering.create_set",
  "metering.prove",
  "metering.settle",
  "metering.recharge",
  "metering.withdraw",
};

static CairnTestHost *checker;

static CairnTestHost *
make_host (void)
{
  /* The default plugins with the dev profile's config (pos burns
   * slashed stake through the bank, so it is a minter). */
  static const char *const bank_config[] = { "minters", "pos", NULL };
  static const struct {
    CairnPluginEntry entry;
    const char *const *config;
  } plugins[] = {
    { cairn_plugin_descriptor_bank, bank_config },
    { cairn_plugin_descriptor_threshold, NULL },
    { cairn_plugin_descriptor_pos, NULL },
    { cairn_plugin_descriptor_market, NULL },
    { cairn_plugin_descriptor_services, NULL },
    { cairn_plugin_descriptor_groups, NULL },
    { cairn_plugin_descriptor_im, NULL },
    { cairn_plugin_descriptor_metering, NULL },
  };
  CairnTestHost *h = cairn_test_host_new ();
  g_autoptr (GError) error = NULL;
  /* alice: funds and the one validator (pos needs one at genesis). */
  g_autofree char *genesis = g_strdup_printf (
      "{\"accounts\":[{\"address\":\"%s\",\"balances\":{\"cairn\":"
      "1000000000}}],\"app_state\":{},\"chain_id\":\"test\","
      "\"genesis_time\":1767225600000,\"validators\":[{\"address\":"
      "\"%s\",\"pubkey\":\"%s\",\"stake\":100,\"name\":\"n0\"}]}",
      cairn_test_host_account (h, "alice"),
      cairn_test_host_account (h, "alice"),
      cairn_test_host_account_pubkey (h, "alice"));
  if (!cairn_test_host_set_genesis (h, genesis, &error)) {
    fprintf (stderr, "fuzz-plugin-tx: genesis: %s\n", error->message);
    abort ();
  }

  for (guint i = 0; i < G_N_ELEMENTS (plugins); i++) {
    if (cairn_test_host_load (h, plugins[i].entry, plugins[i].config, &error)
        == NULL) {
      fprintf (stderr, "fuzz-plugin-tx: loading plugin %u: %s\n", i,
               error->message);
      abort ();
    }
  }
  if (!cairn_test_host_start (h, &error)) {
    fprintf (stderr, "fuzz-plugin-tx: start: %s\n", error->message);
    abort ();
  }
  return h;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* Plugins log refusals at message/warning level: keep the output to
   * libFuzzer's own. */
  g_log_set_writer_func (g_log_writer_default, NULL, NULL);
  g_setenv ("G_MESSAGES_DEBUG", "", TRUE);
  checker = make_host ();
  for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
    g_autoptr (GError) error = NULL;
    if (!cairn_test_host_check (checker, types[i], "{}", &error)
        && g_error_matches (error, CAIRN_ERROR, CAIRN_ERROR_NOT_FOUND)
        && strstr (error->message, "unknown") != NULL) {
      fprintf (stderr, "fuzz-plugin-tx: %s is not registered: %s\n", types[i],
               error->message);
      abort ();
    }
  }
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  const char *type = types[data[0] % G_N_ELEMENTS (types)];
  g_autofree char *body = g_strndup ((const char *)data + 1, size - 1);
  g_autoptr (GError) error = NULL;

  static int verbose = -1;
  if (verbose < 0)
    verbose = g_getenv ("CAIRN_FUZZ_VERBOSE") != NULL;
  if (!cairn_test_host_check (checker, type, body, &error)) {
    CHECK (error != NULL);
    if (verbose) /* for growing the corpus: why each input stops here */
      fprintf (stderr, "fuzz-plugin-tx: %s: check: %s\n", type, error->message);
    return 0;
  }
  /* Accepted at admission: apply it on a fresh host. */
  g_autoptr (CairnTestHost) h = make_host ();
  const char *alice = cairn_test_host_account (h, "alice");
  g_autoptr (json_t) result = NULL;
  g_autoptr (GError) apply_error = NULL;
  gboolean ok
      = cairn_test_host_submit (h, alice, type, body, &result, &apply_error);
  CHECK (ok == (apply_error == NULL));
  if (verbose)
    fprintf (stderr, "fuzz-plugin-tx: %s: apply: %s\n", type,
             ok ? "ok" : apply_error->message);
  CHECK (result != NULL);
  return 0;
}
