"""Jenkins job templates (config.xml) shipped with the tool, and their renderer.

`promote-env.xml` is the parameterised Pipeline job a promotion is handed to when it
must run on a Jenkins agent; `app-pipeline.xml` is an app's job, its pipeline read
from the app repository's Jenkinsfile. docs/JENKINS.md explains every field.

A template marks its values `{{ name }}` (text in the XML) or `{{ name | groovy }}`
(a Groovy string literal inside the job's inline script, `null` when empty). Values
are escaped for where they stand, never pasted: a job's config.xml is code Jenkins
runs, and a quote in a project path must not end the script's string.
"""

from __future__ import annotations

import re
from importlib import resources
from xml.sax.saxutils import escape

from jenkins_helpers.errors import BadInput

TEMPLATES = ("app-pipeline", "promote-env")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*(?:\|\s*(groovy)\s*)?\}\}")
# XML 1.0 cannot carry most control characters, and a newline would end a Groovy
# single-quoted string: such values are refused rather than mangled.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def template_text(template: str) -> str:
    """The raw text of a template, by name (`promote-env`, `app-pipeline`)."""
    if template not in TEMPLATES:
        raise BadInput(
            f"no Jenkins job template {template!r}",
            f"the templates are {', '.join(TEMPLATES)} (docs/JENKINS.md)",
        )
    return (resources.files(__name__) / f"{template}.xml").read_text(encoding="utf-8")


def placeholders(template: str) -> list[str]:
    """The values a template needs, in order of first use."""
    names = (m.group(1) for m in _PLACEHOLDER.finditer(template_text(template)))
    return list(dict.fromkeys(names))


def job_config(template: str, **values: str) -> str:
    """The config.xml of a job from `template`, every placeholder given and escaped.

    Example: job_config("app-pipeline", repository_url="https://gitlab.example.com/
    apps/example-app.git", branch="main", credentials_id="gitlab-git").
    """
    text = template_text(template)
    wanted = placeholders(template)
    missing = [name for name in wanted if name not in values]
    unknown = sorted(set(values) - set(wanted))
    if missing or unknown:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(unknown)}"] if unknown else []
        raise BadInput(
            f"Jenkins job template {template}: {'; '.join(problems)}",
            f"it takes {', '.join(wanted)} (docs/JENKINS.md)",
        )
    for name, value in values.items():
        if not isinstance(value, str) or _CONTROL.search(value):
            raise BadInput(
                f"Jenkins job template {template}: {name} must be text on one line, "
                f"got {value!r:.60}",
                "remove newlines and other control characters",
            )
    return _PLACEHOLDER.sub(lambda m: _render(values[m.group(1)], m.group(2)), text)


def _render(value: str, context: str | None) -> str:
    # Placeholders stand in element text only (never in attributes), where &, < and >
    # are all XML needs escaped.
    if context == "groovy":
        # Single quotes: Groovy interpolates nothing in them ($ stays a dollar sign).
        literal = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'" if value else "null"
        return escape(literal)
    return escape(value)
