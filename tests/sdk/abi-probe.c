/* ABI probe: one exported function per public SDK type, so that the
 * library's debug info describes every struct and enum of the SDK and
 * `abidw` can record them (sdk/abi/cairn-sdk-1.abi). Never loaded by
 * anything; see test-abi.sh and update-abi-baseline.sh. */
#include <cairn/attest.h>
#include <cairn/bank.h>
#include <cairn/cairn.h>
#include <cairn/explorer.h>
#include <cairn/finance.h>
#include <cairn/threshold.h>

#define PROBE(type, name)                                                      \
  CAIRN_EXPORT void cairn_abi_probe_##name (type *p);                          \
  CAIRN_EXPORT void cairn_abi_probe_##name (type *p)                           \
  {                                                                            \
    (void)p;                                                                   \
  }

PROBE (CairnPluginDescriptor, plugin_descriptor)
PROBE (CairnHost, host)
PROBE (CairnTxHandler, tx_handler)
PROBE (CairnAppIface, app_iface)
PROBE (CairnRequest, request)
PROBE (CairnResponse, response)
PROBE (CairnEvent, event)
PROBE (CairnWrite, write)
PROBE (CairnCommitTx, commit_tx)
PROBE (CairnCommitData, commit_data)
PROBE (CairnStorageIface, storage_iface)
PROBE (CairnBlockInfo, block_info)
PROBE (CairnBuildOpts, build_opts)
PROBE (CairnConsensusIface, consensus_iface)
PROBE (CairnBlobstoreIface, blobstore_iface)
PROBE (CairnTxInfo, tx_info)
PROBE (CairnChainHead, chain_head)
PROBE (CairnServiceRef, service_ref)
PROBE (CairnBankService, bank_service)
PROBE (CairnThresholdService, threshold_service)
PROBE (CairnFrostNonces, frost_nonces)
PROBE (CairnFrostCommitment, frost_commitment)
PROBE (CairnFrostShare, frost_share)
PROBE (CairnMultisigSig, multisig_sig)
PROBE (CairnAttestService, attest_service)
PROBE (CairnFinanceService, finance_service)
PROBE (CairnExplorerService, explorer_service)
PROBE (CairnErrorCode, error_code)
PROBE (CairnPluginKind, plugin_kind)
