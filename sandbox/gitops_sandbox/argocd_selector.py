"""Kubernetes label selectors, as Argo CD's List parses `?selector=` (labels.Parse of
k8s.io/apimachinery; [Labels and Selectors](https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors)).

Requirements separated by commas, all of which must hold: `key` (has it), `!key`
(lacks it), `key=value` / `key==value`, `key!=value` (true without the label too),
`key in (a,b)`, `key notin (a,b)` (true without the label too). The numeric `gt` /
`lt` forms are not emulated (a parse error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_KEY = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
_EQUALS = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(\s*({_VALUE}(?:\s*,\s*{_VALUE})*)\s*\)$")

Labels = Mapping[str, str]
Requirement = Callable[[Labels], bool]


class SelectorError(ValueError):
    """The selector does not parse; the message names the requirement."""


def parse(selector: str) -> Requirement:
    """A predicate over an object's labels; SelectorError when it does not parse."""
    requirements = [_requirement(part.strip()) for part in _split(selector) if part.strip()]
    return lambda labels: all(req(labels) for req in requirements)


def _split(selector: str) -> list[str]:
    """The requirements: commas split, except inside `( )`."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _requirement(text: str) -> Requirement:
    if m := _EXISTS.match(text):
        negated, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negated
    if m := _EQUALS.match(text):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _SET.match(text):
        key, op, listed = m.groups()
        values = {v.strip() for v in listed.split(",")}
        if op == "notin":
            return lambda labels: labels.get(key) not in values
        return lambda labels: key in labels and labels[key] in values
    raise SelectorError(f"unable to parse requirement: {text!r}")
