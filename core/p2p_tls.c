/* p2p_tls.c: not yet written */
