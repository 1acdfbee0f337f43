"""Atoms and function calls of the LaTeX claim grammar (a mixin of
``latex_parser.LatexParser``): numbers, letters and their sub/superscripted
names, commands (Greek, accents, bold, \\text words), groups and
``\\left...\\right`` pairs, elementary functions with or without
parentheses, and calls of a spec by name."""
from __future__ import annotations

from .latex_cases import _REL_CMDS, _TEXT_CMDS
from .latex_symbols import (_ACCENTS, _BOLD_CMDS, _GREEK_ALIAS, _INVERSE, _MUL_CMDS, ELEMENTARY, GREEK,
                            _is_capital, _subscript_cmd, _word_cmd, normalize_name, number_node)
from .lexer import ParseError, Tok
from .nodes import Node

#: \\lfloor x \\rfloor, \\lceil x \\rceil: (closing command, function)
_ROUNDING = {"lfloor": ("rfloor", "floor"), "lceil": ("rceil", "ceiling")}


class AtomsMixin:
    e_symbol = False

    def parse_atom(self) -> Node:
        t = self.peek()
        if t.kind == "NUM":
            self.next()
            try:
                return number_node(t.value, t.pos)
            except ParseError as err:
                raise ParseError(err.message, self.text, t.pos) from None
        if t.kind == "LETTER":
            return self.parse_letter()
        if t.kind == "CMD":
            return self.parse_command()
        if t.kind == "OP":
            v = t.value
            if v in ("(", "[", "\\{", "{"):
                self.next()
                close = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}[v]
                e = self.parse_sum()
                self.expect_op(close, f"'{close}' closing the '{v}' at column {t.pos + 1}")
                return e
            if v == "|":
                self.next()
                self.abs_depth += 1
                e = self.parse_sum()
                self.abs_depth -= 1
                self.expect_op("|", f"'|' closing the absolute value opened at column {t.pos + 1}")
                return Node("func", "abs", [e], pos=t.pos)
            if v == "\\|":
                self.error("norms \\|...\\| are not supported; write the sum explicitly")
            if v == "?":
                self.error("unknown value '?': nothing to verify")
            if v in ("=",):
                self.error("expected a value before '='")
        if t.kind == "EOF":
            self.error("expected a value, found the end of the claim")
        self.error(f"expected a value, found {self.describe(t)}")

    def parse_letter(self) -> Node:
        t = self.next()
        name = t.value
        if _is_capital(name) and not self.matrix_notation:
            end = t.end
            while self.peek().kind == "LETTER" and _is_capital(self.peek().value) \
                    and self.peek().pos == end:
                u = self.next()
                name, end = name + u.value, u.end
            if len(name) > 1:
                return self.symbol_suffix(name, False, t.pos)
        if name in self.functions and (self.at_op("(") or self.at_op("'") or self.at_cmd("left")):
            return self.parse_spec_call(self.functions[name], t)
        if name == "f" and (self.at_op("'") or self.at_op("(")):
            self.error("f(...) names no known function; write the formula, name a spec "
                       "(e.g. \\mathrm{softplus}(x)), or bind f with --spec NAME", t)
        if name == "e" and not self.e_symbol and not self.at_op("_"):
            return Node("const", "E", pos=t.pos)
        return self.symbol_suffix(name, False, t.pos)

    def symbol_suffix(self, name: str, bold: bool, pos: int) -> Node:
        while True:
            if self.at_op("_"):
                self.next()
                sub = self.parse_sub_text()
                name = f"{name}_{sub}" if len(sub) == 1 or sub.isalnum() else f"{name}_{{{sub}}}"
            elif self.at_op("^") and self.peek(1).kind == "OP" and (
                    self.peek(1).value == "(" or (self.peek(1).value == "{" and self.peek(2).value == "(")):
                # y^{(i)}: a sample index, part of the name
                self.next()
                braced = self.at_op("{")
                if braced:
                    self.next()
                start = self.next().pos
                lvl = 1
                while lvl:
                    u = self.next()
                    if u.kind == "EOF":
                        self.error("unclosed '(' in a superscript index")
                    if u.value == "(":
                        lvl += 1
                    elif u.value == ")":
                        lvl -= 1
                end = u.end
                if braced:
                    self.expect_op("}")
                name = f"{name}^({self.text[start + 1:end - 1].strip()})"
            else:
                break
        return Node("sym", name, bold, pos=pos)

    def parse_sub_text(self) -> str:
        t = self.peek()
        if t.kind == "OP" and t.value == "{":
            self.next()
            s = self._braced_text(t, " in a subscript", _subscript_cmd)
            if not s:
                self.error("empty subscript", t)
            return s
        if t.kind == "NUM":
            return self._first_char_of_num()
        if t.kind == "LETTER":
            self.next()
            return t.value
        if t.kind == "CMD" and t.value in GREEK:
            self.next()
            return _GREEK_ALIAS.get(t.value, t.value)
        if t.kind == "CMD" and t.value in _TEXT_CMDS | _BOLD_CMDS:
            self.next()
            return self.read_word()
        self.error(f"expected a subscript, found {self.describe(t)}")

    def read_word(self) -> str:
        """The raw letters of a {...} argument (\\text{...}, \\mathrm{...})."""
        t = self.peek()
        if not self.at_op("{"):
            if t.kind in ("LETTER", "NUM"):
                self.next()
                return t.value
            if t.kind == "CMD" and t.value in GREEK:
                self.next()
                return _GREEK_ALIAS.get(t.value, t.value)
            self.error(f"expected '{{' after the command, found {self.describe(t)}")
        self.next()
        return self._braced_text(t, "", _word_cmd, spaced=True).strip()

    def _braced_text(self, t, where: str, cmd_text, spaced: bool = False) -> str:
        """The raw text up to the '}' closing the '{' just read (token t):
        nested braces dropped, commands through ``cmd_text``; with ``spaced``
        a space where the source separates two words."""
        parts, lvl = [], 1
        while True:
            u = self.next()
            if u.kind == "EOF":
                self.error(f"unclosed '{{'{where}", t)
            if u.kind == "OP" and u.value in ("{", "}"):
                lvl += 1 if u.value == "{" else -1
                if lvl == 0:
                    return "".join(parts)
                continue
            parts.append(cmd_text(u.value) if u.kind == "CMD" else u.value)
            if spaced and u.kind in ("LETTER", "NUM") and self.peek().pos > u.end \
                    and self.peek().kind in ("LETTER", "NUM"):
                parts.append(" ")

    def parse_command(self) -> Node:
        t = self.peek()
        c = t.value
        if c == "pi":
            self.next()
            return Node("const", "pi", pos=t.pos)
        if c == "sigma" and (self.peek(1).value in ("(", "'") or (
                self.peek(1).kind == "CMD" and self.peek(1).value == "left")):
            self.next()
            if self.at_op("'"):
                return self.parse_spec_call("sigmoid", t, already_named=True)
            return self.parse_func_args("sigmoid", t)
        if c == "Phi" and (self.peek(1).value == "(" or (
                self.peek(1).kind == "CMD" and self.peek(1).value == "left")):
            self.next()   # the standard normal CDF
            return self.parse_func_args("Phi", t)
        if c in GREEK:
            self.next()
            return self.symbol_suffix(_GREEK_ALIAS.get(c, c), False, t.pos)
        if c in ("frac", "dfrac", "tfrac", "cfrac"):
            return self.parse_frac()
        if c == "sqrt":
            self.next()
            index = None
            if self.at_op("["):
                self.next()
                index = self.parse_sum()
                self.expect_op("]", "']' closing the root index")
            arg = self.parse_group_or_token()
            return Node("func", "sqrt" if index is None else "root", [arg] + ([index] if index else []),
                        pos=t.pos)
        if c == "left":
            return self.parse_left()
        if c in ("lvert", "vert"):
            self.next()
            e = self.parse_sum()
            if not self.at_cmd("rvert", "vert"):
                self.error("expected '\\rvert' closing the absolute value")
            self.next()
            return Node("func", "abs", [e], pos=t.pos)
        if c in _ROUNDING:
            self.next()
            e = self.parse_sum()
            close, name = _ROUNDING[c]
            if not self.at_cmd(close):
                self.error(f"expected '\\{close}' closing the '\\{c}' at column {t.pos + 1}")
            self.next()
            return Node("func", name, [e], pos=t.pos)
        if c in _TEXT_CMDS:
            self.next()
            word = self.read_word()
            return self.word_atom(word, t)
        if c in _BOLD_CMDS:
            self.next()
            word = self.read_word()
            if not word or not word.replace("_", "").isalnum():
                self.error("expected a name inside the bold command", t)
            return self.symbol_suffix(word, True, t.pos)
        if c in _ACCENTS:
            self.next()
            word = self.read_word()
            if not word or not word.replace("_", "").isalnum():
                self.error("expected a name under the accent", t)
            return self.symbol_suffix(word + _ACCENTS[c], False, t.pos)
        if c in ELEMENTARY:
            self.next()
            if self.at_op("'") and normalize_name(c) in self.spec_names:
                return self.parse_spec_call(self.spec_names[normalize_name(c)], t, already_named=True)
            return self.parse_func_args(ELEMENTARY[c], t)
        if c == "nabla":
            return self.parse_nabla()
        if c == "partial":
            self.error("'\\partial' outside a fraction: write \\frac{\\partial}{\\partial w}(...)")
        if c == "begin":
            return self.parse_env()
        if c == "infty":
            self.error("infinity is not a value a claim can be checked at")
        if c in ("sum", "prod", "int", "lim"):
            self.error(f"'\\{c}' is not supported; write the terms explicitly")
        if c in _MUL_CMDS or c in _REL_CMDS:
            self.error(f"expected a value before {self.describe(t)}")
        self.error(f"unknown command {self.describe(t)}")

    def word_atom(self, word: str, t: Tok) -> Node:
        w = normalize_name(word)
        if not w:
            self.error("empty name", t)
        if w in ("d",):
            return Node("sym", "d", False, pos=t.pos)
        if self.at_op("'") and w in self.spec_names:
            return self.parse_spec_call(self.spec_names[w], t, already_named=True)
        if w in ELEMENTARY and w not in ("abs",):
            return self.parse_func_args(ELEMENTARY[w], t)
        if w in self.spec_names:
            return self.parse_spec_call(self.spec_names[w], t, already_named=True)
        if not word.replace("_", "").replace(" ", "").isalnum():
            self.error(f"'{word}' is not a name", t)
        return self.symbol_suffix(word.replace(" ", ""), False, t.pos)

    def parse_group_or_token(self) -> Node:
        if self.at_op("{"):
            t = self.next()
            e = self.parse_sum()
            self.expect_op("}", f"'}}' closing the '{{' at column {t.pos + 1}")
            return e
        return self.parse_script_token()

    def parse_left(self) -> Node:
        t = self.next()  # \left
        d = self.next()
        opener = d.value
        closers = {"(": ")", "[": "]", "\\{": "\\}", "|": "|", ".": None, "lvert": "rvert",
                   "\\|": "\\|", "lbrace": "rbrace", "langle": "rangle", "lfloor": "rfloor", "lceil": "rceil"}
        if opener not in closers:
            self.error(f"unexpected delimiter {self.describe(d)} after \\left", d)
        if opener == "\\|":
            self.error("norms \\|...\\| are not supported", d)
        if opener in ("|", "lvert"):
            self.abs_depth += 1
        e = self.parse_sum()
        if opener in ("|", "lvert"):
            self.abs_depth -= 1
        if not self.at_cmd("right"):
            self.error(f"expected '\\right' closing the '\\left' at column {t.pos + 1}, "
                       f"found {self.describe(self.peek())}")
        self.next()
        self.next()  # the closing delimiter (any: \right. is allowed)
        if opener in ("|", "lvert"):
            return Node("func", "abs", [e], pos=t.pos)
        if opener in _ROUNDING:
            return Node("func", _ROUNDING[opener][1], [e], pos=t.pos)
        return e

    # ---- functions ------------------------------------------------------------
    def parse_func_args(self, name: str, t: Tok) -> Node:
        power = None
        base = None
        if self.at_op("_") and name == "log":
            self.next()
            base = self.parse_group_or_token()
        if self.at_op("^"):
            self.next()
            kind, power = self.parse_superscript()
            if kind == "T":
                self.error("a function cannot be transposed", t)
            if (power.k == "neg" and power.a[0].k == "num" and power.a[0].a[0] == 1
                    and name in _INVERSE):
                name, power = _INVERSE[name], None
        if self.at_op("'"):
            self.error(f"a derivative of '{name}' by prime is supported for specs only; "
                       "write \\frac{d}{dx}(...)")
        args = self.parse_call_args(name)
        if base is not None:
            node = Node("div", Node("func", "log", args, pos=t.pos),
                        Node("func", "log", [base], pos=t.pos), pos=t.pos)
        else:
            node = Node("func", name, args, pos=t.pos)
        if name not in ("max", "min") and len(args) != 1:
            self.error(f"'{name}' takes one argument, got {len(args)}", t)
        if name in ("max", "min") and len(args) < 2:
            self.error(f"'{name}' needs at least two arguments", t)
        if power is not None:
            node = Node("pow", node, power, pos=t.pos)
        return node

    def parse_call_args(self, name: str) -> list:
        t = self.peek()
        pairs = {"(": ")", "[": "]", "\\{": "\\}"}
        left = False
        if self.at_cmd("left"):
            left = True
            self.next()
            t = self.peek()
        if t.kind == "OP" and t.value in pairs or (left and t.kind == "CMD" and t.value == "lbrace"):
            self.next()
            close = pairs.get(t.value, "\\}")
            args = [self.parse_sum()]
            while self.at_op(","):
                self.next()
                args.append(self.parse_sum())
            if left:
                if not self.at_cmd("right"):
                    self.error("expected '\\right' closing the argument list")
                self.next()
                self.next()
            else:
                self.expect_op(close, f"'{close}' closing the arguments of {name}")
            return args
        if left:
            self.error("expected '(' after \\left")
        if name in ("max", "min"):
            self.error(f"'\\{name}' needs its arguments in parentheses: \\{name}(a, b)")
        # no parentheses: the implicit product that follows
        if not self.starts_factor(self.peek()):
            self.error(f"expected the argument of {name}, found {self.describe(self.peek())}")
        arg = self.parse_power()
        while self.starts_factor(self.peek()) and not self._starts_function(self.peek()):
            u = self.peek()
            arg = Node("mul", arg, self.parse_power(), "implicit", pos=u.pos)
        return [arg]

    def _starts_function(self, t: Tok) -> bool:
        if t.kind != "CMD":
            return False
        return t.value in ELEMENTARY or t.value in _TEXT_CMDS or t.value in (
            "frac", "dfrac", "nabla", "sigma", "sqrt")

    def parse_spec_call(self, spec: str, t: Tok, already_named: bool = False) -> Node:
        order = 0
        while self.at_op("'"):
            self.next()
            order += 1
        if self.at_op("^") and self.peek(1).value == "{" and self.peek(2).value == "(":
            # f^{(2)}(x)
            self.next(), self.next(), self.next()
            n = self.next()
            if n.kind != "NUM":
                self.error("expected the derivative order", n)
            order += int(n.value)
            self.expect_op(")")
            self.expect_op("}")
        args = self.parse_call_args(spec)
        if len(args) != 1:
            self.error(f"{spec} takes one argument, got {len(args)}", t)
        return Node("spec", spec, order, args, pos=t.pos)
