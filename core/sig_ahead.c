#include "sig_ahead.h"

#include <string.h>

#include "crypto.h"

enum { WAITING, RUNNING, DONE };

typedef struct {
  CairnSigAhead *owner;
  int state; /* under owner->lock */
  gboolean ok;
  uint8_t pubkey[32];
  uint8_t sig[64];
  char *domain;
  uint8_t *msg;
  size_t len;
} Check;

struct CairnSigAhead {
  CairnPoolJob job; /* first: the pool runs it */
  gint ref;
  GMutex lock;
  GCond done;
  GPtrArray *checks; /* Check*, owned */
};

static _Thread_local CairnSigAhead *current;

static void
check_free (gpointer p)
{
  Check *c = p;
  g_free (c->domain);
  g_free (c->msg);
  g_free (c);
}

CairnSigAhead *
cairn_sig_ahead_new (void)
{
  CairnSigAhead *a = g_new0 (CairnSigAhead, 1);
  a->ref = 1;
  g_mutex_init (&a->lock);
  g_cond_init (&a->done);
  a->checks = g_ptr_array_new_with_free_func (check_free);
  return a;
}

CairnSigAhead *
cairn_sig_ahead_ref (CairnSigAhead *a)
{
  g_atomic_int_inc (&a->ref);
  return a;
}

void
cairn_sig_ahead_unref (CairnSigAhead *a)
{
  if (a == NULL || !g_atomic_int_dec_and_test (&a->ref))
    return;
  g_ptr_array_unref (a->checks);
  g_mutex_clear (&a->lock);
  g_cond_clear (&a->done);
  g_free (a);
}

/* Make c now; called with a->lock held and c->state WAITING, returns
 * with it held. */
static void
make (CairnSigAhead *a, Check *c)
{
  c->state = RUNNING;
  g_mutex_unlock (&a->lock);
  gboolean ok
      = cairn_ed25519_verify (c->pubkey, c->domain, c->msg, c->len, c->sig);
  g_mutex_lock (&a->lock);
  c->ok = ok;
  c->state = DONE;
  g_cond_broadcast (&a->done);
}

/* c's answer: made here unless someone else has or is making it. While a
 * worker makes it, the caller makes a later check of the same list
 * rather than wait: when the pool falls behind, the main thread takes
 * its share instead of idling. */
static gboolean
settle (Check *c)
{
  CairnSigAhead *a = c->owner;
  g_mutex_lock (&a->lock);
  if (c->state == WAITING)
    make (a, c);
  while (c->state == RUNNING) {
    Check *other = NULL;
    for (guint i = a->checks->len; i-- > 0 && other == NULL;)
      if (((Check *)a->checks->pdata[i])->state == WAITING)
        other = a->checks->pdata[i];
    if (other)
      make (a, other);
    else
      g_cond_wait (&a->done, &a->lock);
  }
  gboolean ok = c->ok;
  g_mutex_unlock (&a->lock);
  return ok;
}

/* The pool's job: the checks in list order, skipping the ones the main
 * thread has taken (one job per list: one wake-up per block). */
static void
run_checks (CairnPoolJob *job)
{
  CairnSigAhead *a = (CairnSigAhead *)job;
  g_mutex_lock (&a->lock);
  for (guint i = 0; i < a->checks->len; i++) {
    Check *c = a->checks->pdata[i];
    if (c->state == WAITING)
      make (a, c);
  }
  g_mutex_unlock (&a->lock);
  cairn_sig_ahead_unref (a);
}

void
cairn_sig_ahead_add (void *data, const uint8_t pubkey[32], const char *domain,
                     const void *msg, size_t len, const uint8_t sig[64])
{
  CairnSigAhead *a = data;
  Check *c = g_new0 (Check, 1);
  c->owner = a;
  memcpy (c->pubkey, pubkey, 32);
  memcpy (c->sig, sig, 64);
  c->domain = g_strdup (domain);
  c->msg = g_memdup2 (msg, len);
  c->len = len;
  g_ptr_array_add (a->checks, c);
}

void
cairn_sig_ahead_start (CairnSigAhead *a, GThreadPool *pool)
{
  if (pool == NULL || a->checks->len == 0)
    return;
  a->job.run = run_checks;
  g_thread_pool_push (pool, cairn_sig_ahead_ref (a), NULL);
}

CairnSigAhead *
cairn_sig_ahead_enter (CairnSigAhead *a)
{
  CairnSigAhead *prev = current;
  current = a;
  return prev;
}

void
cairn_sig_ahead_leave (CairnSigAhead *prev)
{
  current = prev;
}

gboolean
cairn_sig_ahead_verify (const uint8_t pubkey[32], const char *domain,
                        const void *msg, size_t len, const uint8_t sig[64])
{
  CairnSigAhead *a = current;
  for (guint i = 0; a && i < a->checks->len; i++) {
    Check *c = a->checks->pdata[i];
    if (c->len == len && memcmp (c->sig, sig, 64) == 0
        && memcmp (c->pubkey, pubkey, 32) == 0
        && (len == 0 || memcmp (c->msg, msg, len) == 0)
        && g_strcmp0 (c->domain, domain) == 0)
      return settle (c);
  }
  return cairn_ed25519_verify (pubkey, domain, msg, len, sig);
}
