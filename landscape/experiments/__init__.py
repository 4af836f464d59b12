r"""Stage 3, experiments: training in subspaces, sweeps over (d, seed), and their results.

In: a model and data (:mod:`landscape.models`), subspaces (:mod:`landscape.subspaces`).
Out: one record per run (final losses and accuracies) in a :class:`RunTable` in memory and
a :class:`ResultStore` on disk.
Asks: models for losses and gradients, subspaces for the maps.

Modules, by what they hold: ``optim`` (SGD, Adam), ``training`` (one run),
``lottery_tickets`` (one lottery-ticket run: pre-train, prune, rewind, retrain), ``sweeps`` (many
runs, on any executor, resumable), ``result_store`` (runs on disk, crash-safe),
``run_table`` (runs in memory, CSV / JSON / ``.npz``), ``run_files`` (reading any file of
runs, including the reference code's pickles).
"""
from .._lazy import attach

_EXPORTS = {
    "SGD": "optim",
    "Adam": "optim",
    "make_optimizer": "optim",
    "OPTIMIZERS": "optim",
    "check_schedule": "optim",
    "TrainingResult": "training",
    "train_full": "training",
    "train_in_subspace": "training",
    "run_seed_sequence": "training",
    "SUBSPACE_TRAINING_KINDS": "training",
    "METRICS": "training",
    "TicketProtocol": "lottery_tickets",
    "TicketResult": "lottery_tickets",
    "train_ticket": "lottery_tickets",
    "ticket_dimensions": "lottery_tickets",
    "REFERENCE_KEEP_FRACTIONS": "lottery_tickets",
    "sweep": "sweeps",
    "SWEEP_KINDS": "sweeps",
    "sweep_protocol": "sweeps",
    "SerialExecutor": "sweeps",
    "ResultStore": "result_store",
    "run_key": "result_store",
    "run_id": "result_store",
    "OPTIONAL_SECTIONS": "result_store",
    "RunTable": "run_table",
    "COLUMN_TYPES": "run_table",
    "KEY_COLUMNS": "run_table",
    "load_runs": "run_files",
    "load_reference_pickle": "run_files",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
