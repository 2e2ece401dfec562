"""Turning names that come from model files into identifiers safe for C++, Verilog and TCL."""

from __future__ import annotations

import hashlib
import re

_RESERVED = {
    # C/C++ keywords and Verilog/SystemVerilog keywords that could plausibly appear as layer names.
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "int", "long", "register", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while",
    "class", "namespace", "template", "new", "delete", "this", "public", "private", "protected",
    "module", "endmodule", "input", "output", "inout", "wire", "reg", "logic", "begin", "end",
    "assign", "always", "initial", "parameter", "localparam", "generate", "endgenerate",
}


def safe_identifier(name: str, prefix: str = "n") -> str:
    """A C/Verilog/TCL-safe identifier derived from ``name``.

    Keeps letters, digits and underscores, collapses the rest to ``_``, never starts with a digit
    or underscore, never collides with a keyword, and appends a short hash when characters were
    dropped so that two different names cannot map to the same identifier.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    cleaned = re.sub(r"_+", "_", cleaned)
    changed = cleaned != name
    if not cleaned or not cleaned[0].isalpha():
        cleaned = f"{prefix}_{cleaned}" if cleaned else prefix
        changed = True
    if cleaned.lower() in _RESERVED:
        cleaned = f"{prefix}_{cleaned}"
        changed = True
    if changed:
        cleaned = f"{cleaned}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"
    return cleaned[:64]
