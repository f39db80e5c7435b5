"""Tasks = generator + tokenizer + verifier, in one registry."""

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
