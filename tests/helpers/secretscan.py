"""Reading a secret back out of text, as someone who has the text would: percent-decoded,
base64-decoded at every offset. The masking tests scan every output channel with it."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote


def recoverable(token: str, text: str) -> bool:
    """Whether `token` can be read back from `text`: as it is, percent-decoded (up to three
    times, reading `+` as a space as forms do and as itself as paths do), or in base64
    (either alphabet, any alignment) in any of those."""
    layers = [text]
    for plus in (" ", "+"):
        layer = text
        for _ in range(3):
            layer = unquote(layer.replace("+", plus))
            layers.append(layer)
    needle = token.encode()
    for layer in layers:
        if token in layer:
            return True
        for run in re.findall(r"[A-Za-z0-9+/_-]{4,}", layer):
            for offset in range(4):
                chunk = run[offset:]
                chunk = chunk[: len(chunk) - 1] if len(chunk) % 4 == 1 else chunk
                chunk += "=" * (-len(chunk) % 4)
                for alphabet in (None, b"-_"):
                    try:
                        decoded = base64.b64decode(chunk, altchars=alphabet)
                    except (binascii.Error, ValueError):
                        continue
                    if needle in decoded:
                        return True
    return False
