/* Ed25519 checks made ahead of need.
 *
 * While a node catches up it has received blocks it has not applied yet.
 * The consensus plugin lists the signature checks each one's certificate
 * will need (certificate_signatures); they are made on the verify pool
 * while the main thread applies earlier blocks. When verify_certificate
 * runs for that block, the host's ed25519_verify takes the answer from
 * here: a check still waiting is taken back and made by the caller, one
 * being made is waited for, one not listed is made as usual. A listed
 * check matches only the exact same key, domain, message and signature,
 * so an answer is always the one the caller would have computed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

typedef struct CairnSigAhead CairnSigAhead;

/* A job for the node's verify pool: the pool calls run (job). */
typedef struct CairnPoolJob {
  void (*run) (struct CairnPoolJob *job);
} CairnPoolJob;

CairnSigAhead *cairn_sig_ahead_new (void);
CairnSigAhead *cairn_sig_ahead_ref (CairnSigAhead *a);
void cairn_sig_ahead_unref (CairnSigAhead *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CairnSigAhead, cairn_sig_ahead_unref)

/* A CairnSigCheckAdd: list one check (the bytes are copied). Before
 * cairn_sig_ahead_start only. */
void cairn_sig_ahead_add (void *a, const uint8_t pubkey[32], const char *domain,
                          const void *msg, size_t len, const uint8_t sig[64]);

/* Queue the listed checks on pool (a GThreadPool running CairnPoolJobs);
 * with pool NULL they are made when asked for. */
void cairn_sig_ahead_start (CairnSigAhead *a, GThreadPool *pool);

/* Answer this thread's ed25519_verify calls from a until the matching
 * leave (which gets what enter returned). */
CairnSigAhead *cairn_sig_ahead_enter (CairnSigAhead *a);
void cairn_sig_ahead_leave (CairnSigAhead *prev);

/* The host's ed25519_verify: cairn_ed25519_verify, answered from the
 * entered CairnSigAhead when it listed this exact check. */
gboolean cairn_sig_ahead_verify (const uint8_t pubkey[32], const char *domain,
                                 const void *msg, size_t len,
                                 const uint8_t sig[64]);
