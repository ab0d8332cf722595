"""Request and response helpers shared by the GitLab API views.

Token check (which user is calling), parameter merging (Grape merges query, form
and JSON parameters, so curl and python-gitlab both work), and GitLab's offset
pagination headers, which python-gitlab follows through the `Link` header when
asked for `get_all=True`.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlencode

from flask import Response, request
from werkzeug.routing import BaseConverter

from gitops_sandbox import users
from gitops_sandbox.context import services
from gitops_sandbox.errors import ApiError, forbidden, unauthorized
from gitops_sandbox.users import User

T = TypeVar("T")
RAW_PATH_KEY = "sandbox.raw_path"


class EncodedConverter(BaseConverter):
    """One URL segment that may hold `%2F`: a project path, a file path, a branch name.

    The app hands routing the raw (still percent-encoded) path for `/api/v4/`, so
    `platform%2Fk8s-deployments` stays one segment; this converter decodes it.
    """

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        """Decode the segment."""
        return unquote(value)

    def to_url(self, value: Any) -> str:
        """Encode a value as one segment."""
        return quote(str(value), safe="")


def presented_token() -> str | None:
    """The token a GitLab client sent: `PRIVATE-TOKEN`, `Bearer`, basic auth or query."""
    header = request.headers.get("PRIVATE-TOKEN")
    if header:
        return header
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return request.args.get("private_token") or request.args.get("access_token")


def token_user(token: str | None) -> User | None:
    """The user a token authenticates, or None.

    Compared in constant time with every user's token, without stopping at a
    match, so the answer's timing tells nothing about the tokens.
    """
    if token is None:
        return None
    found = None
    for user_id, secret in services().user_tokens():
        if hmac.compare_digest(token.encode(), secret.encode()):
            found = users.by_id(user_id)
    return found


def token_valid(token: str | None) -> bool:
    """Whether the token is one of the sandbox users' tokens."""
    return token_user(token) is not None


def current_user() -> User:
    """Who is calling: the owner of the request's token, or GitLab's 401."""
    user = token_user(presented_token())
    if user is None:
        raise unauthorized()
    return user


def require_token() -> None:
    """Answer GitLab's 401 unless the request carries a sandbox user's token."""
    current_user()


def require_admin() -> User:
    """The caller, who must be the administrator: 401 without a valid token, else 403."""
    user = current_user()
    if not user.is_admin:
        raise forbidden()
    return user


def authenticate_api() -> Response | None:
    """The API's access rule: the token, or an anonymous caller who sees no project.

    A wrong token is 401. Without any token GitLab serves the public part of the
    instance: every sandbox project is private, so a project's routes answer
    `404 Project Not Found` (GitLab does not reveal that a private project
    exists), the project list is empty, and everything else is 401.
    """
    if presented_token() is not None:
        require_token()
        return None
    path = request.environ.get(RAW_PATH_KEY) or request.path
    if request.method == "GET" and path.rstrip("/") == "/api/v4/projects":
        return paginate([], lambda p: p)
    if path.startswith("/api/v4/projects/"):
        raise ApiError(404, {"message": "404 Project Not Found"})
    raise unauthorized()


def params() -> dict[str, Any]:
    """Query, form and JSON parameters merged (JSON wins), as Grape sees them."""
    merged: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        merged[key.removesuffix("[]")] = values if key.endswith("[]") else values[-1]
    if request.form:
        merged.update(request.form.to_dict())
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        merged.update(body)
    return merged


def to_bool(value: Any, default: bool = False) -> bool:
    """A boolean parameter as Grape coerces it."""
    if value is None:
        return default
    return value is True or str(value).lower() in ("true", "1", "yes")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON answer with GitLab's content type."""
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def paginate(items: list[T], render: Callable[[T], Any]) -> Response:
    """One page of `items` with X-Page, X-Per-Page, X-Next-Page, X-Total(-Pages) and Link."""
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(100, max(1, int(request.args.get("per_page", 20))))
    except ValueError as e:
        raise ApiError(400, {"error": "page is invalid"}) from e
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }
    links = []
    if page < pages:
        links.append(f'<{_page_url(page + 1, per_page)}>; rel="next"')
    if page > 1:
        links.append(f'<{_page_url(page - 1, per_page)}>; rel="prev"')
    links.append(f'<{_page_url(1, per_page)}>; rel="first"')
    links.append(f'<{_page_url(pages, per_page)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return json_response([render(item) for item in chunk], headers=headers)


def paginate_keyset(
    items: list[T], render: Callable[[T], Any], next_params: Callable[[T], dict[str, str]]
) -> Response:
    """Keyset pagination: the first `per_page` of `items` (which start after the token the
    request carried), and, when more follow, a `Link` to the next page whose query is the
    request's with `next_params(last item)` merged in. No offset headers, no total
    (lib/gitlab/pagination/keyset/header_builder.rb;
    doc/api/rest/_index.md#keyset-based-pagination).
    """
    per_page = _per_page()
    chunk = items[:per_page]
    headers = {}
    if len(items) > per_page:
        args = {k: v for k, v in request.args.items() if k != "page"}
        args.update(next_params(chunk[-1]))
        path = request.environ.get(RAW_PATH_KEY) or quote(request.path)
        url = f"{request.host_url.rstrip('/')}{path}?{urlencode(args)}"
        headers["Link"] = f'<{url}>; rel="next"'
    return json_response([render(item) for item in chunk], headers=headers)


def _per_page() -> int:
    try:
        return min(100, max(1, int(request.args.get("per_page", 20))))
    except ValueError as e:
        raise ApiError(400, {"error": "per_page is invalid"}) from e


def check_values(*specs: tuple[str, Any, Iterable[Any]]) -> None:
    """Grape's `values:` validation of (name, value, allowed) triples, all at once:
    400 `{"error": "order_by does not have a valid value, ..."}`; None is not given."""
    bad = [name for name, value, allowed in specs if value is not None and value not in allowed]
    if bad:
        raise ApiError(400, {"error": ", ".join(f"{n} does not have a valid value" for n in bad)})


def int_param(p: dict[str, Any], name: str) -> int | None:
    """An Integer parameter, or None when absent; Grape's 400 `<name> is invalid` if not one."""
    value = p.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise ApiError(400, {"error": f"{name} is invalid"}) from e


def _page_url(page: int, per_page: int) -> str:
    # Built from the URL the client used (host and raw path), so python-gitlab's
    # check that `next` stays on its configured base URL holds.
    path = request.environ.get(RAW_PATH_KEY) or quote(request.path)
    args: list[tuple[str, str]] = [
        (k, v) for k, v in request.args.items(multi=True) if k not in ("page", "per_page")
    ]
    args += [("page", str(page)), ("per_page", str(per_page))]
    return f"{request.host_url.rstrip('/')}{path}?{urlencode(args)}"


def search(items: Iterable[T], text: str | None, fields: Callable[[T], Iterable[Any]]) -> list[T]:
    """Items whose fields contain `text` (case-insensitive), as GitLab's `search` filter."""
    if not text:
        return list(items)
    needle = text.lower()
    return [i for i in items if any(needle in str(f or "").lower() for f in fields(i))]
