"""The HTTP side of :class:`~benchmarks.support.fake_openai.FakeOpenAIServer`: its routes, and its
faults as they go on the wire.

:func:`bind` takes the fake and gives back a stdlib ``ThreadingHTTPServer`` on a free loopback
port (127.0.0.1 only) whose requests go to the fake's parts: ``POST /v1/chat/completions`` (the
fake's completion, or the call's fault: one of :data:`FAULTS`, each named for what it sends),
``GET /v1/models``, the files and fine-tuning routes (:mod:`benchmarks.support.fake_finetune`) and
the Batch API (:mod:`benchmarks.support.fake_batch`). A body over :data:`MAX_BODY_BYTES`
(:data:`MAX_FILE_BYTES` for an upload) gets 413, and a strict fake answers a chat parameter
outside :data:`OPENAI_CHAT_KEYS` with OpenAI's 400.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from benchmarks.support.fake_openai import FakeOpenAIServer

RATE_LIMIT = "rate_limit"  # 429 with a Retry-After header
SERVER_ERROR = "server_error"  # 500
TIMEOUT = "timeout"  # answers only after ``timeout_sleep_s`` (longer than the client waits)
MALFORMED = "malformed"  # 200 with a body that is not JSON
EMPTY_CHOICES = "empty_choices"  # 200 with "choices": []
NULL_CONTENT = "null_content"  # 200 with message.content = null
DISCONNECT = "disconnect"  # closes the connection without answering
BAD_REQUEST = "bad_request"  # 400 (not worth retrying)
AUTH_ECHO = "auth_echo"  # 401 whose body repeats the Authorization header, as careless proxies do
FAULTS = (RATE_LIMIT, SERVER_ERROR, TIMEOUT, MALFORMED, EMPTY_CHOICES, NULL_CONTENT, DISCONNECT, BAD_REQUEST, AUTH_ECHO)
TRANSIENT_FAULTS = (RATE_LIMIT, SERVER_ERROR, TIMEOUT, MALFORMED, EMPTY_CHOICES)
MAX_BODY_BYTES = 1_000_000
MAX_FILE_BYTES = 256_000_000  # an upload (a batch file may hold 200 MB)
_FILES, _JOBS, _BATCHES = "/v1/files", "/v1/fine_tuning/jobs", "/v1/batches"

#: What OpenAI's chat API accepts; ``strict`` refuses anything else (vLLM's extensions included).
OPENAI_CHAT_KEYS = frozenset(
    "model messages temperature max_tokens max_completion_tokens seed n stop logprobs top_logprobs "
    "top_p frequency_penalty presence_penalty response_format stream user tools tool_choice".split()
)


def bind(fake: FakeOpenAIServer) -> ThreadingHTTPServer:
    """A server bound to a free loopback port (not yet serving) that answers for ``fake``."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.fake = fake
    return httpd


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    fake: FakeOpenAIServer

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return client_address[0] in ("127.0.0.1", "::1")

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up on stalled replies (that is the point of the timeout fault).
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add about 40 ms to every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        fake = self.server.fake
        if self.path.startswith(_JOBS + "/"):
            self._send(*fake.fine_tuning.retrieve(self.path[len(_JOBS) + 1 :].rstrip("/")))
            return
        if self.path.startswith(_BATCHES + "/"):
            self._send(*fake.batches.retrieve(self.path[len(_BATCHES) + 1 :].rstrip("/")))
            return
        if self.path.startswith(_FILES + "/") and self.path.rstrip("/").endswith("/content"):
            status, body = fake.batches.content(self.path[len(_FILES) + 1 :].rstrip("/").removesuffix("/content"))
            self._send_bytes(status, body, "application/octet-stream")
            return
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        self._send(
            200,
            {
                "object": "list",
                "data": [{"id": self.server.fake.model, "object": "model", "created": 0, "owned_by": "fake"}],
            },
        )

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        if length > (MAX_FILE_BYTES if self.path.rstrip("/") == _FILES else MAX_BODY_BYTES):
            self.close_connection = True
            self._send(413, {"error": {"message": "body too large", "type": "invalid_request_error"}})
            return
        raw = self.rfile.read(length)
        if self.path.rstrip("/") in (_FILES, _JOBS):
            self._fine_tuning(raw)
            return
        if self.path.rstrip("/") == _BATCHES:
            self._json_request(raw, fake.batches.create)
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        try:
            request = json.loads(raw)
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        fake.requests.append(request)
        fake.headers.append({k.lower(): v for k, v in self.headers.items()})
        unknown = sorted(set(request) - OPENAI_CHAT_KEYS) if fake.strict else []
        if unknown:
            message = f"Unrecognized request argument supplied: {unknown[0]}"
            self._send(400, {"error": {"message": message, "type": "invalid_request_error"}})
            return
        fault = fake.next_fault()
        if not fake.pause(fake.latency_s):
            return
        if fault == TIMEOUT and not fake.pause(fake.timeout_sleep_s):
            return
        chars = sum(len(m.get("content") or "") for m in request.get("messages", []))
        if fake.max_prompt_chars is not None and chars > fake.max_prompt_chars:
            self._send(
                400,
                {
                    "error": {
                        "message": f"This model's maximum context length is {fake.max_prompt_chars} "
                        f"characters; your messages hold {chars}",
                        "type": "invalid_request_error",
                        "code": "context_length_exceeded",
                    }
                },
            )
        elif fault == RATE_LIMIT:
            self._send(
                429,
                {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                headers={"Retry-After": fake.retry_after},
            )
        elif fault == SERVER_ERROR:
            self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
        elif fault == BAD_REQUEST:
            self._send(400, {"error": {"message": "bad request", "type": "invalid_request_error"}})
        elif fault == AUTH_ECHO:
            self._send(
                401,
                {
                    "error": {
                        "message": f"invalid key {self.headers.get('Authorization')}",
                        "type": "invalid_request_error",
                    }
                },
            )
        elif fault == MALFORMED:
            self._send_bytes(200, b'{"choices": [ this is not json', "application/json")
        elif fault == DISCONNECT:
            self.close_connection = True
        else:
            self._send(200, fake.completion(request, fault))

    def _fine_tuning(self, raw: bytes) -> None:
        fine_tuning = self.server.fake.fine_tuning
        if self.path.rstrip("/") == _FILES:
            self._send(*fine_tuning.upload(self.headers.get("Content-Type", ""), raw))
            return
        self._json_request(raw, fine_tuning.create)

    def _json_request(self, raw: bytes, handle: Callable[[dict], tuple[int, dict]]) -> None:
        try:
            request = json.loads(raw)
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
            return
        self._send(*handle(request))

    def _send(self, status: int, payload: dict, *, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
