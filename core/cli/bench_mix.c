/* cairn bench --mix: the table of tx types (see bench_mix.h). */
#include "bench_mix.h"

#include <string.h>

#include "cli.h"

#define MAX_WEIGHT_SUM 10000

typedef json_t *(*BodyFn) (const BenchMixCtx *ctx);

typedef struct {
  const char *name;    /* --mix name = tx type; "metering.*" = a prefix */
  BodyFn body;         /* NULL: not yet */
  const char *not_yet; /* why not, when body is NULL */
} MixType;

static json_t *
bank_transfer (const BenchMixCtx *ctx)
{
  return json_pack ("{s:s, s:s, s:i}", "to", ctx->to, "denom", "cairn",
                    "amount", 1);
}

static const MixType TYPES[] = {
  { "bank.transfer", bank_transfer, NULL },
  { "services.feedback", NULL,
    "needs a provider (platform role), a published service and an "
    "entitlement per sender before the run; the bench does not set those "
    "up yet" },
  { "market.usage", NULL,
    "is sent by an app node that serves the service (market.serve) and is "
    "limited to one report per node, service, user and period; the bench "
    "does not run app nodes yet" },
  { "im.send", NULL,
    "needs every sender registered with an im certificate, contacts (or "
    "allow_strangers) and a per-message signature over the body; the bench "
    "does not set those up yet" },
  { "metering.", NULL,
    "metering proofs carry a t-of-n threshold signature (FROST or multisig) "
    "by the meter centers over each aggregate; the bench has no meter "
    "centers to sign them" },
};

struct BenchMix {
  GArray *types;   /* guint: index into TYPES */
  GArray *weights; /* guint */
  guint *cycle;    /* sum of weights entries: type index per position */
  guint cycle_len;
};

void
bench_mix_free (BenchMix *mix)
{
  if (mix == NULL)
    return;
  g_array_unref (mix->types);
  g_array_unref (mix->weights);
  g_free (mix->cycle);
  g_free (mix);
}

static const MixType *
find_type (const char *name)
{
  for (guint t = 0; t < G_N_ELEMENTS (TYPES); t++)
    if (g_str_equal (TYPES[t].name, name)
        || (g_str_has_suffix (TYPES[t].name, ".")
            && g_str_has_prefix (name, TYPES[t].name)))
      return &TYPES[t];
  return NULL;
}

static gboolean usage (GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (2, 3);

static gboolean
usage (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, CAIRN_CLI_ERROR, CAIRN_EXIT_USAGE, msg);
  return FALSE;
}

static gboolean
add_type (BenchMix *mix, const char *item, GError **error)
{
  const char *eq = strchr (item, '=');
  if (eq == NULL || eq == item)
    return usage (error, "--mix: '%s' is not TYPE=WEIGHT", item);
  g_autofree char *name = g_strndup (item, eq - item);
  guint64 w = 0;
  g_autoptr (GError) local = NULL;
  if (!g_ascii_string_to_unsigned (eq + 1, 10, 1, MAX_WEIGHT_SUM, &w, &local))
    return usage (error,
                  "--mix: the weight of %s must be an integer 1..%d, "
                  "not '%s'",
                  name, MAX_WEIGHT_SUM, eq + 1);
  const MixType *t = find_type (name);
  if (t == NULL)
    return usage (error,
                  "--mix: unknown tx type '%s' (known: bank.transfer, "
                  "services.feedback, market.usage, im.send, metering.*)",
                  name);
  if (t->body == NULL)
    return usage (error, "--mix: not yet: %s %s", name, t->not_yet);
  guint idx = (guint)(t - TYPES);
  for (guint k = 0; k < mix->types->len; k++)
    if (g_array_index (mix->types, guint, k) == idx)
      return usage (error, "--mix: %s is given twice", name);
  guint wi = (guint)w;
  g_array_append_val (mix->types, idx);
  g_array_append_val (mix->weights, wi);
  return TRUE;
}

/* Smooth weighted round robin over one cycle: each type's share of every
 * prefix stays within one tx of its weight. */
static void
build_cycle (BenchMix *mix)
{
  guint n = mix->types->len, total = 0;
  for (guint k = 0; k < n; k++)
    total += g_array_index (mix->weights, guint, k);
  mix->cycle_len = total;
  mix->cycle = g_new (guint, total);
  g_autofree gint64 *current = g_new0 (gint64, n);
  for (guint pos = 0; pos < total; pos++) {
    guint best = 0;
    for (guint k = 0; k < n; k++) {
      current[k] += g_array_index (mix->weights, guint, k);
      if (current[k] > current[best])
        best = k;
    }
    current[best] -= total;
    mix->cycle[pos] = best;
  }
}

BenchMix *
bench_mix_parse (const char *spec, guint tx_size, GError **error)
{
  g_autoptr (BenchMix) mix = g_new0 (BenchMix, 1);
  mix->types = g_array_new (FALSE, FALSE, sizeof (guint));
  mix->weights = g_array_new (FALSE, FALSE, sizeof (guint));
  if (spec == NULL)
    spec = "bank.transfer=1";
  g_auto (GStrv) items = g_strsplit (spec, ",", -1);
  guint64 total = 0;
  for (guint k = 0; items[k]; k++) {
    g_strstrip (items[k]);
    if (!add_type (mix, items[k], error))
      return NULL;
    total += g_array_index (mix->weights, guint, mix->types->len - 1);
  }
  if (mix->types->len == 0) {
    usage (error, "--mix is empty (e.g. --mix bank.transfer=1)");
    return NULL;
  }
  if (total > MAX_WEIGHT_SUM) {
    usage (error,
           "--mix: the weights add up to %" G_GUINT64_FORMAT ", more than %d",
           total, MAX_WEIGHT_SUM);
    return NULL;
  }
  if (tx_size > 0) {
    /* bank.transfer is exactly {to, denom, amount} (plugins/bank/README.md):
     * no field takes padding, and it is the only type so far. */
    usage (error,
           "--tx-size: not yet: no supported tx type has a field "
           "for padding (bank.transfer takes exactly to, denom and amount)");
    return NULL;
  }
  build_cycle (mix);
  return g_steal_pointer (&mix);
}

guint
bench_mix_n (const BenchMix *mix)
{
  return mix->types->len;
}

const char *
bench_mix_name (const BenchMix *mix, guint k)
{
  return TYPES[g_array_index (mix->types, guint, k)].name;
}

guint
bench_mix_weight (const BenchMix *mix, guint k)
{
  return g_array_index (mix->weights, guint, k);
}

guint
bench_mix_pick (const BenchMix *mix, guint64 i)
{
  return mix->cycle[i % mix->cycle_len];
}

json_t *
bench_mix_body (const BenchMix *mix, guint k, const BenchMixCtx *ctx)
{
  return TYPES[g_array_index (mix->types, guint, k)].body (ctx);
}

json_t *
bench_mix_json (const BenchMix *mix)
{
  json_t *out = json_object ();
  for (guint k = 0; k < mix->types->len; k++)
    json_object_set_new (out, bench_mix_name (mix, k),
                         json_integer (bench_mix_weight (mix, k)));
  return out;
}
