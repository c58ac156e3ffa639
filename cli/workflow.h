/*
 * workflow.h -- the workflow file: a strict YAML loader (libfyaml) with compiler-style
 * diagnostics, and its translation into a weft request.  docs/workflow-format.md is the grammar.
 *
 * Every problem is reported as a wf_diag_t with the file, 1-based line and column of the node at
 * fault, printed as "FILE:LINE:COL: error: MESSAGE" (wf_diags_print).  The loader keeps going
 * after an error where it can, so one run shows several problems (at most WF_WORKFLOW_MAX_DIAGS).
 *
 * Checks: YAML syntax; unknown keys (with "did you mean 'x'?" when one is close); value types;
 * durations ("90s", "5m", "1h30m", "250ms", "2h"); duplicate job ids; unknown needs (with a
 * suggestion); self needs; cycles (the whole cycle, each job with its location, as notes);
 * unknown pools; unknown params in ${...}, params with no value; names (wf_name_ok); every limit
 * of proto/wf_limits.h; when in success|always|failure.
 */
#ifndef WF_WORKFLOW_H
#define WF_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <weft/weft.h>

#define WF_WORKFLOW_MAX_DIAGS 50
#define WF_WORKFLOW_MAX_FILE (256u << 20) /* a workflow file over 256 MiB is refused */
/* Bytes that ${param} substitution and copies of `defaults` (env, cwd) may add to a workflow in
 * all: a short file must not expand into gigabytes (a 1 MiB param used by 10^6 jobs). */
#define WF_WORKFLOW_MAX_EXPANSION (256u << 20)

typedef enum wf_diag_level { WF_DIAG_ERROR = 0, WF_DIAG_WARNING, WF_DIAG_NOTE } wf_diag_level;

typedef struct wf_diag {
    wf_diag_level level;
    char *file;
    int line, col;   /* 1-based; 0 when the problem has no place (e.g. a -p override) */
    char *message;
} wf_diag_t;

typedef struct wf_diags {
    wf_diag_t *v;
    size_t n, cap;
    size_t errors;
} wf_diags_t;

void wf_diags_fini(wf_diags_t *d);
/* Print every diagnostic, one per line, "FILE:LINE:COL: error: MESSAGE" (or warning/note). */
void wf_diags_print(const wf_diags_t *d, FILE *out);

/* A job of a loaded workflow.  Its strings and arrays belong to the workflow's arena (see
 * wf_workflow_t): read them, never free or resize them; jobs may share one copy (a type or env
 * that came from `defaults`). */
typedef struct wf_wfjob {
    char *id;
    int line, col;          /* where the job's key is */
    char *type;             /* default "shell" */
    char *run;              /* shell: the command, params substituted; NULL for other types */
    char **env;             /* "NAME=VALUE", substituted */
    size_t nenv;
    char *cwd;              /* substituted; NULL: none */
    uint8_t *with;          /* msgpack map for non-shell types; NULL: none */
    size_t with_len;
    char **needs;
    int *need_line, *need_col;
    size_t nneeds;
    uint32_t retries, lost_retries, retry_delay_ms, timeout_ms;
    int32_t priority;
    int when;               /* weft_when (beside priority: no padding, 10^6 jobs are 8 MB less) */
    char *pool;
} wf_wfjob_t;

/* Where a workflow's jobs keep their strings and arrays: a few large blocks rather than a
 * malloc per string, freed at once by wf_workflow_free.  Opaque. */
typedef struct wf_wfarena wf_wfarena_t;

typedef struct wf_workflow {
    char *path;
    char *name;             /* default: the file's base name without extension */
    char *description;
    size_t nparams;
    char **param_names, **param_values;  /* effective values after -p overrides */
    size_t npools;
    char **pool_names;
    uint32_t *pool_limits;
    size_t njobs;
    wf_wfjob_t *jobs;       /* in file order */
    wf_wfarena_t *arena;    /* owns what the jobs point to */
} wf_workflow_t;

/*
 * Load and check a workflow file.  overrides are "name=value" strings (from -p); an override of
 * a param the file does not declare is an error.  Returns 0 and fills *wf (free with
 * wf_workflow_free) when there are no errors; otherwise returns the number of errors, *wf is
 * NULL, and diags holds them.  Warnings may be present either way.
 *
 * Memory: the file's text and the parse tree are freed as soon as the jobs are read from them
 * (before the graph checks), so the peak is about text + tree + result, once.  A caller that
 * builds a request from the workflow should free the workflow before submitting the request
 * when it can (the request holds all it needs): at 10^6 jobs the workflow is about 200 MB,
 * which would otherwise sit beside the request and the engine's copy of it.
 */
int wf_workflow_load(const char *path, const char *const *overrides, size_t noverrides,
                     wf_workflow_t **wf, wf_diags_t *diags);
void wf_workflow_free(wf_workflow_t **wf_p);

/* Build the request for a loaded workflow (shell jobs get a wf_shell_payload_encode payload).
 * Errors as weft_request_* return them. */
int wf_workflow_to_request(const wf_workflow_t *wf, weft_request_t **req_p);

/* Parse a duration ("90s", "5m", "1h30m", "250ms", "2h", or a bare number of seconds) into ms.
 * Returns false on a malformed or out-of-range value. */
bool wf_parse_duration(const char *s, uint32_t *ms_p);

#endif
