/* client_stub.c -- TEMPORARY weak stand-ins until proto/client.c lands (integration in progress). */
#include <string.h>

#include "client.h"

__attribute__((weak)) void
wf_cmsg_init(wf_cmsg_t *msg, wf_cmsg_kind kind)
{
    memset(msg, 0, sizeof *msg);
    msg->kind = kind;
}

__attribute__((weak)) void
wf_cmsg_fini(wf_cmsg_t *msg)
{
    (void)msg;
}

__attribute__((weak)) int
wf_cmsg_encode(const wf_cmsg_t *msg, uint8_t **buf_p, size_t *len_p)
{
    (void)msg;
    *buf_p = NULL;
    *len_p = 0;
    return WEFT_EINVAL;
}

__attribute__((weak)) int
wf_cmsg_decode(const uint8_t *buf, size_t len, wf_cmsg_t *out, char *why, size_t why_len)
{
    (void)buf;
    (void)len;
    (void)why;
    (void)why_len;
    memset(out, 0, sizeof *out);
    return WEFT_EPROTO;
}

__attribute__((weak)) const char *
wf_cmsg_kind_name(int kind)
{
    (void)kind;
    return "UNKNOWN";
}
