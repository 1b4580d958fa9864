/*
 * test_abi.c - exercises libgonmf through include/gonmf.h only, as a C
 * consumer would: hand-built Arrow arrays with counting release callbacks,
 * fits, Parquet in and out, and calls with bad pointers that must come back
 * as error codes, never as crashes.
 *
 * Prints one line per failure and a closing "N passed, M failed"; exits 1 on
 * any failure.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gonmf.h"

static int n_passed, n_failed;

#define CHECK(cond, ...)                                                \
  do {                                                                  \
    if (cond) {                                                         \
      n_passed++;                                                       \
    } else {                                                            \
      n_failed++;                                                       \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
      printf(__VA_ARGS__);                                              \
      printf("\n");                                                     \
    }                                                                   \
  } while (0)

/* ------------------------------------------------------------------ */
/* A tiny Arrow producer. Every node owns its buffers; a node's release
 * releases its children first. Only top-level nodes count releases. */

typedef struct {
  int* counter;   /* incremented once when the top-level node is released */
  void* owned[3]; /* freed on release (buffers we allocated) */
} ArrPriv;

static void release_array(struct ArrowArray* a) {
  ArrPriv* p = (ArrPriv*)a->private_data;
  for (int64_t i = 0; i < a->n_children; i++) {
    struct ArrowArray* c = a->children[i];
    if (c->release) c->release(c);
    free(c);
  }
  free(a->children);
  free((void*)a->buffers);
  for (int i = 0; i < 3; i++) free(p->owned[i]);
  if (p->counter) (*p->counter)++;
  free(p);
  a->release = NULL;
}

static void release_schema(struct ArrowSchema* s) {
  for (int64_t i = 0; i < s->n_children; i++) {
    struct ArrowSchema* c = s->children[i];
    if (c->release) c->release(c);
    free(c);
  }
  free(s->children);
  free((void*)s->format);
  free((void*)s->name);
  int* counter = (int*)s->private_data;
  if (counter) (*counter)++;
  s->release = NULL;
}

static void init_schema(struct ArrowSchema* s, const char* format, const char* name,
                        int64_t n_children, int* counter) {
  memset(s, 0, sizeof *s);
  s->format = strdup(format);
  s->name = name ? strdup(name) : NULL;
  s->flags = ARROW_FLAG_NULLABLE;
  s->n_children = n_children;
  s->children = n_children ? calloc((size_t)n_children, sizeof(struct ArrowSchema*)) : NULL;
  for (int64_t i = 0; i < n_children; i++) s->children[i] = calloc(1, sizeof(struct ArrowSchema));
  s->release = release_schema;
  s->private_data = counter;
}

/* init_array: n_buffers buffers (the pointers given), owned memory freed on
 * release (up to 3), n_children zeroed child structs to fill in. */
static void init_array(struct ArrowArray* a, int64_t length, int64_t n_buffers,
                       const void* b0, const void* b1, const void* b2, int64_t n_children,
                       int* counter, void* own0, void* own1, void* own2) {
  memset(a, 0, sizeof *a);
  a->length = length;
  a->n_buffers = n_buffers;
  a->buffers = calloc(3, sizeof(void*));
  a->buffers[0] = b0;
  a->buffers[1] = b1;
  a->buffers[2] = b2;
  a->n_children = n_children;
  a->children = n_children ? calloc((size_t)n_children, sizeof(struct ArrowArray*)) : NULL;
  for (int64_t i = 0; i < n_children; i++) a->children[i] = calloc(1, sizeof(struct ArrowArray));
  ArrPriv* p = calloc(1, sizeof *p);
  p->counter = counter;
  p->owned[0] = own0;
  p->owned[1] = own1;
  p->owned[2] = own2;
  a->private_data = p;
  a->release = release_array;
}

typedef struct {
  int schema_releases, array_releases;
} Counts;

/* X as fixed_size_list<double>[m] of n rows (row-major copy of x). */
static void make_fsl(int n, int m, const double* x, Counts* c, struct ArrowSchema* s,
                     struct ArrowArray* a) {
  char fmt[32];
  snprintf(fmt, sizeof fmt, "+w:%d", m);
  init_schema(s, fmt, "X", 1, &c->schema_releases);
  init_schema(s->children[0], "g", "item", 0, NULL);
  double* vals = malloc(sizeof(double) * (size_t)(n * m));
  memcpy(vals, x, sizeof(double) * (size_t)(n * m));
  init_array(a, n, 1, NULL, NULL, NULL, 1, &c->array_releases, NULL, NULL, NULL);
  init_array(a->children[0], (int64_t)n * m, 2, NULL, vals, NULL, 0, NULL, vals, NULL, NULL);
}

