/* engine/runtime.c: not yet written */
