"""Passes: graph-to-graph transformations and the pass manager.

`optimize(graph, opt_level=2, passes=None, fast_math=False, instrumentation=None)`
runs a pipeline; `PASSES` maps names to passes and `register_pass` adds one.
Autodiff lives in the `autodiff` subpackage. See docs/passes.md.
"""

from . import standard as _standard  # noqa: F401  (registers dce, fold, cse, simplify, canonicalize, fuse)
from .fusion_form import FusionFormError, FusionInfo, check_fusion, fusion_is_well_formed
from .manager import (OPT_PIPELINES, PASSES, Instrumentation, Pass, PassContext, optimize, parse_pipeline,
                      register_pass, run_pipeline)
from .rewrite import Rewrite, RewriteSet, RuleRegistry, apply_rewrites

__all__ = [
    "FusionFormError", "FusionInfo", "Instrumentation", "OPT_PIPELINES", "PASSES", "Pass", "PassContext",
    "Rewrite", "RewriteSet", "RuleRegistry", "apply_rewrites", "check_fusion", "fusion_is_well_formed",
    "optimize", "parse_pipeline", "register_pass", "run_pipeline",
]
