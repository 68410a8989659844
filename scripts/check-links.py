#!/usr/bin/env python3
"""Checks the links of README.md and docs/**/*.md: every relative target must exist in the
repository, and every `#anchor` into a Markdown file must name one of its headings.

Checked: inline links and images (`[text](path)`, `[text](path#anchor)`, `![alt](path)`),
reference definitions (`[ref]: path`), full reference links whose reference is not defined, and
the `src`/`href` of HTML `<img>`, `<a>` and `<source>` tags. Skipped: http(s):, mailto: and
protocol-relative (`//host`) links, and anything inside fenced code blocks or inline code.

A link fails when its target does not exist, when it points outside the repository (such as
`../shared/...`), when it uses another scheme (`file:`, ...), or when its anchor is not a heading
(or an HTML `id`/`name`) of the Markdown file it points into. Anchors follow GitHub's rules: the
heading's text as rendered, lowercased, every character but letters, digits, `_`, `-` and spaces
dropped, spaces turned into `-`, and `-1`, `-2`, ... added to repeated headings.

Prints `file:line: <target>: <reason>` for each broken link and exits 1; exits 0 when every link
holds. Python 3.11, standard library only: `python3 scripts/check-links.py [ROOT]`.
"""

from __future__ import annotations

import html
import os
import re
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
# [text](target "title") and ![alt](target): the text may hold one level of brackets, the
# target one level of parentheses, or be written in <angle brackets>.
INLINE = re.compile(
    r"(!?)\[((?:[^\[\]\\]|\\.|\[(?:[^\[\]\\]|\\.)*\])*)\]"
    r"\(\s*(<[^<>\n]*>|(?:[^()\s\\]|\\.|\((?:[^()\s\\]|\\.)*\))*)"
    r"(?:\s+(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?\s*\)"
)
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[((?:[^\[\]\\]|\\.)+)\]:\s*(<[^<>]*>|\S+)")
FULL_REFERENCE = re.compile(r"\[((?:[^\[\]\\]|\\.|\[[^\[\]]*\])+)\]\[((?:[^\[\]\\]|\\.)*)\]")
HTML_TAG = re.compile(r"<(?:a|img|source)\b[^>]*>", re.IGNORECASE)
HTML_URL = re.compile(r"\b(?:href|src)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE)
HTML_ID = re.compile(r"<[a-z][^>]*\b(?:id|name)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
SKIPPED_SCHEMES = ("http:", "https:", "mailto:")


def markdown_files() -> list[Path]:
    files = [ROOT / "README.md"] if (ROOT / "README.md").is_file() else []
    docs = ROOT / "docs"
    if docs.is_dir():
        files += sorted(p for p in docs.rglob("*.md") if p.is_file())
    return files


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
            lines.append((number, line))
        elif match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                and not line.strip()[len(match.group(1)):].strip():
            fence = None
    return lines


def blank_code_spans(line: str) -> str:
    """The line with each inline code span replaced by spaces of the same length."""
    return CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)


def rendered_heading(text: str) -> str:
    """A heading's text roughly as GitHub renders it (markup gone, code spans' text kept)."""
    parts, position = [], 0
    for match in CODE_SPAN.finditer(text):
        parts.append(("text", text[position:match.start()]))
        parts.append(("code", match.group(2).strip() if match.group(2).strip() else match.group(2)))
        position = match.end()
    parts.append(("text", text[position:]))
    out = []
    for kind, part in parts:
        if kind == "text":
            part = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", part)  # images: their alt text
            part = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", part)  # links: their text
            part = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", part)
            part = re.sub(r"<[^>]+>", "", part)  # HTML tags
            part = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", part)  # backslash escapes
            part = re.sub(r"(\*+|~~)", "", part)  # emphasis, strikethrough
            part = re.sub(r"(?<![0-9A-Za-z])_+|_+(?![0-9A-Za-z])", "", part)  # _emphasis_
            part = html.unescape(part)
        out.append(part)
    return "".join(out).strip()


def slug(text: str) -> str:
    text = rendered_heading(text).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


_anchors: dict[Path, set[str]] = {}


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a Markdown file: its headings' slugs and its HTML ids."""
    if path in _anchors:
        return _anchors[path]
    found: set[str] = set()
    seen: dict[str, int] = {}

    def add_heading(text: str) -> None:
        base = slug(text)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")

    lines = prose_lines(path.read_text(encoding="utf-8"))
    previous: tuple[int, str] | None = None
    for number, line in lines:
        match = ATX.match(line)
        setext = SETEXT.match(line)
        if match:
            add_heading(match.group(2) or "")
        elif (
            setext
            and previous is not None
            and previous[0] == number - 1
            and previous[1].strip()
            and not ATX.match(previous[1])
            and not previous[1].lstrip().startswith(("-", "*", "+", ">", "|"))
        ):
            add_heading(previous[1].strip())
        for m in HTML_ID.finditer(line):
            found.add(m.group(1) if m.group(1) is not None else m.group(2))
        previous = (number, line)
    _anchors[path] = found
    return found


def check_target(source: Path, target: str) -> str | None:
    """Why the link to `target` from `source` is broken, or None when it holds."""
    target = target.strip()
    if target.startswith("<") and target.endswith(">"):
        target = target[1:-1].strip()
    if not target:
        return "empty link target"
    if target.startswith("//"):
        return None  # protocol-relative: another host
    lowered = target.lower()
    if SCHEME.match(target):
        if lowered.startswith(SKIPPED_SCHEMES):
            return None
        return "only http(s): and mailto: links may leave the repository"
    path_part, _, fragment = target.partition("#")
    path_part = path_part.split("?", 1)[0]
    path_part = urllib.parse.unquote(path_part)
    fragment = urllib.parse.unquote(fragment)
    if not path_part:
        resolved = source
    else:
        base = ROOT if path_part.startswith("/") else source.parent
        resolved = Path(os.path.normpath(base / path_part.lstrip("/")))
        if os.path.commonpath([ROOT, resolved]) != str(ROOT):
            return "points outside the repository"
        if not resolved.exists():
            return "no such file or directory"
    if fragment and resolved.is_file() and resolved.suffix.lower() in (".md", ".markdown"):
        if fragment not in anchors(resolved):
            where = "this file" if resolved == source else resolved.relative_to(ROOT).as_posix()
            return f"no heading with the anchor #{fragment} in {where}"
    return None


def links(path: Path) -> list[tuple[int, str]]:
    """Every link target of a Markdown file, with its line number."""
    text = path.read_text(encoding="utf-8")
    lines = prose_lines(text)
    definitions: set[str] = set()
    found: list[tuple[int, str]] = []
    for number, line in lines:
        line = blank_code_spans(line)
        match = REFERENCE_DEFINITION.match(line)
        if match:
            definitions.add(" ".join(match.group(1).lower().split()))
            found.append((number, match.group(2)))
            continue
        for m in INLINE.finditer(line):
            found.append((number, m.group(3)))
        for tag in HTML_TAG.finditer(line):
            for m in HTML_URL.finditer(tag.group(0)):
                found.append((number, html.unescape(m.group(1) if m.group(1) is not None else m.group(2))))
    for number, line in lines:
        line = blank_code_spans(line)
        for m in FULL_REFERENCE.finditer(INLINE.sub(lambda m: " " * len(m.group(0)), line)):
            label = m.group(2) or m.group(1)
            if " ".join(label.lower().split()) not in definitions:
                found.append((number, f"[{label}]"))
    return sorted(found, key=lambda link: link[0])


def main() -> int:
    broken = 0
    checked = 0
    files = markdown_files()
    for path in files:
        relative = path.relative_to(ROOT).as_posix()
        for number, target in links(path):
            checked += 1
            if target.startswith("[") and target.endswith("]"):
                reason = "reference link without a definition"
            else:
                reason = check_target(path, target)
            if reason:
                broken += 1
                print(f"{relative}:{number}: {target}: {reason}")
    if broken:
        print(f"{broken} broken link(s) of {checked} in {len(files)} file(s)", file=sys.stderr)
        return 1
    print(f"ok: {checked} links in {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
