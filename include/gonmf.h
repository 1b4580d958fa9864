/*
 * gonmf.h - the public C ABI of libgonmf.
 *
 * Hand-written and versioned: bump GONMF_ABI_VERSION on any incompatible change.
 * Data travels as Arrow C Data Interface structs
 * (https://arrow.apache.org/docs/format/CDataInterface.html).
 *
 * Ownership rules
 *   - Input arrays are MOVED into the library: after any call, successful or not,
 *     each non-NULL input ArrowArray/ArrowSchema has been released and its
 *     release member set to NULL. The caller must not release them again.
 *     The input buffers are read in place (no copy) while the call runs.
 *   - Output structs must be zero-initialised by the caller. On GONMF_OK they
 *     hold arrays that the caller owns and must release (via their release
 *     callback). Their buffers are allocated with malloc, never Go memory.
 *   - Strings returned through char ** are malloc'ed and freed with
 *     gonmf_free_string.
 *
 * Threading: every function may be called from any thread, concurrently.
 * Fork: the Go runtime does not survive fork(); load the library after forking.
 */
#ifndef GONMF_H
#define GONMF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GONMF_ABI_VERSION 1

/* ---- Arrow C Data Interface (verbatim from the Arrow specification) ---- */
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

/* ---- Status codes: each maps to one Python exception type ---- */
#define GONMF_OK 0
#define GONMF_ERR_VALUE 1       /* bad value: ValueError */
#define GONMF_ERR_TYPE 2        /* bad type or dtype: TypeError */
#define GONMF_ERR_INTERRUPTED 3 /* cancelled through GonmfControl: KeyboardInterrupt */
#define GONMF_ERR_MEMORY 4      /* allocation failed: MemoryError */
#define GONMF_ERR_INTERNAL 5    /* a bug in gonmf (recovered panic): RuntimeError */

/*
 * Shared state between a running fit and its caller, in caller memory.
 * The caller may set `cancel` to non-zero from another thread at any time;
 * the fit stops at the next check (at least once per iteration) with
 * GONMF_ERR_INTERRUPTED. The library writes progress as it goes.
 */
typedef struct GonmfControl {
  volatile int32_t cancel;    /* in: non-zero asks the fit to stop */
  volatile int32_t iteration; /* out: iterations completed so far */
  volatile int32_t max_iter;  /* out: the iteration budget of this fit */
  volatile int32_t reserved;
  volatile double error;      /* out: latest objective value, NaN if unknown */
} GonmfControl;

/* The ABI version this library implements (GONMF_ABI_VERSION it was built with). */
int32_t gonmf_abi_version(void);

/* The library version string, static storage: do not free. */
const char* gonmf_version(void);

/*
 * Fit X ~= W H with W, H >= 0 (also transform and non_negative_factorization).
 *
 * x_schema/x_array   X, n_samples x n_features, float32 or float64, as either
 *                      - a struct (record batch) of n_features columns of length
 *                        n_samples: column-major, read in place when the column
 *                        buffers are adjacent, copied once otherwise;
 *                      - a fixed_size_list<float>[n_features] of n_samples rows:
 *                        row-major, read in place.
 * w_*, h_*           optional initial W (n_samples x k) and H (k x n_features) as
 *                    fixed_size_list<float>[k] / fixed_size_list<float>[n_features]
 *                    (NULL when absent). Used with init "custom", and H with
 *                    update_H = false.
 * params_json        a JSON object of parameters (below); unknown keys are an
 *                    error (GONMF_ERR_VALUE), keys are case-sensitive, and a
 *                    JSON null is refused except where noted. NULL means all
 *                    defaults.
 * control            optional (NULL allowed): cancel flag and progress.
 * out_w_*            W as fixed_size_list<float>[k] of n_samples rows. Both
 *                    must be non-NULL and zero-initialised (release == NULL).
 * out_h_*            H as fixed_size_list<float>[n_features] of k rows. Both
 *                    NULL (the caller does not want H) or both non-NULL and
 *                    zero-initialised; one NULL and one not is an error.
 * out_info_json      on GONMF_OK: a JSON object (below). May be NULL.
 * out_error          on failure: a message. May be NULL.
 *
 * *out_info_json and *out_error are set to NULL on entry (when the pointers
 * are non-NULL), so a caller never sees a stale value; on return at most one
 * of them is set. Output structs are written only on GONMF_OK.
 *
 * params_json keys (scikit-learn's NMF parameters, same meaning and defaults):
 *   "n_components"  integer >= 1, null (n_features) or "auto" (default: from
 *                   H when H is used, else n_features)
 *   "init"          null (default: sklearn's rule, nndsvda when k <= min(n, m)
 *                   else random), "random", "nndsvd", "nndsvda", "nndsvdar",
 *                   "custom" (uses w_* and h_*)
 *   "solver"        "cd" (default) or "mu"
 *   "beta_loss"     number: 2 frobenius (default), 1 kullback-leibler,
 *                   0 itakura-saito (the caller maps names to numbers)
 *   "tol"           number >= 0, default 1e-4
 *   "max_iter"      integer >= 1, default 200
 *   "alpha_W"       number >= 0, default 0
 *   "alpha_H"       number >= 0, default 0 (the caller resolves "same")
 *   "l1_ratio"      number in [0, 1], default 0
 *   "shuffle"       boolean, default false
 *   "update_H"      boolean, default true; false keeps H fixed (transform)
 *   "verbose"       integer or boolean, default 0
 *   "random_state"  null (seed 0), an integer seed in [0, 2**32 - 1], or a
 *                   numpy RandomState state object {"keys": [624 integers],
 *                   "pos": int, "has_gauss": 0|1, "cached_gaussian": number}
 *
 * out_info_json fields:
 *   "n_iter"              iterations run (sklearn's n_iter_)
 *   "reconstruction_err"  sklearn's reconstruction_err_ (||X - WH||_F for
 *                         beta_loss 2), null when not finite
 *   "converged"           true when tol was reached before max_iter
 *   "copied_input"        true when X had to be copied (non-adjacent struct
 *                         columns, mixed float32/float64, misaligned values)
 *   "n_components"        k actually used
 *   "dtype"               "float32" or "float64" (of X, W and H)
 *   "layout"              "row_major" or "col_major": how the engine saw X
 *   "random_state"        present when a state object was passed: the state
 *                         after the fit, in the same form, so the caller can
 *                         advance its RandomState as sklearn would
 *
 * Returns GONMF_OK or a GONMF_ERR_* code.
 */
