"""The plain-torch subspace step that benchmarks/scale.py and benchmarks/gpu.py compare against."""
from __future__ import annotations


def plain_subspace_sgd(net, P, theta0, X, y, lr=0.01):
    """A function ``run(n)``: n SGD steps on z of ``theta = theta0 + P z`` written in plain torch.

    ``functional_call`` on the module, cross-entropy, ``torch.optim.SGD`` and the loss read back
    every step (``loss.item()``, as a training loop that logs it); P, theta0, X, y already on
    the device, in the dtype.
    """
    import torch
    from torch.func import functional_call

    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    numels = [p.numel() for p in net.parameters()]
    d = P.shape[1]

    def run(n):
        z = torch.zeros(d, device=P.device, dtype=P.dtype, requires_grad=True)
        opt = torch.optim.SGD([z], lr=lr)
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            theta = theta0 + P @ z
            params = {k: t.view(s) for k, t, s in zip(names, torch.split(theta, numels), shapes)}
            loss = torch.nn.functional.cross_entropy(functional_call(net, params, (X,)), y)
            loss.backward()
            opt.step()
            loss.item()

    return run
