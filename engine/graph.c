/* engine/graph.c: not yet written */
