/* metering: readings, aggregates, instructions, vouchers and proofs. */
#include "formats.h"

#include <string.h>

#include <cairn/error.h>
#include <cairn/util.h>

static const char *const usage_keys[] = { "cpu_ms", "mem_mib_s", "net_in_bytes",
                                          "net_out_bytes", "storage_mib_s" };
static const char *const idle_keys[]
    = { "cpu_milli", "mem_mib", "storage_mib" };
static const char *const network_keys[]
    = { "latency_us", "loss_ppm", "bandwidth_kbps" };
static const char *const app_states[]
    = { "running", "stopped", "crashed", "idle" };

gboolean
meter_id_valid (const char *id)
{
  if (id == NULL || id[0] == '\0' || strlen (id) > METER_ID_MAX
      || !(g_ascii_islower (id[0]) || g_ascii_isdigit (id[0])))
    return FALSE;
  for (const char *s = id; *s; s++)
    if (!(g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_' || *s == '-'
          || *s == '.'))
      return FALSE;
  return TRUE;
}

char *
meter_canonical (const json_t *v, size_t *len)
{
  char *text = json_dumps (v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  if (text == NULL)
    g_error ("metering: Jansson cannot dump a checked object");
  /* json_dumps allocates with malloc; hand out GLib memory. */
  char *out = g_strdup (text);
  free (text);
  if (len)
    *len = strlen (out);
  return out;
}

void
meter_hash_hex (const json_t *v, char out[65])
{
  size_t len;
  g_autofree char *text = meter_canonical (v, &len);
  g_autofree char *hex
      = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guchar *)text, len);
  memcpy (out, hex, 65);
}

/* ---- small checks ------------------------------------------------------- */

static gboolean
int_in (const json_t *v, json_int_t lo, json_int_t hi)
{
  return json_is_integer (v) && json_integer_value (v) >= lo
         && json_integer_value (v) <= hi;
}

/* A JSON string without a NUL inside (C string functions see all of it). */
static gboolean
cstring_is (const json_t *v)
{
  return json_is_string (v)
         && strlen (json_string_value (v)) == json_string_length (v);
}

static gboolean
hex_is (const json_t *v, size_t n)
{
  return json_is_string (v) && json_string_length (v) == n
         && cairn_hex_lower_valid (json_string_value (v), n / 2);
}

static gboolean
address_is (const json_t *v)
{
  return hex_is (v, 40);
}

/* obj has exactly the keys `keys`, each an integer in [0, max]. */
static gboolean
int_object (const char *what, const char *field, const json_t *obj,
            const char *const *keys, guint n, json_int_t max, GError **error)
{
  if (!json_is_object (obj) || json_object_size (obj) != n)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s must be an object with exactly %u integer "
                       "fields",
                       what, field, n);
  for (guint i = 0; i < n; i++)
    if (!int_in (json_object_get (obj, keys[i]), 0, max))
      return cairn_fail (
          error, CAIRN_ERROR_INVALID,
          "%s: %s.%s must be an integer from 0 to %" G_GINT64_FORMAT, what,
          field, keys[i], (gint64)max);
  return TRUE;
}

/* Only objects, arrays, integers and strings (what canonical JSON holds). */
static gboolean
plain_json (const json_t *v, int depth)
{
  if (depth > 8)
    return FALSE;
  const char *k;
  json_t *item;
  size_t i;
  switch (json_typeof (v)) {
  case JSON_OBJECT:
    json_object_foreach ((json_t *)v, k,
                         item) if (!plain_json (item, depth + 1)) return FALSE;
    return TRUE;
  case JSON_ARRAY:
    json_array_foreach (v, i,
                        item) if (!plain_json (item, depth + 1)) return FALSE;
    return TRUE;
  case JSON_STRING:
    return g_utf8_validate (json_string_value (v), json_string_length (v), NULL)
           && strlen (json_string_value (v)) == json_string_length (v);
  case JSON_INTEGER:
  case JSON_TRUE:
  case JSON_FALSE:
  case JSON_NULL:
    return TRUE;
  default:
    return FALSE;
  }
}

