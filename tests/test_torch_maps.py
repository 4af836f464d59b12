"""Subspace maps as torch operations (landscape.subspaces._torch_ops, landscape.torch.torch_projection).

References: the numpy maps of landscape.subspaces (themselves tested against explicit
matrices), scipy's Hadamard matrix, and plain gradient steps written out in numpy. Data use
seeds >= 1000, maps small seeds.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scipy.linalg import hadamard  # noqa: E402

from landscape.subspaces import SUBSPACE_KINDS, random_subspace  # noqa: E402
from landscape.torch import TorchModel, TorchSubspaceModel, torch_projection  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

DTYPES = {torch.float32: (np.float32, 2e-5), torch.float64: (np.float64, 1e-12)}


@pytest.fixture(autouse=True)
def _one_thread(torch_one_thread):
    yield


@pytest.mark.parametrize("L", [1, 2, 8, 64, 128, 512, 2 ** 13])
def test_torch_fwht_matches_hadamard(L):
    from landscape.subspaces._torch_ops import fwht_torch

    X = np.random.default_rng(1100 + L).standard_normal((3, L))
    out = fwht_torch(torch.from_numpy(X)).numpy()
    ref = X @ hadamard(L) if L <= 512 else None
    if ref is None:  # the numba kernel, itself tested against scipy
        from landscape.subspaces._fwht import fwht_rows
        ref = fwht_rows(X.copy())
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("backend", [None, "torch"])
def test_operators_apply_the_map_and_its_transpose(kind, dtype, backend):
    from landscape.subspaces._torch_ops import torch_operator

    np_dtype, tol = DTYPES[dtype]
    D, d = 700, 23
    A = random_subspace(D, d, kind=kind, seed=3, dtype=np_dtype)
    M = A.to_dense().astype(np.float64)
    op = torch_operator(A, dtype, "cpu", fastfood_backend=backend)
    assert op.kind == {"orthonormal": "dense", "gaussian": "dense"}.get(kind, kind)
    rng = np.random.default_rng(1101)
    phi = torch.tensor(rng.standard_normal(d), dtype=dtype, requires_grad=True)
    g = torch.tensor(rng.standard_normal(D), dtype=dtype)
    y = op.apply(phi)
    assert y.dtype == dtype and y.shape == (D,)
    (y @ g).backward()  # the gradient is A^T g
    scale = np.abs(M).max() * np.sqrt(D)
    np.testing.assert_allclose(y.detach().double().numpy(), M @ phi.detach().double().numpy(), atol=tol * scale)
    np.testing.assert_allclose(phi.grad.double().numpy(), M.T @ g.double().numpy(), atol=tol * scale)
    np.testing.assert_allclose(op.apply_transpose(g).double().numpy(), M.T @ g.double().numpy(), atol=tol * scale)
    theta0 = torch.tensor(rng.standard_normal(D), dtype=dtype)
    np.testing.assert_allclose(op.affine(theta0, phi.detach()).double().numpy(),
                               theta0.double().numpy() + M @ phi.detach().double().numpy(), atol=tol * scale)
    # blocks of vectors (the numpy interface's matmat)
    P = torch.tensor(rng.standard_normal((d, 3)), dtype=dtype)
    np.testing.assert_allclose(op.apply(P).double().numpy(), M @ P.double().numpy(), atol=tol * scale)


def test_fastfood_backends_agree_and_numba_needs_the_cpu():
    from landscape.subspaces._torch_ops import FastfoodOperator

    A = random_subspace(3000, 40, kind="fastfood", seed=4)
    a = FastfoodOperator(A, torch.float64, "cpu", backend="numba")
    b = FastfoodOperator(A, torch.float64, "cpu", backend="torch")
    phi = torch.from_numpy(np.random.default_rng(1102).standard_normal(40))
    np.testing.assert_allclose(a.apply(phi).numpy(), b.apply(phi).numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.apply(phi).numpy(), A.matvec(phi.numpy()), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="numba backend needs CPU"):
        FastfoodOperator(A, torch.float64, "meta", backend="numba")
    with pytest.raises(ValueError, match="backend must be"):
        FastfoodOperator(A, torch.float64, "cpu", backend="cuda")


def test_dense_cpu_map_of_the_model_dtype_is_shared_not_copied():
    A = random_subspace(500, 10, kind="gaussian", seed=5, dtype=np.float32)
    proj = torch_projection(A, dtype=torch.float32)
    assert proj.dense.dtype == torch.float32
    assert proj.dense.data_ptr() == A.matrix.__array_interface__["data"][0]
    other = torch_projection(A, dtype=torch.float64)  # another dtype: a converted copy
    assert other.dense.dtype == torch.float64
    np.testing.assert_allclose(other.dense.numpy(), A.matrix, rtol=1e-7)


@pytest.mark.parametrize("kind", SUBSPACE_KINDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_training_step_equals_the_numpy_step(kind, dtype):
    """SGD in the subspace, by TorchSubspaceModel.train and written out in numpy (float64)."""
    np_dtype, _ = DTYPES[dtype]
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(dtype)
    model = TorchModel(net, input_shape=(6,))
    rng = np.random.default_rng(1103)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, 40)
    theta0 = model.init_params(seed=6)
    D, d = model.n_params, 12
    A = random_subspace(D, d, kind=kind, seed=7, dtype=np_dtype)
    sub = TorchSubspaceModel(model, A, theta0=theta0, max_dense_entries=1)  # the map's own operator
    assert sub.projection.operator.kind == {"orthonormal": "dense", "gaussian": "dense"}.get(kind, kind)
    lr, steps = 0.3, 5
    res = sub.train(X, y, optimizer="sgd", lr=lr, steps=steps, seed=8)
    # numpy reference in float64 with the float64 map of the same seed
    A64 = random_subspace(D, d, kind=kind, seed=7)
    model64 = TorchModel(torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(),
                                             torch.nn.Linear(16, 3)).double(), input_shape=(6,))
    phi = np.zeros(d)
    losses = []
    for _ in range(steps):
        value, grad = model64.loss_and_grad(theta0 + A64.matvec(phi), X, y)
        losses.append(value)
        phi = phi - lr * A64.rmatvec(grad)
    tol = 1e-10 if dtype == torch.float64 else 2e-4
    np.testing.assert_allclose(res.phi, phi, rtol=tol, atol=tol)
    np.testing.assert_allclose(res.loss_history, losses, rtol=tol)
    np.testing.assert_allclose(res.theta, theta0 + A64.matvec(phi), rtol=tol, atol=tol)


def test_float32_model_trains_in_a_float32_map_of_the_same_subspace():
    net32 = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    m32 = TorchModel(net32, input_shape=(5,))
    m64 = TorchModel(torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double(),
                     input_shape=(5,))
    theta0 = m32.init_params(seed=9)
    for kind in SUBSPACE_KINDS:
        s32 = TorchSubspaceModel(m32, 7, theta0=theta0, kind=kind, subspace_seed=10)
        s64 = TorchSubspaceModel(m64, 7, theta0=theta0, kind=kind, subspace_seed=10)
        assert s32.projection.dtype == torch.float32 and s64.projection.dtype == torch.float64
        phi = np.random.default_rng(1104).standard_normal(7)
        np.testing.assert_allclose(s32.theta(phi), s64.theta(phi), rtol=1e-5, atol=1e-6)


def test_thread_rule_and_override_restore_the_counts():
    import numba

    from landscape._threads import SMALL_STEP_BYTES, step_threads, thread_budget

    assert step_threads(SMALL_STEP_BYTES - 1) == 1
    assert 1 <= step_threads(SMALL_STEP_BYTES) <= torch.get_num_threads()
    assert step_threads(10, threads=3) == 3
    before_t, before_n = torch.get_num_threads(), numba.get_num_threads()
    with thread_budget(1):
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
        from threadpoolctl import threadpool_info
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    assert torch.get_num_threads() == before_t and numba.get_num_threads() == before_n


def test_threads_argument_changes_nothing_but_the_last_bits():
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
    model = TorchModel(net, input_shape=(4,))
    rng = np.random.default_rng(1105)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 2, 30)
    sub = TorchSubspaceModel(model, 9, theta0=model.init_params(seed=11), kind="fastfood", subspace_seed=12,
                             max_dense_entries=1)
    a = sub.train(X, y, lr=0.2, steps=6, seed=13, threads=1)
    b = sub.train(X, y, lr=0.2, steps=6, seed=13, threads=2)
    np.testing.assert_allclose(a.theta, b.theta, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        sub.train(X, y, steps=1, threads=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_same_call_runs_on_a_gpu():  # pragma: no cover - runs where a GPU is lent
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
    rng = np.random.default_rng(1106)
    X, y = rng.standard_normal((30, 4)), rng.integers(0, 2, 30)
    import copy

    cpu = TorchModel(net, input_shape=(4,))
    gpu = TorchModel(copy.deepcopy(net).to("cuda"), input_shape=(4,))
    theta0 = cpu.init_params(seed=14)
    for kind in SUBSPACE_KINDS:
        a = TorchSubspaceModel(cpu, 9, theta0=theta0, kind=kind, subspace_seed=15, max_dense_entries=1)
        b = TorchSubspaceModel(gpu, 9, theta0=theta0, kind=kind, subspace_seed=15, max_dense_entries=1)
        ra, rb = a.train(X, y, lr=0.2, steps=6, seed=16), b.train(X, y, lr=0.2, steps=6, seed=16)
        np.testing.assert_allclose(ra.theta, rb.theta, rtol=1e-9, atol=1e-11)
