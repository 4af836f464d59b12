"""Stateful torch modules (BatchNorm, Dropout), checkpoint files, and DataLoader input to TorchModel.

References: the module itself called in eval mode (its documented behaviour: running
statistics), torch.nn.functional.batch_norm written out, the array path for batches, and
the saved module's own parameters for checkpoints.
"""
import copy
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from landscape.torch import TorchModel, load_checkpoint, load_state_dict, params_from_state_dict  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning"),
              pytest.mark.usefixtures("torch_one_thread")]


def make_bn_net(seed=0):
    """A small CNN with BatchNorm and Dropout, trained for a few steps so its running statistics are not trivial."""
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(3 * 6 * 6, 8), torch.nn.BatchNorm1d(8), torch.nn.Tanh(), torch.nn.Dropout(0.5),
        torch.nn.Linear(8, 3),
    ).double()
    X = torch.randn(32, 1, 8, 8, generator=g, dtype=torch.float64)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(X + 0.5)  # moves the running statistics away from (0, 1)
    return net


def data(n=24, seed=1000):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 3, n)


def snapshot(module):
    return ({k: v.clone() for k, v in module.state_dict().items()}, [m.training for m in module.modules()])


def assert_unchanged(module, snap):
    state, modes = snap
    now = module.state_dict()
    assert set(now) == set(state)
    for k in state:
        assert torch.equal(now[k], state[k]), k
    assert [m.training for m in module.modules()] == modes


# --------------------------------------------------------------------------- BatchNorm
@pytest.mark.parametrize("module_mode", ["train", "eval"])
def test_default_is_evaluation_statistics_and_nothing_is_mutated(module_mode):
    net = make_bn_net()
    net.train(module_mode == "train")
    snap = snapshot(net)
    model = TorchModel(net, input_shape=(1, 8, 8))
    assert model.mode == "eval"
    X, y = data()
    theta = model.get_params()
    # reference: the module's own eval-mode output (running statistics, no dropout)
    ref_net = copy.deepcopy(net).eval()
    with torch.no_grad():
        ref = torch.nn.functional.cross_entropy(ref_net(torch.from_numpy(X)), torch.from_numpy(y)).item()
    first = model.loss(theta, X, y)
    assert first == pytest.approx(ref, rel=1e-12)
    assert model.loss(theta, X, y) == first           # deterministic: dropout off, statistics fixed
    model.loss_and_grad(theta, X, y)
    model.hvp(theta, X, y, np.ones(model.n_params))
    model.accuracy(theta, X, y)
    assert_unchanged(net, snap)                        # num_batches_tracked, running stats, modes
    assert int(net[1].num_batches_tracked) == int(snap[0]["1.num_batches_tracked"])


def test_single_example_probe_works_with_batchnorm_in_train_mode():
    net = make_bn_net().train()
    model = TorchModel(net, input_shape=(1, 8, 8))
    X, y = data(1)
    value = model.loss(model.get_params(), X, y)       # raised "Expected more than 1 value per channel"
    assert np.isfinite(value)
    assert model.n_classes == 3
    # a per-example loss in eval mode is the mean's summand: the loss is a mean over examples
    X2, y2 = data(5, seed=7)
    per = [model.loss(model.get_params(), X2[i:i + 1], y2[i:i + 1]) for i in range(5)]
    assert np.mean(per) == pytest.approx(model.loss(model.get_params(), X2, y2), rel=1e-12)


def test_train_mode_uses_batch_statistics_and_leaves_buffers_alone():
    net = make_bn_net()
    net[7].p = 0.0    # no dropout, so the reference is deterministic
    net.eval()
    snap = snapshot(net)
    model = TorchModel(net, input_shape=(1, 8, 8), mode="train")
    X, y = data()
    ref_net = copy.deepcopy(net).train()
    with torch.no_grad():
        ref = torch.nn.functional.cross_entropy(ref_net(torch.from_numpy(X)), torch.from_numpy(y)).item()
    assert model.loss(model.get_params(), X, y) == pytest.approx(ref, rel=1e-12)
    model.loss(model.get_params(), X, y)
    assert_unchanged(net, snap)
    assert "mode" in model.spec() and "mode='train'" in repr(model)
    with pytest.raises(ValueError, match="mode"):
        TorchModel(net, mode="training")


def test_running_statistics_are_part_of_the_fingerprint():
    a, b = make_bn_net(), make_bn_net()
    with torch.no_grad():
        b[1].running_mean += 1.0
    assert TorchModel(a).spec()["fingerprint"] != TorchModel(b).spec()["fingerprint"]


