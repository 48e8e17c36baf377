/* tx.c: not yet written */
