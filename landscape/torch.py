"""The PyTorch adapter (optional, extra ``[torch]``), at its public address.

The code lives in :mod:`landscape.models.torch` (the adapter and subspace training) and
:mod:`landscape.models.checkpoints` (checkpoint files); this module re-exports their public
names so that ``from landscape.torch import TorchModel`` keeps working. Importing it
imports torch.
"""
from .models.torch import *  # noqa: F401,F403
from .models.torch import __all__ as _adapter_all
from .models.checkpoints import *  # noqa: F401,F403
from .models.checkpoints import __all__ as _checkpoint_all

__all__ = list(_adapter_all) + list(_checkpoint_all)