/* X as a struct of m double columns of n rows in one allocation. adjacent:
 * column j at j * n (a pandas float block, one column-major matrix); else
 * column j at j * n + j * j, gaps of different sizes that no single stride
 * describes, so the library must copy. */
static void make_struct(int n, int m, const double* x, int adjacent, Counts* c,
                        struct ArrowSchema* s, struct ArrowArray* a) {
  init_schema(s, "+s", "", m, &c->schema_releases);
  double* block = malloc(sizeof(double) * (size_t)(n * m + m * m));
  init_array(a, n, 1, NULL, NULL, NULL, m, &c->array_releases, block, NULL, NULL);
  for (int j = 0; j < m; j++) {
    char name[16];
    snprintf(name, sizeof name, "c%d", j);
    init_schema(s->children[j], "g", name, 0, NULL);
    double* col = block + (size_t)j * n + (adjacent ? 0 : (size_t)j * j);
    for (int i = 0; i < n; i++) col[i] = x[i * m + j];
    init_array(a->children[j], n, 2, NULL, col, NULL, 0, NULL, NULL, NULL, NULL);
  }
}

/* A record batch: a utf8 id column then m double columns (column-major x,
 * NaN allowed). */
static void make_table(int n, int m, const char* const* ids, const double* x_colmajor,
                       const char* const* names, Counts* c, struct ArrowSchema* s,
                       struct ArrowArray* a) {
  init_schema(s, "+s", "", m + 1, &c->schema_releases);
  init_array(a, n, 1, NULL, NULL, NULL, m + 1, &c->array_releases, NULL, NULL, NULL);
  init_schema(s->children[0], "u", "id", 0, NULL);
  int32_t* offs = malloc(sizeof(int32_t) * (size_t)(n + 1));
  size_t total = 0;
  for (int i = 0; i < n; i++) total += strlen(ids[i]);
  char* data = malloc(total + 1);
  offs[0] = 0;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(ids[i]);
    memcpy(data + offs[i], ids[i], len);
    offs[i + 1] = offs[i] + (int32_t)len;
  }
  init_array(a->children[0], n, 3, NULL, offs, data, 0, NULL, offs, data, NULL);
  for (int j = 0; j < m; j++) {
    init_schema(s->children[j + 1], "g", names[j], 0, NULL);
    double* col = malloc(sizeof(double) * (size_t)n);
    memcpy(col, x_colmajor + (size_t)j * n, sizeof(double) * (size_t)n);
    init_array(a->children[j + 1], n, 2, NULL, col, NULL, 0, NULL, col, NULL, NULL);
  }
}

/* ------------------------------------------------------------------ */
/* Helpers for outputs. */

/* A number field of a flat JSON object ("key": value); NAN when absent/null. */
static double json_number(const char* js, const char* key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char* p = js ? strstr(js, pat) : NULL;
  if (!p) return NAN;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (strncmp(p, "null", 4) == 0) return NAN;
  return strtod(p, NULL);
}

static int json_has(const char* js, const char* text) { return js && strstr(js, text) != NULL; }

/* Reads a fixed_size_list<double>[cols] of rows rows; NULL on a mismatch. */
static const double* fsl_values(const struct ArrowSchema* s, const struct ArrowArray* a, int rows,
                                int cols) {
  char fmt[32];
  snprintf(fmt, sizeof fmt, "+w:%d", cols);
  if (!s->format || strcmp(s->format, fmt) != 0 || s->n_children != 1 ||
      strcmp(s->children[0]->format, "g") != 0)
    return NULL;
  if (a->length != rows || a->n_children != 1 || a->children[0]->length < (int64_t)rows * cols)
    return NULL;
  const struct ArrowArray* v = a->children[0];
  return (const double*)v->buffers[1] + v->offset + a->offset * cols;
}

/* The rank-2 test matrix, n x m, row-major: X = A B with A, B > 0. */
enum { N = 8, M = 6, K = 2 };
static double X[N * M];

static void make_x(void) {
  for (int i = 0; i < N; i++)
    for (int j = 0; j < M; j++) {
      double a0 = 1.0 + i, a1 = 0.5 + (i % 3);
      double b0 = 0.2 + 0.1 * j, b1 = 1.5 - 0.2 * j;
      X[i * M + j] = a0 * b0 + a1 * b1;
    }
}

static double frob(const double* x, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i] * x[i];
  return sqrt(s);
}

static const char* FIT_PARAMS =
    "{\"n_components\": 2, \"init\": \"nndsvda\", \"max_iter\": 2000, \"tol\": 1e-10, "
    "\"random_state\": 0}";

/* Fits the X given as s/a and checks W, H, info and releases. Returns the
 * info JSON (caller frees) or NULL. */
