"""Paper reproductions: grids of runs per budget, reports against the papers' claims."""
from .base import (
                   ALPHA,
                   BEATS,
                   BUDGETS,
                   Comparison,
                   Group,
                   Reproduction,
                   beat_claim,
                   compare,
                   compare_groups,
                   fmt_verdict,
                   group_records,
                   pooled,
)
from .registry import (
                   REPRODUCTION_ENTRY_POINT_GROUP,
                   REPRODUCTIONS,
                   UnknownReproductionError,
                   available,
                   get_reproduction,
                   register_reproduction,
                   reproduction_names,
)
from .report import write_report
from .run import run, script_main

__all__ = ["Reproduction", "Group", "group_records", "BUDGETS", "BEATS", "ALPHA", "beat_claim", "compare",
           "compare_groups", "Comparison", "fmt_verdict", "pooled",
           "write_report", "available",
           "get_reproduction", "register_reproduction", "reproduction_names", "REPRODUCTIONS",
           "REPRODUCTION_ENTRY_POINT_GROUP", "UnknownReproductionError", "run", "script_main"]
