"""The ``gonmf`` command: the DepMap NMF workflow from Parquet files, and sample data.

``gonmf fit`` reads a gene-effect table (an ID column and one numeric column per gene),
optionally keeps the genes that pass a gene dictionary's QC, drops the genes with missing
values, shifts the matrix by its global minimum (``--shift-min``), factorises it with
:class:`gonmf.NMF` and writes W and H transposed as Parquet files. ``gonmf make-sample``
writes a deterministic DepMap-like dataset to try it on.

Exit status: 0 on success, 1 when the input, the parameters or the fit fail (with a
one-line message on standard error), 2 for a malformed command line, 130 when interrupted
(Ctrl-C / SIGINT; the fit stops within an iteration).

The parser is argparse: it ships with Python, gives ``--help`` for the command and each
subcommand, and the tool has no needs beyond it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

import numpy as np

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]

#: Exit status when the input, the parameters or the fit fail.
EXIT_ERROR = 1
#: Exit status for a malformed command line (argparse's).
EXIT_USAGE = 2
#: Exit status after Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130

LATENT_FILE = "nmf_latent.parquet.gz"
WEIGHTS_FILE = "NMF_weight_matrix_gsea.parquet"


class CommandError(Exception):
    """A failure to report as ``gonmf <command>: error: <message>`` with exit status 1."""


# ---- argument types ---------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _n_components(text: str) -> Any:
    if text in ("auto",):
        return text
    return _positive_int(text)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _unit_float(text: str) -> float:
    value = _non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def _alpha_h(text: str) -> Any:
    return "same" if text == "same" else _non_negative_float(text)


def _beta_loss(text: str) -> Any:
    if text in ("frobenius", "kullback-leibler", "itakura-saito"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected frobenius, kullback-leibler, itakura-saito or a number, got {text!r}"
        ) from None


def _random_state(text: str) -> int | None:
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', got {text!r}") from None
    if not 0 <= value <= 2**32 - 1:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32 - 1], got {text!r}")
    return value


# ---- the parser -------------------------------------------------------------------------

_FIT_DESCRIPTION = """\
Factorise a gene-effect table X ~= W H with non-negative W and H, as the DepMap workflow
does with scikit-learn's NMF:

  1. read INPUT (Parquet): an ID column (--id-column) and one numeric column per gene;
  2. with --gene-dict, keep the columns named 'SYMBOL (ENTREZ)' whose Entrez id passes
     QC in the dictionary, renamed to the dictionary's symbol;
  3. drop the gene columns that have a missing value;
  4. with --shift-min, subtract the global minimum when it is negative (NMF needs
     non-negative data);
  5. fit gonmf.NMF and write
       W as LATENT  (ID column, NMF_0 .. NMF_{k-1}), one row per sample, and
       H transposed as WEIGHTS (genes, NMF_0 .. NMF_{k-1}), one row per gene (for GSEA).

Exit status: 0 success, 1 failed (message on stderr), 2 bad command line, 130 interrupted.
"""

_FIT_EPILOG = """\
example (the DepMap workflow):
  gonmf fit CRISPRGeneEffect.parquet --gene-dict CRISPR_gene_dictionary.parquet \\
      --id-column ModelID --n-components 50 --shift-min --out-dir results