static gboolean
app_name_valid (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n > 32)
    return FALSE;
  for (; *s; s++)
    if (!(g_ascii_islower (*s) || g_ascii_isdigit (*s) || *s == '_' || *s == '-'
          || *s == '.'))
      return FALSE;
  return TRUE;
}

static gboolean
apps_check (const char *what, const json_t *apps, GError **error)
{
  if (!json_is_object (apps) || json_object_size (apps) > METER_MAX_APPS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: apps must be an object of at most %d names", what,
                       METER_MAX_APPS);
  const char *name;
  json_t *state;
  json_object_foreach ((json_t *)apps, name, state)
  {
    if (!app_name_valid (name))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: apps: '%s' is not an app name ([a-z0-9_.-], 1 "
                         "to 32)",
                         what, name);
    gboolean ok = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (app_states); i++)
      if (cstring_is (state)
          && strcmp (json_string_value (state), app_states[i]) == 0)
        ok = TRUE;
    if (!ok)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: apps.%s must be running, stopped, crashed or "
                         "idle",
                         what, name);
  }
  return TRUE;
}

static gboolean
exact_keys (const char *what, const json_t *obj, const char *const *keys,
            guint n, GError **error)
{
  if (!json_is_object (obj))
    return cairn_fail (error, CAIRN_ERROR_INVALID, "%s must be a JSON object",
                       what);
  for (guint i = 0; i < n; i++)
    if (json_object_get (obj, keys[i]) == NULL)
      return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: %s is missing", what,
                         keys[i]);
  if (json_object_size (obj) != n) {
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)obj, k, v)
    {
      gboolean known = FALSE;
      for (guint i = 0; i < n; i++)
        known = known || strcmp (k, keys[i]) == 0;
      if (!known)
        return cairn_fail (error, CAIRN_ERROR_INVALID, "%s: unknown field '%s'",
                           what, k);
    }
  }
  return TRUE;
}

static gboolean
chain_id_is (const json_t *v)
{
  return json_is_string (v) && json_string_length (v) >= 1
         && json_string_length (v) <= 64 && plain_json (v, 0);
}

/* ---- readings ----------------------------------------------------------- */

gboolean
meter_reading_check (const json_t *r, GError **error)
{
  static const char *const keys[]
      = { "terminal", "device",       "period", "seq",      "idle", "network",
          "usage",    "usage_time_s", "apps",   "evidence", "sig" };
  const char *what = "reading";
  if (!exact_keys (what, r, keys, G_N_ELEMENTS (keys), error))
    return FALSE;
  json_t *t = json_object_get (r, "terminal");
  if (!cstring_is (t) || !meter_id_valid (json_string_value (t)))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: terminal must be an id ([a-z0-9][a-z0-9_.-], at "
                       "most %d)",
                       what, METER_ID_MAX);
  if (!hex_is (json_object_get (r, "device"), 64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: device must be a public key (64 lower-case hex)",
                       what);
  if (!int_in (json_object_get (r, "period"), 0, METER_MAX_VALUE)
      || !int_in (json_object_get (r, "seq"), 0, METER_MAX_VALUE)
      || !int_in (json_object_get (r, "usage_time_s"), 0, METER_MAX_VALUE))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: period, seq and usage_time_s must be integers from "
                       "0 to 10^15",
                       what);
  if (!int_object (what, "idle", json_object_get (r, "idle"), idle_keys,
                   G_N_ELEMENTS (idle_keys), METER_MAX_VALUE, error)
      || !int_object (what, "network", json_object_get (r, "network"),
                      network_keys, G_N_ELEMENTS (network_keys),
                      METER_MAX_VALUE, error)
      || !int_object (what, "usage", json_object_get (r, "usage"), usage_keys,
                      G_N_ELEMENTS (usage_keys), METER_MAX_VALUE, error)
      || !apps_check (what, json_object_get (r, "apps"), error))
    return FALSE;
  json_t *ev = json_object_get (r, "evidence");
  if (!json_is_object (ev) || !plain_json (ev, 0))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: evidence must be an object of integers, strings, "
                       "booleans and nulls",
                       what);
  size_t evlen;
  g_autofree char *evtext = meter_canonical (ev, &evlen);
  if (evlen > METER_MAX_EVIDENCE)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: evidence is %zu bytes (at most %d)", what, evlen,
                       METER_MAX_EVIDENCE);
  if (!hex_is (json_object_get (r, "sig"), 128))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: sig must be 128 lower-case hex", what);
  return TRUE;
}

