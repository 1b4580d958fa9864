"""gonmf versus scikit-learn: fit times, errors, memory, kernels, error-versus-time curves.

Usage (from the repository root; gonmf is imported from python/ unless installed)::

    ./build.sh lib                       # the library the bench loads
    python bench/bench.py                # everything, 3 repeats (long: sklearn is slow on B, C)
    python bench/bench.py --quick        # 1 repeat, smaller B, C and D, coarser curves
    python bench/bench.py --workloads A,D --repeats 5 --out bench/results/

OpenBLAS: the environment may set OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which slow numpy (and
so scikit-learn) down. The bench re-executes itself without them (only its own process tree is
affected), and prints the OpenBLAS build, core type and thread count threadpoolctl reports.
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/bench.py`` does the same by hand.

What is measured (all in one run, so the ratios compare like with like):

* Fits. Every (library, solver, dtype, workload) fit runs in a fresh subprocess, and the
  subprocesses of the two libraries alternate, repeat after repeat; the tables show medians.
  Time is the wall time of ``fit_transform`` (validation, initialisation, iterations, final
  error), after the data is loaded and the libraries imported (gonmf's native library is
  loaded before the clock starts). Peak RSS is the child's peak resident set during the fit
  (Linux: VmHWM, reset through /proc/self/clear_refs just before the fit; not ru_maxrss,
  which survives execve and would report the parent's peak), X and the libraries included;
  "fit RSS" is that peak minus the resident set just before the fit (X is loaded from disk
  in the fit's dtype, stored in both dtypes for that reason), i.e. the fit's own memory.
  Both libraries start from the same initialisation (``init=None`` -> nndsvda,
  ``random_state=0``); solver ``cd`` of gonmf follows scikit-learn's step for step, so the
  iterations and final errors agree.
* GEMM GFLOP/s: the effective rate of the two products every iteration needs,
  4·n·m·k·iterations / time (time includes everything else, so it is a lower bound of the
  kernels' rate; hals's inner sweeps are not counted as flops).
* Time to reach scikit-learn's final error (hals): gonmf's hals is fitted with tol=0 and
  max_iter = t from the same initialisation; the outer iterations are deterministic, so the
  error after t is that of the t-th iterate of a longer fit. The smallest t whose error is
  <= scikit-learn's final error (cd, defaults, float64, for both of gonmf's dtypes) is found
  by stepping and bisection,
  then that fit (max_iter = t) is timed like the others. It is compared with scikit-learn's
  full fit time, which is when scikit-learn reaches that error.
* Error versus time (PNG): each point is a separate fit with tol=0 and max_iter = t, for a
  list of checkpoints t, plotted at that fit's wall time (including initialisation). For
  scikit-learn that is the only honest way (a warm start would skip the initialisation and
  reset the stopping rule); gonmf is measured the same way.
* Kernels: gonmf's GEMM kernels alone (``go test -bench BenchmarkMul`` of
  nmf/internal/gemm: best of N calls, GFLOP/s = 2·r·p·k / best) against numpy's matmul on
  the same shapes, in the same run (best of N): the products X·Hᵀ and Xᵀ·W of (A) and (B),
  for a row-major (C-contiguous) X, and also for a column-major (Fortran, pandas) X.
* Idle before timing: on the 2-core development VM, a burst of work right after an idle
  period runs up to 3-4x faster than the same work after sustained load (numpy's matmul
  measured 39 GFLOP/s after generating data and 157 GFLOP/s after 2 s of sleep: the host
  throttles the vCPUs). So every timed batch (each fit subprocess, each kernel batch, each
  numpy product, each threads run) starts after ``--settle`` seconds of idle (default 2;
  0 disables), and the libraries alternate. On a dedicated machine this changes nothing.
* Threads: workload D's fits one after the other, then spread over 2 Python threads, for
  scikit-learn and gonmf alike (gonmf releases the GIL for the whole fit, scikit-learn inside
  its BLAS calls and Cython sweeps).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
_BAD_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

if __name__ == "__main__" and any(v in os.environ for v in _BAD_ENV):
    env = {k: v for k, v in os.environ.items() if k not in _BAD_ENV}
    env["GONMF_BENCH_REMOVED_ENV"] = ",".join(v for v in _BAD_ENV if v in os.environ)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

sys.path.insert(0, str(HERE))
try:
    import gonmf  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "python"))

import numpy as np  # noqa: E402

# ---- workloads ------------------------------------------------------------------------------

# name: (description, n, m, k, fits, init, dtypes); quick: (n, m, fits)
WORKLOADS = {
    "A": ("DepMap seed: 1,150 x 2,718, k=50", 1150, 2718, 50, 1, None, ("float64", "float32")),
    "B": (
        "DepMap all genes: 1,150 x 18,000, k=50",
        1150,
        18000,
        50,
        1,
        None,
        ("float64", "float32"),
    ),
    "C": ("tall: 20,000 x 2,000, k=20", 20000, 2000, 20, 1, None, ("float64",)),
    "D": (
        "cNMF-style: 100 fits of 38 x 5,000, k=3, init='random', seeds 0..99",
        38,
        5000,
        3,
        100,
        "random",
        ("float64",),
    ),
}
QUICK = {"A": (1150, 2718, 1), "B": (1150, 6000, 1), "C": (5000, 2000, 1), "D": (38, 5000, 20)}


def workload_shape(name: str, quick: bool) -> tuple[int, int, int, int]:
    _, n, m, k, fits, _, _ = WORKLOADS[name]
    if quick:
        n, m, fits = QUICK[name]
    return n, m, k, fits


def make_data(name: str, quick: bool) -> np.ndarray:
    import data

    n, m, _, _ = workload_shape(name, quick)
    if name in ("A", "B"):
        return data.depmap_dropna(n, m, seed=0)
    return data.depmap_filled(n, m, seed={"C": 1, "D": 2}[name])


def data_path(out: Path, name: str, dtype: str, quick: bool) -> Path:
    return out / "data" / f"{name}{'-quick' if quick else ''}-{dtype}.npy"


def ensure_data(out: Path, name: str, quick: bool) -> None:
    paths = {dt: data_path(out, name, dt, quick) for dt in ("float64", "float32")}
    if all(p.exists() for p in paths.values()):
        return
    paths["float64"].parent.mkdir(parents=True, exist_ok=True)
    X = make_data(name, quick)
    for dt, p in paths.items():
        np.save(p, np.ascontiguousarray(X, dtype=dt))


# ---- one fit, in a child process ------------------------------------------------------------


def _estimator(lib: str, **kw):
    if lib == "sklearn":
        from sklearn.decomposition import NMF
    else:
        from gonmf import NMF
    return NMF(**kw)


def _fit_once(lib: str, X: np.ndarray, k: int, solver: str, seed: int, init, **kw):
    est = _estimator(lib, n_components=k, solver=solver, random_state=seed, init=init, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        t0 = time.perf_counter()
        est.fit_transform(X)
        dt = time.perf_counter() - t0
    return dt, int(est.n_iter_), float(est.reconstruction_err_)


def _warm_up(lib: str, dtype: str) -> None:
    """Load gonmf's native library (and page in scikit-learn's code) before the clock runs."""
    rng = np.random.RandomState(0)
    x = rng.rand(6, 5).astype(dtype)
    _fit_once(lib, x, 2, "cd", 0, None, max_iter=2)


def _rss_mb(field: str) -> float | None:
    """VmRSS (resident now) or VmHWM (peak since the last reset) of this process, in MiB.

    Not ru_maxrss: on Linux it survives execve, so a child would report its parent's peak.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if field == "VmHWM":  # elsewhere (macOS: bytes); includes everything before the fit
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
    return None


