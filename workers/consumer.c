/* workers/consumer.c: not yet written */
