r"""Trained torch models from checkpoint files: a ``state_dict`` into a :class:`TorchModel`, and theta.

Optional: needs ``torch`` (extra ``[torch]``); public through :mod:`landscape.torch`.

A checkpoint holds numbers, not code: the architecture comes from the caller (the module
the state was saved from), the file gives its parameters and buffers. Two formats:

* a file written by ``torch.save(model.state_dict(), path)`` (or a dict holding one under
  a key such as ``"state_dict"``, as PyTorch Lightning and most training scripts write),
  read with ``torch.load(path, weights_only=True)``: torch's restricted unpickler, which
  builds tensors and plain containers only. A pickled *module* (``torch.save(model)``)
  would need the generic unpickler, which can run arbitrary code; it is refused with a
  ValueError that says how to save a state_dict instead;
* a ``.safetensors`` file (needs the ``safetensors`` package).

:func:`load_checkpoint` returns a :class:`TorchModel` on a copy of the module holding the
checkpoint's state, and the flat parameter vector :math:`\theta` of the checkpoint;
:func:`params_from_state_dict` gives :math:`\theta` of a second checkpoint of the same
model (e.g. :math:`\theta_0` saved at initialisation and :math:`\theta^*` after training).
"""
from __future__ import annotations

import copy
import os
import pickle
import re

import numpy as np
import torch

from geometry.validation import check_bool

from .torch import TorchModel

__all__ = ["load_state_dict", "load_checkpoint", "params_from_state_dict"]

