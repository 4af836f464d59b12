"""Root test configuration: docstring examples of the packages run as doctests (setup.cfg).

Examples that need an optional dependency are skipped when it is missing: the modules of
the PyTorch adapter need ``torch``.
"""
import importlib.util

collect_ignore = []
if importlib.util.find_spec("torch") is None:
    collect_ignore += ["landscape/torch.py", "landscape/models/torch.py", "landscape/models/checkpoints.py"]
