//! The OpenAPI 3.1 description of the REST API, served at `/api/v1/openapi.json`.
//!
//! Owns only the document. A test requests every operation it lists and checks the answer
//! against the documented status and required fields, so the two cannot drift apart silently.

use serde_json::{Value, json};

/// The document (paths are relative to the listener's root).
pub fn document() -> Value {
    let error = json!({"$ref": "#/components/responses/Error"});
    let secured = json!([{"bearer": []}, {"apiKey": []}]);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "mcp-gateway REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Call the tools of every MCP server behind the gateway over plain HTTP. Every answer is limited to the caller's scope: a server or tool outside it is reported as unknown (404). Rate-limited callers get X-RateLimit-Limit/Remaining/Reset on every answer and 429 with Retry-After."
        },
        "security": secured,
        "paths": {
            "/api/v1/health": {"get": {
                "operationId": "health",
                "summary": "Liveness of the gateway (no credentials needed)",
                "security": [],
                "responses": {"200": {"description": "alive", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status", "version", "auth"],
                    "properties": {"status": {"type": "string"}, "version": {"type": "string"},
                        "auth": {"type": "boolean", "description": "whether callers must authenticate"}}}}}}}
            }},
            "/api/v1/servers": {"get": {
                "operationId": "listServers",
                "summary": "The servers the caller may see",
                "parameters": [{"name": "tag", "in": "query", "schema": {"type": "string"}, "description": "only servers with this tag"}],
                "responses": {
                    "200": {"description": "servers", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["servers"],
                        "properties": {"servers": {"type": "array", "items": {"$ref": "#/components/schemas/Server"}}}}}}},
                    "400": error, "401": error, "429": error}
            }},
            "/api/v1/servers/{id}": {"get": {
                "operationId": "getServer",
                "summary": "One server with the tools the caller may call",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the server", "content": {"application/json": {"schema": {
                        "allOf": [{"$ref": "#/components/schemas/Server"}, {"type": "object", "required": ["tools"],
                            "properties": {"tools": {"type": "array", "items": {"type": "object", "required": ["name", "inputSchema"],
                                "properties": {"name": {"type": "string"}, "description": {"type": ["string", "null"]}, "inputSchema": {"type": "object"}}}}}}]}}}},
                    "401": error, "404": error, "429": error}
            }},
            "/api/v1/tools": {"get": {
                "operationId": "listTools",
                "summary": "Tools the caller may call: all, by server or tag, or ranked for a query (the search of gateway_search_tools)",
                "parameters": [
                    {"name": "server", "in": "query", "schema": {"type": "string"}},
                    {"name": "tag", "in": "query", "schema": {"type": "string"}},
                    {"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["tool", "skill"]}, "description": "only tools or only skills"},
                    {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "rank by relevance to this text"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}, "description": "default 10 with q, else 1000"}
                ],
                "responses": {
                    "200": {"description": "tools", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["tools", "total"],
                        "properties": {"tools": {"type": "array", "items": {"$ref": "#/components/schemas/Tool"}}, "total": {"type": "integer"}}}}}},
                    "400": error, "401": error, "404": error, "429": error}
            }},
            "/api/v1/tools/call": {"post": {
                "operationId": "callTool",
                "summary": "Call a tool; without `server`, a tool name unique among the caller's tools is routed",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["tool"], "additionalProperties": false,
                    "properties": {"tool": {"type": "string"}, "server": {"type": "string"}, "arguments": {"type": "object"}}}}}},
                "responses": {
                    "200": {"description": "the tool's CallToolResult exactly as the backend sent it (isError results included)", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["server", "tool", "result"],
                        "properties": {"server": {"type": "string"}, "tool": {"type": "string"}, "result": {"type": "object"}}}}}},
                    "400": error, "401": error, "404": error,
                    "409": {"description": "the tool name is on several servers", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "candidates"],
                            "properties": {"code": {"const": "ambiguous"}, "message": {"type": "string"}, "candidates": {"type": "array", "items": {"type": "string"}}}}}}}}},
                    "429": error, "502": error, "503": error, "504": error}
            }},
            "/api/v1/requests": {"get": {
                "operationId": "listRequests",
                "summary": "The newest request-log entries (admin only)",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}, "description": "default 100"}],
                "responses": {
                    "200": {"description": "entries, newest first", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["requests"],
                        "properties": {"requests": {"type": "array", "items": {"$ref": "#/components/schemas/Request"}}}}}}},
                    "400": error, "401": error, "403": error, "429": error}
            }},
            "/api/v1/requests/stream": {"get": {
                "operationId": "followRequests",
                "summary": "The request log live, as Server-Sent Events (admin only): first the newest `backlog` entries, oldest first, then every new entry as it is recorded",
                "description": "Each entry is an event named `request` whose data is a Request; a reader that fell behind gets an event named `lagged` with data {\"missed\": N}. The stream ends when the gateway shuts down.",
                "parameters": [{"name": "backlog", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000}, "description": "default 100"}],
                "responses": {
                    "200": {"description": "an endless event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                    "400": error, "401": error, "403": error, "429": error}
            }},
            "/api/v1/config": {"get": {
                "operationId": "getConfig",
                "summary": "The running config as its files said it when it was loaded, secrets redacted as by `mcp-gateway config export` (admin only)",
                "responses": {
                    "200": {"description": "the config", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["sources", "config", "yaml", "reload_error"],
                        "properties": {
                            "sources": {"type": "array", "items": {"type": "string"}, "description": "the files in effect, lowest precedence first"},
                            "config": {"type": "object", "description": "the layered document, redacted"},
                            "yaml": {"type": "string", "description": "the same as YAML"},
                            "reload_error": {"type": ["string", "null"], "description": "an edit on disk that did not load (file:line: key: message); the config shown still runs"}}}}}},
                    "400": error, "401": error, "403": error, "429": error, "500": error}
            }},
            "/api/v1/reload": {"post": {
                "operationId": "reload",
                "summary": "Read the config files again and apply them (admin only): added, removed and changed servers apply at once, untouched ones keep running; a config that does not load keeps the running one and is reported in `error`",
                "responses": {
                    "200": {"description": "the reload report", "content": {"application/json": {"schema": {
                        "type": "object", "required": ["applied", "added", "removed", "changed", "restart_needed", "error"],
                        "properties": {
                            "applied": {"type": "boolean", "description": "the new config was loaded and applied"},
                            "added": {"type": "array", "items": {"type": "string"}},
                            "removed": {"type": "array", "items": {"type": "string"}},
                            "changed": {"type": "array", "items": {"type": "string"}, "description": "servers restarted with their new spec"},
                            "restart_needed": {"type": "array", "items": {"type": "string"}, "description": "changed settings that apply only after a restart (server.port, auth, …)"},
                            "error": {"type": ["string", "null"], "description": "why the config was not applied: file:line: key: message"}}}}}},
                    "401": error, "403": error, "429": error}
            }},
            "/api/v1/metrics": {"get": {
                "operationId": "metrics",
                "summary": "Counters: uptime, sessions, backends (state, breaker, queue), calls by outcome, per-tool usage profiles, requests by front/method/outcome, search latency (limited to the caller's scope)",
                "responses": {
                    "200": {"description": "metrics", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Metrics"}}}},
                    "401": error, "429": error}
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi",
                "summary": "This document (no credentials needed)",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}}}}
            }}
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API key or a JWT"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            },
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Server": {"type": "object", "required": ["name", "transport", "state", "tags"], "properties": {
                    "name": {"type": "string"}, "description": {"type": ["string", "null"]}, "transport": {"type": "string"},
                    "state": {"type": "string"}, "reason": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}},
                    "tools": {"type": ["integer", "null"], "description": "tools the caller may call; null before the server was first listed"},
                    "problems": {"type": "array", "items": {"type": "string"}, "description": "why it could not be used (e.g. its capabilities failed to load)"},
                    "notes": {"type": "array", "items": {"type": "string"}, "description": "what its listing left out or repaired"},
                    "held": {"type": "array", "items": {"type": "string"}, "description": "tools held back (scanner findings, changed pinned definitions)"},
                    "failsafe": {"type": "object", "description": "circuit breaker, queue and refusals, as in gateway_list_servers"}}},
                "Tool": {"type": "object", "required": ["server", "tool", "inputSchema"], "properties": {
                    "server": {"type": "string"}, "tool": {"type": "string"}, "kind": {"type": "string", "enum": ["tool", "skill"]},
                    "description": {"type": ["string", "null"]}, "inputSchema": {"type": "object"}, "score": {"type": "number", "description": "with q only"}}},
                "Metrics": {"type": "object", "required": ["uptime_seconds", "sessions", "backends", "calls", "tool_calls", "tools", "requests", "search"], "properties": {
                    "uptime_seconds": {"type": "integer"},
                    "sessions": {"type": "integer", "description": "legacy HTTP sessions open"},
                    "sessions_by_front": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "client sessions open now, by front"},
                    "backends": {"type": "object", "required": ["total", "by_state", "items"], "properties": {
                        "total": {"type": "integer"}, "by_state": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "items": {"type": "array", "items": {"type": "object", "required": ["name", "state", "starts", "breaker", "in_flight", "queued"], "properties": {
                            "name": {"type": "string"}, "state": {"type": "string"}, "starts": {"type": "integer"},
                            "breaker": {"enum": ["closed", "open", "half-open"]}, "in_flight": {"type": "integer"}, "queued": {"type": "integer"}}}}}},
                    "calls": {"type": "object", "description": "request-log outcomes since start", "additionalProperties": {"type": "integer"}},
                    "tool_calls": {"type": "integer", "description": "sum of calls over tools"},
                    "tools": {"type": "array", "description": "usage profiles (persisted), most called first", "items": {"$ref": "#/components/schemas/ToolProfile"}},
                    "requests": {"type": "array", "items": {"type": "object", "required": ["front", "method", "outcome", "count"], "properties": {
                        "front": {"type": "string"}, "method": {"type": "string"}, "outcome": {"type": "string"}, "count": {"type": "integer"}}}},
                    "search": {"type": "object", "required": ["count", "p50_ms", "p95_ms"], "properties": {
                        "count": {"type": "integer"}, "p50_ms": {"type": ["number", "null"]}, "p95_ms": {"type": ["number", "null"]}}}}},
                "ToolProfile": {"type": "object", "required": ["server", "tool", "calls", "ok", "tool_errors", "errors", "cancelled", "latency_ms", "last_used"], "properties": {
                    "server": {"type": "string"}, "tool": {"type": "string"}, "calls": {"type": "integer"},
                    "ok": {"type": "integer"}, "tool_errors": {"type": "integer", "description": "isError results"},
                    "errors": {"type": "integer", "description": "timeout, transport, backend failure, failsafe refusal"}, "cancelled": {"type": "integer"},
                    "latency_ms": {"type": ["object", "null"], "properties": {"p50": {"type": "number"}, "p95": {"type": "number"}, "min": {"type": "number"}, "max": {"type": "number"}, "mean": {"type": "number"}}},
                    "last_used": {"type": ["string", "null"], "format": "date-time"}}},
                "Request": {"type": "object", "required": ["time", "caller", "server", "tool", "duration_ms", "outcome"], "properties": {
                    "time": {"type": "string", "format": "date-time"}, "caller": {"type": "string"},
                    "front": {"enum": ["stdio", "http", "rest"]}, "method": {"type": "string"},
                    "server": {"type": "string"}, "tool": {"type": "string"}, "duration_ms": {"type": "number"},
                    "outcome": {"enum": ["ok", "tool_error", "error", "unauthenticated", "forbidden", "rate_limited"]},
                    "request_bytes": {"type": "integer"}, "response_bytes": {"type": "integer"},
                    "arguments": {"description": "only with request_log.log_arguments; secrets redacted"},
                    "result": {"description": "only with request_log.log_results; secrets redacted"}}}
            }
        }
    })
}