def _reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so it measures the fit alone."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def worker(spec: dict) -> dict:
    lib, solver, dtype = spec["lib"], spec["solver"], spec["dtype"]
    k, fits, init = spec["k"], spec["fits"], spec["init"]
    X = np.load(spec["path"])
    _warm_up(lib, dtype)
    rss_before = _rss_mb("VmRSS")
    _reset_peak_rss()
    kw = {}
    if "max_iter" in spec:
        kw["max_iter"] = spec["max_iter"]
    if "tol" in spec:
        kw["tol"] = spec["tol"]
    mode = spec.get("mode", "fit")
    if mode == "curve":
        points = []
        for t in spec["checkpoints"]:
            time.sleep(spec.get("settle", 0))
            dt, it, err = _fit_once(lib, X, k, solver, 0, init, max_iter=t, tol=0.0)
            points.append((t, dt, err))
            if spec.get("stop_below") is not None and err <= spec["stop_below"]:
                break
        return {"points": points}
    if mode == "reach":
        return reach(
            lib, X, k, solver, init, spec["target"], spec["repeats"], spec.get("settle", 0)
        )
    times, iters, errs = [], 0, []
    for f in range(fits):
        dt, it, err = _fit_once(lib, X, k, solver, f if fits > 1 else 0, init, **kw)
        times.append(dt)
        iters += it
        errs.append(err)
    peak = _rss_mb("VmHWM")
    return {
        "time": sum(times),
        "n_iter": iters,
        "error": errs[0] if fits == 1 else float(np.mean(errs)),
        "peak_rss_mb": peak,
        "fit_rss_mb": peak - rss_before if peak is not None and rss_before is not None else None,
    }


