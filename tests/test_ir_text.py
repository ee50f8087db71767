"""The text form: printing and parsing round-trip, constants are bit-exact, parse errors
carry line and column, and no input makes the parser raise anything but ParseError.
"""

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from chainrule.ir import GraphBuilder, ParseError, TensorType, parse, verify
from chainrule.testing import assert_roundtrip, edge_values

T = TensorType
DTYPES = ["bool", "int32", "int64", "float32", "float64"]


def kitchen_sink():
    """One graph using most ops, attribute kinds, multi-result nodes and a region."""
    b = GraphBuilder("sink")
    x = b.param(T((2, 3), "float32"), "x")
    i = b.param(T((4,), "int64"), "idx")
    flag = b.param(T((), "bool"), "flag")
    c = b.constant(np.float32(2.5))
    cb = b.op("broadcast_in_dim", c, shape=(2, 3), broadcast_dimensions=())
    y = b.op("tanh", b.op("multiply", x, cb))
    z = b.op("dot_general", y, b.op("transpose", y, permutation=(1, 0)), lhs_contracting=(1,), rhs_contracting=(0,))
    r = b.op("reduce", z, kind="max", dimensions=(0, 1))
    g = b.op("gather", x, i, axis=1)
    p = b.op("pad", x, c, edge_padding_low=(1, -1), edge_padding_high=(0, 2), interior_padding=(1, 0))
    s = b.op("slice", p, start_indices=(0, 1), limit_indices=(3, 4), strides=(2, 1))
    k = b.op("compare", r, c, direction="GT")
    sel = b.op("select", b.op("and", k, flag), r, c)
    am = b.op("argmax", x, dimension=1, index_dtype="int32")
    io = b.op("iota", shape=(3,), dtype="float64", dimension=0)
    cv = b.op("convert", io, dtype="f32")
    body_b = GraphBuilder("body")
    u, v = body_b.param(T((3,), "float32"), "u"), body_b.param(T((3,), "float32"), "v")
    body = body_b.build([body_b.op("add", u, v), body_b.op("exponential", u)])
    fused = b.emit("fusion", [cv, cv], {"kind": "loop"}, [body]).results
    ds = b.op("dynamic_slice", x, b.constant(np.int32(-7)), b.constant(np.int64(9)), slice_sizes=(1, 2))
    return b.build([sel, g, s, am, fused[0], fused[1], ds])


def test_kitchen_sink_round_trips():
    g = kitchen_sink()
    verify(g)
    text = assert_roundtrip(g)
    assert "%19:2 = fusion" in text or ":2 = fusion" in text
    assert "regions {" in text


def test_design_example_parses():
    text = """func @loss(%x: f32[256,784], %w: f32[784,10]) -> (f32[]) {
  %0 = dot_general %x, %w {lhs_contracting=[1], rhs_contracting=[0]} : f32[256,10]
  %1 = tanh %0 : f32[256,10]
  %2 = reduce %1 {kind=sum, dimensions=[0,1]} : f32[]
  return %2
}
"""
    g = parse(text)
    assert str(g) == text


# --- constants --------------------------------------------------------------------------

def _const_graph(value):
    b = GraphBuilder("c")
    return b.build([b.constant(value)])


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.dtype.str, a.shape, a.tobytes()


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (3,), (16,), (17,), (0,), (2, 0, 3), (4, 5), (300, 7)])
def test_constants_round_trip_bit_exactly(dt, shape):
    rng = np.random.default_rng(abs(hash((dt, shape))) % 2**32)
    e = edge_values(dt)
    n = int(np.prod(shape))
    flat = e[rng.integers(0, len(e), size=n)] if n else e[:0]
    for value in (flat.reshape(shape), np.full(shape, e[-1], dtype=dt)):
        g = _const_graph(value)
        text = assert_roundtrip(g)
        back = parse(text).nodes[0].attrs["value"].array
        assert _bits(back) == _bits(value), text


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_special_floats_inline_and_nan_payloads(dt):
    v = np.array([-0.0, np.inf, -np.inf, np.finfo(dt).smallest_subnormal, np.finfo(dt).max], dtype=dt)
    text = assert_roundtrip(_const_graph(v))
    assert "-0.0" in text and "-inf" in text
    back = parse(text).nodes[0].attrs["value"].array
    assert _bits(back) == _bits(v)
    # NaN with a payload and a sign bit survives (printed as hex)
    ui = np.uint32 if dt == "float32" else np.uint64
    odd_nan = np.array([np.nan, 1.0], dtype=dt)
    odd_nan.view(ui)[0] |= ui(1) << ui(np.finfo(dt).bits - 1)  # negative NaN
    odd_nan.view(ui)[0] |= ui(5)
    back = parse(assert_roundtrip(_const_graph(odd_nan))).nodes[0].attrs["value"].array
    assert _bits(back) == _bits(odd_nan)


