"""ia-go Python step shim.

The Go worker runs ``python3 ia_shim.py`` once per step attempt (one process
per call: simple, isolated, nothing leaks between runs; the cost is the
interpreter start-up, about 20-50 ms). The protocol is the one of the Go
``exec`` step: one JSON request on stdin, one JSON document on stdout,
either ``{"output": <result>}`` or ``{"error": {...}}`` with exit status 1.
Everything else (prints, logging, tracebacks) goes to stderr, which the
worker logs.

Standard library only; Python 3.8+.
"""

import asyncio
import importlib
import inspect
import json
import logging
import os
import sys
import traceback

# The shim's own directory goes first, so that its ia_modules compatibility
# package wins over any installed ia_modules.
_HERE = os.path.dirname(os.path.abspath(__file__))
if not sys.path or sys.path[0] != _HERE:
    sys.path.insert(0, _HERE)

from ia_modules.pipeline.core import Step  # noqa: E402
from ia_modules.pipeline.errors import PipelineError  # noqa: E402
from ia_modules.pipeline.services import ServiceRegistry  # noqa: E402


def classify(exc):
    """Return (category, retryable) for an exception.

    Explicit beats guessed: an exception with a bool ``retryable`` attribute
    decides itself, and a PipelineError uses its category and
    ``recoverable``. Otherwise the reference engine's rules apply, first
    match wins: type name or message containing "timeout" -> timeout,
    retryable; type name containing connection/network/http -> network,
    retryable; validation/schema/type -> validation, not retryable; memory ->
    resource, not retryable; type name or message containing database/sql ->
    dependency, retryable; anything else -> unknown, NOT retryable (as the
    reference: an unexpected exception is a bug until shown otherwise).
    """
    retryable = getattr(exc, "retryable", None)
    if isinstance(exc, PipelineError):
        return exc.category, bool(exc.recoverable if retryable is None else retryable)
    if isinstance(retryable, bool):
        return "explicit", retryable
    name = type(exc).__name__.lower()
    msg = str(exc).lower()
    if "timeout" in name or "timeout" in msg:
        return "timeout", True
    if any(w in name for w in ("connection", "network", "http")):
        return "network", True
    if any(w in name for w in ("validation", "schema", "type")):
        return "validation", False
    if "memory" in name:
        return "resource", False
    if any(w in name or w in msg for w in ("database", "sql")):
        return "dependency", True
    return "unknown", False


def error_doc(exc):
    category, retryable = classify(exc)
    doc = {
        "message": str(exc) or type(exc).__name__,
        "type": type(exc).__name__,
        "category": category,
        "retryable": retryable,
    }
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(retry_after, (int, float)) and retry_after > 0:
        doc["retry_after"] = float(retry_after)
    return doc


def pick_callable(step):
    """run(data) when the object has it (Step.run dispatches to execute or
    work); execute/work for plain classes that do not derive from Step."""
    for name in ("run", "execute", "work"):
        fn = getattr(step, name, None)
        if callable(fn):
            return fn
    raise PipelineError(
        "%s has no run(), execute() or work() method" % type(step).__name__,
        category="configuration",
    )


def run_step(req):
    module_name = req.get("module") or ""
    class_name = req.get("step_class") or ""
    if not module_name or not class_name:
        raise PipelineError("request needs module and step_class", category="configuration")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise PipelineError(
            "module %r has no class %r" % (module_name, class_name), category="configuration"
        )
    step = cls(req.get("step_id") or class_name, req.get("config") or {})

    services = ServiceRegistry()
    services.register(
        "run_context",
        {
            k: req.get(k)
            for k in ("run_id", "step_id", "attempt", "iteration", "idempotency_key")
        },
    )
    step.services = services

    fn = pick_callable(step)
    data = req.get("data") or {}

    async def call():
        result = fn(data)
        if inspect.isawaitable(result):
            result = await result
        return result

    return asyncio.run(call())


def main():
    # Keep the real stdout for the protocol and point fd 1 at stderr, so that
    # prints from the step, its C extensions and its subprocesses cannot
    # corrupt the JSON document.
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("IA_LOG_LEVEL", "INFO").upper(),
        format="%(levelname)s %(name)s: %(message)s",
    )

    def emit(doc):
        proto.write(doc)
        proto.write("\n")
        proto.flush()

    try:
        req = json.load(sys.stdin)
        if not isinstance(req, dict):
            raise ValueError("request is not a JSON object")
    except Exception as exc:  # noqa: BLE001
        emit(json.dumps({"error": {"message": "bad request: %s" % exc, "type": "ProtocolError",
                                   "category": "configuration", "retryable": False}}))
        return 1

    try:
        result = run_step(req)
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        emit(json.dumps({"error": error_doc(exc)}, default=str))
        return 1

    try:
        payload = json.dumps({"output": result}, default=str, allow_nan=False)
    except Exception as exc:  # noqa: BLE001
        emit(json.dumps({"error": {"message": "result is not JSON-encodable: %s" % exc,
                                   "type": type(exc).__name__, "category": "validation",
                                   "retryable": False}}))
        return 1
    emit(payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
