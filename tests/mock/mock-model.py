#!/usr/bin/env python3
"""Scripted mock model server for adr's end-to-end tests.

Speaks, with streaming, the four protocols the agents use:
  OpenAI Chat Completions  POST .../chat/completions       (pi, opencode, copilot)
  OpenAI Responses         POST .../responses              (codex)
  Anthropic Messages       POST .../v1/messages[?beta=true] (claude), .../count_tokens
  Gemini                   POST .../models/M:streamGenerateContent?alt=sse,
                           :generateContent, :countTokens  (gemini)
plus GET .../models lists.

Stateless script, decided from each request alone:
  - no tools offered                 -> a plain text reply
  - tools offered, no tool result    -> one tool call that writes the file the
                                        prompt asks for
  - a tool result in the conversation -> the final text "done"

The prompt names the file with this exact grammar (anywhere in the request):
  Create a file named NAME containing exactly: TEXT
NAME is [A-Za-z0-9._/-]+ relative to /workspace, TEXT is [A-Za-z0-9._-]+.
Or, for a call of a tool whose name ends in NAME (an MCP server's), with
{"text": TEXT}:
  Call the tool [[NAME]] with text [[TEXT]]
A tool result holding "probe-ok:..." (tests/mock/mcp-server.js) is logged
as "probes".
Or, for a shell tool call with a given command (no quotes or backslashes):
  Run this shell command exactly: [[COMMAND]]
A write-like tool is preferred (write, Write, write_file, create, ...; the
path and content argument names come from the tool's JSON schema); otherwise
a shell tool (bash, shell, exec_command, run_shell_command, ...) runs printf.

Every request is logged as one JSON line to --log: time, method, path,
user_agent, key (as received), protocol, tools offered, reply kind.
--expect-key K answers 401 to requests that do not carry K (Authorization
Bearer, x-api-key, x-goog-api-key or ?key=).

usage: mock-model.py --port N [--host ADDR] --log FILE [--expect-key K]
                     [--tls-cert C --tls-key K]
Prints "listening PORT" once bound (PORT is the real one when N is 0).
"""
import argparse
import json
import re
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOOL_RE = re.compile(r"Call the tool \[\[([A-Za-z0-9_-]+)\]\] with text \[\[([A-Za-z0-9._-]+)\]\]")
PROBE_RE = re.compile(r"probe-ok:[A-Za-z0-9_-]+:[A-Za-z0-9._-]*:[0-9a-f]{16}|probe-ok:[A-Za-z0-9_-]+:[A-Za-z0-9._-]*:none")
SHELL_RE = re.compile(r"Run this shell command exactly: \[\[([^\]\"\\]+)\]\]")
PROMPT_RE = re.compile(r"file named ([A-Za-z0-9._/-]+) containing exactly: ([A-Za-z0-9._-]+)")
WRITE_TOOLS = ["write", "write_file", "create", "create_file", "writefile", "file_write"]
SHELL_TOOLS = ["bash", "shell", "exec_command", "run_shell_command", "exec", "run_command", "terminal"]
PATH_KEYS = ["file_path", "filePath", "path", "absolute_path", "filename", "file"]
CONTENT_KEYS = ["content", "file_text", "text", "contents", "data"]

LOG_LOCK = threading.Lock()
ARGS = None


