/* bank.c: not yet written */
