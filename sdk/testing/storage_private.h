/* Shared between storage_suite.c and storage_crash.c; not installed. */
#pragma once

#include "cairn/testing/storage.h"

/* A registered backend (a copy of the CairnTestStorageBackend given). */
typedef struct {
  char *name;
  CairnPluginEntry entry;
  char **config; /* key, value, ..., NULL */
  CairnTestStorageCases cases;
  guint crash_rounds;
  void (*crash_check) (const char *dir, gint64 head, void *user_data);
  void *user_data;
} StorageBackend;

/* The crash case (data: the StorageBackend); "__": not part of the API. */
void cairn_test__storage_crash_case (gconstpointer data);