/* verify `sig` (hex in obj) by pubkey over obj without "sig". */
static gboolean
signed_by (const json_t *obj, const uint8_t pub[32], const char *domain,
           MeterVerifyFn verify)
{
  uint8_t sig[64];
  if (!cairn_hex_decode (json_string_value (json_object_get (obj, "sig")), sig,
                         64))
    return FALSE;
  g_autoptr (json_t) unsigned_obj = json_copy ((json_t *)obj);
  json_object_del (unsigned_obj, "sig");
  size_t len;
  g_autofree char *msg = meter_canonical (unsigned_obj, &len);
  return verify (pub, domain, msg, len, sig);
}

gboolean
meter_reading_verify (const json_t *r, MeterVerifyFn verify, GError **error)
{
  uint8_t pub[32];
  const char *dev = json_string_value (json_object_get (r, "device"));
  if (dev == NULL || !cairn_hex_decode (dev, pub, 32)
      || !signed_by (r, pub, METER_DOMAIN_READING, verify))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "reading of %s, period %" JSON_INTEGER_FORMAT
                       ": sig is not the device %.16s...'s signature "
                       "(Ed25519, domain '%s', over the reading without sig)",
                       json_string_value (json_object_get (r, "terminal")),
                       json_integer_value (json_object_get (r, "period")),
                       dev ? dev : "?", METER_DOMAIN_READING);
  return TRUE;
}

/* ---- aggregates --------------------------------------------------------- */

typedef struct {
  const json_t *r;
  char id[65];
} Item;

static int
by_id (gconstpointer a, gconstpointer b)
{
  return strcmp (((const Item *)a)->id, ((const Item *)b)->id);
}

/* (seq, device) ascending: the last one wins an app's state. */
static int
by_seq_device (gconstpointer a, gconstpointer b)
{
  const json_t *ra = ((const Item *)a)->r, *rb = ((const Item *)b)->r;
  json_int_t sa = json_integer_value (json_object_get (ra, "seq"));
  json_int_t sb = json_integer_value (json_object_get (rb, "seq"));
  if (sa != sb)
    return sa < sb ? -1 : 1;
  int c = strcmp (json_string_value (json_object_get (ra, "device")),
                  json_string_value (json_object_get (rb, "device")));
  /* Two readings of one (seq, device): the greater id wins, whatever
   * qsort does with equal elements. */
  return c != 0 ? c : strcmp (((const Item *)a)->id, ((const Item *)b)->id);
}

static int
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

