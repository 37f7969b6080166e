"""Paper reproductions: grids of runs per budget, reports against the papers' claims."""
from .base import (ALPHA, BEATS, BUDGETS, Comparison, Group, Reproduction, beat_claim, compare, compare_groups,
                   fmt_verdict, group_records, pooled)
from .report import write_report
from .run import available, get_reproduction, run, script_main

__all__ = ["Reproduction", "Group", "group_records", "BUDGETS", "BEATS", "ALPHA", "beat_claim", "compare", "compare_groups",
           "Comparison", "fmt_verdict", "pooled",
           "write_report", "available",
           "get_reproduction", "run", "script_main"]
