"""The HTML that GitLab's Markdown lets through, as bare tags: `<details>`, `<summary>`, ...

GitLab sanitises the HTML in Markdown with HTML::Pipeline's SanitizationFilter
allowlist plus `span`, `abbr`, `details` and `summary` (docs.gitlab.com, user/markdown
"Inline HTML"; html-pipeline 2.12 lib/html/pipeline/sanitization_filter.rb). The
sandbox lets those elements through only as bare tags (`<details>`, `</details>`,
`<br/>`): a tag with any attribute, and every other element, stays escaped text, so
nothing a user writes can carry a script, an event handler or a URL. `a` and `img`
are left out: without attributes they do nothing.

The renderer escapes everything first; `allow` turns the escaped bare tags back into
tags, marked with NUL (which Markdown never holds), and `balance` closes what a user
left open and drops closing tags nobody opened, so user tags cannot end or reach into
the page around the description.
"""

from __future__ import annotations

import re


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


MARK = "\0"
VOID = frozenset({"br", "wbr", "hr"})
BLOCK = _names(
    "details summary div p blockquote pre hr h1 h2 h3 h4 h5 h6 ol ul li dl dt dd "
    "table thead tbody tfoot tr td th caption figure figcaption"
)
ALLOWED = BLOCK | _names(
    "br wbr b i strong em code tt ins del sup sub kbd q samp var s strike abbr bdo cite "
    "dfn mark small span time ruby rt rp"
)
_ESCAPED_TAG = re.compile(r"&lt;(/?)([A-Za-z][A-Za-z0-9]*)\s*(/?)&gt;")
_MARKED_TAG = re.compile(MARK + r"<(/?)([a-z0-9]+)>")
_BLOCK_START = re.compile(r"^\s{0,3}</?([A-Za-z][A-Za-z0-9]*)\s*/?>")


def allow(escaped: str) -> str:
    """Escaped text with its allowed bare tags turned back into (marked) tags."""

    def tag(match: re.Match[str]) -> str:
        closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
        if name not in ALLOWED or (name in VOID and closing) or (self_closing and name not in VOID):
            return match.group(0)
        return f"{MARK}<{closing}{name}>"

    return _ESCAPED_TAG.sub(tag, escaped)


def starts_block(line: str) -> bool:
    """Whether a raw Markdown line opens an HTML block (CommonMark's kind 6) of an
    allowed element: it is then no paragraph."""
    match = _BLOCK_START.match(line)
    return match is not None and match.group(1).lower() in BLOCK


def balance(rendered: str) -> str:
    """The rendered HTML with the user's tags balanced and their marks removed."""
    out: list[str] = []
    stack: list[str] = []
    last = 0
    for match in _MARKED_TAG.finditer(rendered):
        out.append(rendered[last : match.start()])
        last = match.end()
        closing, name = match.group(1), match.group(2)
        if name in VOID:
            out.append(f"<{name}>")
        elif not closing:
            stack.append(name)
            out.append(f"<{name}>")
        elif name in stack:  # close it, and whatever the user opened inside it
            while stack:
                inner = stack.pop()
                out.append(f"</{inner}>")
                if inner == name:
                    break
    out.append(rendered[last:])
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out).replace(MARK, "")
