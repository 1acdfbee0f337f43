"""The parsed form of a claim: a small syntax tree (both parsers produce it).

Kinds and their ``args``:

  num (Rational,)            const ("E"|"pi")         sym (name, bold)
  add (a, b)   sub (a, b)    neg (a,)                 mul (a, b, op)   div (a, b)
  pow (a, b)   T (a,)        func (name, [args])      spec (name, order, [args])
  diff (expr, var_node, order)                        grad (var_node, expr)
  pw ([(value, cond)])       rel (op, a, b)           and ([..])  or ([..])  true ()
  claim ([sides])            expr (sympy_expr, label): a spec's side (symdl.verify.families)

``render`` prints the reading shown to the user: every implicit product is an
explicit ``*`` and every grouping is visible.
"""
from __future__ import annotations


class Node:
    __slots__ = ("k", "a", "pos")

    def __init__(self, k, *a, pos=0):
        self.k, self.a, self.pos = k, a, pos

    def __repr__(self):
        return f"Node({self.k}, {self.a!r})"

    def walk(self):
        """Every node, preorder; iterative (a product of 1,000 factors is a deep tree)."""
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            kids = []
            for x in n.a:
                if isinstance(x, Node):
                    kids.append(x)
                elif isinstance(x, (list, tuple)):
                    for y in x:
                        if isinstance(y, Node):
                            kids.append(y)
                        elif isinstance(y, tuple):
                            kids += [z for z in y if isinstance(z, Node)]
            stack.extend(reversed(kids))


#: binary kinds that chain to the left (a + b + c is add(add(a, b), c))
CHAINS = ("add", "sub", "mul", "div")


def left_spine(node: Node):
    """(base, [chain nodes from the innermost out]) for a left-nested chain of
    add/sub/mul/div: lets builders and printers walk it without recursion."""
    spine = []
    while node.k in CHAINS:
        spine.append(node)
        node = node.a[0]
    spine.reverse()
    return node, spine


_PREC = {"rel": 0, "add": 1, "sub": 1, "mul": 2, "div": 2, "neg": 3, "pow": 4}


def _wrap(node, s, prec):
    p = _PREC.get(node.k, 9)
    if node.k == "num" and len(node.a) > 1 and "." in str(node.a[1]):
        p = 9
    elif node.k == "num" and (node.a[0].q != 1 or node.a[0] < 0):
        p = 1.5 if node.a[0] >= 0 else 1
    return f"({s})" if p < prec else s


def render(node: Node) -> str:
    if node.k in CHAINS:
        base, spine = left_spine(node)
        out = render(base)
        for i, n in enumerate(spine):
            left_node = base if i == 0 else spine[i - 1]
            out = _join(n, left_node, out)
        return out
    return _render(node)


def _join(node, left_node, left):
    k, a = node.k, node.a
    if k in ("add", "sub"):
        op = " + " if k == "add" else " - "
        right_prec = 1 if k == "add" else 2
        return left + op + _wrap(a[1], render(a[1]), right_prec)
    if k == "mul":
        sym = {"odot": " ⊙ ", "cdot": "·"}.get(a[2], "*")
        left = f"({left})" if left_node.k == "div" else _wrap(left_node, left, 2)
        return left + sym + _wrap(a[1], render(a[1]), 3)
    return _wrap(left_node, left, 2) + "/" + _wrap(a[1], render(a[1]), 3)


def _render(node: Node) -> str:
    k, a = node.k, node.a
    if k == "claim":
        return " = ".join(render(s) for s in a[0])
    if k == "num":
        return str(a[1]) if len(a) > 1 and a[1] is not None else str(a[0])
    if k == "const":
        return {"E": "e", "pi": "pi"}[a[0]]
    if k == "sym":
        return a[0]
    if k == "expr":   # a spec's side as a SymPy expression (families.py)
        return a[1]
    if k == "neg":
        return "-" + _wrap(a[0], render(a[0]), 2)
    if k == "pow":
        return _wrap(a[0], render(a[0]), 5) + "^" + _wrap(a[1], render(a[1]), 5)
    if k == "T":
        return _wrap(a[0], render(a[0]), 5) + "ᵀ"
    if k == "func":
        return f"{a[0]}(" + ", ".join(render(x) for x in a[1]) + ")"
    if k == "spec":
        return f"{a[0]}" + "'" * a[1] + "(" + ", ".join(render(x) for x in a[1 + 1]) + ")"
    if k == "diff":
        order = a[2]
        d = f"d/d{render(a[1])}" if order == 1 else f"d^{order}/d{render(a[1])}^{order}"
        return f"{d}[{render(a[0])}]"
    if k == "grad":
        return f"∇_{render(a[0])}[{render(a[1])}]"
    if k == "pw":
        parts = [f"{render(v)} otherwise" if c.k == "true" else f"{render(v)} if {render(c)}"
                 for v, c in a[0]]
        return "{" + "; ".join(parts) + "}"
    if k == "rel":
        return f"{render(a[1])} {a[0]} {render(a[2])}"
    if k in ("and", "or"):
        j = " and " if k == "and" else " or "
        return j.join(f"({render(x)})" if x.k in ("and", "or") else render(x) for x in a[0])
    if k == "true":
        return "otherwise"
    return f"<{k}>"
