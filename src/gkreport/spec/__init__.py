"""Form specs: the model, the loader, the rules and what is compiled from them.

Imports flow one way inside the package::

    model ← names ← expr ← rules ← lint ← compiled ← load
          ← layout ←──────────────────────┘
    schema (keys of each level of a spec file) ← rules, load

``model`` imports nothing from the package; nothing here imports the rest of gkreport
except :mod:`gkreport.errors` and :mod:`gkreport.enums` (tests/test_architecture.py checks both).
"""

from .compiled import CellOrder, CompiledForm, compiled, consistent_values, rule_set
from .layout import Grid, GridCell
from .load import BUILTIN_DIR, form_from_path, load_form, load_form_file, load_forms, spec_files
from .model import Cell, Field, Form, Node, Section, Severity, Table
from .rules import Rule, RuleSet, TextRule

__all__ = [
    "BUILTIN_DIR",
    "Cell",
    "CellOrder",
    "CompiledForm",
    "Field",
    "Form",
    "Grid",
    "GridCell",
    "Node",
    "Rule",
    "RuleSet",
    "Section",
    "Severity",
    "Table",
    "TextRule",
    "compiled",
    "consistent_values",
    "form_from_path",
    "load_form",
    "load_form_file",
    "load_forms",
    "rule_set",
    "spec_files",
]