def test_integer_extremes_inline():
    v = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1], np.int64)
    text = assert_roundtrip(_const_graph(v))
    assert "-9223372036854775808" in text
    assert _bits(parse(text).nodes[0].attrs["value"].array) == _bits(v)


def test_large_constant_round_trips():
    v = np.random.default_rng(1).standard_normal((64, 257)).astype(np.float32)
    g = _const_graph(v)
    back = parse(assert_roundtrip(g)).nodes[0].attrs["value"].array
    assert _bits(back) == _bits(v)


def test_parameter_names_are_kept_or_made_unique():
    b = GraphBuilder("names")
    p = [b.param(T((), "float32"), n) for n in ("x", "x", "1", None, "a.b")]
    text = assert_roundtrip(b.build([b.op("add", p[0], p[1])]))
    assert "%x: f32[], %x_1: f32[], %arg2: f32[], %arg3: f32[], %a.b: f32[]" in text


# --- parse errors ------------------------------------------------------------------------

GOOD = """func @f(%x: f32[3], %y: f32[3]) -> (f32[3]) {
  %0 = add %x, %y : f32[3]
  %1 = negate %0 : f32[3]
  return %1
}
"""

MALFORMED = [  # text, line, column, message fragment
    (GOOD.replace("negate", "negat"), 3, 8, "unknown op 'negat'"),
    (GOOD.replace("negate %0", "negate %7"), 3, 15, "value %7 is not defined"),
    (GOOD.replace("%1 = negate %0 : f32[3]", "%1 = negate %0 : f64[3]"), 3, 8, "text says (f64[3])"),
    (GOOD.replace("-> (f32[3])", "-> (f32[4])"), 5, 1, "differ from the declared"),
    (GOOD.replace("negate %0", "negate %0 {bogus=1}"), 3, 19, "has no attribute 'bogus'"),
    (GOOD.replace("negate %0", "negate %0 {kind=[1,2}"), 3, 28, "expected ']'"),
    (GOOD.replace("return %1\n}", "return %1\n"), 6, 1, "expected '}'"),
    (GOOD + "}\n", 6, 1, "unexpected '}' after the function"),
    (GOOD.replace("add %x", "add $x"), 2, 12, "unexpected character '$'"),
    (GOOD.replace("f32[3], %y", "f32[3.5], %y"), 1, 17, "expected an integer"),
    (GOOD.replace("f32[3], %y", "q32[3], %y"), 1, 13, "expected a tensor type"),
    ("func @f() -> () {\n  %0 = iota {shape=[3], dtype=bool} : bool[3]\n  return\n}\n", 2, 8, "dtype bool is not supported"),
    ("func @f() -> () {\n  %0 = constant {value=dense<i32[2], [1]>} : i32[2]\n  return\n}\n", 2, 24, "has 1 values"),
    ("func @f() -> () {\n  %0 = constant {value=dense<i32[1], [3000000000]>} : i32[1]\n  return\n}\n", 2, 24, "3000000000"),
    ("func @f() -> () {\n  %0 = constant {value=dense<f32[1], 0x0000>} : f32[1]\n  return\n}\n", 2, 38, "has 2 bytes"),
    (GOOD.replace("%1 = negate", "%0 = negate"), 3, 3, "%0 is defined twice"),
    ("", 1, 1, "expected 'func'"),
    ("garbage", 1, 1, "expected 'func'"),
    ("func @f(%x: f32[2]) -> (f32[2]) {\n  %0 = add %x : f32[2]\n  return %0\n}\n", 2, 8, "got 1 operands"),
]


@pytest.mark.parametrize("text,line,col,fragment", MALFORMED)
def test_parse_errors_carry_line_and_column(text, line, col, fragment):
    with pytest.raises(ParseError) as info:
        parse(text)
    e = info.value
    assert fragment in e.message, e.message
    assert (e.line, e.column) == (line, col), str(e)
    assert f"line {line}, column {col}" in str(e)


