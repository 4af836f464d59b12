r"""Subspace maps as torch operations, on any device, in one dtype (private; imports torch).

Used by :func:`landscape.torch.torch_projection`. Every operator applies
:math:`A \in \mathbb{R}^{D\times d}` to torch tensors of its ``dtype`` on its ``device``,
differentiably (the backward pass applies :math:`A^T`), with no conversion to numpy or to
another dtype on the way:

* :class:`DenseOperator`: the matrix as a tensor; :math:`\theta_0 + A\phi` is one
  ``torch.addmv`` (exactly the plain-torch step). A CPU map of the same dtype is shared,
  not copied.
* :class:`SparseOperator`: CSR tensors of A and :math:`A^T`; a custom autograd Function
  multiplies by the first forward and by the second backward.
* :class:`FastfoodOperator`: :math:`A\phi = S_D H (G/\sqrt{LD}) \Pi H B\phi`. On the CPU the
  two transforms and the permutation are the numba kernels of :mod:`._fwht`, run on numpy
  views of the tensors' memory (no copy) inside a custom autograd Function; on other
  devices :func:`fwht_torch` (Kronecker factors of H, each a batched product with a small
  Hadamard matrix).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from geometry.validation import check_choice

__all__ = ["DenseOperator", "SparseOperator", "FastfoodOperator", "fwht_torch", "torch_operator"]

#: largest Hadamard factor of :func:`fwht_torch` (2^6: three factors for L = 2^18)
_FWHT_RADIX = 64


def _numpy_dtype(dtype):
    return {torch.float32: np.float32, torch.float64: np.float64}.get(dtype)


class _Operator:
    """Common interface: ``shape``, ``dtype``, ``device``, ``apply(phi)``, ``affine(theta0, phi)``."""

    kind = "abstract"
    matrix = None

    def __init__(self, D, d, dtype, device):
        self.shape = (int(D), int(d))
        self.dtype = dtype
        self.device = torch.device(device)

    def apply(self, phi):  # pragma: no cover - abstract
        raise NotImplementedError

    def affine(self, theta0, phi):
        r""":math:`\theta_0 + A\phi` (differentiable in :math:`\phi`)."""
        return theta0 + self.apply(phi)

    def apply_transpose(self, v):  # pragma: no cover - abstract
        raise NotImplementedError


# ----------------------------------------------------------------------------- dense

class DenseOperator(_Operator):
    """A dense (D, d) tensor ``matrix``: ``A @ phi``, and ``addmv`` for the affine map."""

    kind = "dense"

    def __init__(self, matrix):
        super().__init__(matrix.shape[0], matrix.shape[1], matrix.dtype, matrix.device)
        self.matrix = matrix

    def apply(self, phi):
        return self.matrix @ phi

    def affine(self, theta0, phi):
        return torch.addmv(theta0, self.matrix, phi)

    def apply_transpose(self, v):
        return self.matrix.T @ v


# ----------------------------------------------------------------------------- sparse

class _SparseApply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, phi, op):
        ctx.op = op
        return op.csr @ phi

    @staticmethod
    def backward(ctx, grad):
        return ctx.op.csr_t @ grad, None


def _csr_tensor(m, dtype, device):
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)), torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(np.ascontiguousarray(m.data)).to(dtype), size=m.shape, dtype=dtype,
        ).to(device)


class SparseOperator(_Operator):
    """CSR tensors of A (forward) and of :math:`A^T` (backward), from a scipy sparse (D, d) matrix."""

    kind = "sparse"

    def __init__(self, matrix, dtype, device):
        super().__init__(matrix.shape[0], matrix.shape[1], dtype, device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.csr = _csr_tensor(matrix.tocsr(), dtype, self.device)
            self.csr_t = _csr_tensor(matrix.T.tocsr(), dtype, self.device)

    def apply(self, phi):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if phi.dim() == 1:
                return _SparseApply.apply(phi, self)
            return torch.stack([_SparseApply.apply(phi[:, j], self) for j in range(phi.shape[1])], dim=1)

    def apply_transpose(self, v):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return self.csr_t @ v


# ----------------------------------------------------------------------------- fastfood

def _hadamard(k, dtype, device):
    H = torch.ones((1, 1), dtype=dtype, device=device)
    while H.shape[0] < k:
        H = torch.cat([torch.cat([H, H], dim=1), torch.cat([H, -H], dim=1)], dim=0)
    return H


def fwht_torch(X):
    r"""Unnormalised Walsh-Hadamard transform of each row, ``X @ H_L`` (Sylvester order), in torch.

    :math:`H_L = H_{k_1}\otimes\cdots\otimes H_{k_m}` with factors of at most
    ``_FWHT_RADIX``: viewing a row as an array indexed by (high, middle, low) bits, each
    factor is one batched product with a small Hadamard matrix over the middle bits, so
    the transform makes :math:`\lceil\log_2 L / 6\rceil` passes over the data on any
    device. (Not in place; on the CPU the numba kernel is faster.)

    Parameters
    ----------
    X : tensor of shape (m, L), L a power of two

    Returns
    -------
    tensor of shape (m, L)
    """
    m, L = X.shape
    h = 1
    Y = X
    while h < L:
        k = min(_FWHT_RADIX, L // h)
        Hk = _hadamard(k, X.dtype, X.device)
        if h == 1:
            Y = (Y.reshape(-1, k) @ Hk).reshape(m, L)
        else:
            Y = torch.matmul(Hk, Y.reshape(-1, k, h)).reshape(m, L)
        h *= k
    return Y


class _FastfoodApply(torch.autograd.Function):
    @staticmethod
    def forward(ctx, phi, op):
        ctx.op = op
        return op.forward_rows(phi.reshape(1, -1) if phi.dim() == 1 else phi.T.contiguous())

    @staticmethod
    def backward(ctx, grad):
        return ctx.op.transpose_rows(grad), None


class FastfoodOperator(_Operator):
    r"""The Fastfood map :math:`S_D H (G/\sqrt{LD}) \Pi H B` of a :class:`~landscape.subspaces.FastfoodSubspace`.

    The diagonals are copied once to the device in ``dtype``, with the scale
    :math:`1/\sqrt{LD}` folded into G. ``backend``: ``"numba"`` (CPU tensors only; the
    kernels of :mod:`._fwht` on numpy views of the tensors), ``"torch"`` (any device), or
    None: numba on the CPU, torch elsewhere.
    """

    kind = "fastfood"

    def __init__(self, amap, dtype, device, backend=None):
        super().__init__(amap.D, amap.d, dtype, device)
        self.D, self.d, self.L = int(amap.D), int(amap.d), int(amap.L)
        if backend is None:
            backend = "numba" if self.device.type == "cpu" and _numpy_dtype(dtype) is not None else "torch"
        backend = check_choice(backend, "backend", ("numba", "torch"))
        if backend == "numba" and (self.device.type != "cpu" or _numpy_dtype(dtype) is None):
            raise ValueError("the numba backend needs CPU tensors of float32 or float64")
        self.backend = backend
        np_dtype = _numpy_dtype(dtype) or np.float64
        signs = np.asarray(amap.signs, dtype=np.float64)
        gauss = np.asarray(amap.gaussian, dtype=np.float64) * float(amap.scale)
        perm = np.asarray(amap.permutation, dtype=np.int64)
        if backend == "numba":
            self._signs_np = signs[: self.d].astype(np_dtype)
            self._signs = torch.from_numpy(self._signs_np)
            self._gauss = gauss.astype(np_dtype)
            self._perm = perm
        else:
            inverse = np.empty_like(perm)
            inverse[perm] = np.arange(perm.size)
            self._signs = torch.from_numpy(signs[: self.d]).to(device=self.device, dtype=dtype)
            self._gauss = torch.from_numpy(gauss).to(device=self.device, dtype=dtype)
            self._perm = torch.from_numpy(perm).to(self.device)
            self._inverse = torch.from_numpy(inverse).to(self.device)
            self._gauss_inverse = self._gauss[self._inverse]

    # rows are the vectors: (b, d) -> (b, D) and (b, D) -> (b, d)
    def forward_rows(self, P):
        """:math:`A` applied to the rows of ``P`` (b, d): returns (D,) for one row, (D, b) otherwise."""
        b, d, D = P.shape[0], self.d, self.D
        if self.backend == "numba":
            from ._fwht import fwht_rows, gather_scale_rows

            Y = torch.zeros((b, self.L), dtype=self.dtype)
            Yn = Y.numpy()
            Yn[:, :d] = P.detach().numpy() * self._signs_np
            fwht_rows(Yn, support=d)
            Z = torch.from_numpy(gather_scale_rows(Yn, self._perm, self._gauss))
            fwht_rows(Z.numpy())
        else:
            Y = torch.zeros((b, self.L), dtype=self.dtype, device=self.device)
            Y[:, :d] = P.detach() * self._signs
            Z = fwht_torch(fwht_torch(Y)[:, self._perm] * self._gauss)
        out = Z[:, :D]
        return out[0] if b == 1 else out.T

    def transpose_rows(self, G):
        """:math:`A^T` applied to ``G`` of shape (D,) or (D, b); returns (d,) or (d, b)."""
        rows = G.reshape(1, -1) if G.dim() == 1 else G.T.contiguous()
        b = rows.shape[0]
        if self.backend == "numba":
            from ._fwht import fwht_rows, scale_scatter_rows

            Y = torch.zeros((b, self.L), dtype=self.dtype)
            Yn = Y.numpy()
            Yn[:, : self.D] = rows.detach().numpy()
            fwht_rows(Yn, support=self.D)
            Z = torch.from_numpy(scale_scatter_rows(Yn, self._perm, self._gauss))
            fwht_rows(Z.numpy())
        else:
            Y = torch.zeros((b, self.L), dtype=self.dtype, device=self.device)
            Y[:, : self.D] = rows.detach()
            Z = fwht_torch(fwht_torch(Y)[:, self._inverse] * self._gauss_inverse)
        out = Z[:, : self.d] * self._signs
        return out[0] if b == 1 else out.T

    def apply(self, phi):
        return _FastfoodApply.apply(phi, self)

    def apply_transpose(self, v):
        return self.transpose_rows(v)


# ----------------------------------------------------------------------------- dispatch

def torch_operator(amap, dtype, device, *, fastfood_backend=None):
    """The operator of a :class:`~landscape.subspaces.SubspaceMap` (dense, sparse or Fastfood), or None.

    Dense maps of the same dtype on the CPU share the map's memory.
    """
    from .maps import DenseSubspace, FastfoodSubspace, SparseSubspace

    device = torch.device(device)
    if isinstance(amap, DenseSubspace):
        M = torch.from_numpy(amap.matrix)  # shares memory
        if M.dtype != dtype or device.type != "cpu":
            M = M.to(device=device, dtype=dtype)
        return DenseOperator(M)
    if isinstance(amap, SparseSubspace):
        return SparseOperator(amap.matrix, dtype, device)
    if isinstance(amap, FastfoodSubspace):
        return FastfoodOperator(amap, dtype, device, backend=fastfood_backend)
    return None
