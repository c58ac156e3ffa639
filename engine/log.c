/* engine/log.c: not yet written */