"""


_SAMPLE_DESCRIPTION = """\
Write OUT_DIR/CRISPRGeneEffect.parquet and OUT_DIR/CRISPR_gene_dictionary.parquet:
a synthetic, DepMap-shaped gene-effect table (ModelID, then 'SYMBOL (ENTREZ)' columns
with a few missing values) and its gene dictionary (entrez_id, symbol_id, qc_pass).
The same arguments always give the same files; nothing is downloaded.
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-wrapped description and epilog; a wider help column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``gonmf`` command and its subcommands.

    Returns
    -------
    parser : argparse.ArgumentParser
        With the subcommands ``fit`` and ``make-sample``.
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="gonmf",
        description="Non-negative matrix factorisation (scikit-learn's NMF, in Go).",
        epilog="Run 'gonmf COMMAND --help' for the options of a command.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gonmf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    fit = commands.add_parser(
        "fit",
        help="factorise a Parquet gene-effect table and write W and H (the DepMap workflow)",
        description=_FIT_DESCRIPTION,
        epilog=_FIT_EPILOG,
        formatter_class=_HelpFormatter,
    )
    fit.add_argument("input", type=Path, metavar="INPUT", help="the Parquet file to factorise")

    data = fit.add_argument_group("input and preprocessing")
    data.add_argument(
        "--id-column",
        default="ModelID",
        metavar="NAME",
        help="the column that identifies the rows, copied to LATENT (default: ModelID)",
    )
    data.add_argument(
        "--gene-dict",
        type=Path,
        metavar="PARQUET",
        help="gene dictionary (entrez_id, symbol_id, qc_pass): keep the QC-passing genes, "
        "renamed to their symbols (default: keep every column)",
    )
    data.add_argument(
        "--shift-min",
        action="store_true",
        help="subtract the global minimum when it is negative (without it, negative data "
        "is an error)",
    )
    data.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        default="float64",
        help="precision of the fit (default: float64)",
    )

    out = fit.add_argument_group("output")
    out.add_argument(
        "--out-dir",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help=f"where LATENT and WEIGHTS go by default: DIR/{LATENT_FILE} and "
        f"DIR/{WEIGHTS_FILE} (default: the current directory)",
    )
    out.add_argument(
        "--latent-out",
        type=Path,
        metavar="LATENT",
        help="Parquet file for W; gzip-compressed when the name ends in .gz",
    )
    out.add_argument(
        "--weights-out",
        type=Path,
        metavar="WEIGHTS",
        help="Parquet file for H transposed; gzip-compressed when the name ends in .gz",
    )

    nmf = fit.add_argument_group(
        "NMF parameters", "as for gonmf.NMF / sklearn.decomposition.NMF, same defaults"
    )
    nmf.add_argument(
        "-k",
        "--n-components",
        type=_n_components,
        required=True,
        metavar="K",
        help="number of components (required; 'auto': one per gene)",
    )
    nmf.add_argument(
        "--init",
        choices=["random", "nndsvd", "nndsvda", "nndsvdar"],
        default=None,
        help="initialisation (default: nndsvda when K <= min(n_samples, n_genes), else random)",
    )
    nmf.add_argument(
        "--solver",
        choices=["cd", "mu", "hals"],
        default="cd",
        help="cd: scikit-learn's coordinate descent, mu: multiplicative update, hals: "
        "accelerated HALS, far fewer iterations (default: cd)",
    )
    nmf.add_argument(
        "--beta-loss",
        type=_beta_loss,
        default="frobenius",
        metavar="LOSS",
        help="frobenius, kullback-leibler, itakura-saito or a number; other than "
        "frobenius needs --solver mu (default: frobenius)",
    )
    nmf.add_argument(
        "--tol",
        type=_non_negative_float,
        default=1e-4,
        help="tolerance of the stopping condition (default: 1e-4)",
    )
    nmf.add_argument(
        "--max-iter",
        type=_positive_int,
        default=200,
        metavar="N",
        help="maximum number of iterations (default: 200)",
    )
    nmf.add_argument(
        "--random-state",
        type=_random_state,
        default=0,
        metavar="SEED",
        help="seed of the initialisation, or 'none' for a fresh one (default: 0, as in "
        "the DepMap workflow; NMF's own default is none)",
    )
    nmf.add_argument(
        "--alpha-W",
        type=_non_negative_float,
        default=0.0,
        metavar="ALPHA",
        help="regularisation of W (default: 0)",
    )
    nmf.add_argument(
        "--alpha-H",
        type=_alpha_h,
        default="same",
        metavar="ALPHA",
        help="regularisation of H, or 'same' as --alpha-W (default: same)",
    )
    nmf.add_argument(
        "--l1-ratio",
        type=_unit_float,
        default=0.0,
        metavar="R",
        help="mix of L1 (1) and L2 (0) regularisation (default: 0)",
    )
    nmf.add_argument("--shuffle", action="store_true", help="randomise the coordinate order of cd")

    display = fit.add_argument_group("display")
    display.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="NMF's verbose: progress as lines on stdout when stderr is not a terminal",
    )
    display.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (one is shown on stderr when it is a terminal)",
    )
    display.add_argument(
        "-q", "--quiet", action="store_true", help="only errors and warnings on stderr"
    )
    fit.set_defaults(handler=_fit_command)

    sample = commands.add_parser(
        "make-sample",
        help="write a deterministic DepMap-like dataset (no download)",
        description=_SAMPLE_DESCRIPTION,
        formatter_class=_HelpFormatter,
    )
    sample.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="directory to write to")
    sample.add_argument(
        "--samples", type=_positive_int, default=1150, metavar="N", help="rows (default: 1150)"
    )
    sample.add_argument(
        "--genes", type=_positive_int, default=2718, metavar="M", help="genes (default: 2718)"
    )
    sample.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    sample.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    sample.set_defaults(handler=_make_sample_command)
    return parser


