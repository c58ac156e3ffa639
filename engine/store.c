/* engine/store.c: not yet written */
