"""Long-dependency synthetic tasks, in a registry (``task_names()``, ``get_task``)."""
from .base import (Batch, Task, register_task, get_task, task_names, make_task, UnknownTaskError,
                   TASK_ENTRY_POINT_GROUP, TASKS)
from .copy_memory import CopyMemory
from .adding import Adding
from .adding1997 import Adding1997

__all__ = ["Batch", "Task", "register_task", "get_task", "task_names", "make_task", "UnknownTaskError",
           "TASK_ENTRY_POINT_GROUP", "TASKS", "CopyMemory", "Adding", "Adding1997"]
