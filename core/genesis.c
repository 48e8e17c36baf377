/* genesis.c: not yet written */