#: keys under which training scripts commonly nest the model's state_dict
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def load_state_dict(path, *, key=None, prefix=None):
    """Read a state_dict (name -> tensor, on the CPU) from a checkpoint file, safely.

    Parameters
    ----------
    path : str or os.PathLike
        A ``torch.save`` file (read with ``weights_only=True``) or a ``.safetensors`` file.
    key : str, optional
        The entry holding the state_dict when the file holds a dict of several things
        (e.g. ``"state_dict"``, ``"model_state_dict"``). Default: the file itself when it is
        a state_dict, else the one entry among the usual keys that is.
    prefix : str, optional
        A prefix to strip from every name (e.g. ``"model."``). Default: ``"module."`` is
        stripped when every name has it (models saved from ``DataParallel``).

    Returns
    -------
    dict of str -> torch.Tensor

    Raises
    ------
    ValueError
        The file does not exist, is not a checkpoint, holds pickled objects (a whole
        module), or holds no state_dict (the message lists what it holds).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike), got {type(path).__name__}")
    for name, value in (("key", key), ("prefix", prefix)):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, got {type(value).__name__}")
    path = os.fsdecode(os.fspath(path))
    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such checkpoint file")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise ValueError(f"{path}: reading .safetensors files needs the safetensors package "
                             "(pip install safetensors)") from None
        try:
            obj = load_file(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
            raise ValueError(f"{path}: not a readable .safetensors file ({type(exc).__name__}: "
                             f"{str(exc)[:200]})") from None
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
            if found is None:
                raise ValueError(f"{path}: not a readable torch checkpoint (the restricted unpickler "
                                 "refused its contents)") from None
            raise ValueError(
                f"{path}: the checkpoint holds pickled Python objects ({found.group(1)[:100]}; e.g. a "
                "whole torch.nn.Module saved with torch.save(model)), which are not loaded: unpickling "
                "them can run arbitrary code. Save the parameters instead: "
                "torch.save(model.state_dict(), path)") from None
        except (RuntimeError, EOFError, OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else ''})") from None
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            held = sorted(obj)[:20] if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(f"{path}: no entry key={key!r} in the checkpoint (it holds {held})")
        obj = obj[key]
    elif not _is_state_dict(obj) and isinstance(obj, dict):
        nested = [k for k in _NESTED_KEYS if _is_state_dict(obj.get(k))]
        if len(nested) == 1:
            obj = obj[nested[0]]
    if not _is_state_dict(obj):
        held = ", ".join(repr(k) for k in list(obj)[:20]) if isinstance(obj, dict) else type(obj).__name__
        raise ValueError(f"{path}: no state_dict (names -> tensors) found; the file holds {held}. "
                         "Name the entry with key=...")
    if prefix is None and all(k.startswith("module.") for k in obj):
        prefix = "module."
    if prefix:
        obj = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in obj.items()}
    return obj


def params_from_state_dict(model, state_dict):
    r"""The flat parameter vector :math:`\theta` (float64, shape (D,)) of a state_dict for ``model``.

    Parameters
    ----------
    model : TorchModel
    state_dict : dict of str -> tensor, or a path (read with :func:`load_state_dict`)
        Must hold every parameter of the model with its shape (buffers and extra entries
        are ignored: they are not part of :math:`\theta`).
    """
    if not isinstance(model, TorchModel):
        raise TypeError(f"model must be a TorchModel, got {type(model).__name__}")
    if isinstance(state_dict, (str, os.PathLike)):
        state_dict = load_state_dict(state_dict)
    if not isinstance(state_dict, dict):
        raise TypeError(f"state_dict must be a dict of tensors or a path, got {type(state_dict).__name__}")
    missing = [n for n in model.names if n not in state_dict]
    if missing:
        raise ValueError(f"state_dict lacks parameters {missing[:10]} of the model (it has "
                         f"{list(state_dict)[:10]}): a checkpoint of another architecture?")
    parts = []
    for name, shape in zip(model.names, model.shapes):
        t = state_dict[name]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"state_dict[{name!r}] must be a tensor, got {type(t).__name__}")
        if tuple(t.shape) != shape:
            raise ValueError(f"state_dict[{name!r}] has shape {tuple(t.shape)}, the model's parameter {shape}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"state_dict[{name!r}] must hold floating-point numbers, got {t.dtype}")
        parts.append(t.detach().cpu().reshape(-1).to(torch.float64))
    theta = torch.cat(parts).numpy().copy()
    if not np.all(np.isfinite(theta)):
        raise ValueError("the checkpoint's parameters contain NaN or inf")
    return theta


def load_checkpoint(path, module, loss="cross_entropy", *, key=None, prefix=None, strict=True, **options):
    r"""A :class:`TorchModel` with a checkpoint's state, and its parameter vector :math:`\theta`.

    Parameters
    ----------
    path : str or os.PathLike
        See :func:`load_state_dict`.
    module : torch.nn.Module
        The architecture. It is not modified: the state is loaded into a copy.
    loss : {"cross_entropy", "mse"} or callable
    key, prefix
        See :func:`load_state_dict`.
    strict : bool
        Passed to :meth:`torch.nn.Module.load_state_dict`: every parameter and buffer of the
        module must be in the file and nothing else (default).
    **options
        Passed to :class:`TorchModel` (``input_shape``, ``dtype``, ``eval_batch_size``, ``mode``).

    Returns
    -------
    model : TorchModel
        On a copy of ``module`` holding the checkpoint's parameters and buffers (BatchNorm
        running statistics included).
    theta : ndarray of shape (D,)
        The checkpoint's parameters as one flat float64 vector.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from landscape.torch import load_checkpoint
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3)).double()
    >>> path = os.path.join(tempfile.mkdtemp(), "net.pt")
    >>> torch.save(net.state_dict(), path)
    >>> model, theta = load_checkpoint(path, torch.nn.Sequential(torch.nn.Linear(4, 3)).double(),
    ...                                input_shape=(4,))
    >>> theta.shape, bool((theta[:12] == net[0].weight.detach().numpy().ravel()).all())
    ((15,), True)
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module (the architecture), got {type(module).__name__}")
    strict = check_bool(strict, "strict")
    state = load_state_dict(path, key=key, prefix=prefix)
    clone = copy.deepcopy(module)
    try:
        clone.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise ValueError(f"{os.fspath(path)}: the checkpoint does not fit the module: "
                         f"{' '.join(str(exc).split())[:400]}") from None
    model = TorchModel(clone, loss, **options)
    return model, params_from_state_dict(model, state)
