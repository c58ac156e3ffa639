/* engine/deadline.c: not yet written */