static char* fit_and_check(const char* what, struct ArrowSchema* s, struct ArrowArray* a,
                           Counts* counts) {
  struct ArrowSchema ws, hs;
  struct ArrowArray wa, ha;
  memset(&ws, 0, sizeof ws);
  memset(&wa, 0, sizeof wa);
  memset(&hs, 0, sizeof hs);
  memset(&ha, 0, sizeof ha);
  char* info = (char*)0x1; /* stale values must be cleared */
  char* err = (char*)0x1;
  GonmfControl ctl;
  memset(&ctl, 0, sizeof ctl);
  int32_t st = gonmf_fit(s, a, NULL, NULL, NULL, NULL, FIT_PARAMS, &ctl, &ws, &wa, &hs, &ha,
                         &info, &err);
  CHECK(st == GONMF_OK, "%s: status %d: %s", what, st, st != GONMF_OK && err ? err : "");
  CHECK(s->release == NULL && a->release == NULL, "%s: input structs not released", what);
  CHECK(counts->array_releases == 1 && counts->schema_releases == 1,
        "%s: release callbacks ran %d (array) and %d (schema) times, want 1", what,
        counts->array_releases, counts->schema_releases);
  if (st != GONMF_OK) {
    gonmf_free_string(err);
    return NULL;
  }
  CHECK(err == NULL, "%s: out_error not cleared on success", what);
  CHECK(info != NULL, "%s: no info", what);
  CHECK(ctl.iteration > 0 && ctl.max_iter == 2000, "%s: control iteration %d, max_iter %d", what,
        ctl.iteration, ctl.max_iter);
  const double* w = fsl_values(&ws, &wa, N, K);
  const double* h = fsl_values(&hs, &ha, K, M);
  CHECK(w != NULL, "%s: W is not fixed_size_list<double>[%d] of %d rows (format %s)", what, K, N,
        ws.format ? ws.format : "NULL");
  CHECK(h != NULL, "%s: H is not fixed_size_list<double>[%d] of %d rows (format %s)", what, M, K,
        hs.format ? hs.format : "NULL");
  if (w && h) {
    int neg = 0;
    for (int i = 0; i < N * K; i++) neg += !(w[i] >= 0);
    for (int i = 0; i < K * M; i++) neg += !(h[i] >= 0);
    CHECK(neg == 0, "%s: %d negative (or NaN) entries in W, H", what, neg);
    double r[N * M];
    for (int i = 0; i < N; i++)
      for (int j = 0; j < M; j++) {
        double v = 0;
        for (int k = 0; k < K; k++) v += w[i * K + k] * h[k * M + j];
        r[i * M + j] = X[i * M + j] - v;
      }
    double mine = frob(r, N * M), rel = mine / frob(X, N * M);
    double theirs = json_number(info, "reconstruction_err");
    CHECK(isfinite(theirs), "%s: reconstruction_err not finite in %s", what, info);
    CHECK(rel < 1e-3, "%s: relative error %g for a rank-2 matrix", what, rel);
    CHECK(fabs(mine - theirs) <= 1e-6 * (1 + mine), "%s: ||X - WH|| = %g, info says %g", what,
          mine, theirs);
  }
  CHECK(json_number(info, "n_components") == K, "%s: n_components in %s", what, info);
  ws.release(&ws);
  wa.release(&wa);
  hs.release(&hs);
  ha.release(&ha);
  CHECK(ws.release == NULL && wa.release == NULL && hs.release == NULL && ha.release == NULL,
        "%s: outputs not released", what);
  return info;
}

static void test_version(void) {
  CHECK(gonmf_abi_version() == GONMF_ABI_VERSION, "abi version %d", gonmf_abi_version());
  const char* v = gonmf_version();
  CHECK(v != NULL && strlen(v) > 0, "version string");
  CHECK(gonmf_version() == v, "version string is static storage");
}

static void test_fit(void) {
  struct ArrowSchema s;
  struct ArrowArray a;
  Counts c = {0, 0};
  char* info;

  make_fsl(N, M, X, &c, &s, &a);
  info = fit_and_check("fixed_size_list", &s, &a, &c);
  CHECK(json_has(info, "\"copied_input\":false"), "fixed_size_list copied: %s", info);
  CHECK(json_has(info, "\"layout\":\"row_major\""), "fixed_size_list layout: %s", info);
  CHECK(json_has(info, "\"dtype\":\"float64\""), "fixed_size_list dtype: %s", info);
  gonmf_free_string(info);

  c = (Counts){0, 0};
  make_struct(N, M, X, 1, &c, &s, &a);
  info = fit_and_check("struct (adjacent)", &s, &a, &c);
  CHECK(json_has(info, "\"copied_input\":false"), "adjacent struct copied: %s", info);
  CHECK(json_has(info, "\"layout\":\"col_major\""), "adjacent struct layout: %s", info);
  gonmf_free_string(info);

  c = (Counts){0, 0};
  make_struct(N, M, X, 0, &c, &s, &a);
  info = fit_and_check("struct (irregular gaps)", &s, &a, &c);
  CHECK(json_has(info, "\"copied_input\":true"), "irregular columns not copied: %s", info);
  gonmf_free_string(info);
}

