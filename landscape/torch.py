"""The PyTorch adapter (optional, extra ``[torch]``), at its public address.

The code lives in :mod:`landscape.models.torch`; this module re-exports its public names so
that ``from landscape.torch import TorchModel`` keeps working. Importing it imports torch.
"""
from .models.torch import *  # noqa: F401,F403
from .models.torch import __all__  # noqa: F401
