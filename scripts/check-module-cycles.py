#!/usr/bin/env python3
"""Fails when the modules of a crate import one another in a cycle.

Usage: check-module-cycles.py CRATE_SRC_DIR...

Each .rs file under a crate's `src/` is a module (`lib.rs` the root, `x/mod.rs` and `x.rs` the
module `x`). A file depends on another when it names one of its items by path: `crate::a::b`,
`super::…`, or a child module's name (`sqs::call`). Every dependency must point one way, a
parent's on its children included, so that each file can be read knowing only the files below
it: what a module's children share lives in a child of its own, not in the parent that uses
them. Test modules (`#[cfg(test)] mod … { … }`, and `tests.rs` files) are left out: a test may
reach anywhere. Prints each set of modules that import one another, with the imports inside the
set, and exits 1 if there is one.
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)(::\{[^}]*\})?")


def modules(src: Path) -> dict[tuple[str, ...], Path]:
    found = {}
    for file in src.rglob("*.rs"):
        parts = list(file.relative_to(src).with_suffix("").parts)
        if parts == ["lib"] or parts == ["main"]:
            parts = [] if parts == ["lib"] else ["<main>"]
        elif parts[-1] == "mod":
            parts = parts[:-1]
        if parts and parts[-1] == "tests":
            continue
        found[tuple(parts)] = file
    return found


TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")


def code_of(file: Path) -> str:
    # Comments (doc links included) are not imports.
    text = "\n".join(line.split("//")[0] for line in file.read_text().splitlines())
    # Nor is what only tests compile: each `#[cfg(test)] mod … { … }` is cut out.
    while match := TEST_MODULE.search(text):
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(text)):
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            if depth == 0:
                break
        text = text[: match.start()] + text[end + 1 :]
    return text


def resolve(path: tuple[str, ...], mods) -> tuple[str, ...] | None:
    """The longest prefix of `path` that is a module."""
    for end in range(len(path), -1, -1):
        if path[:end] in mods:
            return path[:end]
    return None


def graph(src: Path):
    mods = modules(src)
    edges: dict[tuple[str, ...], set[tuple[str, ...]]] = {m: set() for m in mods}
    for module, file in mods.items():
        here = [] if module == ("<main>",) else list(module)
        code = code_of(file)
        targets = []
        for root, rest, group in PATH.findall(code):
            if not rest and not group:
                continue  # the word, not a path
            names = rest.split("::")[1:]
            if root == "crate":
                base = []
            elif root == "self":
                base = list(here)
            else:  # `super::x`, `super::super::x`
                ups = 1 + names.count("super")
                base = here[: len(here) - ups]
                names = [n for n in names if n != "super"]
            # `use super::{a, b::c}`: each item of the group.
            items = [item.strip().split("::")[0] for item in group.strip(":{}").split(",")]
            for item in [i for i in items if i and i != "self"] or [None]:
                targets.append(tuple(base + names + ([item] if item else [])))
        children = {m[-1] for m in mods if len(m) == len(here) + 1 and list(m[:-1]) == here}
        for child in children:
            if re.search(rf"(?<![\w:]){re.escape(child)}::", code):
                targets.append(tuple(here + [child]))
        for target in targets:
            resolved = resolve(target, mods)
            if resolved is None or resolved == module:
                continue
            edges[module].add(resolved)
    return mods, edges


def cycles(edges):
    """The strongly connected components of more than one module (Tarjan's algorithm): each is a
    set of modules that import one another, directly or through the others."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def main() -> int:
    failed = False
    for src in map(Path, sys.argv[1:]):
        mods, edges = graph(src)
        for cycle in cycles(edges):
            failed = True
            members = ", ".join(str(mods[m].relative_to(src)) for m in cycle)
            print(f"{src}: these modules import one another: {members}")
            for module in cycle:
                inside = sorted(str(mods[t].relative_to(src)) for t in edges[module] if t in cycle)
                print(f"  {mods[module].relative_to(src)} -> {', '.join(inside)}")
        if not failed:
            print(f"{src}: {len(mods)} modules, no import cycle")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
