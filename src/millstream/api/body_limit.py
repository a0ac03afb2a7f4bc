"""The largest request body the web server reads (``[limits] max_request_bytes``).

A body declared larger is refused with 413 before a byte of it is read; a body sent
without a length (chunked) is counted as it arrives and refused with 413 as soon as it
passes the limit, before the route sees it. Either way nothing is stored.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """Refuses request bodies over ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, f"the request body is {declared} bytes")
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the route's reading of its body: the application's
                    # own handler answers it (problem details on the API, a page on the UI).
                    raise HTTPException(413, self._message("the request body is larger"))
            return message

        await self.app(scope, counted, send)

    def _message(self, what: str) -> str:
        return (f"{what}; at most {self.max_bytes} bytes are allowed "
                "([limits] max_request_bytes)")

    async def _refuse(self, send: Send, what: str) -> None:
        body = json.dumps({"type": "about:blank", "title": "Content Too Large", "status": 413,
                           "detail": self._message(what)}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