/* Error paths: every call returns a status, never crashes; moved inputs are
 * released exactly once; outputs stay untouched. */
static void dummy_release(struct ArrowArray* a) { a->release = NULL; }
static void dummy_release_schema(struct ArrowSchema* s) { s->release = NULL; }

static void expect_error(const char* what, int32_t st, int32_t want, char* err) {
  CHECK(st == want, "%s: status %d, want %d (%s)", what, st, want, err ? err : "no message");
  CHECK(err != NULL && strlen(err) > 0, "%s: no error message", what);
  gonmf_free_string(err);
}

static void test_fit_errors(void) {
  struct ArrowSchema s, ws, hs;
  struct ArrowArray a, wa, ha;
  Counts c;
  char *err, *info;
  int32_t st;

#define ZERO_OUT()          \
  memset(&ws, 0, sizeof ws); \
  memset(&wa, 0, sizeof wa); \
  memset(&hs, 0, sizeof hs); \
  memset(&ha, 0, sizeof ha)

  /* Everything NULL. */
  err = (char*)0x1;
  info = (char*)0x1;
  st = gonmf_fit(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &info,
                 &err);
  CHECK(info == NULL, "all NULL: out_info_json not cleared");
  expect_error("fit, all NULL", st, GONMF_ERR_VALUE, err);
  /* Everything NULL, even the strings. */
  st = gonmf_fit(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL);
  CHECK(st == GONMF_ERR_VALUE, "fit, all NULL without strings: %d", st);

  /* X NULL, outputs fine. */
  ZERO_OUT();
  err = NULL;
  st = gonmf_fit(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &ws, &wa, &hs, &ha, NULL, &err);
  expect_error("fit, X NULL", st, GONMF_ERR_VALUE, err);
  CHECK(wa.release == NULL && ha.release == NULL, "X NULL: outputs written");

  /* Only the schema of X. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  st = gonmf_fit(&s, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &ws, &wa, &hs, &ha, NULL, &err);
  expect_error("fit, X array NULL", st, GONMF_ERR_VALUE, err);
  CHECK(s.release == NULL && c.schema_releases == 1, "X array NULL: schema not released once (%d)",
        c.schema_releases);
  a.release(&a);

  /* out W NULL. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &hs, &ha, NULL, &err);
  expect_error("fit, out W NULL", st, GONMF_ERR_VALUE, err);
  CHECK(c.array_releases == 1 && c.schema_releases == 1, "out W NULL: X released %d/%d times",
        c.array_releases, c.schema_releases);

  /* out H half NULL. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, NULL, NULL, &ws, &wa, &hs, NULL, NULL, &err);
  expect_error("fit, out H half NULL", st, GONMF_ERR_VALUE, err);
  CHECK(c.array_releases == 1 && c.schema_releases == 1, "out H half NULL: X released %d/%d",
        c.array_releases, c.schema_releases);
  CHECK(wa.release == NULL, "out H half NULL: W written");

  /* out W not zeroed. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  wa.release = dummy_release;
  ws.release = dummy_release_schema;
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, NULL, NULL, &ws, &wa, NULL, NULL, NULL, &err);
  expect_error("fit, out W not zeroed", st, GONMF_ERR_VALUE, err);
  CHECK(wa.release == dummy_release && ws.release == dummy_release_schema,
        "out W not zeroed: caller's struct touched");
  CHECK(c.array_releases == 1, "out W not zeroed: X released %d times", c.array_releases);

  /* Already released X (release == NULL). */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  s.release(&s);
  a.release(&a);
  c = (Counts){0, 0};
  ZERO_OUT();
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, NULL, NULL, &ws, &wa, NULL, NULL, NULL, &err);
  expect_error("fit, released X", st, GONMF_ERR_VALUE, err);
  CHECK(c.array_releases == 0 && c.schema_releases == 0, "released X released again");

  /* Malformed and unknown params. */
  const char* bad[] = {"{", "{\"n_components\": }", "[1]", "{\"alpha_w\": 0.1}",
                       "{\"n_components\": 0}", "{\"init\": \"nope\"}", "\"x\"", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    c = (Counts){0, 0};
    make_fsl(N, M, X, &c, &s, &a);
    ZERO_OUT();
    st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, bad[i], NULL, &ws, &wa, &hs, &ha, NULL, &err);
    char what[96];
    snprintf(what, sizeof what, "fit, params '%s'", bad[i]);
    expect_error(what, st, GONMF_ERR_VALUE, err);
    CHECK(c.array_releases == 1 && c.schema_releases == 1, "%s: X released %d/%d times", what,
          c.array_releases, c.schema_releases);
    CHECK(wa.release == NULL && ha.release == NULL, "%s: outputs written", what);
  }

  /* A failing fit with out_error NULL must not crash. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, "{", NULL, &ws, &wa, NULL, NULL, NULL, NULL);
  CHECK(st == GONMF_ERR_VALUE && c.array_releases == 1, "fit without out_error: %d", st);

  /* init custom without W/H. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, "{\"init\": \"custom\", \"n_components\": 2}",
                 NULL, &ws, &wa, NULL, NULL, NULL, &err);
  expect_error("fit, custom without W/H", st, GONMF_ERR_VALUE, err);

  /* Cancelled before the start. */
  c = (Counts){0, 0};
  make_fsl(N, M, X, &c, &s, &a);
  ZERO_OUT();
  GonmfControl ctl;
  memset(&ctl, 0, sizeof ctl);
  ctl.cancel = 1;
  st = gonmf_fit(&s, &a, NULL, NULL, NULL, NULL, FIT_PARAMS, &ctl, &ws, &wa, &hs, &ha, NULL, &err);
  expect_error("fit, cancelled", st, GONMF_ERR_INTERRUPTED, err);
  CHECK(wa.release == NULL && c.array_releases == 1, "cancelled: outputs written or X not released");

  gonmf_free_string(NULL);
