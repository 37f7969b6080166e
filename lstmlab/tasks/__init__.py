"""Long-dependency synthetic tasks, in a registry (``task_names()``, ``get_task``)."""
from .adding import Adding
from .adding1997 import Adding1997
from .agreement import Agreement
from .base import (
                   TASK_ENTRY_POINT_GROUP,
                   TASKS,
                   Batch,
                   Task,
                   UnknownTaskError,
                   get_task,
                   make_task,
                   register_task,
                   task_names,
)
from .copy_memory import CopyMemory
from .digits import Digits

__all__ = ["Batch", "Task", "register_task", "get_task", "task_names", "make_task", "UnknownTaskError",
           "TASK_ENTRY_POINT_GROUP", "TASKS", "CopyMemory", "Adding", "Adding1997", "Agreement",
           "Digits"]