static int
cmp_int64 (gconstpointer a, gconstpointer b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static json_int_t
field (const json_t *r, const char *obj, const char *key)
{
  return json_integer_value (json_object_get (json_object_get (r, obj), key));
}

json_t *
meter_aggregate (const char *chain_id, const char *terminal, int64_t period,
                 int64_t centers_version, json_t *const *readings, guint n,
                 GError **error)
{
  g_autoptr (json_t) chain = chain_id ? json_string (chain_id) : NULL;
  if (!chain_id_is (chain) || !meter_id_valid (terminal) || period < 0
      || period > METER_MAX_VALUE || centers_version < 1
      || centers_version > G_MAXINT32) {
    cairn_fail (
        error, CAIRN_ERROR_INVALID,
        "aggregate: chain_id '%s', terminal '%s', period %" G_GINT64_FORMAT
        " or centers_version %" G_GINT64_FORMAT " is malformed",
        chain_id ? chain_id : "", terminal ? terminal : "", period,
        centers_version);
    return NULL;
  }
  if (n > METER_MAX_READINGS) {
    cairn_fail (error, CAIRN_ERROR_INVALID,
                "aggregate of %s, period %" G_GINT64_FORMAT
                ": %u readings (at most %d)",
                terminal, period, n, METER_MAX_READINGS);
    return NULL;
  }
  g_autofree Item *items = g_new0 (Item, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    const json_t *r = readings[i];
    if (!meter_reading_check (r, error))
      return NULL;
    if (strcmp (json_string_value (json_object_get (r, "terminal")), terminal)
            != 0
        || json_integer_value (json_object_get (r, "period")) != period) {
      cairn_fail (error, CAIRN_ERROR_INVALID,
                  "aggregate of %s, period %" G_GINT64_FORMAT
                  ": reading %u is of %s, period %" JSON_INTEGER_FORMAT,
                  terminal, period, i,
                  json_string_value (json_object_get (r, "terminal")),
                  json_integer_value (json_object_get (r, "period")));
      return NULL;
    }
    items[i].r = r;
    meter_hash_hex (r, items[i].id);
  }
  qsort (items, n, sizeof *items, by_id);
  json_t *ids = json_array ();
  for (guint i = 0; i < n; i++) {
    if (i > 0 && strcmp (items[i].id, items[i - 1].id) == 0) {
      json_decref (ids);
      cairn_fail (error, CAIRN_ERROR_INVALID,
                  "aggregate of %s, period %" G_GINT64_FORMAT
                  ": reading %s appears twice",
                  terminal, period, items[i].id);
      return NULL;
    }
    json_array_append_new (ids, json_string (items[i].id));
  }

  json_t *usage = json_object ();
  for (guint k = 0; k < G_N_ELEMENTS (usage_keys); k++) {
    json_int_t sum = 0; /* <= 64 * 10^15: no overflow */
    for (guint i = 0; i < n; i++)
      sum += field (items[i].r, "usage", usage_keys[k]);
    json_object_set_new (usage, usage_keys[k], json_integer (sum));
  }
  json_int_t time_s = 0;
  for (guint i = 0; i < n; i++)
    time_s += json_integer_value (json_object_get (items[i].r, "usage_time_s"));

  json_t *idle = json_object ();
  for (guint k = 0; k < G_N_ELEMENTS (idle_keys); k++) {
    json_int_t min = 0;
    for (guint i = 0; i < n; i++) {
      json_int_t v = field (items[i].r, "idle", idle_keys[k]);
      min = i == 0 ? v : MIN (min, v);
    }
    json_object_set_new (idle, idle_keys[k], json_integer (min));
  }

  json_int_t loss = 0, bw = 0, latency = 0;
  g_autofree int64_t *lat = g_new (int64_t, MAX (n, 1));
  for (guint i = 0; i < n; i++) {
    lat[i] = field (items[i].r, "network", "latency_us");
    loss = MAX (loss, field (items[i].r, "network", "loss_ppm"));
    json_int_t b = field (items[i].r, "network", "bandwidth_kbps");
    bw = i == 0 ? b : MIN (bw, b);
  }
  if (n > 0) {
    qsort (lat, n, sizeof *lat, cmp_int64);
    latency = lat[(n - 1) / 2];
  }
  json_t *network = json_pack ("{s:I,s:I,s:I}", "latency_us", latency,
                               "loss_ppm", loss, "bandwidth_kbps", bw);

  g_autofree Item *order = g_memdup2 (items, sizeof *items * MAX (n, 1));
  qsort (order, n, sizeof *order, by_seq_device);
  json_t *apps = json_object ();
  for (guint i = 0; i < n; i++) {
    const char *name;
    json_t *state;
    json_object_foreach (json_object_get (order[i].r, "apps"), name, state)
        json_object_set (apps, name, state);
  }
  if (json_object_size (apps) > METER_MAX_APPS) {
    /* Keep the first METER_MAX_APPS names in byte order: a period is never
     * left unprovable by its readings. */
    g_autoptr (GPtrArray) names = g_ptr_array_new ();
    const char *name;
    json_t *state;
    json_object_foreach (apps, name, state)
        g_ptr_array_add (names, (gpointer)name);
    g_ptr_array_sort (names, cmp_str_ptr);
    g_autoptr (GPtrArray) drop = g_ptr_array_new_with_free_func (g_free);
    for (guint i = METER_MAX_APPS; i < names->len; i++)
      g_ptr_array_add (drop, g_strdup (names->pdata[i]));
    for (guint i = 0; i < drop->len; i++)
      json_object_del (apps, drop->pdata[i]);
  }
  return json_pack (
      "{s:s,s:s,s:I,s:I,s:o,s:o,s:I,s:o,s:o,s:o}", "chain_id", chain_id,
      "terminal", terminal, "period", (json_int_t)period, "centers_version",
      (json_int_t)centers_version, "readings", ids, "usage", usage,
      "usage_time_s", time_s, "idle", idle, "network", network, "apps", apps);
}

gboolean
meter_aggregate_check (const json_t *a, GError **error)
{
  static const char *const keys[]
      = { "chain_id", "terminal",     "period", "centers_version", "readings",
          "usage",    "usage_time_s", "idle",   "network",         "apps" };
  const char *what = "aggregate";
  const json_int_t sum_max = METER_MAX_VALUE * METER_MAX_READINGS;
  if (!exact_keys (what, a, keys, G_N_ELEMENTS (keys), error))
    return FALSE;
  json_t *t = json_object_get (a, "terminal");
  if (!chain_id_is (json_object_get (a, "chain_id")) || !cstring_is (t)
      || !meter_id_valid (json_string_value (t)))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: chain_id or terminal is malformed", what);
  if (!int_in (json_object_get (a, "period"), 0, METER_MAX_VALUE)
      || !int_in (json_object_get (a, "centers_version"), 1, G_MAXINT32)
      || !int_in (json_object_get (a, "usage_time_s"), 0, sum_max))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: period, centers_version or usage_time_s is out of "
                       "range",
                       what);
  json_t *ids = json_object_get (a, "readings");
  if (!json_is_array (ids) || json_array_size (ids) > METER_MAX_READINGS)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: readings must be an array of at most %d ids", what,
                       METER_MAX_READINGS);
  for (size_t i = 0; i < json_array_size (ids); i++) {
    json_t *id = json_array_get (ids, i);
    if (!hex_is (id, 64)
        || (i > 0
            && strcmp (json_string_value (json_array_get (ids, i - 1)),
                       json_string_value (id))
                   >= 0))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: readings[%zu] is not a reading id (64 hex) in "
                         "strictly ascending order",
                         what, i);
  }
  return int_object (what, "usage", json_object_get (a, "usage"), usage_keys,
                     G_N_ELEMENTS (usage_keys), sum_max, error)
         && int_object (what, "idle", json_object_get (a, "idle"), idle_keys,
                        G_N_ELEMENTS (idle_keys), METER_MAX_VALUE, error)
         && int_object (what, "network", json_object_get (a, "network"),
                        network_keys, G_N_ELEMENTS (network_keys),
                        METER_MAX_VALUE, error)
         && apps_check (what, json_object_get (a, "apps"), error);
}