#undef ZERO_OUT
}

/* ------------------------------------------------------------------ */
/* Parquet. */

static char tmpdir[256];

static void path_in_tmp(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", tmpdir, name);
}

static const char* const IDS[N] = {"ACH-000001", "ACH-000002", "ACH-000003", "ACH-000004",
                                   "ACH-000005", "ACH-000006", "ACH-000007", "ACH-000008"};
static const char* const GENES[M] = {"A1BG (1)", "NAT2 (10)", "ADA (100)",
                                     "CDH2 (1000)", "AKT3 (10000)", "GAGE12F (100008586)"};

/* Reads path and checks ids and float columns against x (column-major n x m)
 * and names. Returns the record through s/a (caller releases) on success. */
static int read_back(const char* what, const char* path, const char* opts, int n, int m,
                     const char* const* ids, const char* const* names, const double* x,
                     struct ArrowSchema* s, struct ArrowArray* a, char** info_out) {
  memset(s, 0, sizeof *s);
  memset(a, 0, sizeof *a);
  char* info = (char*)0x1;
  char* err = (char*)0x1;
  int32_t st = gonmf_read_parquet(path, opts, s, a, &info, &err);
  CHECK(st == GONMF_OK, "%s: read status %d: %s", what, st, st != GONMF_OK && err ? err : "");
  if (st != GONMF_OK) {
    gonmf_free_string(err);
    return 0;
  }
  CHECK(err == NULL, "%s: out_error not cleared", what);
  CHECK(strcmp(s->format, "+s") == 0 && s->n_children == m + 1 && a->n_children == m + 1 &&
            a->length == n,
        "%s: got format %s, %lld children, %lld rows", what, s->format, (long long)s->n_children,
        (long long)a->length);
  if (!(s->n_children == m + 1 && a->n_children == m + 1 && a->length == n)) {
    gonmf_free_string(info);
    return 0;
  }
  CHECK(strcmp(s->children[0]->format, "u") == 0 || strcmp(s->children[0]->format, "U") == 0,
        "%s: id format %s", what, s->children[0]->format);
  const struct ArrowArray* id = a->children[0];
  const int32_t* offs = (const int32_t*)id->buffers[1] + id->offset;
  const char* chars = (const char*)id->buffers[2];
  int bad_ids = 0;
  for (int i = 0; i < n && strcmp(s->children[0]->format, "u") == 0; i++) {
    size_t len = (size_t)(offs[i + 1] - offs[i]);
    bad_ids += len != strlen(ids[i]) || memcmp(chars + offs[i], ids[i], len) != 0;
  }
  CHECK(bad_ids == 0, "%s: %d ids differ", what, bad_ids);
  int bad = 0, adjacent = 1;
  const double* base = (const double*)a->children[1]->buffers[1] + a->children[1]->offset;
  for (int j = 0; j < m; j++) {
    const struct ArrowSchema* cs = s->children[j + 1];
    const struct ArrowArray* ca = a->children[j + 1];
    CHECK(strcmp(cs->format, "g") == 0 && strcmp(cs->name, names[j]) == 0,
          "%s: column %d is %s '%s'", what, j, cs->format, cs->name);
    CHECK(ca->null_count == 0, "%s: column %d has nulls", what, j);
    const double* col = (const double*)ca->buffers[1] + ca->offset;
    adjacent &= col == base + (size_t)j * n;
    for (int i = 0; i < n; i++) {
      double want = x[(size_t)j * n + i];
      bad += !(col[i] == want || (isnan(col[i]) && isnan(want)));
    }
  }
  CHECK(bad == 0, "%s: %d float values differ", what, bad);
  CHECK(adjacent, "%s: float columns are not adjacent in one block", what);
  CHECK(json_number(info, "n_rows") == n && json_number(info, "n_columns") == m,
        "%s: info %s", what, info);
  if (info_out)
    *info_out = info;
  else
    gonmf_free_string(info);
  return 1;
}

