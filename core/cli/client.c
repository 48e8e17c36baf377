/* client.c: not yet written */