# ---- commands ---------------------------------------------------------------------------


class _Console:
    def __init__(self, command: str, quiet: bool, stream: TextIO | None = None) -> None:
        self.command = command
        self.quiet = quiet
        self.stream = stream

    def info(self, message: str) -> None:
        if not self.quiet:
            print(f"gonmf {self.command}: {message}", file=self.stream or sys.stderr, flush=True)

    def warn(self, message: str) -> None:
        print(
            f"gonmf {self.command}: warning: {message}", file=self.stream or sys.stderr, flush=True
        )


def _fail(message: str) -> NoReturn:
    raise CommandError(message)


def _check_file(path: Path, what: str) -> None:
    if not path.exists():
        _fail(f"the {what} {path} does not exist")
    if path.is_dir():
        _fail(f"the {what} {path} is a directory, not a Parquet file")


def _read_table(path: Path, what: str) -> Any:
    """A small Parquet file (the gene dictionary) as a pyarrow Table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_file(path, what)
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        _fail(f"cannot read the {what} {path} as Parquet: {exc}")


def _column_names(path: Path, what: str) -> list[str]:
    """The column names of a Parquet file, from its footer (no data is read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    _check_file(path, what)
    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError) as exc:
        _fail(f"cannot read the {what} {path} as Parquet: {exc}")