/* A struct that views children [1, m] of a read-back record (the float
 * columns) and releases the whole record when released: how a consumer
 * would hand those columns to gonmf_fit. */
typedef struct {
  struct ArrowArray parent;
  int* counter;
} ViewPriv;

static void release_view(struct ArrowArray* a) {
  ViewPriv* p = (ViewPriv*)a->private_data;
  p->parent.release(&p->parent);
  if (p->counter) (*p->counter)++;
  free(a->children);
  free((void*)a->buffers);
  free(p);
  a->release = NULL;
}

static void view_floats(struct ArrowSchema* rs, struct ArrowArray* ra, int m, Counts* c,
                        struct ArrowSchema* s, struct ArrowArray* a) {
  /* Schema: a fresh copy (names and formats). */
  init_schema(s, "+s", "", m, &c->schema_releases);
  for (int j = 0; j < m; j++)
    init_schema(s->children[j], rs->children[j + 1]->format, rs->children[j + 1]->name, 0, NULL);
  rs->release(rs);
  /* Array: children point at the record's own child structs. */
  memset(a, 0, sizeof *a);
  a->length = ra->length;
  a->n_buffers = 1;
  a->buffers = calloc(1, sizeof(void*));
  a->n_children = m;
  a->children = calloc((size_t)m, sizeof(struct ArrowArray*));
  for (int j = 0; j < m; j++) a->children[j] = ra->children[j + 1];
  ViewPriv* p = calloc(1, sizeof *p);
  p->parent = *ra; /* moved */
  ra->release = NULL;
  p->counter = &c->array_releases;
  a->private_data = p;
  a->release = release_view;
}