def log(entry):
    entry["time"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    with LOG_LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")


def find_request(text):
    """The (name, content) the prompt asks for, from the *last* match."""
    matches = PROMPT_RE.findall(text)
    if not matches:
        return None
    name, content = matches[-1]
    return ("/workspace/" + name.lstrip("/")) if not name.startswith("/workspace/") else name, content


def schema_props(schema):
    if not isinstance(schema, dict):
        return {}
    return schema.get("properties") or {}


def pick_tool(tools):
    """tools: list of (name, schema). Returns (kind, name, schema) or None."""
    by_lower = {n.lower(): (n, s) for n, s in tools}
    for want in WRITE_TOOLS:
        if want in by_lower:
            n, s = by_lower[want]
            props = schema_props(s)
            if any(k in props for k in PATH_KEYS) and any(k in props for k in CONTENT_KEYS):
                return ("write", n, s)
    for want in SHELL_TOOLS:
        if want in by_lower:
            n, s = by_lower[want]
            return ("shell", n, s)
    return None


def shell_args(schema, cmd):
    props = schema_props(schema)
    for key in ("cmd", "command", "script"):
        if key in props:
            if props[key].get("type") == "array":
                return {key: ["bash", "-lc", cmd]}
            return {key: cmd}
    return {"command": cmd}


def tool_args(kind, schema, path, content):
    props = schema_props(schema)
    if kind == "write":
        pk = next(k for k in PATH_KEYS if k in props)
        ck = next(k for k in CONTENT_KEYS if k in props)
        return {pk: path, ck: content}
    cmd = "printf '%s' '{}' > '{}'".format(content, path)
    for key in ("cmd", "command", "script"):
        if key in props:
            if props[key].get("type") == "array":
                return {key: ["bash", "-lc", cmd]}
            return {key: cmd}
    return {"command": cmd}


def decide(tools, has_result, body_text):
    """Returns ("text", str) or ("tool", name, args)."""
    if has_result:
        return ("text", "done")
    if not tools:
        return ("text", "Hello from the mock model.")
    call = TOOL_RE.findall(body_text)
    if call:
        suffix, arg = call[-1]
        for n, _ in tools:
            if n.endswith(suffix):
                return ("tool", n, {"text": arg})
        return ("text", "I have no tool named like " + suffix + ".")
    shell = SHELL_RE.findall(body_text)
    if shell:
        by_lower = {n.lower(): (n, s) for n, s in tools}
        for want in SHELL_TOOLS:
            if want in by_lower:
                n, s = by_lower[want]
                return ("tool", n, shell_args(s, shell[-1]))
        return ("text", "I have no shell tool.")
    req = find_request(body_text)
    choice = pick_tool(tools)
    if req is None or choice is None:
        return ("text", "I have nothing to do.")
    kind, name, schema = choice
    return ("tool", name, tool_args(kind, schema, req[0], req[1]))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-model/1"

    def log_message(self, fmt, *a):  # quiet
        pass

    # ---------------------------------------------------------------- plumbing
    def key(self):
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        for h in ("x-api-key", "x-goog-api-key", "api-key"):
            if self.headers.get(h):
                return self.headers.get(h)
        q = parse_qs(urlparse(self.path).query)
        return (q.get("key") or [""])[0]

    def send_json(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data, event=None):
        chunk = ""
        if event:
            chunk += "event: %s\n" % event
        chunk += "data: %s\n\n" % (data if isinstance(data, str) else json.dumps(data))
        self.wfile.write(chunk.encode())
        self.wfile.flush()

    def entry(self, protocol, tools=None, reply=None):
        return {
            "method": self.command, "path": self.path,
            "user_agent": self.headers.get("user-agent", ""),
            "headers": {k.lower(): v for k, v in self.headers.items()
                        if k.lower() not in ("authorization", "x-api-key", "x-goog-api-key", "api-key")},
            "key": self.key(), "protocol": protocol,
            "tools": len(tools or []), "tool_names": [t[0] for t in (tools or [])][:40],
            "reply": reply,
            "probes": PROBE_RE.findall(getattr(self, "body_text", "")),
        }

    # ------------------------------------------------------------------ verbs
    def do_GET(self):
        path = urlparse(self.path).path
        if ARGS.expect_key and self.key() != ARGS.expect_key:
            log(self.entry("get", reply="401"))
            return self.send_json(401, {"error": {"message": "bad key", "type": "authentication_error"}})
        log(self.entry("get", reply="models" if path.endswith("/models") else "404"))
        if path.endswith("/models"):
            return self.send_json(200, {"object": "list", "data": [
                {"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock",
                 "type": "model", "display_name": "mock-model"}],
                "models": [{"name": "models/mock-model", "supportedGenerationMethods": ["generateContent"]}]})
        self.send_json(404, {"error": {"message": "not found: " + path}})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        text = raw.decode("utf-8", "replace")
        self.body_text = text
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        path = urlparse(self.path).path
        if ARGS.expect_key and self.key() != ARGS.expect_key:
            log(self.entry("post", reply="401"))
            return self.send_json(401, {"error": {"message": "invalid api key", "type": "authentication_error"}})
        if path.endswith("/chat/completions"):
            return self.chat(body, text)
        if path.endswith("/responses"):
            return self.openai_responses(body, text)
        if path.endswith("/messages/count_tokens"):
            log(self.entry("anthropic", reply="count_tokens"))
            return self.send_json(200, {"input_tokens": 12})
        if path.endswith("/messages"):
            return self.anthropic(body, text)
        if ":countTokens" in path:
            log(self.entry("gemini", reply="count_tokens"))
            return self.send_json(200, {"totalTokens": 12})
        if ":streamGenerateContent" in path or ":generateContent" in path:
            return self.gemini(body, text, stream=":streamGenerateContent" in path)
        log(self.entry("unknown", reply="404"))
        self.send_json(404, {"error": {"message": "not found: " + path}})

    # --------------------------------------------------- OpenAI Chat Completions
    def chat(self, body, text):
        tools = [(t.get("function", {}).get("name", ""), t.get("function", {}).get("parameters"))
                 for t in body.get("tools") or [] if isinstance(t, dict)]
        has_result = any(m.get("role") == "tool" for m in body.get("messages") or [] if isinstance(m, dict))
        d = decide(tools, has_result, text)
        log(self.entry("chat", tools, d[0] if d[0] == "text" else "tool:" + d[1]))
        model = body.get("model", "mock-model")
        base = {"id": "chatcmpl-mock", "created": int(time.time()), "model": model}
        usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
        if d[0] == "tool":
            call = {"id": "call_mock_1", "type": "function",
                    "function": {"name": d[1], "arguments": json.dumps(d[2])}}
            msg = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish = "tool_calls"
        else:
            msg = {"role": "assistant", "content": d[1]}
            finish = "stop"
        if not body.get("stream"):
            return self.send_json(200, dict(base, object="chat.completion", usage=usage, choices=[
                {"index": 0, "message": msg, "finish_reason": finish}]))
        self.start_sse()
        chunk = dict(base, object="chat.completion.chunk")
        self.sse(dict(chunk, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))
        if d[0] == "tool":
            delta = {"tool_calls": [dict(msg["tool_calls"][0], index=0)]}
        else:
            delta = {"content": d[1]}
        self.sse(dict(chunk, choices=[{"index": 0, "delta": delta, "finish_reason": None}]))
        self.sse(dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": finish}]))
        self.sse(dict(chunk, choices=[], usage=usage))
        self.sse("[DONE]")

    # ------------------------------------------------------- OpenAI Responses
    def openai_responses(self, body, text):
        tools = [(t.get("name", ""), t.get("parameters")) for t in body.get("tools") or []
                 if isinstance(t, dict) and t.get("type", "function") == "function"]
        items = body.get("input") if isinstance(body.get("input"), list) else []
        has_result = any(isinstance(i, dict) and i.get("type") in ("function_call_output", "custom_tool_call_output")
                         for i in items)
        d = decide(tools, has_result, text)
        log(self.entry("responses", tools, d[0] if d[0] == "text" else "tool:" + d[1]))
        if d[0] == "tool":
            item = {"type": "function_call", "id": "fc_mock_1", "call_id": "call_mock_1", "name": d[1],
                    "arguments": json.dumps(d[2]), "status": "completed"}
        else:
            item = {"type": "message", "id": "msg_mock_1", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": d[1], "annotations": []}]}
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 5,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 15}
        resp = {"id": "resp_mock", "object": "response", "created_at": int(time.time()), "status": "in_progress",
                "model": body.get("model", "mock-model"), "output": []}
        if not body.get("stream"):
            return self.send_json(200, dict(resp, status="completed", output=[item], usage=usage))
        self.start_sse()
        self.sse({"type": "response.created", "response": resp}, "response.created")
        self.sse({"type": "response.output_item.added", "output_index": 0, "item": dict(item, status="in_progress")},
                 "response.output_item.added")
        if d[0] == "text":
            self.sse({"type": "response.output_text.delta", "item_id": item["id"], "output_index": 0,
                      "content_index": 0, "delta": d[1]}, "response.output_text.delta")
        self.sse({"type": "response.output_item.done", "output_index": 0, "item": item}, "response.output_item.done")
        self.sse({"type": "response.completed", "response": dict(resp, status="completed", output=[item], usage=usage)},
                 "response.completed")

    # ----------------------------------------------------- Anthropic Messages
    def anthropic(self, body, text):
        tools = [(t.get("name", ""), t.get("input_schema")) for t in body.get("tools") or [] if isinstance(t, dict)]
        has_result = False
        for m in body.get("messages") or []:
            content = m.get("content") if isinstance(m, dict) else None
            if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
                has_result = True
        d = decide(tools, has_result, text)
        log(self.entry("anthropic", tools, d[0] if d[0] == "text" else "tool:" + d[1]))
        model = body.get("model", "mock-model")
        if d[0] == "tool":
            block = {"type": "tool_use", "id": "toolu_mock_1", "name": d[1], "input": d[2]}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": d[1]}
            stop = "end_turn"
        msg = {"id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}
        if not body.get("stream"):
            return self.send_json(200, dict(msg, content=[block], stop_reason=stop,
                                            usage={"input_tokens": 10, "output_tokens": 5}))
        self.start_sse()
        self.sse({"type": "message_start", "message": msg}, "message_start")
        if d[0] == "tool":
            self.sse({"type": "content_block_start", "index": 0, "content_block": dict(block, input={})},
                     "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0,
                      "delta": {"type": "input_json_delta", "partial_json": json.dumps(d[2])}}, "content_block_delta")
        else:
            self.sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                     "content_block_start")
            self.sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d[1]}},
                     "content_block_delta")
        self.sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        self.sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                  "usage": {"output_tokens": 5}}, "message_delta")
        self.sse({"type": "message_stop"}, "message_stop")

    # ----------------------------------------------------------------- Gemini
    def gemini(self, body, text, stream):
        tools = []
        for t in body.get("tools") or []:
            for f in (t.get("functionDeclarations") or t.get("function_declarations") or []) if isinstance(t, dict) else []:
                tools.append((f.get("name", ""), f.get("parameters") or f.get("parametersJsonSchema")))
        has_result = any(isinstance(p, dict) and ("functionResponse" in p or "function_response" in p)
                         for c in body.get("contents") or [] if isinstance(c, dict)
                         for p in c.get("parts") or [])
        d = decide(tools, has_result, text)
        log(self.entry("gemini", tools, d[0] if d[0] == "text" else "tool:" + d[1]))
        part = {"functionCall": {"name": d[1], "args": d[2]}} if d[0] == "tool" else {"text": d[1]}
        resp = {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
                "modelVersion": "mock-model"}
        if not stream:
            return self.send_json(200, resp)
        self.start_sse()
        self.sse(resp)


def main():
    global ARGS
    p = argparse.ArgumentParser(description="mock model server for adr tests")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--log", required=True)
    p.add_argument("--expect-key")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    ARGS = p.parse_args()
    srv = ThreadingHTTPServer((ARGS.host, ARGS.port), Handler)
    srv.daemon_threads = True
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: threading.Thread(target=srv.shutdown).start())
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.1)
    srv.server_close()


if __name__ == "__main__":
    sys.exit(main())
