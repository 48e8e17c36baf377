/* store_lmdb.c: not yet written */
