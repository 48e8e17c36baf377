/* Fuzz target: the signed tx envelope (core/tx.c): decode (size cap,
 * strict canonical parse, field checks, chain id), the signature check,
 * and the same object through cairn_tx_from_json.
 *
 * The layout fast path (cairn_tx_decode_layout), when it takes an input,
 * gives the full parse's result or error.
 * Properties on every input that decodes: the canonical object of the tx
 * dumps to exactly the decoded bytes, and decoding it from the parsed
 * object gives the same id. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjson.h"
#include "tx.h"

#include "fuzz-check.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *)data;
  g_autoptr (GError) error = NULL;
  /* NULL: any chain id, so that the corpus of "dev" txs and mutants of it
   * reach the same depth; the chain check runs below. */
  g_autoptr (CairnTx) tx = cairn_tx_decode (text, size, NULL, &error);

  /* The layout fast path answers exactly as the full parse does whenever
   * it answers at all. */
  gboolean laid_out = FALSE;
  g_autoptr (GError) lerror = NULL, perror = NULL;
  g_autoptr (CairnTx) fast
      = cairn_tx_decode_layout (text, size, "dev", &laid_out, &lerror);
  if (laid_out) {
    g_autoptr (json_t) parsed = cairn_cjson_parse (text, size, TRUE, NULL);
    CHECK (parsed != NULL);
    g_autoptr (CairnTx) slow = cairn_tx_from_json (parsed, "dev", &perror);
    CHECK ((fast == NULL) == (slow == NULL));
    if (fast != NULL)
      CHECK (memcmp (fast->id, slow->id, 32) == 0 && fast->nonce == slow->nonce
             && strcmp (fast->type, slow->type) == 0
             && strcmp (fast->from, slow->from) == 0
             && json_equal (fast->body, slow->body));
    else
      CHECK (lerror->code == perror->code
             && strcmp (lerror->message, perror->message) == 0);
  } else {
    CHECK (fast == NULL && lerror == NULL);
  }

  if (tx == NULL) {
    CHECK (error != NULL && error->domain == CAIRN_REJECT);
    return 0;
  }
  CHECK (tx->len == size && memcmp (tx->bytes, text, size) == 0);

  g_autoptr (GError) chain_error = NULL;
  g_autoptr (CairnTx) dev = cairn_tx_decode (text, size, "dev", &chain_error);
  CHECK ((dev != NULL) == (strcmp (tx->chain_id, "dev") == 0));

  /* The signature path: valid for the corpus, broken by most mutations. */
  g_autoptr (GError) sig_error = NULL;
  gboolean ok = cairn_tx_verify (tx, &sig_error);
  CHECK (ok == (sig_error == NULL));
  if (ok)
    CHECK (cairn_tx_verify (tx, NULL)); /* cached */

  g_autoptr (json_t) obj = cairn_tx_to_json (tx);
  size_t len = 0;
  g_autofree char *dump = cairn_cjson_dump (obj, &len, NULL);
  CHECK (dump != NULL && len == size && memcmp (dump, text, size) == 0);

  g_autoptr (GError) json_error = NULL;
  g_autoptr (CairnTx) again = cairn_tx_from_json (obj, NULL, &json_error);
  CHECK (again != NULL);
  CHECK (memcmp (again->id, tx->id, sizeof tx->id) == 0);
  return 0;
}