# --------------------------------------------------------------------------- checkpoints
def test_checkpoint_state_dict_roundtrip(tmp_path):
    net = make_bn_net()
    path = tmp_path / "ckpt.pt"
    torch.save({"epoch": 3, "state_dict": net.state_dict(), "lr": 0.1}, path)   # Lightning-style nesting
    fresh = make_bn_net(seed=5)
    snap = snapshot(fresh)
    model, theta = load_checkpoint(path, fresh, input_shape=(1, 8, 8))
    assert_unchanged(fresh, snap)                                  # the given module is not modified
    ref = TorchModel(net, input_shape=(1, 8, 8))
    np.testing.assert_array_equal(theta, ref.get_params())
    X, y = data()
    assert model.loss(theta, X, y) == ref.loss(theta, X, y)        # buffers (running stats) loaded too
    # a second checkpoint of the same model gives another theta (e.g. theta0 and theta*)
    torch.save(fresh.state_dict(), tmp_path / "init.pt")
    theta0 = params_from_state_dict(model, tmp_path / "init.pt")
    np.testing.assert_array_equal(theta0, TorchModel(fresh).get_params())


def test_checkpoint_of_a_whole_module_is_refused(tmp_path):
    net = make_bn_net()
    path = tmp_path / "module.pt"
    torch.save(net, path)
    with pytest.raises(ValueError, match=r"pickled Python objects.*state_dict\(\)"):
        load_checkpoint(path, make_bn_net())


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable"), (b"not a checkpoint at all", "not a readable"),
])
def test_broken_checkpoint_files(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_state_dict(path)
    with pytest.raises(ValueError, match="no such"):
        load_state_dict(tmp_path / "missing.pt")


def test_checkpoint_of_another_architecture_and_prefixes(tmp_path):
    other = torch.nn.Sequential(torch.nn.Linear(4, 3)).double()
    torch.save(other.state_dict(), tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not fit the module"):
        load_checkpoint(tmp_path / "other.pt", make_bn_net())
    # DataParallel's "module." prefix is stripped
    torch.save({f"module.{k}": v for k, v in other.state_dict().items()}, tmp_path / "dp.pt")
    model, theta = load_checkpoint(tmp_path / "dp.pt", torch.nn.Sequential(torch.nn.Linear(4, 3)).double())
    np.testing.assert_array_equal(theta, TorchModel(other).get_params())
    torch.save({"a": 1, "b": 2}, tmp_path / "nostate.pt")
    with pytest.raises(ValueError, match="no state_dict"):
        load_state_dict(tmp_path / "nostate.pt")


def test_safetensors_checkpoint(tmp_path):
    st = pytest.importorskip("safetensors.torch")
    net = make_bn_net()
    path = str(tmp_path / "net.safetensors")
    st.save_file({k: v.contiguous() for k, v in net.state_dict().items()}, path)
    model, theta = load_checkpoint(path, make_bn_net(seed=9), input_shape=(1, 8, 8))
    np.testing.assert_array_equal(theta, TorchModel(net).get_params())
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 12)
    with pytest.raises(ValueError, match="safetensors"):
        load_state_dict(tmp_path / "bad.safetensors")


# --------------------------------------------------------------------------- DataLoader input
def test_data_loader_equals_the_array_path():
    net = make_bn_net()
    model = TorchModel(net, input_shape=(1, 8, 8))
    X, y = data(37)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), batch_size=10)
    theta = model.get_params()
    assert model.loss(theta, loader) == pytest.approx(model.loss(theta, X, y), rel=1e-10, abs=0)
    g_l, g_a = model.loss_and_grad(theta, loader)[1], model.loss_and_grad(theta, X, y)[1]
    assert np.max(np.abs(g_l - g_a)) <= 1e-10 * np.max(np.abs(g_a))
    v = np.random.default_rng(3).standard_normal((model.n_params, 2))
    h_l, h_a = model.hvp(theta, loader, None, v), model.hvp(theta, X, y, v)
    assert np.max(np.abs(h_l - h_a)) <= 1e-10 * np.max(np.abs(h_a))
    f = model.hvp_function(theta, loader)
    np.testing.assert_allclose(f(v[:, 0]), h_a[:, 0], rtol=0, atol=1e-10 * np.max(np.abs(h_a)))
    assert model.accuracy(theta, loader) == pytest.approx(model.accuracy(theta, X, y), abs=1e-12)
    np.testing.assert_allclose(model.logits(theta, loader), model.logits(theta, X), rtol=0, atol=1e-12)
    with pytest.raises(TypeError, match="one-shot iterator"):
        model.loss(theta, iter(loader))