static void test_parquet(void) {
  char path[512], path_gz[512], path_w[512];
  path_in_tmp(path, sizeof path, "x.parquet");
  path_in_tmp(path_gz, sizeof path_gz, "x.parquet.gz");
  path_in_tmp(path_w, sizeof path_w, "nmf_latent.parquet.gz");

  /* X column-major with one NaN in the last column for nan_columns. */
  double xc[N * M];
  for (int i = 0; i < N; i++)
    for (int j = 0; j < M; j++) xc[(size_t)j * N + i] = X[i * M + j];

  struct ArrowSchema s, rs;
  struct ArrowArray a, ra;
  Counts c = {0, 0};
  char* err = (char*)0x1;
  int32_t st;

  /* Write X with ids (snappy), and again with a NaN (gzip by name). */
  make_table(N, M, IDS, xc, GENES, &c, &s, &a);
  st = gonmf_write_parquet(path, &s, &a, NULL, &err);
  CHECK(st == GONMF_OK, "write: status %d: %s", st, st && err ? err : "");
  CHECK(st != GONMF_OK || err == NULL, "write: out_error not cleared");
  CHECK(s.release == NULL && a.release == NULL && c.array_releases == 1 && c.schema_releases == 1,
        "write: input released %d/%d times", c.array_releases, c.schema_releases);

  double xnan[N * M];
  memcpy(xnan, xc, sizeof xnan);
  xnan[(M - 1) * N + 3] = NAN;
  c = (Counts){0, 0};
  make_table(N, M, IDS, xnan, GENES, &c, &s, &a);
  st = gonmf_write_parquet(path_gz, &s, &a, "{\"compression\": \"zstd\"}", &err);
  CHECK(st == GONMF_OK, "write zstd: status %d: %s", st, st && err ? err : "");
  CHECK(c.array_releases == 1 && c.schema_releases == 1, "write zstd: released %d/%d",
        c.array_releases, c.schema_releases);

  /* Read both back. */
  char* info = NULL;
  if (read_back("read", path, "{\"id_column\": \"id\"}", N, M, IDS, GENES, xc, &rs, &ra, &info)) {
    CHECK(json_has(info, "\"nan_columns\":[]"), "read: nan_columns in %s", info);
    CHECK(json_has(info, "\"id_column\":\"id\""), "read: id_column in %s", info);
    gonmf_free_string(info);

    /* Fit on the float columns in place: the block is read without a copy. */
    struct ArrowSchema xs;
    struct ArrowArray xa;
    Counts vc = {0, 0};
    view_floats(&rs, &ra, M, &vc, &xs, &xa);
    info = fit_and_check("fit on read_parquet output", &xs, &xa, &vc);
    CHECK(json_has(info, "\"copied_input\":false"), "read_parquet block was copied: %s", info);
    gonmf_free_string(info);
  }
  if (read_back("read NaN", path_gz, "{\"id_column\": \"id\", \"dtype\": \"float64\"}", N, M, IDS,
                GENES, xnan, &rs, &ra, &info)) {
    char want[128];
    snprintf(want, sizeof want, "\"nan_columns\":[\"%s\"]", GENES[M - 1]);
    CHECK(json_has(info, want), "read NaN: nan_columns in %s", info);
    gonmf_free_string(info);
    rs.release(&rs);
    ra.release(&ra);
  }

  /* float32 and a column selection. */
  memset(&rs, 0, sizeof rs);
  memset(&ra, 0, sizeof ra);
  char opts[256];
  snprintf(opts, sizeof opts, "{\"columns\": [\"%s\", \"%s\"], \"dtype\": \"float32\"}", GENES[2],
           GENES[0]);
  st = gonmf_read_parquet(path, opts, &rs, &ra, NULL, &err);
  CHECK(st == GONMF_OK, "read float32: %d %s", st, st && err ? err : "");
  if (st == GONMF_OK) {
    CHECK(rs.n_children == 2 && strcmp(rs.children[0]->format, "f") == 0 &&
              strcmp(rs.children[0]->name, GENES[2]) == 0,
          "read float32: schema");
    const float* f = (const float*)ra.children[1]->buffers[1];
    CHECK(f[5] == (float)xc[5], "read float32: value %g, want %g", f[5], (float)xc[5]);
    rs.release(&rs);
    ra.release(&ra);
  } else {
    gonmf_free_string(err);
  }

  /* W with ids, as the notebook writes it: ModelID, NMF_0, NMF_1. */
  double wc[N * K];
  for (int i = 0; i < N * K; i++) wc[i] = 0.25 * i;
  const char* wnames[K] = {"NMF_0", "NMF_1"};
  c = (Counts){0, 0};
  make_table(N, K, IDS, wc, wnames, &c, &s, &a);
  st = gonmf_write_parquet(path_w, &s, &a, "{}", &err);
  CHECK(st == GONMF_OK, "write W: %d %s", st, st && err ? err : "");
  if (read_back("read W", path_w, "{\"id_column\": \"id\"}", N, K, IDS, wnames, wc, &rs, &ra,
                NULL)) {
    rs.release(&rs);
    ra.release(&ra);
  }

  unlink(path);
  unlink(path_gz);
  unlink(path_w);
}

