"""Tasks = generator + tokenizer + verifier, in one registry (docs/tasks.md), in reading order:

base.py             the ``Task`` protocol, ``Verdict`` (one checked hypothesis), ``DataFormatError``
                    and the registry (``register_task``, ``make_task``, ``task_names``)
numeric.py          what tasks with numeric answers share: number encodings, tolerances, the error
random_matrices.py  random matrices: entry distributions and symmetric spectra
linalg_base.py      ``LinalgTask``: the machinery the nine linear-algebra tasks share
linalg.py           the nine tasks: transpose, add, matvec, matmul, eigenvalues, eigenvectors,
                    singular-values, svd, inverse
roots.py            real roots of integer polynomials
lyapunov.py         global Lyapunov functions: system -> V (generators and checks in ``seq2math.lyapunov``)

A task is one file plus a ``@register_task`` entry; the data files of every task are read
and written by ``seq2math.data.files``. Usage::

    import numpy as np
    from seq2math.tasks import make_task

    task = make_task("transpose")
    source, target = task.generate(np.random.default_rng(0))
    task.verify(source, target).scores          # every metric True

Importing this package loads only ``base``; the built-in tasks load on first lookup.
"""

from seq2math.tasks.base import (
    TASKS,
    DataFormatError,
    Task,
    Verdict,
    get_task_class,
    make_task,
    register_task,
    task_names,
)

__all__ = ["TASKS", "DataFormatError", "Task", "Verdict", "get_task_class", "make_task", "register_task", "task_names"]