int32_t gonmf_fit(struct ArrowSchema* x_schema, struct ArrowArray* x_array,
                  struct ArrowSchema* w_schema, struct ArrowArray* w_array,
                  struct ArrowSchema* h_schema, struct ArrowArray* h_array,
                  const char* params_json, GonmfControl* control,
                  struct ArrowSchema* out_w_schema, struct ArrowArray* out_w_array,
                  struct ArrowSchema* out_h_schema, struct ArrowArray* out_h_array,
                  char** out_info_json, char** out_error);

/*
 * Read a Parquet file into one record batch.
 *
 * path           file name (bytes as given to open(2)); non-NULL.
 * options_json   a JSON object, or NULL for defaults; unknown keys are an error:
 *                  "id_column"  name of a column kept as is (typically utf8 or
 *                               large_utf8) and placed FIRST; null (default):
 *                               no id column
 *                  "columns"    list of column names to read, in this order;
 *                               null (default): every column but the id and
 *                               pandas index columns (__index_level_0__ ...)
 *                  "dtype"      "float64" (default) or "float32"
 * out_schema/    receive a struct array (record batch): [id] + the float
 * out_array      columns. Both non-NULL and zero-initialised. The float
 *                columns have no validity bitmap: nulls and NaN are both NaN.
 *                Their data buffers are slices of ONE malloc'ed column-major
 *                block (column j starts j * n_rows values after column 0), so
 *                passing the float columns to gonmf_fit reads them in place.
 *                Integer columns are converted; any other type among the
 *                columns read (strings, dates, lists...) is GONMF_ERR_VALUE
 *                naming the column. Release the array to free everything.
 * out_info_json  on GONMF_OK (may be NULL): {"n_rows", "n_columns" (float
 *                columns, the id not counted), "id_column" (name or null),
 *                "nan_columns" (names of float columns holding NaN or nulls),
 *                "dtype", "index_columns" (pandas index columns left out)}.
 * out_error      on failure (may be NULL): a message. File system errors read
 *                like Python's OSError, "[Errno 2] No such file or directory:
 *                '<path>'", so the caller can map the errno; a file that is not
 *                Parquet gives "Could not open Parquet input source '<path>': ...",
 *                a corrupt one GONMF_ERR_VALUE "... cannot decode it (corrupt
 *                file?): ..." (decoder panics are recovered; the footer's
 *                lengths and its ARROW:schema entry are vetted before use; a
 *                corrupt page header can still make a reading thread allocate
 *                up to the 2 GiB a Parquet page size allows before it fails).
 *
 * *out_info_json and *out_error are set to NULL on entry. Columns are decoded
 * by at most GOMAXPROCS threads, one column chunk at a time, whatever the
 * number of columns. Returns GONMF_OK, GONMF_ERR_VALUE, GONMF_ERR_MEMORY (the
 * block cannot be allocated) or GONMF_ERR_INTERNAL.
 */
int32_t gonmf_read_parquet(const char* path, const char* options_json,
                           struct ArrowSchema* out_schema, struct ArrowArray* out_array,
                           char** out_info_json, char** out_error);

/*
 * Write a record batch to a Parquet file (one row group per 64 Mi rows, the
 * Arrow schema stored so that pyarrow reads back the same types).
 *
 * path           file name; non-NULL. Created or truncated; removed again if
 *                the write fails.
 * schema/array   a struct array (record batch, no null rows) of boolean,
 *                integer, float32/float64, utf8/large_utf8 or binary columns;
 *                other types are GONMF_ERR_TYPE. MOVED in like gonmf_fit's
 *                inputs: released on every path, success or not.
 * options_json   a JSON object, or NULL for defaults:
 *                  "compression"  "snappy", "gzip", "zstd", "brotli", "none" or
 *                                 null (= "none"); default gzip when path ends
 *                                 in ".gz", else snappy
 * out_error      on failure (may be NULL; set to NULL on entry): a message,
 *                OSError-like for file system errors as for gonmf_read_parquet.
 *
 * Returns GONMF_OK or a GONMF_ERR_* code.
 */
int32_t gonmf_write_parquet(const char* path, struct ArrowSchema* schema,
                            struct ArrowArray* array, const char* options_json,
                            char** out_error);

/* Free a string returned by this library. NULL is allowed. */
void gonmf_free_string(char* s);

#ifdef __cplusplus
}
#endif

#endif /* GONMF_H */