def reach(
    lib: str, X: np.ndarray, k: int, solver: str, init, target: float, repeats: int, settle: float
) -> dict:
    """Smallest max_iter whose fit (tol=0) ends at or below target, and that fit's median time."""
    cache: dict[int, float] = {}

    def err(t: int) -> float:
        if t not in cache:
            cache[t] = _fit_once(lib, X, k, solver, 0, init, max_iter=t, tol=0.0)[2]
        return cache[t]

    lo, hi = 0, 4  # err(lo) > target (lo = 0: nothing run), err(hi) <= target once found
    while err(hi) > target:
        lo, hi = hi, hi * 2
        if hi > 4096:
            return {"reached": False, "max_iter": None, "time": None, "error": err(lo)}
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if err(mid) <= target:
            hi = mid
        else:
            lo = mid
    times = []
    for _ in range(repeats):
        time.sleep(settle)
        times.append(_fit_once(lib, X, k, solver, 0, init, max_iter=hi, tol=0.0)[0])
    return {"reached": True, "max_iter": hi, "time": statistics.median(times), "error": err(hi)}


SETTLE = 2.0  # seconds of idle before each timed batch (--settle)


def run_child(spec: dict) -> dict:
    spec = {**spec, "settle": SETTLE}
    time.sleep(SETTLE)
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- environment ----------------------------------------------------------------------------


def environment() -> list[str]:
    from threadpoolctl import threadpool_info

    import gonmf
    from gonmf import _lib

    lines = [f"python {sys.version.split()[0]}, numpy {np.__version__}"]
    try:
        import sklearn

        lines.append(f"scikit-learn {sklearn.__version__}")
    except ImportError:
        lines.append("scikit-learn: not installed")
    lines.append(
        f"gonmf {gonmf.__version__} from {Path(gonmf.__file__).parent}, "
        f"library {_lib._library_path()}"
    )
    lines.append(f"cpus: {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}")
    removed = os.environ.get("GONMF_BENCH_REMOVED_ENV")
    lines.append(
        f"removed from the environment: {removed}"
        if removed
        else "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: not set"
    )
    _ = np.ones((4, 4)) @ np.ones((4, 4))  # make sure BLAS is loaded
    for info in threadpool_info():
        lines.append(
            "threadpool: {} {} (version {}, architecture/core type {}, {} threads)".format(
                info.get("internal_api"),
                Path(info.get("filepath", "")).name,
                info.get("version"),
                info.get("architecture"),
                info.get("num_threads"),
            )
        )
    return lines


# ---- tables ---------------------------------------------------------------------------------


def md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def fmt_time(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t:.3f} s" if t < 10 else f"{t:.1f} s"


# ---- kernels --------------------------------------------------------------------------------

_BENCH_LINE = re.compile(
    r"^BenchmarkMul/simd/(f32|f64)/(\d+)x(\d+)x(\d+)/([NT])-?\d*\s.*?([\d.]+) best-GFLOP/s"
)


