/* executor.c: not yet written */