gboolean
meter_prices_check (const json_t *prices, GError **error)
{
  return int_object ("params", "prices", prices, usage_keys,
                     G_N_ELEMENTS (usage_keys), METER_MAX_VALUE, error);
}

gboolean
meter_price (const json_t *usage, const json_t *prices, uint64_t scale,
             uint64_t *amount, GError **error)
{
  if (scale == 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID, "price: price_scale is 0");
  uint64_t total = 0;
  for (guint k = 0; k < G_N_ELEMENTS (usage_keys); k++) {
    json_t *uv = json_object_get (usage, usage_keys[k]);
    json_t *pv = json_object_get (prices, usage_keys[k]);
    if (!json_is_integer (uv) || !json_is_integer (pv)
        || json_integer_value (uv) < 0 || json_integer_value (pv) < 0)
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "price: usage or price of %s is missing",
                         usage_keys[k]);
    uint64_t u = (uint64_t)json_integer_value (uv);
    uint64_t term;
    if (!g_uint64_checked_mul (&term, u, (uint64_t)json_integer_value (pv))
        || !cairn_add_u64 (total, term, &total))
      return cairn_fail (error, CAIRN_ERROR_OVERFLOW,
                         "price: usage times price overflows 64 bits at %s",
                         usage_keys[k]);
  }
  if (total / scale > (uint64_t)G_MAXINT64)
    return cairn_fail (error, CAIRN_ERROR_OVERFLOW,
                       "price: %" G_GUINT64_FORMAT " is above the largest "
                       "amount (2^63 - 1)",
                       total / scale);
  *amount = total / scale;
  return TRUE;
}