static void test_parquet_errors(void) {
  struct ArrowSchema s;
  struct ArrowArray a;
  char* err;
  char* info;
  int32_t st;
  char path[512], missing[512];
  path_in_tmp(path, sizeof path, "e.parquet");
  path_in_tmp(missing, sizeof missing, "no/such/file.parquet");

  /* read: everything NULL, with and without out strings. */
  err = (char*)0x1;
  info = (char*)0x1;
  st = gonmf_read_parquet(NULL, NULL, NULL, NULL, &info, &err);
  CHECK(info == NULL, "read all NULL: info not cleared");
  expect_error("read, all NULL", st, GONMF_ERR_VALUE, err);
  st = gonmf_read_parquet(NULL, NULL, NULL, NULL, NULL, NULL);
  CHECK(st == GONMF_ERR_VALUE, "read all NULL without strings: %d", st);

  /* read: NULL path, NULL out array, out not zeroed, bad JSON, missing file. */
  memset(&s, 0, sizeof s);
  memset(&a, 0, sizeof a);
  st = gonmf_read_parquet(NULL, NULL, &s, &a, NULL, &err);
  expect_error("read, NULL path", st, GONMF_ERR_VALUE, err);
  st = gonmf_read_parquet(missing, NULL, &s, NULL, NULL, &err);
  expect_error("read, NULL out_array", st, GONMF_ERR_VALUE, err);
  a.release = dummy_release;
  st = gonmf_read_parquet(missing, NULL, &s, &a, NULL, &err);
  expect_error("read, out not zeroed", st, GONMF_ERR_VALUE, err);
  CHECK(a.release == dummy_release, "read, out not zeroed: struct touched");
  a.release = NULL;
  const char* bad[] = {"{", "{\"dtype\": \"int\"}", "{\"columns\": \"a\"}", "{\"idcolumn\": null}",
                       "[]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    st = gonmf_read_parquet(missing, bad[i], &s, &a, NULL, &err);
    char what[96];
    snprintf(what, sizeof what, "read, options '%s'", bad[i]);
    expect_error(what, st, GONMF_ERR_VALUE, err);
  }
  err = NULL;
  st = gonmf_read_parquet(missing, NULL, &s, &a, NULL, &err);
  CHECK(st == GONMF_ERR_VALUE && err && strstr(err, "[Errno 2] No such file or directory") &&
            strstr(err, missing),
        "read, missing file: %d %s", st, err ? err : "");
  gonmf_free_string(err);
  CHECK(a.release == NULL && s.release == NULL, "read errors: output written");

  /* A file that is not Parquet, and a string column that is not the id. */
  FILE* f = fopen(path, "w");
  fputs("not parquet", f);
  fclose(f);
  err = NULL;
  st = gonmf_read_parquet(path, NULL, &s, &a, NULL, &err);
  CHECK(st == GONMF_ERR_VALUE && err && strstr(err, "Could not open Parquet input source"),
        "read, not parquet: %d %s", st, err ? err : "");
  gonmf_free_string(err);
  Counts c = {0, 0};
  double xc[2] = {1, 2};
  const char* ids[2] = {"a", "b"};
  const char* names[1] = {"x"};
  make_table(2, 1, ids, xc, names, &c, &s, &a);
  st = gonmf_write_parquet(path, &s, &a, NULL, &err);
  CHECK(st == GONMF_OK, "write small: %d", st);
  memset(&s, 0, sizeof s);
  memset(&a, 0, sizeof a);
  err = NULL;
  st = gonmf_read_parquet(path, NULL, &s, &a, NULL, &err);
  CHECK(st == GONMF_ERR_VALUE && err && strstr(err, "column 'id'"),
        "read, string column not the id: %d %s", st, err ? err : "");
  gonmf_free_string(err);
  err = NULL;
  st = gonmf_read_parquet(path, "{\"columns\": [\"x\", \"nope\"]}", &s, &a, NULL, &err);
  CHECK(st == GONMF_ERR_VALUE && err && strstr(err, "'nope'"), "read, unknown column: %d %s", st,
        err ? err : "");
  gonmf_free_string(err);

  /* write: everything NULL; NULL path; released struct; bad options; not a
   * struct; missing directory. Inputs are released exactly once each time. */
  err = (char*)0x1;
  st = gonmf_write_parquet(NULL, NULL, NULL, NULL, &err);
  expect_error("write, all NULL", st, GONMF_ERR_VALUE, err);
  st = gonmf_write_parquet(NULL, NULL, NULL, NULL, NULL);
  CHECK(st == GONMF_ERR_VALUE, "write all NULL without out_error: %d", st);

  struct {
    const char* what;
    const char* path;
    const char* opts;
    int released_first;
    int fsl;
    int32_t want;
  } cases[] = {
      {"write, NULL path", NULL, NULL, 0, 0, GONMF_ERR_VALUE},
      {"write, released struct", path, NULL, 1, 0, GONMF_ERR_VALUE},
      {"write, bad JSON", path, "{", 0, 0, GONMF_ERR_VALUE},
      {"write, bad compression", path, "{\"compression\": \"lzo\"}", 0, 0, GONMF_ERR_VALUE},
      {"write, not a struct", path, NULL, 0, 1, GONMF_ERR_TYPE},
      {"write, missing directory", missing, NULL, 0, 0, GONMF_ERR_VALUE},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    c = (Counts){0, 0};
    if (cases[i].fsl)
      make_fsl(N, M, X, &c, &s, &a);
    else
      make_table(2, 1, ids, xc, names, &c, &s, &a);
    if (cases[i].released_first) {
      s.release(&s);
      a.release(&a);
      c = (Counts){0, 0};
    }
    err = NULL;
    st = gonmf_write_parquet(cases[i].path, &s, &a, cases[i].opts, &err);
    expect_error(cases[i].what, st, cases[i].want, err);
    int want = cases[i].released_first ? 0 : 1;
    CHECK(c.array_releases == want && c.schema_releases == want && s.release == NULL &&
              a.release == NULL,
          "%s: released %d/%d times, want %d", cases[i].what, c.array_releases, c.schema_releases,
          want);
  }
  /* Only one of the two structs. */
  c = (Counts){0, 0};
  make_table(2, 1, ids, xc, names, &c, &s, &a);
  st = gonmf_write_parquet(path, &s, NULL, NULL, &err);
  expect_error("write, NULL array", st, GONMF_ERR_VALUE, err);
  CHECK(c.schema_releases == 1 && s.release == NULL, "write, NULL array: schema released %d",
        c.schema_releases);
  a.release(&a);

  unlink(path);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "%s/gonmf_c_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 2;
  }
  make_x();
  test_version();
  test_fit();
  test_fit_errors();
  test_parquet();
  test_parquet_errors();
  rmdir(tmpdir);
  printf("%d passed, %d failed\n", n_passed, n_failed);
  return n_failed ? 1 : 0;
}
