"""A small Markdown renderer for the sandbox's pages: escape everything, then format.

Merge request descriptions come from users, so nothing in them may become
markup: every character is HTML-escaped first and only the formatting below is
added (headings, paragraphs, lists, tables, fenced code, inline code, bold,
http(s) links), plus the HTML elements GitLab's Markdown lets through
(`inline_html`). HTML comments are dropped, as GitLab hides them. Anything else
shows as the text it is. Written for the descriptions `gitops-helper` writes,
not as a complete CommonMark.
"""

from __future__ import annotations

import html
import re

from gitops_sandbox import inline_html

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_FENCE = re.compile(r"^(`{3,}|~{3,})\s*([\w+-]*)\s*$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+(.*)$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")


def inline(text: str) -> str:
    """One line's inline formatting: http(s) links (their text formatted too, e.g.
    [`sha`](url)), then code spans (literal) and the rest; every character escaped."""
    spans = [m.span() for m in _CODE_SPAN.finditer(text)]
    parts = []
    last = 0
    for match in _LINK.finditer(text):
        if any(start <= match.start() < end for start, end in spans):
            continue  # inside a code span: text
        parts.append(_spans(text[last : match.start()]))
        href = html.escape(match.group(2))
        parts.append(f'<a href="{href}" rel="nofollow noreferrer">{_spans(match.group(1))}</a>')
        last = match.end()
    parts.append(_spans(text[last:]))
    return "".join(parts)


def _spans(text: str) -> str:
    """Code spans (literal) and the text between them (bold, allowed bare tags)."""
    parts = []
    last = 0
    for match in _CODE_SPAN.finditer(text):
        parts.append(_emphasis(text[last : match.start()]))
        parts.append(f"<code>{html.escape(match.group(2).strip())}</code>")
        last = match.end()
    parts.append(_emphasis(text[last:]))
    return "".join(parts)


def _emphasis(text: str) -> str:
    escaped = inline_html.allow(html.escape(text))
    return _BOLD.sub(r"<strong>\1</strong>", escaped)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def render(markdown: str | None) -> str:
    """The HTML of a Markdown text; every user character escaped but allowed bare tags."""
    return inline_html.balance(_blocks(markdown))


def _blocks(markdown: str | None) -> str:
    """The blocks, user tags still marked for `inline_html.balance`."""
    # NUL is no character of Markdown (CommonMark replaces it with U+FFFD); the
    # renderer uses it to mark the tags it let through.
    text = (markdown or "").replace("\0", "\ufffd")
    lines = _COMMENT.sub("", text).splitlines()
    out: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{'<br>'.join(inline(p) for p in paragraph)}</p>")
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            closing = re.compile(rf"^{re.escape(fence.group(1)[0])}{{{len(fence.group(1))},}}\s*$")
            code: list[str] = []
            i += 1
            while i < len(lines) and not closing.match(lines[i]):
                code.append(lines[i])
                i += 1
            lang = html.escape(fence.group(2))
            out.append(
                f'<pre class="code {lang}"><code>{html.escape(chr(10).join(code))}</code></pre>'
            )
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif (
            line.lstrip().startswith("|") and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1])
        ):
            flush()
            head = "".join(f"<th>{inline(c)}</th>" for c in _cells(line))
            rows = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append("".join(f"<td>{inline(c)}</td>" for c in _cells(lines[i])))
                i += 1
            body = "".join(f"<tr>{r}</tr>" for r in rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            continue
        elif _BULLET.match(line) or _NUMBERED.match(line):
            flush()
            tag = "ul" if _BULLET.match(line) else "ol"
            pattern = _BULLET if tag == "ul" else _NUMBERED
            items = []
            while i < len(lines) and (item := pattern.match(lines[i])):
                items.append(f"<li>{inline(item.group(1))}</li>")
                i += 1
            out.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        elif inline_html.starts_block(line):
            flush()  # an HTML block (CommonMark): no paragraph around it
            out.append(inline(line.strip()))
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)