/* ---- instructions, vouchers, proofs ------------------------------------- */

static gboolean
amount_denom (const char *what, const json_t *obj, GError **error)
{
  json_t *d = json_object_get (obj, "denom");
  if (!int_in (json_object_get (obj, "amount"), 1, G_MAXINT64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: amount must be a positive integer", what);
  if (!cstring_is (d) || !cairn_denom_valid (json_string_value (d)))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: denom must be a denomination ([a-z][a-z0-9]{1,15})",
                       what);
  return TRUE;
}

gboolean
meter_instruction_check (const json_t *ins, GError **error)
{
  static const char *const stl[]
      = { "kind", "id", "chain_id", "from", "to", "amount", "denom" };
  static const char *const wd[]
      = { "kind", "id", "chain_id", "account", "amount", "denom" };
  const char *what = "instruction";
  const char *kind = json_string_value (json_object_get (ins, "kind"));
  gboolean settlement = g_strcmp0 (kind, "settlement") == 0;
  if (!settlement && g_strcmp0 (kind, "withdrawal") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: kind must be settlement or withdrawal", what);
  if (!exact_keys (what, ins, settlement ? stl : wd,
                   settlement ? G_N_ELEMENTS (stl) : G_N_ELEMENTS (wd), error))
    return FALSE;
  if (!hex_is (json_object_get (ins, "id"), 64)
      || !chain_id_is (json_object_get (ins, "chain_id")))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: id (64 hex) or chain_id is malformed", what);
  if (settlement ? !address_is (json_object_get (ins, "from"))
                       || !address_is (json_object_get (ins, "to"))
                 : !address_is (json_object_get (ins, "account")))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: %s must be an address (40 lower-case hex)", what,
                       settlement ? "from and to" : "account");
  return amount_denom (what, ins, error);
}

static gboolean
ref_valid (const json_t *v)
{
  if (!cstring_is (v) || json_string_length (v) < 1
      || json_string_length (v) > 128)
    return FALSE;
  for (const char *s = json_string_value (v); *s; s++)
    if (!(g_ascii_isalnum (*s) || strchr ("_.:-", *s)))
      return FALSE;
  return TRUE;
}

gboolean
meter_voucher_check (const json_t *v, GError **error)
{
  static const char *const keys[]
      = { "kind",   "ref",      "account",   "amount", "denom",
          "status", "chain_id", "issued_ms", "sig" };
  const char *what = "voucher";
  if (!exact_keys (what, v, keys, G_N_ELEMENTS (keys), error))
    return FALSE;
  const char *kind = json_string_value (json_object_get (v, "kind"));
  const char *status = json_string_value (json_object_get (v, "status"));
  if (kind == NULL
      || (strcmp (kind, "settlement") != 0 && strcmp (kind, "withdrawal") != 0
          && strcmp (kind, "recharge") != 0))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: kind must be settlement, withdrawal or recharge",
                       what);
  if (status == NULL
      || (strcmp (status, "done") != 0 && strcmp (status, "rejected") != 0))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: status must be done or rejected", what);
  if (strcmp (kind, "recharge") == 0 ? !ref_valid (json_object_get (v, "ref"))
                                     : !hex_is (json_object_get (v, "ref"), 64))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: ref must be the %s id (64 hex)%s", what, kind,
                       strcmp (kind, "recharge") == 0
                           ? ", or for a recharge the terminal's reference "
                             "([A-Za-z0-9_.:-], 1 to 128)"
                           : "");
  if (!address_is (json_object_get (v, "account"))
      || !chain_id_is (json_object_get (v, "chain_id"))
      || !int_in (json_object_get (v, "issued_ms"), 0, G_MAXINT64)
      || !hex_is (json_object_get (v, "sig"), 128))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: account (address), chain_id, issued_ms or sig (128 "
                       "hex) is malformed",
                       what);
  return amount_denom (what, v, error);
}

