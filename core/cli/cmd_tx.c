/* cmd_tx.c: not yet written */
