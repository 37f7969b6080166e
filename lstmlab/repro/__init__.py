"""Paper reproductions: grids of runs per budget, reports against the papers' claims."""
from .base import Reproduction, Group, group_records, BUDGETS, BEATS
from .report import write_report
from .run import available, get_reproduction, run, script_main

__all__ = ["Reproduction", "Group", "group_records", "BUDGETS", "BEATS", "write_report", "available",
           "get_reproduction", "run", "script_main"]