def test_overflowing_float_literal_reads_as_infinity():
    g = parse("func @f() -> (f32[1]) {\n  %0 = constant {value=dense<f32[1], [1e99999]>} : f32[1]\n  return %0\n}\n")
    assert g.nodes[0].attrs["value"].array[0] == np.inf


def test_parse_rejects_non_text():
    with pytest.raises(TypeError):
        parse(b"func")


# --- fuzzing the parser -------------------------------------------------------------------

_CORPUS = []


def corpus():
    """Valid texts to mutate: hand-written ones and random graphs with regions (control flow)."""
    if not _CORPUS:
        from chainrule.fuzz import generate_graph
        _CORPUS.extend([GOOD, str(kitchen_sink()), str(_const_graph(np.arange(20, dtype=np.int32))),
                        str(_const_graph(np.array([1.5, -0.0], np.float32)))])
        with_regions = [g for g in map(generate_graph, range(200)) if any(n.regions for n in g.nodes)]
        _CORPUS.extend(str(g) for g in with_regions[:4])
    return _CORPUS


VOCAB = ["func", "@f", "%0", "%x", "%1#0", "%2:2", "=", ",", ":", "(", ")", "[", "]", "{", "}", "<", ">", "->",
         "f32[2]", "i64[]", "bool[0]", "dense", "0x", "0xff", "-", "1", "-3", "1.5e300", "nan", "inf", "\"s\\u12\"",
         "\"\\x\"", "\"ok\"", "regions", "return", "add", "reduce", "kind=sum", "9" * 5000, "[" * 3000, "//", "\n",
         "#", "true", "none", "f32", "1e99999"]


def check_parse(text):
    try:
        g = parse(text)
    except ParseError as e:
        assert isinstance(e.line, int) and isinstance(e.column, int)
        assert e.line >= 1 and e.column >= 1
        return None
    assert str(parse(str(g))) == str(g)  # whatever parses must round-trip
    return g


def mutate(text, rnd: random.Random):
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(5)
        pos = rnd.randint(0, len(text))
        if op == 0:
            text = text[:pos] + text[pos + rnd.randint(1, 8):]
        elif op == 1:
            text = text[:pos] + rnd.choice(VOCAB) + text[pos:]
        elif op == 2:
            text = text[:pos] + chr(rnd.randint(0, 0x2FF)) + text[pos:]
        elif op == 3:
            lines = text.split("\n")
            i = rnd.randrange(len(lines))
            lines.insert(rnd.randrange(len(lines) + 1), lines[i])
            text = "\n".join(lines)
        else:
            j = rnd.randint(0, len(text))
            text = text[:min(pos, j)] + text[max(pos, j):][::-1]
    return text


@settings(max_examples=400, deadline=10000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(st.integers(0, 2**32 - 1), st.integers(0, 7))
def test_parser_survives_mutated_text(seed, which):
    rnd = random.Random(seed)
    check_parse(mutate(corpus()[which], rnd))


@settings(max_examples=300, deadline=10000, derandomize=True)
@given(st.lists(st.sampled_from(VOCAB + ["%0 = add %x, %x : f32[2]", "func @f(%x: f32[2]) -> (f32[2]) {"]), max_size=30))
def test_parser_survives_token_soup(tokens):
    check_parse(" ".join(tokens))


@settings(max_examples=200, deadline=10000, derandomize=True)
@given(st.text(max_size=200))
def test_parser_survives_random_text(text):
    check_parse(text)


@pytest.mark.parametrize("text", [
    "func @f() -> () {\n %0 = constant {value=" + "[" * 5000 + "} : f32[]\n return\n}",
    "func @f() -> (f32[" + "9" * 5000 + "]) {\n return\n}",
    "func @f() -> () {\n %0 = constant {value=dense<i32[1], [" + "9" * 5000 + "]>} : i32[1]\n return\n}",
    'func @f() -> () {\n %0 = constant {value="\\u12"} : f32[]\n return\n}',
    "func @f() -> () {\n %0 = iota {shape=[4611686018427387904, 4], dtype=f32} : f32[1]\n return\n}",
    "func @f() -> () {\n %0 = fusion regions {" + "func @g() -> () {\n" * 200 + "}\n return\n}",
])
def test_parser_hostile_inputs_raise_parse_error(text):
    with pytest.raises(ParseError):
        parse(text)