def _prepare_outputs(args: argparse.Namespace) -> tuple[Path, Path]:
    latent = args.latent_out or args.out_dir / LATENT_FILE
    weights = args.weights_out or args.out_dir / WEIGHTS_FILE
    if latent.resolve() == weights.resolve():
        _fail(f"--latent-out and --weights-out are the same file: {latent}")
    for path in (latent, weights):
        if path.is_dir():
            _fail(f"the output {path} is a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"cannot create the output directory {path.parent}: {exc}")
    return latent, weights


def _shown(names: Sequence[str], limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _fit_command(args: argparse.Namespace) -> int:
    from ._nmf import NMF
    from ._parquet import read_parquet, write_parquet
    from .depmap import select_gene_columns

    console = _Console("fit", args.quiet)

    # Which columns to read: the footer names them, the gene dictionary selects them.
    names = _column_names(args.input, "input")
    if args.id_column not in names:
        _fail(
            f"{args.input} has no column {args.id_column!r} (set the ID column with "
            f"--id-column); its first columns are: {_shown(names, 5)}"
        )
    columns: list[str] | None = None
    symbols: list[str] | None = None
    if args.gene_dict is not None:
        gene_dict = _read_table(args.gene_dict, "gene dictionary")
        genes = [c for c in names if c != args.id_column]
        try:
            selected = select_gene_columns(genes, gene_dict)
        except (ValueError, TypeError) as exc:
            _fail(f"{args.gene_dict}: {exc}")
        console.info(
            f"gene dictionary {args.gene_dict}: {len(selected)} of the {len(genes)} genes pass QC"
        )
        if not selected:
            _fail(
                f"no column of {args.input} is a QC-passing gene of {args.gene_dict} "
                "(columns are matched by the Entrez id in 'SYMBOL (ENTREZ)')"
            )
        columns = [c for c, _ in selected]
        symbols = [s for _, s in selected]

    try:
        data = read_parquet(args.input, id_column=args.id_column, columns=columns, dtype=args.dtype)
    except (OSError, ValueError, TypeError) as exc:
        _fail(f"cannot read {args.input}: {exc}")
    console.info(f"read {args.input}: {data.shape[0]} rows x {data.shape[1]} genes")
    symbol_of = dict(zip(columns or [], symbols or []))
    missing = data.nan_columns
    if missing:
        data = data.drop(missing)
        shown = _shown([symbol_of.get(c, c) for c in missing])
        console.info(f"dropped {len(missing)} genes with missing values ({shown})")
    if symbol_of:
        data = data.rename([symbol_of[c] for c in data.columns])
    if data.ids is not None and data.ids.null_count:
        _fail(f"the ID column {args.id_column!r} has {data.ids.null_count} missing values")
    n, m = data.shape
    if m == 0:
        _fail("no gene column is left to factorise (see above)")
    if n == 0:
        _fail(f"{args.input} has no rows")

    X = data.to_numpy()  # column-major, viewing the block read (a copy after a drop)
    if not np.isfinite(X).all():
        _fail("the data contains infinite values")
    min_value = X.min()
    if min_value < 0:
        if not args.shift_min:
            j = int(np.argmin(X.min(axis=0)))
            _fail(
                f"the data has negative values (minimum {min_value:.6g}, in gene "
                f"{data.columns[j]!r}) and NMF needs non-negative data; pass --shift-min "
                "to subtract the global minimum, as the DepMap workflow does"
            )
        X -= min_value
        console.info(f"shifted by the global minimum {min_value:.6g}")

    latent_path, weights_path = _prepare_outputs(args)  # before the fit, not after it
    progress = not (args.no_progress or args.quiet) and _is_terminal(sys.stderr)
    model = NMF(
        n_components=args.n_components,
        init=args.init,
        solver=args.solver,
        beta_loss=args.beta_loss,
        tol=args.tol,
        max_iter=args.max_iter,
        random_state=args.random_state,
        alpha_W=args.alpha_W,
        alpha_H=args.alpha_H,
        l1_ratio=args.l1_ratio,
        verbose=max(args.verbose, int(progress)),
        shuffle=args.shuffle,
    )
    console.info(
        f"factorising {n} x {m} ({args.dtype}) into {model.n_components} components, "
        f"solver {args.solver}"
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            W = model.fit_transform(X)
        except (ValueError, TypeError, MemoryError, RuntimeError) as exc:
            _fail(f"the fit failed: {exc}")
    for warning in caught:
        console.warn(str(warning.message))
    H = model.components_
    console.info(
        f"done in {time.perf_counter() - start:.2f} s: {model.n_iter_} iterations, "
        f"reconstruction error {model.reconstruction_err_:.6g}"
    )

    for path, matrix, index, index_name in (
        (latent_path, W, data.ids, args.id_column),
        (weights_path, H.T, data.columns, "genes"),
    ):
        try:
            write_parquet(path, matrix, index=index, index_name=index_name, prefix="NMF_")
        except (OSError, ValueError, TypeError) as exc:
            _fail(f"cannot write {path}: {exc}")
        last = matrix.shape[1] - 1
        console.info(f"wrote {path}: {matrix.shape[0]} rows, {index_name} and NMF_0..NMF_{last}")
    return 0


def _make_sample_command(args: argparse.Namespace) -> int:
    from .datasets import write_sample

    console = _Console("make-sample", args.quiet)
    try:
        effect, dictionary = write_sample(args.out_dir, args.samples, args.genes, seed=args.seed)
    except OSError as exc:
        _fail(f"cannot write to {args.out_dir}: {exc}")
    console.info(f"wrote {effect} ({args.samples} x {args.genes} gene effects)")
    console.info(f"wrote {dictionary}")
    return 0


def _is_terminal(stream: Any) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---- entry point ------------------------------------------------------------------------


def _exit_now(status: int) -> NoReturn:
    """End the process at once, skipping the interpreter's shutdown.

    Tearing down numpy, pyarrow and scikit-learn can take a second or more on a busy
    machine; after Ctrl-C the command has nothing left to clean up (no file is open: the
    outputs are written after the fit), so it leaves without waiting for that.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    os._exit(status)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``gonmf`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name. None (the installed command, and
        ``python -m gonmf``) reads ``sys.argv[1:]`` and, after Ctrl-C, ends the process
        at once with status 130 rather than returning.

    Returns
    -------
    status : int
        The exit status: 0 success, 1 error, 2 bad command line (argparse exits with it
        itself), 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except CommandError as exc:
        print(f"gonmf {args.command}: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"gonmf {args.command}: interrupted", file=sys.stderr, flush=True)
        if argv is None:
            _exit_now(EXIT_INTERRUPTED)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a library error: one readable line, not a traceback
        from ._lib import GonmfLibraryError

        if not isinstance(exc, (GonmfLibraryError, OSError, MemoryError)):
            raise
        print(f"gonmf {args.command}: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