gboolean
meter_voucher_verify (const json_t *v, const uint8_t ft_pubkey[32],
                      MeterVerifyFn verify, GError **error)
{
  if (!signed_by (v, ft_pubkey, METER_DOMAIN_VOUCHER, verify))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "voucher %s %s: sig is not the financial terminal's "
                       "signature (Ed25519, domain '%s', over the voucher "
                       "without sig)",
                       json_string_value (json_object_get (v, "kind")),
                       json_string_value (json_object_get (v, "ref")),
                       METER_DOMAIN_VOUCHER);
  return TRUE;
}

gboolean
meter_proof_check (const json_t *p, GError **error)
{
  static const char *const frost[] = { "scheme", "centers_version", "sig" };
  static const char *const multi[] = { "scheme", "centers_version", "sigs" };
  const char *what = "proof";
  const char *scheme = json_string_value (json_object_get (p, "scheme"));
  gboolean is_frost = g_strcmp0 (scheme, "frost") == 0;
  if (!is_frost && g_strcmp0 (scheme, "multisig") != 0)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: scheme must be frost or multisig", what);
  if (!exact_keys (what, p, is_frost ? frost : multi, 3, error))
    return FALSE;
  if (!int_in (json_object_get (p, "centers_version"), 1, G_MAXINT32))
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: centers_version must be a positive integer", what);
  if (is_frost) {
    if (!hex_is (json_object_get (p, "sig"), 128))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: sig must be 128 lower-case hex", what);
    return TRUE;
  }
  json_t *sigs = json_object_get (p, "sigs");
  if (!json_is_array (sigs) || json_array_size (sigs) == 0
      || json_array_size (sigs) > 64)
    return cairn_fail (error, CAIRN_ERROR_INVALID,
                       "%s: sigs must be an array of 1 to 64 signatures", what);
  static const char *const skeys[] = { "pubkey", "sig" };
  for (size_t i = 0; i < json_array_size (sigs); i++) {
    json_t *s = json_array_get (sigs, i);
    if (!exact_keys ("proof: sigs[]", s, skeys, 2, error))
      return FALSE;
    if (!hex_is (json_object_get (s, "pubkey"), 64)
        || !hex_is (json_object_get (s, "sig"), 128))
      return cairn_fail (error, CAIRN_ERROR_INVALID,
                         "%s: sigs[%zu]: pubkey (64 hex) or sig (128 hex) is "
                         "malformed",
                         what, i);
  }
  return TRUE;
}
