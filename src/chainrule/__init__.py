"""chainrule: a static-graph automatic-differentiation compiler for Python."""

__version__ = "0.1.0"
