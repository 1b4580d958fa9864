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
 * params_json        a JSON object of parameters: see README "C ABI"; unknown
 *                    keys are an error. NULL means all defaults.
 * control            optional (NULL allowed): cancel flag and progress.
 * out_w_*            W as fixed_size_list<float>[k] of n_samples rows.
 * out_h_*            H as fixed_size_list<float>[n_features] of k rows; may be
 *                    NULL when the caller does not want H.
 * out_info_json      on GONMF_OK: a JSON object (n_iter, reconstruction_err,
 *                    converged, copied_input, ...). May be NULL.
 * out_error          on failure: a message. May be NULL.
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

/* Free a string returned by this library. NULL is allowed. */
void gonmf_free_string(char* s);

#ifdef __cplusplus
}
#endif

#endif /* GONMF_H */
