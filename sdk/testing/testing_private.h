/* Internals shared by the fake host (fake_host.c) and the mock host
 * (mock_*.c) of libcairn-sdk-testing-1. Not installed. Every global name
 * of the library is cairn_test_*; the private ones are cairn_test__*. */
#pragma once

#include "cairn/testing/fake_host.h"
#include "cairn/testing/mock_host.h"

/* CairnPlugin is opaque in the SDK: the handle given to the plugin is a
 * CairnTestPlugin cast to it. */
struct CairnTestPlugin {
  const CairnPluginDescriptor *desc;
  char *data_dir;
  GHashTable *config;    /* key -> value */
  GHashTable *read_keys; /* keys the plugin asked for */
  void *data;
  gboolean in_init;
  gboolean init_called;
  gboolean initialised;
  gboolean started;
  gboolean have_storage;
  gboolean have_blobstore;
  CairnStorageIface storage;
  CairnBlobstoreIface blobstore;
  GMutex log_lock; /* blob stores may log from worker threads */
  GPtrArray *log;
  /* The table init gets: the fake host's, or the mock host's. */
  const CairnHost *table;
  /* The mock host this plugin belongs to, or NULL (fake host alone). */
  CairnTestHost *host;
  /* A descriptor the library made for this plugin (a mock host caller,
   * cairn_test_host_add_caller) and its id, freed with it; else NULL. */
  CairnPluginDescriptor *own_desc;
  char *own_id;
};

/* The fake host's own table entries (identity, data, log, config_*,
 * data_dir, register_storage, register_blobstore), for the mock's. */
const CairnHost *cairn_test__fake_table (void);

/* mock_host.c: a plugin of h whose init failed registered nothing. */
void cairn_test__mock_forget (CairnTestHost *h, CairnTestPlugin *tp);
