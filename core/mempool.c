/* mempool.c: not yet written */
