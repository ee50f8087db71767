"""Parse the text form back into a `Graph`; errors carry line and column.

Every node is type-checked as it is read, and the result types written in
the text must equal the ones its op's rule infers.
"""

from __future__ import annotations

import json
import re

import numpy as np

from .attrs import Literal
from .builder import GraphBuilder
from .dtypes import dtype as as_dtype, BY_NAME as DTYPE_NAMES
from .errors import IRError, ParseError
from .graph import Graph
from .ops import REGISTRY
from .types import TensorType

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r]+|//[^\n]*)
  | (?P<nl>\n)
  | (?P<arrow>->)
  | (?P<hex>0x[0-9a-fA-F]*)
  | (?P<num>[-+]?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\.\d+(?:[eE][-+]?\d+)?|\d+|inf|nan)(?![A-Za-z0-9_]))
  | (?P<val>%[A-Za-z0-9_.]+(?:\#\d+)?)
  | (?P<sym>@[A-Za-z0-9_.]+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[()\[\]{}<>,:=])
""", re.VERBOSE)


MAX_NESTING = 64


class _Tok:
    __slots__ = ("kind", "text", "line", "col")

    def __init__(self, kind, text, line, col):
        self.kind, self.text, self.line, self.col = kind, text, line, col

    def __repr__(self):
        return f"{self.kind}:{self.text!r}@{self.line}:{self.col}"


def _tokenize(text: str, lines: list[str]) -> list[_Tok]:
    toks = []
    pos, line, line_start = 0, 1, 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            col = pos - line_start + 1
            raise ParseError(f"unexpected character {text[pos]!r}", line, col, _line(lines, line))
        kind = m.lastgroup
        if kind == "nl":
            line += 1
            line_start = m.end()
        elif kind != "ws":
            toks.append(_Tok(kind, m.group(), line, pos - line_start + 1))
        pos = m.end()
    toks.append(_Tok("eof", "", line, pos - line_start + 1))
    return toks


def _line(lines, i):
    return lines[i - 1] if 0 < i <= len(lines) else None


class Parser:
    def __init__(self, text: str):
        self.lines = text.split("\n")
        self.toks = _tokenize(text, self.lines)
        self.i = 0
        self.nesting = 0  # depth of nested attribute lists, bounded so hostile input cannot exhaust the stack

    # -- token helpers --
    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def error(self, msg, tok=None):
        t = tok or self.tok
        return ParseError(msg, t.line, t.col, _line(self.lines, t.line))

    def next(self) -> _Tok:
        t = self.toks[self.i]
        if t.kind != "eof":
            self.i += 1
        return t

    def at(self, text) -> bool:
        t = self.tok
        return t.text == text and t.kind in ("punct", "ident", "arrow")

    def expect(self, text) -> _Tok:
        if not self.at(text):
            got = self.tok.text or "end of input"
            raise self.error(f"expected '{text}', got '{got}'")
        return self.next()

    def accept(self, text) -> bool:
        if self.at(text):
            self.next()
            return True
        return False

    def expect_kind(self, kind, what) -> _Tok:
        if self.tok.kind != kind:
            got = self.tok.text or "end of input"
            raise self.error(f"expected {what}, got '{got}'")
        return self.next()

    def int_(self) -> int:
        t = self.tok
        if t.kind != "num" or not re.fullmatch(r"[-+]?\d+", t.text):
            raise self.error(f"expected an integer, got '{t.text or 'end of input'}'")
        self.next()
        return self.to_int(t)

    def to_int(self, t: _Tok) -> int:
        try:
            return int(t.text)
        except ValueError:  # more digits than Python converts
            raise self.error(f"integer literal of {len(t.text)} characters is too long", t) from None

    # -- types --
    def type_(self) -> TensorType:
        t = self.tok
        if t.kind != "ident" or t.text not in DTYPE_NAMES:
            raise self.error(f"expected a tensor type like f32[2,3], got '{t.text or 'end of input'}'")
        self.next()
        self.expect("[")
        dims = []
        if not self.at("]"):
            dims.append(self.int_())
            while self.accept(","):
                dims.append(self.int_())
        self.expect("]")
        try:
            return TensorType(dims, DTYPE_NAMES[t.text])
        except ValueError as e:
            raise self.error(str(e), t) from None

    def type_list(self) -> list[TensorType]:
        self.expect("(")
        out = []
        if not self.at(")"):
            out.append(self.type_())
            while self.accept(","):
                out.append(self.type_())
        self.expect(")")
        return out

    # -- attribute values --
    def attr_value(self):
        t = self.tok
        if t.kind == "num":
            self.next()
            if re.fullmatch(r"[-+]?\d+", t.text):
                return self.to_int(t)
            return float(t.text)
        if t.kind == "str":
            self.next()
            try:
                return json.loads(t.text)
            except ValueError as e:
                raise self.error(f"bad string literal: {e}", t) from None
        if t.text == "[" and t.kind == "punct":
            if self.nesting >= MAX_NESTING:
                raise self.error(f"attribute lists nested deeper than {MAX_NESTING}")
            self.next()
            self.nesting += 1
            items = []
            if not self.at("]"):
                items.append(self.attr_value())
                while self.accept(","):
                    items.append(self.attr_value())
            self.expect("]")
            self.nesting -= 1
            return tuple(items)
        if t.text == "(" and t.kind == "punct":
            return tuple(self.type_list())
        if t.kind == "ident":
            if t.text == "dense":
                return self.dense()
            if t.text in DTYPE_NAMES and self.toks[self.i + 1].text == "[":
                return self.type_()
            self.next()
            if t.text == "true":
                return True
            if t.text == "false":
                return False
            if t.text == "none":
                return None
            if t.text in DTYPE_NAMES:
                return _DTypeName(t.text)
            return t.text
        raise self.error(f"expected an attribute value, got '{t.text or 'end of input'}'")

    def dense(self) -> Literal:
        start = self.next()
        self.expect("<")
        ty = self.type_()
        self.expect(",")
        npdt = ty.dtype.np
        if self.tok.kind == "hex":
            h = self.next()
            try:
                data = bytes.fromhex(h.text[2:])
            except ValueError:
                raise self.error("hex data has an odd number of digits", h) from None
            if len(data) != ty.nbytes:
                raise self.error(f"hex data has {len(data)} bytes, {ty} needs {ty.nbytes}", h)
            arr = np.frombuffer(data, dtype=npdt.newbyteorder("<")).astype(npdt).reshape(ty.shape)
        else:
            vals = self.attr_value()
            if not isinstance(vals, tuple):
                raise self.error("expected a list of values or hex data", start)
            if len(vals) != ty.size:
                raise self.error(f"dense literal has {len(vals)} values, {ty} needs {ty.size}", start)
            for v in vals:
                ok = isinstance(v, bool) if ty.dtype.is_bool else (
                    isinstance(v, int) and not isinstance(v, bool) if ty.dtype.is_int
                    else isinstance(v, (int, float)) and not isinstance(v, bool))
                if not ok:
                    raise self.error(f"value {v!r} does not fit {ty.dtype.name}", start)
            try:
                with np.errstate(over="ignore"):
                    arr = np.array(vals, dtype=npdt).reshape(ty.shape)
            except (OverflowError, ValueError) as e:
                raise self.error(f"bad dense values: {e}", start) from None
            if ty.dtype.is_int and any(int(a) != b for a, b in zip(arr.reshape(-1), vals)):
                raise self.error(f"a value is out of range for {ty.dtype.name}", start)
        self.expect(">")
        return Literal(arr, ty.dtype)

    # -- graphs --
    def header(self):
        """`func @name(%p: type, ...) -> (types) {`: (name, [(parameter token, type)], result types)."""
        self.expect("func")
        name = self.expect_kind("sym", "a function name like @main").text[1:]
        params = []
        self.expect("(")
        if not self.at(")"):
            while True:
                vt = self.expect_kind("val", "a parameter like %x")
                if "#" in vt.text:
                    raise self.error("a parameter name cannot hold '#'", vt)
                self.expect(":")
                params.append((vt, self.type_()))
                if not self.accept(","):
                    break
        self.expect(")")
        self.expect("->")
        declared = self.type_list()
        self.expect("{")
        return name, params, declared

    def func(self, depth=0) -> Graph:
        if depth > 64:
            raise self.error("regions nested too deeply")
        name, params, declared = self.header()
        b = GraphBuilder(name)
        env = {}
        for vt, ty in params:
            pname = vt.text[1:]
            if pname in env:
                raise self.error(f"parameter %{pname} is defined twice", vt)
            env[pname] = b.param(ty, pname)
        while not self.at("return"):
            self.node(b, env, depth)
        self.expect("return")
        results = []
        if not self.at("}"):
            results.append(self.use(env))
            while self.accept(","):
                results.append(self.use(env))
        end = self.expect("}")
        got = [r.type for r in results]
        if got != declared:
            raise self.error(
                f"returned types ({', '.join(map(str, got))}) differ from the declared ({', '.join(map(str, declared))})", end)
        return b.build(results)

    def use(self, env):
        t = self.expect_kind("val", "a value like %0")
        v = env.get(t.text[1:])
        if v is None:
            raise self.error(f"value {t.text} is not defined", t)
        return v

    def node(self, b: GraphBuilder, env: dict, depth: int):
        lhs = self.tok
        if lhs.kind != "val":
            raise self.error(f"expected a node like '%0 = op ...' or 'return', got '{lhs.text or 'end of input'}'")
        self.next()
        name = lhs.text[1:]
        if "#" in name:
            raise self.error("a result name cannot hold '#'", lhs)
        nres = None
        if self.accept(":"):
            nres = self.int_()
        self.expect("=")
        optok = self.expect_kind("ident", "an op name")
        opdef = REGISTRY.get(optok.text)
        if opdef is None:
            raise self.error(f"unknown op '{optok.text}'", optok)
        operands = []
        if self.tok.kind == "val":
            operands.append(self.use(env))
            while self.accept(","):
                operands.append(self.use(env))
        attrs = {}
        if self.accept("{"):
            if not self.at("}"):
                while True:
                    kt = self.expect_kind("ident", "an attribute name")
                    if kt.text in attrs:
                        raise self.error(f"attribute {kt.text} given twice", kt)
                    self.expect("=")
                    attrs[kt.text] = (self.attr_value(), kt)
                    if not self.accept(","):
                        break
            self.expect("}")
        self.expect(":")
        types = self.type_list() if self.at("(") else [self.type_()]
        regions = []
        if self.accept("regions"):
            self.expect("{")
            while self.at("func"):
                regions.append(self.func(depth + 1))
            self.expect("}")
        values = {}
        for k, (v, kt) in attrs.items():
            spec = opdef.attrs.get(k)
            if spec is None:
                raise self.error(f"op {opdef.name} has no attribute '{k}' (it has: {', '.join(opdef.attrs) or 'none'})", kt)
            if isinstance(v, _DTypeName):
                v = as_dtype(v) if spec.kind == "dtype" else str(v)
            values[k] = v
        try:
            node = b.emit(opdef, operands, values, regions)
        except IRError as e:
            raise self.error(str(e), optok) from None
        got = [r.type for r in node.results]
        if got != types:
            raise self.error(
                f"{opdef.name} gives ({', '.join(map(str, got))}) but the text says ({', '.join(map(str, types))})", optok)
        if nres is None and len(node.results) != 1 or nres is not None and nres != len(node.results):
            raise self.error(f"{opdef.name} has {len(node.results)} results", lhs)
        if name in env or f"{name}#0" in env:
            raise self.error(f"value %{name} is defined twice", lhs)
        if len(node.results) == 1:
            env[name] = node.results[0]
        else:
            for i, r in enumerate(node.results):
                env[f"{name}#{i}"] = r


class _DTypeName(str):
    """An identifier that may be a dtype or an enum value, decided by the attribute's kind."""


def parse(text: str) -> Graph:
    """Parse one `func` in text form into a Graph; raises ParseError."""
    if not isinstance(text, str):
        raise TypeError(f"parse expects a str, got {type(text).__name__}")
    p = Parser(text)
    g = p.func()
    if p.tok.kind != "eof":
        raise p.error(f"unexpected '{p.tok.text}' after the function")
    return g
