/* engine/dispatcher.c: not yet written */