def kernels(shapes: list[tuple[int, int, int]], repeats: int) -> str:
    go = shutil.which("go")
    if go is None:
        return "(go not found: kernel table skipped)"
    dims = set()
    for n, m, k in shapes:
        dims.add(f"{n}x{m}x{k}")
        dims.add(f"{m}x{n}x{k}")
    pattern = f"BenchmarkMul/^simd$/^(f32|f64)$/^({'|'.join(sorted(dims))})$/^(N|T)$"
    time.sleep(SETTLE)
    proc = subprocess.run(
        [
            go,
            "test",
            "-run",
            "^$",
            "-bench",
            pattern,
            "-benchtime",
            f"{repeats}x",
            "./nmf/internal/gemm",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        return f"(go test -bench failed: {proc.stderr[-2000:]})"
    gonmf_rate = {}
    for line in proc.stdout.splitlines():
        mt = _BENCH_LINE.match(line)
        if mt:
            typ, r, p, k, tr, best = mt.groups()
            gonmf_rate[(typ, int(r), int(p), int(k), tr)] = float(best)
    if not gonmf_rate:
        return "(no SIMD kernel results: is AVX2/FMA available?)\n" + proc.stdout[-2000:]

    def np_best(f, flops: float) -> float:
        time.sleep(SETTLE / 4)
        f()
        best = min(timeit_once(f) for _ in range(repeats))
        return flops / best / 1e9

    rows = []
    rng = np.random.default_rng(1)
    for n, m, k in shapes:
        for typ, dt in (("f32", np.float32), ("f64", np.float64)):
            X = rng.random((n, m)).astype(dt)
            Xf = np.asfortranarray(X)
            Ht = rng.random((m, k)).astype(dt)
            W = rng.random((n, k)).astype(dt)
            flops = 2.0 * n * m * k
            # (label, X layout, numpy call, gemm key: Mul(transA, r, k, p))
            cases = [
                ("X·Hᵀ", "row", lambda X=X, Ht=Ht: X @ Ht, (typ, n, m, k, "N")),
                ("Xᵀ·W", "row", lambda X=X, W=W: X.T @ W, (typ, m, n, k, "T")),
                ("X·Hᵀ", "column", lambda Xf=Xf, Ht=Ht: Xf @ Ht, (typ, n, m, k, "T")),
                ("Xᵀ·W", "column", lambda Xf=Xf, W=W: Xf.T @ W, (typ, m, n, k, "N")),
            ]
            for label, layout, f, key in cases:
                g = gonmf_rate.get(key)
                npr = np_best(f, flops)
                rows.append(
                    [
                        f"{n} x {m}, k={k}",
                        label,
                        layout,
                        "float32" if typ == "f32" else "float64",
                        f"{g:.1f}" if g else "-",
                        f"{npr:.1f}",
                        f"{g / npr:.2f}x" if g else "-",
                    ]
                )
    return md_table(
        [
            "shape (X)",
            "product",
            "X layout",
            "dtype",
            "gonmf GFLOP/s",
            "numpy GFLOP/s",
            "gonmf / numpy",
        ],
        rows,
    )


def fmt_mb(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f} MB"


def timeit_once(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


# ---- threads --------------------------------------------------------------------------------


def threads_demo(path: Path, fits: int, repeats: int) -> str:
    """Workload D's fits one after the other, then spread over 2 Python threads, per library.

    gonmf releases the GIL for the whole fit; scikit-learn releases it inside numpy's BLAS
    and its Cython sweeps only, so both are measured the same way.
    """
    import threading

    X = np.load(path)
    for lib in ("sklearn", "gonmf"):
        _warm_up(lib, "float64")
    warnings.simplefilter("ignore")  # catch_warnings is not thread-safe

    def job(lib, solver, seeds):
        for s in seeds:
            est = _estimator(
                lib, n_components=3, solver=solver, init="random", random_state=s, max_iter=200
            )
            est.fit_transform(X)

    configs = [("sklearn", "cd"), ("gonmf", "cd"), ("gonmf", "hals")]
    seq: dict[tuple, list[float]] = {c: [] for c in configs}
    par: dict[tuple, list[float]] = {c: [] for c in configs}
    for _ in range(repeats):
        for c in configs:
            time.sleep(SETTLE)
            t0 = time.perf_counter()
            job(*c, range(fits))
            seq[c].append(time.perf_counter() - t0)
            ths = [threading.Thread(target=job, args=(*c, range(i, fits, 2))) for i in range(2)]
            time.sleep(SETTLE)
            t0 = time.perf_counter()
            for t in ths:
                t.start()
            for t in ths:
                t.join()
            par[c].append(time.perf_counter() - t0)
    sk = statistics.median(seq[("sklearn", "cd")])
    rows = []
    for c in configs:
        s, p = statistics.median(seq[c]), statistics.median(par[c])
        rows.append(
            [
                c[0],
                c[1],
                fmt_time(s),
                fmt_time(p),
                f"{s / p:.2f}x",
                f"{sk / s:.2f}x",
                f"{sk / p:.2f}x",
            ]
        )
    return md_table(
        [
            f"library ({fits} fits, 38 x 5,000, k=3)",
            "solver",
            "sequential",
            "2 threads",
            "threads speed-up",
            "sequential vs sklearn sequential",
            "2 threads vs sklearn sequential",
        ],
        rows,
    )


# ---- main -----------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="1 repeat, smaller B, C, D, coarser curves"
    )
    ap.add_argument("--workloads", default="A,B,C,D")
    ap.add_argument(
        "--repeats", type=int, default=None, help="fits per configuration (default 3, quick 1)"
    )
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--no-kernels", action="store_true")
    ap.add_argument("--no-curves", action="store_true")
    ap.add_argument("--no-threads", action="store_true")
    ap.add_argument("--curve-workloads", default="A", help="workloads drawn in the PNG")
    ap.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds of idle before every timed batch (default 2; see the docstring)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    global SETTLE
    SETTLE = args.settle
    repeats = args.repeats or (1 if args.quick else 3)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    for w in names:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    report: list[str] = ["# gonmf benchmark", ""]
    env = environment()
    report += ["```", *env, "```", ""]
    print("\n".join(env), flush=True)
    raw: dict = {"environment": env, "fits": [], "reach": [], "curves": {}, "quick": args.quick}

    # Fits, alternating libraries within each repeat.
    configs = []
    for w in names:
        ensure_data(out, w, args.quick)
        _, _, _, k, _, init, dtypes = WORKLOADS[w]
        n, m, k, fits = workload_shape(w, args.quick)
        for dt in dtypes:
            for lib, solver in (("sklearn", "cd"), ("gonmf", "cd"), ("gonmf", "hals")):
                configs.append(
                    {
                        "workload": w,
                        "lib": lib,
                        "solver": solver,
                        "dtype": dt,
                        "n": n,
                        "m": m,
                        "k": k,
                        "fits": fits,
                        "init": init,
                        "path": str(data_path(out, w, dt, args.quick)),
                    }
                )
    results: dict[tuple, list[dict]] = {}
    for rep in range(repeats):
        for c in configs:
            print(
                f"[{rep + 1}/{repeats}] {c['workload']} {c['lib']} {c['solver']} {c['dtype']} ...",
                end=" ",
                flush=True,
            )
            r = run_child(c)
            print(f"{r['time']:.2f} s, {r['n_iter']} it, err {r['error']:.6g}", flush=True)
            results.setdefault((c["workload"], c["lib"], c["solver"], c["dtype"]), []).append(r)
            raw["fits"].append({**c, **r, "repeat": rep})

    def med(key, field):
        vals = [r[field] for r in results.get(key, [])]
        return statistics.median(vals) if vals else None

    rows = []
    for c in configs:
        key = (c["workload"], c["lib"], c["solver"], c["dtype"])
        if key not in results:
            continue
        t, it = med(key, "time"), results[key][0]["n_iter"]
        fits_note = f", {c['fits']} fits" if c["fits"] > 1 else ""
        sk = med((c["workload"], "sklearn", "cd", c["dtype"]), "time")
        gflops = 4.0 * c["n"] * c["m"] * c["k"] * it / t / 1e9
        rows.append(
            [
                f"{c['workload']} ({c['n']} x {c['m']}, k={c['k']}{fits_note})",
                c["lib"],
                c["solver"],
                c["dtype"],
                fmt_time(t),
                f"{sk / t:.2f}x" if sk else "-",
                str(it),
                f"{results[key][0]['error']:.6g}",
                f"{gflops:.1f}",
                fmt_mb(med(key, "peak_rss_mb")),
                fmt_mb(med(key, "fit_rss_mb")),
            ]
        )
    fit_table = md_table(
        [
            "workload",
            "library",
            "solver",
            "dtype",
            f"time (median of {repeats})",
            "speed-up vs sklearn",
            "iterations",
            "final error",
            "GEMM GFLOP/s",
            "peak RSS",
            "fit RSS",
        ],
        rows,
    )
    report += [
        "## Fits",
        "",
        fit_table,
        "",
        "GEMM GFLOP/s = 4·n·m·k·iterations / time (two products per iteration; everything "
        "else in the fit counts as time). For D: totals over all fits, error = mean. "
        "Peak RSS: the fit's subprocess during the fit (X, libraries, fit); "
        "fit RSS: its increase over the resident set before the fit.",
        "",
    ]
    print("\n" + fit_table + "\n", flush=True)

    # Time for hals to reach scikit-learn's final error. The reference is what users run today:
    # scikit-learn's default fit in float64 (its time and final error), for gonmf's float64 and
    # float32 alike; without a float64 run, the same dtype's.
    reach_rows = []
    for w in [w for w in names if w in ("A", "B", "C")]:
        n, m, k, _ = workload_shape(w, args.quick)
        for dt in WORKLOADS[w][6]:
            sk_key = (w, "sklearn", "cd", "float64")
            if sk_key not in results:
                sk_key = (w, "sklearn", "cd", dt)
            if sk_key not in results:
                continue
            target = results[sk_key][0]["error"]
            spec = {
                "lib": "gonmf",
                "solver": "hals",
                "dtype": dt,
                "k": k,
                "fits": 1,
                "init": None,
                "mode": "reach",
                "target": target,
                "repeats": repeats,
                "path": str(data_path(out, w, dt, args.quick)),
            }
            print(f"reach {w} {dt} (target {target:.6g}) ...", end=" ", flush=True)
            r = run_child(spec)
            print(r, flush=True)
            raw["reach"].append({"workload": w, "dtype": dt, "target": target, **r})
            sk_t, sk_it = med(sk_key, "time"), results[sk_key][0]["n_iter"]
            cd_t = med((w, "gonmf", "cd", dt), "time")
            reach_rows.append(
                [
                    f"{w} ({n} x {m}, k={k})",
                    dt,
                    f"{target:.6g}",
                    f"{fmt_time(sk_t)} ({sk_it} it, {sk_key[3]})",
                    fmt_time(cd_t),
                    f"{fmt_time(r['time'])} ({r['max_iter']} it)"
                    if r["reached"]
                    else "not reached",
                    f"{r['error']:.6g}",
                    f"{sk_t / r['time']:.2f}x" if r["reached"] else "-",
                ]
            )
    if reach_rows:
        reach_table = md_table(
            [
                "workload",
                "dtype",
                "target: sklearn's final error",
                "sklearn cd",
                "gonmf cd (same error)",
                "gonmf hals to target",
                "hals error there",
                "hals speed-up vs sklearn",
            ],
            reach_rows,
        )
        report += [
            "## Time to reach scikit-learn's final error (hals)",
            "",
            reach_table,
            "",
            "Target and reference time: scikit-learn's default fit (cd) in float64, for both of "
            "gonmf's dtypes. hals fitted with tol=0, max_iter = the smallest t (stepping, then "
            "bisection) whose error is <= the target; the time is the median of that full fit "
            "(initialisation included). gonmf cd: its full default fit in that dtype.",
            "",
        ]
        print("\n" + reach_table + "\n", flush=True)

    # Kernels.
    if not args.no_kernels:
        shapes = [(1150, 2718, 50), (1150, 18000, 50)]
        print("kernels ...", flush=True)
        kt = kernels(shapes, max(5, 3 * repeats))
        report += [
            "## Kernels: gonmf GEMM vs numpy matmul",
            "",
            kt,
            "",
            "Best of N calls each, in this run; gonmf through `go test -bench BenchmarkMul "
            "./nmf/internal/gemm` (SIMD kernels, all cores), numpy with its OpenBLAS threads.",
            "",
        ]
        print("\n" + kt + "\n", flush=True)

    # Threads.
    if not args.no_threads:
        ensure_data(out, "D", args.quick)
        fits = workload_shape("D", args.quick)[3]
        tt = threads_demo(data_path(out, "D", "float64", args.quick), fits, repeats)
        report += ["## Python threads (GIL released during a fit)", "", tt, ""]
        print("\n" + tt + "\n", flush=True)

    # Error versus time.
    if not args.no_curves:
        curve_ws = [w.strip().upper() for w in args.curve_workloads.split(",") if w.strip()]
        png = curves(out, curve_ws, args.quick, raw)
        if png:
            report += [
                "## Error versus time",
                "",
                f"![error versus time]({png.name})",
                "",
                "Each point is a separate fit (tol=0, max_iter = t) at its wall time, "
                "initialisation included; dashed: scikit-learn's final error at its defaults.",
                "",
            ]

    (out / "results.md").write_text("\n".join(report))
    (out / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    print(f"wrote {out / 'results.md'} and results.json", flush=True)


def curves(out: Path, names: list[str], quick: bool, raw: dict) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("matplotlib not installed (pip install matplotlib): no PNG", flush=True)
        return None
    if quick:
        cps = {"cd": [1, 3, 10, 30, 100, 200], "hals": [1, 3, 6, 10, 20, 30, 45]}
    else:
        cps = {
            "cd": [1, 2, 4, 7, 12, 20, 30, 45, 70, 100, 140, 200],
            "hals": [1, 2, 3, 5, 7, 10, 14, 18, 23, 30, 40, 55],
        }
    names = [w for w in names if w in ("A", "B", "C")]
    if not names:
        return None
    fig, axes = plt.subplots(len(names), 2, figsize=(12, 4.2 * len(names)), squeeze=False)
    for row, w in enumerate(names):
        ensure_data(out, w, quick)
        n, m, k, _ = workload_shape(w, quick)
        for col, dt in enumerate(("float64", "float32")):
            ax = axes[row][col]
            path = str(data_path(out, w, dt, quick))
            final = None
            for lib, solver, style in (
                ("sklearn", "cd", "o-"),
                ("gonmf", "cd", "s-"),
                ("gonmf", "hals", "^-"),
            ):
                print(f"curve {w} {dt} {lib} {solver} ...", flush=True)
                spec = {
                    "lib": lib,
                    "solver": solver,
                    "dtype": dt,
                    "k": k,
                    "fits": 1,
                    "init": None,
                    "mode": "curve",
                    "checkpoints": cps[solver],
                    "path": path,
                }
                pts = run_child(spec)["points"]
                raw["curves"][f"{w}/{dt}/{lib}/{solver}"] = pts
                if lib == "sklearn":
                    known = [
                        f["error"]
                        for f in raw["fits"]
                        if (f["workload"], f["lib"], f["solver"], f["dtype"])
                        == (w, lib, solver, dt)
                    ]
                    final = (
                        known[0]
                        if known
                        else run_child(
                            {
                                "lib": lib,
                                "solver": solver,
                                "dtype": dt,
                                "k": k,
                                "fits": 1,
                                "init": None,
                                "path": path,
                            }
                        )["error"]
                    )
                ax.plot(
                    [p[1] for p in pts], [p[2] for p in pts], style, label=f"{lib} {solver}", ms=4
                )
            if final is not None:
                ax.axhline(
                    final, ls="--", color="gray", lw=1, label="sklearn final error (defaults)"
                )
                ax.set_ylim(final * 0.99, final * 1.06)
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel("wall time of the fit (s)")
            ax.set_ylabel("||X - WH||_F")
            ax.set_title(f"{w}: {n} x {m}, k={k}, {dt}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.tight_layout()
    png = out / "error_vs_time.png"
    fig.savefig(png, dpi=110)
    return png


if __name__ == "__main__":
    main()
