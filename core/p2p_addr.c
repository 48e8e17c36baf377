/* p2p_addr.c: not yet written */
