"""Non-negative matrix factorization with scikit-learn's interface and a Go engine."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

import numpy as np

from ._arrow import PreparedMatrix, fit_info, get_feature_names, prepare_matrix
from ._base import (
    HAS_SKLEARN,
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ConvergenceWarning,
    NotFittedError,
    TransformerMixin,
)
from ._core import run_fit
from ._params import validate_nmf_params

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["NMF", "non_negative_factorization"]

InitType = Optional[Literal["random", "nndsvd", "nndsvda", "nndsvdar", "custom"]]
BetaLossType = Union[Literal["frobenius", "kullback-leibler", "itakura-saito"], float]
RandomStateType = Union[int, np.random.RandomState, None]

_BETA_LOSS = {"frobenius": 2.0, "kullback-leibler": 1.0, "itakura-saito": 0.0}
_SVD_INITS = ("nndsvd", "nndsvda", "nndsvdar")


def _beta_loss_to_float(beta_loss: BetaLossType) -> float:
    if isinstance(beta_loss, str):
        return _BETA_LOSS[beta_loss]
    return float(beta_loss)


def _check_init(A: Any, shape: tuple[Any, Any], whom: str) -> np.ndarray:
    """Validate a user-given W or H (scikit-learn's _check_init)."""
    if A is None:
        raise ValueError(f"{whom} is required here but None was given.")
    A = np.asarray(A)
    if A.dtype.kind == "O":
        A = A.astype(np.float64)
    if A.dtype.kind == "c":
        raise ValueError("Complex data not supported")
    if A.dtype.kind not in "fiub":
        raise ValueError(f"{whom} must be numeric, got dtype {A.dtype}")
    if A.ndim != 2:
        raise ValueError(f"Expected 2D array for {whom}, got {A.ndim}D array instead.")
    if shape[0] != "auto" and A.shape[0] != shape[0]:
        raise ValueError(
            f"Array with wrong first dimension passed to {whom}. Expected {shape[0]}, "
            f"but got {A.shape[0]}."
        )
    if shape[1] != "auto" and A.shape[1] != shape[1]:
        raise ValueError(
            f"Array with wrong second dimension passed to {whom}. Expected {shape[1]}, "
            f"but got {A.shape[1]}."
        )
    if A.size == 0:
        raise ValueError(f"Found array with 0 elements (shape={A.shape}) in {whom}.")
    if A.dtype.kind == "f":
        if np.isnan(A).any():
            raise ValueError("Input contains NaN.")
        if not np.isfinite(A).all():
            raise ValueError(f"Input contains infinity or a value too large for {A.dtype!r}.")
    if A.min() < 0:
        raise ValueError(f"Negative values in data passed to {whom}.")
    if A.max() == 0:
        raise ValueError(f"Array passed to {whom} is full of zeros.")
    return A


class NMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Non-Negative Matrix Factorization (NMF), computed by a Go engine.

    A drop-in replacement for :class:`sklearn.decomposition.NMF`: same parameters, same
    defaults, same attributes and the same results within numerical tolerance. Finds two
    non-negative matrices ``W`` (n_samples x n_components) and ``H`` (n_components x
    n_features) whose product approximates the non-negative matrix ``X``.

    The objective function is::

        0.5 * ||X - WH||_loss^2
        + alpha_W * l1_ratio * n_features * ||vec(W)||_1
        + alpha_H * l1_ratio * n_samples * ||vec(H)||_1
        + 0.5 * alpha_W * (1 - l1_ratio) * n_features * ||W||_Fro^2
        + 0.5 * alpha_H * (1 - l1_ratio) * n_samples * ||H||_Fro^2

    The input data travels to the engine through the Arrow C Data Interface without being
    copied when it is a C- or F-contiguous float ndarray, a pandas DataFrame of one float
    dtype, or a pyarrow Table / RecordBatch of float columns.

    Parameters
    ----------
    n_components : int or {'auto'} or None, default='auto'
        Number of components. With None, all features are kept. With 'auto', the number
        is taken from the shapes of ``W`` or ``H`` when they are given, and is the number
        of features otherwise.

    init : {'random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'}, default=None
        How W and H are initialised.

        - None: 'nndsvda' if n_components <= min(n_samples, n_features), otherwise
          'random'.
        - 'random': non-negative random matrices scaled by
          ``sqrt(X.mean() / n_components)``.
        - 'nndsvd': Nonnegative Double Singular Value Decomposition (better for
          sparseness).
        - 'nndsvda': NNDSVD with its zeros replaced by the mean of X (better when
          sparsity is not wanted).
        - 'nndsvdar': NNDSVD with its zeros replaced by small random values.
        - 'custom': the ``W`` and ``H`` passed to :meth:`fit_transform`.

    solver : {'cd', 'mu', 'hals'}, default='cd'
        Numerical solver: 'cd' is scikit-learn's coordinate descent (plain HALS, step for
        step), 'mu' scikit-learn's multiplicative update, 'hals' gonmf's accelerated HALS
        (several cheap inner sweeps per pair of matrix products; reaches cd's error in far
        fewer iterations).

    beta_loss : float or {'frobenius', 'kullback-leibler', 'itakura-saito'}, \
            default='frobenius'
        The beta divergence to minimise between X and WH. Values other than 'frobenius'
        (2) need ``solver='mu'``. With beta_loss <= 0, X must not contain zeros.

    tol : float, default=1e-4
        Tolerance of the stopping condition.

    max_iter : int, default=200
        Maximum number of iterations.

    random_state : int, RandomState instance or None, default=None
        Randomness of the initialisation ('nndsvdar', 'random' and the randomized SVD of
        the NNDSVD variants) and of the coordinate order when ``shuffle=True``. An int
        gives reproducible results; a RandomState instance (or None, numpy's global one)
        is used and advanced exactly as scikit-learn would.

    alpha_W : float, default=0.0
        Constant multiplying the regularisation terms of W; zero means no regularisation.

    alpha_H : float or "same", default="same"
        Constant multiplying the regularisation terms of H; "same" takes ``alpha_W``.

    l1_ratio : float, default=0.0
        Mix of the regularisation between L2 (0) and L1 (1).

    verbose : int, default=0
        Verbosity level. Non-zero shows the progress of the fit (iteration, the
        solver's loss or stopping criterion, elapsed time): a progress bar on a terminal
        (standard error) and a widget in a Jupyter notebook (a text bar without
        ipywidgets), one line per iteration on standard output elsewhere.

    shuffle : bool, default=False
        Randomise the order of coordinates in the 'cd' solver.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The factor H, sometimes called the dictionary.

    n_components_ : int
        The number of components.

    reconstruction_err_ : float
        Frobenius norm (or beta divergence) between the training data X and the
        reconstruction WH.

    n_iter_ : int
        Number of iterations run.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during :term:`fit`. Defined only when X has feature
        names that are all strings.

    fit_info_ : dict
        How the last :term:`fit` ran: ``copied_input`` (True when X was copied, by
        gonmf's conversion or by the engine; zero-copy inputs give False), ``layout``
        (``"row_major"`` or ``"col_major"``: how the engine read X), ``dtype``,
        ``n_components``, ``n_iter``, ``converged`` and ``reconstruction_err``.

    See Also
    --------
    non_negative_factorization : The same computation as a function.
    sklearn.decomposition.NMF : The reference implementation this class mirrors.

    Examples
    --------
    >>> import numpy as np
    >>> from gonmf import NMF
    >>> X = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    >>> model = NMF(n_components=2, init='random', random_state=0)
    >>> W = model.fit_transform(X)
    >>> H = model.components_
    """

    def __init__(
        self,
        n_components: int | Literal["auto"] | None = "auto",
        *,
        init: InitType = None,
        solver: Literal["cd", "mu", "hals"] = "cd",
        beta_loss: BetaLossType = "frobenius",
        tol: float = 1e-4,
        max_iter: int = 200,
        random_state: RandomStateType = None,
        alpha_W: float = 0.0,
        alpha_H: float | Literal["same"] = "same",
        l1_ratio: float = 0.0,
        verbose: int = 0,
        shuffle: bool = False,
    ) -> None:
        self.n_components = n_components
        self.init = init
        self.solver = solver
        self.beta_loss = beta_loss
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.verbose = verbose
        self.shuffle = shuffle

    # ---- scikit-learn protocol -----------------------------------------------------------

    if HAS_SKLEARN:

        def __sklearn_tags__(self) -> Any:
            tags = super().__sklearn_tags__()
            tags.input_tags.positive_only = True
            tags.input_tags.sparse = True
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]
            return tags

        def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
            return {"requires_positive_X": True, "preserves_dtype": [np.float64, np.float32]}

    @property
    def _n_features_out(self) -> int:
        """Number of transformed output features."""
        return self.components_.shape[0]

    def _validate_nmf_params(self, caller: str | None = None) -> None:
        validate_nmf_params(
            {
                "n_components": self.n_components,
                "init": self.init,
                "solver": self.solver,
                "beta_loss": self.beta_loss,
                "tol": self.tol,
                "max_iter": self.max_iter,
                "random_state": self.random_state,
                "alpha_W": self.alpha_W,
                "alpha_H": self.alpha_H,
                "l1_ratio": self.l1_ratio,
                "verbose": self.verbose,
                "shuffle": self.shuffle,
            },
            caller or type(self).__name__,
        )

    def _check_is_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _check_input_features(self, X: Any, Xp: PreparedMatrix, *, reset: bool) -> None:
        """Set (reset) or check n_features_in_ and feature_names_in_ like scikit-learn."""
        names = get_feature_names(X)
        if reset:
            self.n_features_in_ = Xp.n_features
            if names is not None:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return

        cls = type(self).__name__
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is None and names is not None:
            warnings.warn(
                f"X has feature names, but {cls} was fitted without feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and names is None:
            warnings.warn(
                f"X does not have valid feature names, but {cls} was fitted with feature names",
                UserWarning,
                stacklevel=3,
            )
        elif (
            fitted is not None
            and names is not None
            and (len(fitted) != len(names) or np.any(fitted != names))
        ):
            raise ValueError(_feature_names_message(fitted, names))

        expected = getattr(self, "n_features_in_", None)
        if expected is not None and Xp.n_features != expected:
            raise ValueError(
                f"X has {Xp.n_features} features, but {cls} is expecting {expected} "
                "features as input."
            )

    # ---- fitting -------------------------------------------------------------------------

    def fit(self, X: ArrayLike, y: Any = None, **params: Any) -> NMF:
        """Learn an NMF model for the data X.

        Parameters
        ----------
        X : {array-like, DataFrame, pyarrow Table} of shape (n_samples, n_features)
            Training data, where `n_samples` is the number of samples and `n_features`
            the number of features.

        y : Ignored
            Not used, present for API consistency by convention.

        **params : kwargs
            Passed on to :meth:`fit_transform` (``W`` and ``H`` with ``init='custom'``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self.fit_transform(X, **params)
        return self

    def fit_transform(
        self,
        X: ArrayLike,
        y: Any = None,
        W: ArrayLike | None = None,
        H: ArrayLike | None = None,
    ) -> np.ndarray:
        """Learn an NMF model for the data X and return the transformed data.

        More efficient than calling :meth:`fit` followed by :meth:`transform`.

        Parameters
        ----------
        X : {array-like, DataFrame, pyarrow Table} of shape (n_samples, n_features)
            Training data, where `n_samples` is the number of samples and `n_features`
            the number of features.

        y : Ignored
            Not used, present for API consistency by convention.

        W : array-like of shape (n_samples, n_components), default=None
            With ``init='custom'``, the initial guess for W.

        H : array-like of shape (n_components, n_features), default=None
            With ``init='custom'``, the initial guess for H.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
            Transformed data. A writable array viewing the engine's output (no copy).
        """
        self._validate_nmf_params()
        Xp = prepare_matrix(X)
        self._check_input_features(X, Xp, reset=True)

        W_out, H_out, n_iter, info = self._fit_transform(Xp, W=W, H=H)

        err = info.get("reconstruction_err")  # null when not finite
        self.reconstruction_err_ = float(err) if err is not None else float("nan")
        self.n_components_ = H_out.shape[0]
        self.components_ = H_out
        self.n_iter_ = n_iter
        self._engine_info = info
        self.fit_info_ = fit_info(info, Xp)
        return W_out

    def _fit_transform(
        self,
        X: Any,
        y: Any = None,
        W: ArrayLike | None = None,
        H: ArrayLike | None = None,
        update_H: bool = True,
    ) -> tuple[np.ndarray, np.ndarray, int, dict[str, Any]]:
        """Fit W (and H when ``update_H``) for X; returns (W, H, n_iter, engine info)."""
        Xp = prepare_matrix(X)
        n_samples, n_features = Xp.shape
        cls = type(self).__name__

        # _check_params
        n_components: Any = self.n_components
        if n_components is None:
            n_components = n_features
        beta_loss = _beta_loss_to_float(self.beta_loss)
        if self.solver != "mu" and self.beta_loss not in (2, "frobenius"):
            raise ValueError(
                f"Invalid beta_loss parameter: solver {self.solver!r} does not handle "
                f"beta_loss = {self.beta_loss!r}"
            )
        if self.solver == "mu" and self.init == "nndsvd":
            warnings.warn(
                "The multiplicative update ('mu') solver cannot update zeros present in "
                "the initialization, and so leads to poorer results when used jointly "
                "with init='nndsvd'. You may try init='nndsvda' or init='nndsvdar' "
                "instead.",
                UserWarning,
                stacklevel=3,
            )

        # _check_w_h
        w_in: np.ndarray | None = None
        h_in: np.ndarray | None = None
        if self.init == "custom" and update_H:
            h_in = _check_init(H, (n_components, n_features), f"{cls} (input H)")
            w_in = _check_init(W, (n_samples, n_components), f"{cls} (input W)")
            if n_components == "auto":
                n_components = h_in.shape[0]
            if w_in.shape[1] != n_components:
                raise ValueError(
                    f"Array with wrong second dimension passed to {cls} (input W). "
                    f"Expected {n_components}, but got {w_in.shape[1]}."
                )
            if h_in.dtype != Xp.dtype or w_in.dtype != Xp.dtype:
                raise TypeError(
                    "H and W should have the same dtype as X. Got "
                    f"H.dtype = {h_in.dtype} and W.dtype = {w_in.dtype}."
                )
        elif not update_H:
            if W is not None:
                warnings.warn(
                    "When update_H=False, the provided initial W is not used.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            h_in = _check_init(H, (n_components, n_features), f"{cls} (input H)")
            if n_components == "auto":
                n_components = h_in.shape[0]
            if h_in.dtype != Xp.dtype:
                raise TypeError(f"H should have the same dtype as X. Got H.dtype = {h_in.dtype}.")
        else:
            if W is not None or H is not None:
                warnings.warn(
                    "When init!='custom', provided W or H are ignored. Set "
                    " init='custom' to use them as initialization.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            if n_components == "auto":
                n_components = n_features
            if (
                self.init is not None
                and self.init != "random"
                and n_components > min(n_samples, n_features)
            ):
                raise ValueError(
                    f"init = '{self.init}' can only be used when "
                    "n_components <= min(n_samples, n_features)"
                )

        alpha_H = self.alpha_W if self.alpha_H == "same" else self.alpha_H
        params = {
            "n_components": int(n_components),
            "init": self.init,
            "solver": self.solver,
            "beta_loss": beta_loss,
            "tol": float(self.tol),
            "max_iter": int(self.max_iter),
            "alpha_W": float(self.alpha_W),
            "alpha_H": float(alpha_H),
            "l1_ratio": float(self.l1_ratio),
            "shuffle": bool(self.shuffle),
            "update_H": bool(update_H),
            "verbose": int(self.verbose),
        }
        out = run_fit(
            Xp,
            params,
            w=w_in,
            h=h_in,
            random_state=self.random_state,
            want_h=update_H,
        )
        H_out = out.H if update_H else h_in
        assert H_out is not None
        n_iter = int(out.info.get("n_iter", 0))

        if n_iter == self.max_iter and self.tol > 0:
            warnings.warn(
                f"Maximum number of iterations {self.max_iter} reached. Increase it to "
                "improve convergence.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return out.W, H_out, n_iter, out.info

    def transform(self, X: ArrayLike) -> np.ndarray:
        """Transform the data X according to the fitted NMF model.

        Solves for W with H fixed to ``components_``.

        Parameters
        ----------
        X : {array-like, DataFrame, pyarrow Table} of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
            Transformed data.
        """
        self._check_is_fitted()
        Xp = prepare_matrix(X)
        self._check_input_features(X, Xp, reset=False)
        W, *_ = self._fit_transform(Xp, H=self.components_, update_H=False)
        return W

    def inverse_transform(self, X: ArrayLike) -> Any:
        """Transform data back to its original space.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_components)
            Transformed data matrix.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The data matrix ``X @ components_``.
        """
        self._check_is_fitted()
        return X @ self.components_


def _feature_names_message(fitted: np.ndarray, names: np.ndarray) -> str:
    message = "The feature names should match those that were passed during fit.\n"
    unexpected = sorted(set(names) - set(fitted))
    missing = sorted(set(fitted) - set(names))

    def listing(items: list[Any]) -> str:
        lines = [f"- {name}\n" for name in items[:5]]
        if len(items) > 5:
            lines.append("- ...\n")
        return "".join(lines)

    if unexpected:
        message += "Feature names unseen at fit time:\n" + listing(unexpected)
    if missing:
        message += "Feature names seen at fit time, yet now missing:\n" + listing(missing)
    if not unexpected and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    return message


def non_negative_factorization(
    X: ArrayLike,
    W: ArrayLike | None = None,
    H: ArrayLike | None = None,
    n_components: int | Literal["auto"] | None = "auto",
    *,
    init: InitType = None,
    update_H: bool = True,
    solver: Literal["cd", "mu", "hals"] = "cd",
    beta_loss: BetaLossType = "frobenius",
    tol: float = 1e-4,
    max_iter: int = 200,
    alpha_W: float = 0.0,
    alpha_H: float | Literal["same"] = "same",
    l1_ratio: float = 0.0,
    random_state: RandomStateType = None,
    verbose: int = 0,
    shuffle: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Compute Non-negative Matrix Factorization (NMF).

    A drop-in replacement for :func:`sklearn.decomposition.non_negative_factorization`:
    finds non-negative W and H whose product approximates the non-negative matrix X.
    With ``update_H=False`` and a given H, it solves for W only.

    Parameters
    ----------
    X : {array-like, DataFrame, pyarrow Table} of shape (n_samples, n_features)
        Constant matrix.

    W : array-like of shape (n_samples, n_components), default=None
        With ``init='custom'``, the initial guess for W. With ``update_H=False`` it is
        not used (W starts at zero for 'cd').

    H : array-like of shape (n_components, n_features), default=None
        With ``init='custom'``, the initial guess for H. With ``update_H=False``, the
        fixed H to solve W for.

    n_components : int or {'auto'} or None, default='auto'
        Number of components. None keeps all features; 'auto' infers it from W or H.

    init : {'random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'}, default=None
        Initialisation, as for :class:`NMF`.

    update_H : bool, default=True
        True estimates both W and H; False estimates W only.

    solver : {'cd', 'mu', 'hals'}, default='cd'
        Numerical solver: 'cd' and 'mu' are scikit-learn's, 'hals' is gonmf's accelerated
        HALS.

    beta_loss : float or {'frobenius', 'kullback-leibler', 'itakura-saito'}, \
            default='frobenius'
        Beta divergence to minimise (only 'frobenius' with 'cd').

    tol : float, default=1e-4
        Tolerance of the stopping condition.

    max_iter : int, default=200
        Maximum number of iterations.

    alpha_W : float, default=0.0
        Regularisation constant for W.

    alpha_H : float or "same", default="same"
        Regularisation constant for H; "same" takes ``alpha_W``.

    l1_ratio : float, default=0.0
        Mix of L1 (1) and L2 (0) regularisation.

    random_state : int, RandomState instance or None, default=None
        Randomness of the initialisation and of ``shuffle``; see :class:`NMF`.

    verbose : int, default=0
        Verbosity level.

    shuffle : bool, default=False
        Randomise the order of coordinates in the 'cd' solver.

    Returns
    -------
    W : ndarray of shape (n_samples, n_components)
        Solution to the non-negative least squares problem.

    H : ndarray of shape (n_components, n_features)
        Solution to the non-negative least squares problem.

    n_iter : int
        Number of iterations run.

    Examples
    --------
    >>> import numpy as np
    >>> from gonmf import non_negative_factorization
    >>> X = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    >>> W, H, n_iter = non_negative_factorization(
    ...     X, n_components=2, init='random', random_state=0)
    """
    est = NMF(
        n_components=n_components,
        init=init,
        solver=solver,
        beta_loss=beta_loss,
        tol=tol,
        max_iter=max_iter,
        random_state=random_state,
        alpha_W=alpha_W,
        alpha_H=alpha_H,
        l1_ratio=l1_ratio,
        verbose=verbose,
        shuffle=shuffle,
    )
    # scikit-learn validates every argument of the function, in signature order, before
    # fitting, and names the function in its messages.
    validate_nmf_params(
        {
            "X": X,
            "W": W,
            "H": H,
            "n_components": n_components,
            "init": init,
            "update_H": update_H,
            "solver": solver,
            "beta_loss": beta_loss,
            "tol": tol,
            "max_iter": max_iter,
            "alpha_W": alpha_W,
            "alpha_H": alpha_H,
            "l1_ratio": l1_ratio,
            "random_state": random_state,
            "verbose": verbose,
            "shuffle": shuffle,
        },
        "non_negative_factorization",
    )
    W_out, H_out, n_iter, _ = est._fit_transform(X, W=W, H=H, update_H=bool(update_H))
    return W_out, H_out, n_iter
