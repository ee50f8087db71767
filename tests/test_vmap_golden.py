"""Golden tests of the batching pass: IR in, in_axes, the expected batched IR out.

They pin down the shapes of the rules' output (where batch dimensions go,
what a per-element start or predicate becomes); every case is also checked
against a loop over the batch, so a golden text can never bless a wrong
rule. To regenerate after an intended change, set CHAINRULE_UPDATE_GOLDEN=1
and paste the printed texts after reviewing them.
"""

import os

import numpy as np
import pytest

from chainrule.ir import parse
from chainrule.passes.batching import batch_graph
from test_vmap_rules import check_batching, make_args, normalized

SIZE = 5

CASES = [
    ('matmul both batched: the batch dimensions pair up as a dot_general batch dimension',
     [0, 0],
     """\
func @matmul(%a: f32[2,3], %b: f32[3,4]) -> (f32[2,4]) {
  %0 = dot_general %a, %b {lhs_contracting=[1], rhs_contracting=[0]} : f32[2,4]
  return %0
}
""",
     """\
func @matmul_vmap(%a: f32[5,2,3], %b: f32[5,3,4]) -> (f32[5,2,4]) {
  %0 = dot_general %a, %b {lhs_batch=[0], rhs_batch=[0], lhs_contracting=[2], rhs_contracting=[1]} : f32[5,2,4]
  return %0
}
"""),
    ('one side batched in the middle: it rides along as a free dimension; one transpose puts it in front at the end',
     [1, None],
     """\
func @matmul(%a: f32[2,3], %b: f32[3,4]) -> (f32[2,4]) {
  %0 = dot_general %a, %b {lhs_contracting=[1], rhs_contracting=[0]} : f32[2,4]
  return %0
}
""",
     """\
func @matmul_vmap(%a: f32[2,5,3], %b: f32[3,4]) -> (f32[5,2,4]) {
  %0 = dot_general %a, %b {lhs_contracting=[2], rhs_contracting=[0]} : f32[2,5,4]
  %1 = transpose %0 {permutation=[1,0,2]} : f32[5,2,4]
  return %1
}
"""),
    ('a per-element start: the clamped start selects where the update, shifted by a gather, replaces the operand',
     [0, None, 0],
     """\
func @upd(%x: f32[6], %u: f32[2], %i: i32[]) -> (f32[6]) {
  %0 = dynamic_update_slice %x, %u, %i : f32[6]
  return %0
}
""",
     """\
func @upd_vmap(%x: f32[5,6], %u: f32[2], %i: i32[5]) -> (f32[5,6]) {
  %0 = broadcast_in_dim %u {shape=[5,2], broadcast_dimensions=[1]} : f32[5,2]
  %1 = constant {value=dense<i32[], [0]>} : i32[]
  %2 = broadcast_in_dim %1 {shape=[5], broadcast_dimensions=[]} : i32[5]
  %3 = constant {value=dense<i32[], [4]>} : i32[]
  %4 = broadcast_in_dim %3 {shape=[5], broadcast_dimensions=[]} : i32[5]
  %5 = clamp %2, %i, %4 : i32[5]
  %6 = iota {shape=[5,6], dtype=i32, dimension=1} : i32[5,6]
  %7 = broadcast_in_dim %5 {shape=[5,6], broadcast_dimensions=[0]} : i32[5,6]
  %8 = subtract %6, %7 : i32[5,6]
  %9 = broadcast_in_dim %1 {shape=[5,6], broadcast_dimensions=[]} : i32[5,6]
  %10 = constant {value=dense<i32[], [2]>} : i32[]
  %11 = broadcast_in_dim %10 {shape=[5,6], broadcast_dimensions=[]} : i32[5,6]
  %12 = compare %8, %9 {direction=GE} : bool[5,6]
  %13 = compare %8, %11 {direction=LT} : bool[5,6]
  %14 = and %12, %13 : bool[5,6]
  %15 = constant {value=dense<i32[], [1]>} : i32[]
  %16 = broadcast_in_dim %15 {shape=[5,6], broadcast_dimensions=[]} : i32[5,6]
  %17 = clamp %9, %8, %16 : i32[5,6]
  %18 = gather %0, %17 {axis=1, batch_dims=1} : f32[5,6]
  %19 = select %14, %18, %x : f32[5,6]
  return %19
}
"""),
    ('a per-element predicate: both branches run and select picks per element',
     [0, 0, None],
     """\
func @sel(%p: bool[], %x: f32[3], %y: f32[]) -> (f32[3]) {
  %0 = cond %p, %x, %y : (f32[3]) regions {
    func @then(%a: f32[3], %b: f32[]) -> (f32[3]) {
      %0 = negate %a : f32[3]
      return %0
    }
    func @else(%a: f32[3], %b: f32[]) -> (f32[3]) {
      %0 = broadcast_in_dim %b {shape=[3], broadcast_dimensions=[]} : f32[3]
      return %0
    }
  }
  return %0
}
""",
     """\
func @sel_vmap(%p: bool[5], %x: f32[5,3], %y: f32[]) -> (f32[5,3]) {
  %0 = negate %x : f32[5,3]
  %1 = broadcast_in_dim %y {shape=[5,3], broadcast_dimensions=[]} : f32[5,3]
  %2 = broadcast_in_dim %p {shape=[5,3], broadcast_dimensions=[0]} : bool[5,3]
  %3 = select %2, %0, %1 : f32[5,3]
  return %3
}
"""),
]


@pytest.mark.parametrize("why,in_axes,src,expected", CASES, ids=[c[0].split(":")[0] for c in CASES])
def test_golden(rng, why, in_axes, src, expected):
    g = parse(src)
    got = str(batch_graph(g, in_axes, SIZE))
    if os.environ.get("CHAINRULE_UPDATE_GOLDEN") == "1":
        print(got)
    assert got == expected, f"{why}\n--- got\n{got}--- expected\n{expected}"
    gens = {k: (lambda r, s: r.integers(-2, 8, s).astype(np.int32)) for k, p in enumerate(g.params)
            if p.dtype.is_int}
    check_batching(g, in_axes, make_args(rng, g.param_types, normalized(in_axes, g.param_types), gens, SIZE), SIZE)
