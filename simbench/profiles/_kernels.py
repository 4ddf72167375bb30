"""numba kernels timed by ``simbench.profiles.measure`` (compiled with ``cache=True``).

Each kernel is a textbook formulation, written so that LLVM vectorises its inner loop:

* ``gemm_f32`` / ``gemm_i8``: C = A @ B, blocked over (columns, k) with blocks of 4 rows
  in parallel (``prange``); the innermost loop runs over contiguous columns of B and C, one
  loaded row of B feeding 4 rows of C (the i-k-j order of Goto & van de Geijn's
  macro-kernel, without packing).
* ``gemm_blas_f32``: the same product through ``np.dot`` compiled by numba, i.e. the linked
  BLAS ``sgemm`` (packed, register-blocked): the best GEMM rate the machine reaches.
* ``conv2d_im2col``: an NCHW convolution (stride, zero padding) as im2col (parallel over
  the rows of the column matrix) followed by ``gemm_f32`` -- the lowering most CPU
  inference runtimes use for convolutions.
* ``stream_copy`` / ``stream_triad``: McCalpin's STREAM copy ``c = a`` and triad
  ``a = b + s*c``, parallel.
* ``dispatch_noop``: touches one element; timing it measures the fixed cost of calling a
  compiled parallel kernel from Python (argument unboxing, thread-pool wake-up).

References
----------
J. D. McCalpin, "Memory Bandwidth and Machine Balance in Current High Performance
Computers", IEEE TCCA Newsletter, 1995 (STREAM).
K. Goto, R. A. van de Geijn, "Anatomy of High-Performance Matrix Multiplication",
ACM TOMS 34(3), 2008.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_BK = 128  # depth block: a BK x BJ panel of B (128 KiB fp32) stays in L2
_BJ = 256  # columns per block


def _make_gemm(acc_type):
    @nb.njit(parallel=True, fastmath=True, cache=True, nogil=True)
    def gemm(a, b, c):
        m, k = a.shape
        n = b.shape[1]
        for ib in nb.prange((m + 3) // 4):
            i0 = ib * 4
            i1 = min(m, i0 + 4)
            for i in range(i0, i1):
                c[i, :] = 0
            for j0 in range(0, n, _BJ):
                j1 = min(n, j0 + _BJ)
                for k0 in range(0, k, _BK):
                    k1 = min(k, k0 + _BK)
                    if i1 - i0 == 4:  # 4 rows of C share each loaded row of B
                        c0 = c[i0, j0:j1]
                        c1 = c[i0 + 1, j0:j1]
                        c2 = c[i0 + 2, j0:j1]
                        c3 = c[i0 + 3, j0:j1]
                        for kk in range(k0, k1):
                            a0 = acc_type(a[i0, kk])
                            a1 = acc_type(a[i0 + 1, kk])
                            a2 = acc_type(a[i0 + 2, kk])
                            a3 = acc_type(a[i0 + 3, kk])
                            bk = b[kk, j0:j1]
                            for j in range(j1 - j0):
                                bj = acc_type(bk[j])
                                c0[j] += a0 * bj
                                c1[j] += a1 * bj
                                c2[j] += a2 * bj
                                c3[j] += a3 * bj
                    else:
                        for i in range(i0, i1):
                            ci = c[i, j0:j1]
                            for kk in range(k0, k1):
                                aik = acc_type(a[i, kk])
                                bk = b[kk, j0:j1]
                                for j in range(j1 - j0):
                                    ci[j] += aik * acc_type(bk[j])

    return gemm


gemm_f32 = _make_gemm(np.float32)
gemm_f32.__doc__ = "C[m, n] = A[m, k] @ B[k, n], float32, C overwritten."
gemm_i8 = _make_gemm(np.int32)
gemm_i8.__doc__ = "C[m, n] = A[m, k] @ B[k, n], int8 inputs, int32 accumulation, C overwritten."


@nb.njit(cache=True, nogil=True)
def gemm_blas_f32(a, b, c):
    """C = A @ B, float32, through ``np.dot`` in nopython mode: numba calls the BLAS
    ``sgemm`` that SciPy links (OpenBLAS here), a register-blocked, packed micro-kernel of
    the kind ONNX Runtime's MLAS also uses."""
    np.dot(a, b, c)


@nb.njit(parallel=True, cache=True, nogil=True)
def im2col(x, cols, kh, kw, stride, pad):
    """cols[(ci*kh + r)*kw + s, oh*OW + ow] = x[0, ci, oh*stride + r - pad, ow*stride + s - pad]
    (zero outside the image), for one image ``x[0]``."""
    _, cin, h, wd = x.shape
    oh_n = (h + 2 * pad - kh) // stride + 1
    ow_n = (wd + 2 * pad - kw) // stride + 1
    for row in nb.prange(cin * kh * kw):
        ci = row // (kh * kw)
        r = (row // kw) % kh
        s = row % kw
        for oh in range(oh_n):
            ih = oh * stride + r - pad
            for ow in range(ow_n):
                iw = ow * stride + s - pad
                v = 0.0
                if ih >= 0 and ih < h and iw >= 0 and iw < wd:
                    v = x[0, ci, ih, iw]
                cols[row, oh * ow_n + ow] = v


def conv2d_im2col(x, w2d, cols, y2d, kh, kw, stride, pad):
    """Convolution of one image as im2col + ``gemm_f32``: y2d[co, oh*OW+ow] = w2d @ cols,
    with ``w2d`` the weights reshaped to [cout, cin*kh*kw]."""
    im2col(x, cols, kh, kw, stride, pad)
    gemm_f32(w2d, cols, y2d)


@nb.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def stream_copy(a, c):
    """STREAM copy: c[i] = a[i]."""
    for i in nb.prange(a.size):
        c[i] = a[i]


@nb.njit(parallel=True, fastmath=True, cache=True, nogil=True)
def stream_triad(a, b, c, scalar):
    """STREAM triad: a[i] = b[i] + scalar * c[i]."""
    for i in nb.prange(a.size):
        a[i] = b[i] + scalar * c[i]


@nb.njit(parallel=True, cache=True, nogil=True)
def dispatch_noop(a):
    """Add 1 to one element: the fixed cost of one compiled-kernel call."""
    for i in nb.prange(1):
        a[i] += 1.0
