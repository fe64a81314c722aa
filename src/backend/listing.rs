//! Fetching everything a backend lists, tolerating what real servers get wrong.
//!
//! `tools/list` failing on its first page is the backend's failure. Every other list
//! (`resources/list`, `resources/templates/list`, `prompts/list`) that fails (an error, a
//! timeout, a malformed page) is left empty and reported as a note, and a list whose later page
//! fails keeps the pages before it; a page that repeats a cursor ends its list. Tools are kept
//! and callable whatever their shape: what is odd about them (no or an invalid `inputSchema`, a
//! name listed twice, a name MCP does not allow, a description that is not a string) becomes a
//! note. Only items without a usable name are dropped, since nothing could call them. Notes are
//! sentences naming the list and the tool; they never stop the backend.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::{Backend, Live};
use crate::catalog::Listing;
use crate::error::CallError;
use crate::jsonrpc::{ErrorObject, code};
use crate::peer::CallContext;
use tokio_util::sync::CancellationToken;

/// Guard against a backend whose `nextCursor` never ends.
const MAX_LIST_PAGES: usize = 1000;
/// Longest tool name MCP allows (2025-11-25).
const MAX_TOOL_NAME: usize = 128;

impl Backend {
    /// Everything the backend lists (every page of each list it supports), with what it got
    /// wrong recorded as notes in its [`super::Report`]. `linger`: how long to keep a backend
    /// alive that was started just for this.
    pub async fn fetch_listing(&self, linger: std::time::Duration) -> Result<Listing, CallError> {
        // The breaker guards a listing that has to start the backend: an open breaker does not
        // start it, and a failed start counts. Listing a running backend (after its start or a
        // `list_changed`) is bookkeeping, not a call: it neither counts nor closes the breaker.
        if self.is_connected().await {
            return self.fetch_listing_now(linger).await;
        }
        // A failed start is retried like a call's (nothing was sent yet).
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ticket = self.failsafes.admit(self.name())?;
            if let Err(e) = self.ensure_live().await {
                ticket.finish(Err(&e));
                self.pause_before_retry("tools/list", &e, attempt, &CancellationToken::new())
                    .await?;
                continue;
            }
            // Started for this listing: `fetch_listing_now` finds it running already.
            self.linger_after_start(linger);
            let listing = self.fetch_listing_now(linger).await;
            ticket.finish(listing.as_ref().map(drop));
            return listing;
        }
    }

    /// A backend started for a listing stays up `linger` (at most its idle timeout), so the
    /// call that usually follows a discovery finds it running.
    fn linger_after_start(&self, linger: std::time::Duration) {
        self.extend_idle(linger.min(self.config.idle_timeout));
    }

    async fn fetch_listing_now(&self, linger: std::time::Duration) -> Result<Listing, CallError> {
        let was_running = self.status() == super::Status::Running;
        let live = self.ensure_live().await?;
        if !was_running {
            self.linger_after_start(linger);
        }
        let has = |cap: &str| live.capabilities.get(cap).is_some_and(|v| !v.is_null());
        let mut notes = Vec::new();
        let tools = self
            .list_all(&live, "tools/list", "tools", &mut notes)
            .await?;
        let mut listing = Listing {
            tools: tidy_tools(tools, &mut notes),
            ..Listing::default()
        };
        if has("resources") {
            listing.resources = self
                .optional_list(&live, "resources/list", "resources", &mut notes)
                .await;
            listing.resource_templates = self
                .optional_list(
                    &live,
                    "resources/templates/list",
                    "resourceTemplates",
                    &mut notes,
                )
                .await;
        }
        if has("prompts") {
            listing.prompts = self
                .optional_list(&live, "prompts/list", "prompts", &mut notes)
                .await;
        }
        self.set_notes(notes);
        Ok(listing)
    }

    /// A list the backend may get wrong without losing its tools: a failure is a note.
    async fn optional_list(
        &self,
        live: &Live,
        method: &str,
        key: &str,
        notes: &mut Vec<String>,
    ) -> Vec<Value> {
        match self.list_all(live, method, key, notes).await {
            Ok(items) => items,
            Err(e) => {
                notes.push(format!("{method} failed ({}); listed as empty", brief(&e)));
                Vec::new()
            }
        }
    }

    /// Every page of one list method. The first page failing is an error; a later page failing
    /// or repeating a cursor ends the list with a note, keeping what came before.
    async fn list_all(
        &self,
        live: &Live,
        method: &str,
        key: &str,
        notes: &mut Vec<String>,
    ) -> Result<Vec<Value>, CallError> {
        let mut items = Vec::new();
        let mut cursor: Option<Value> = None;
        let mut seen: HashSet<String> = HashSet::new();
        for page_no in 0..MAX_LIST_PAGES {
            let params = cursor.take().map(|c| json!({ "cursor": c }));
            let answer = live
                .conn
                .peer()
                .request(method, params, &CallContext::default(), self.config.timeout)
                .await;
            let page = answer.and_then(|raw| {
                let mut page: Value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                match page.get_mut(key).map(Value::take) {
                    Some(Value::Array(found)) => Ok((found, page)),
                    _ => Err(CallError::Backend {
                        backend: self.name().to_string(),
                        error: ErrorObject::new(
                            code::INVALID_REQUEST,
                            format!("{method} result has no `{key}` array"),
                        ),
                    }),
                }
            });
            let (found, page) = match page {
                Ok(p) => p,
                // A page lost because this gateway is stopping the backend is no fault of the
                // backend: keeping the pages before it would record a short list as its whole.
                Err(e) if page_no == 0 || self.is_stopping() => return Err(e),
                Err(e) => {
                    notes.push(format!(
                        "{method} page {} failed ({}); kept the first {} items",
                        page_no + 1,
                        brief(&e),
                        items.len()
                    ));
                    return Ok(items);
                }
            };
            let total = found.len();
            let objects: Vec<Value> = found.into_iter().filter(Value::is_object).collect();
            if objects.len() < total {
                notes.push(format!(
                    "{method} listed {} items that are not objects; skipped",
                    total - objects.len()
                ));
            }
            items.extend(objects);
            match page.get("nextCursor") {
                Some(c) if !c.is_null() => {
                    if !seen.insert(c.to_string()) {
                        notes.push(format!(
                            "{method} repeated the cursor {c}; the list ends there"
                        ));
                        return Ok(items);
                    }
                    cursor = Some(c.clone());
                }
                _ => return Ok(items),
            }
        }
        notes.push(format!(
            "{method} returned more than {MAX_LIST_PAGES} pages; the rest is ignored"
        ));
        Ok(items)
    }

    /// Replaces the listing notes; new ones are logged once.
    fn set_notes(&self, notes: Vec<String>) {
        let mut report = self.report.lock().unwrap_or_else(|e| e.into_inner());
        for n in notes.iter().filter(|n| !report.notes.contains(n)) {
            tracing::warn!(backend = %self.name(), "{n}");
        }
        report.notes = notes;
    }
}

/// A short reason for a failed list request.
fn brief(e: &CallError) -> String {
    match e {
        CallError::Backend { error, .. } => format!("{} {}", error.code, error.message),
        other => other.to_string(),
    }
}

/// Keeps every tool that has a name; notes what is odd about each.
fn tidy_tools(tools: Vec<Value>, notes: &mut Vec<String>) -> Vec<Value> {
    let mut kept: Vec<Value> = Vec::with_capacity(tools.len());
    let mut names: HashSet<String> = HashSet::new();
    for (i, tool) in tools.into_iter().enumerate() {
        let Some(name) = tool
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            notes.push(format!(
                "tools/list item {} has no name; it cannot be called and is skipped",
                i + 1
            ));
            continue;
        };
        let name = name.to_string();
        if !names.insert(name.clone()) {
            notes.push(format!(
                "tool `{name}` is listed twice; the first definition is kept"
            ));
            continue;
        }
        if name.chars().count() > MAX_TOOL_NAME {
            notes.push(format!(
                "tool `{}…` has a name of {} characters (MCP allows {MAX_TOOL_NAME}); kept",
                name.chars().take(40).collect::<String>(),
                name.chars().count()
            ));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')))
        {
            notes.push(format!(
                "tool `{name}` has a character MCP does not allow in names ({bad:?}); kept"
            ));
        }
        match tool.get("inputSchema") {
            None => notes.push(format!("tool `{name}` has no inputSchema; kept")),
            Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("object") => {}
            Some(_) => notes.push(format!(
                "tool `{name}` has an invalid inputSchema (not a JSON Schema object of type \"object\"); kept"
            )),
        }
        if let Some(d) = tool.get("description")
            && !d.is_string()
            && !d.is_null()
        {
            notes.push(format!(
                "tool `{name}` has a description that is not a string; it is not searched"
            ));
        }
        kept.push(tool);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{BackendEnv, Status};
    use crate::config::{BackendConfig, CapabilitiesSpec, StdioSpec, Transport};
    use std::time::Duration;

    /// The smallest MCP server: answers `initialize` and an empty `tools/list`.
    const PYTHON_SERVER: &str = r#"
import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if 'id' not in m:
        continue
    if m['method'] == 'initialize':
        r = {'protocolVersion': m['params']['protocolVersion'], 'capabilities': {'tools': {}},
             'serverInfo': {'name': 'least', 'version': '1'}}
    else:
        r = {'tools': []}
    print(json.dumps({'jsonrpc': '2.0', 'id': m['id'], 'result': r}), flush=True)
"#;

    fn backend(transport: Transport) -> Backend {
        let mut config = BackendConfig::in_process("t", "a test backend", transport);
        config.idle_timeout = Duration::from_secs(300);
        Backend::new(config, BackendEnv::standalone(None).0)
    }

    /// Lists `backend` (starting it) with `linger`, runs one idle sweep over it, and says its
    /// state after.
    async fn listed_then_swept(backend: &Backend, linger: Duration) -> Status {
        backend.fetch_listing(linger).await.expect("listed");
        backend.stop_if_idle().await;
        backend.status()
    }

    /// A backend a listing started lingers for the listing's `linger` (it used to be stopped at
    /// the next idle sweep, since the start moved before the listing); an in-process one is never
    /// stopped for idleness (its file watch, which announces its changes, would stop with it).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_backend_started_for_a_listing_lingers_and_an_in_process_one_never_idles() {
        let stdio = || {
            backend(Transport::Stdio(StdioSpec {
                program: "python3".into(),
                args: vec!["-c".into(), PYTHON_SERVER.into()],
                env: Default::default(),
                cwd: None,
            }))
        };
        let lingering = stdio();
        let state = listed_then_swept(&lingering, Duration::from_secs(30)).await;
        assert_eq!(state, Status::Running);
        lingering.shutdown().await;

        let state = listed_then_swept(&stdio(), Duration::ZERO).await;
        assert_eq!(state, Status::Stopped);

        let dir = tempfile::tempdir().expect("temp dir");
        let in_process = backend(Transport::Capabilities(CapabilitiesSpec {
            directories: vec![dir.path().to_path_buf()],
            pins: None,
        }));
        let state = listed_then_swept(&in_process, Duration::ZERO).await;
        assert_eq!(state, Status::Running);
        in_process.shutdown().await;
    }

    #[test]
    fn tidy_tools_keeps_every_named_tool_and_notes_the_rest() {
        let long = "t".repeat(MAX_TOOL_NAME + 1);
        let tools = vec![
            json!({"name": "ok", "inputSchema": {"type": "object"}}),
            json!({"name": "ok", "description": "second", "inputSchema": {"type": "object"}}),
            json!({"name": "no_schema"}),
            json!({"name": "a.b/c d", "inputSchema": {"type": "object"}, "description": 7}),
            json!({"name": long, "inputSchema": "object"}),
            json!({"description": "nameless"}),
            json!({"name": "", "inputSchema": {"type": "object"}}),
        ];
        let mut notes = Vec::new();
        let kept = tidy_tools(tools, &mut notes);
        let names: Vec<&str> = kept.iter().filter_map(|t| t["name"].as_str()).collect();
        assert_eq!(names, ["ok", "no_schema", "a.b/c d", long.as_str()]);
        assert!(kept[0].get("description").is_none(), "first `ok` kept");
        let all = notes.join("\n");
        for expected in [
            "`ok` is listed twice",
            "`no_schema` has no inputSchema",
            "(' ')",
            "description that is not a string",
            "a name of 129 characters",
            "invalid inputSchema",
            "item 6 has no name",
            "item 7 has no name",
        ] {
            assert!(all.contains(expected), "{expected:?} not in {all}");
        }
        assert!(
            !all.contains("`ok` has"),
            "a valid tool gets no note: {all}"
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        fn odd_value() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                "\\PC{0,12}".prop_map(Value::from),
                Just(json!({"type": "object"})),
                Just(json!({"type": "string"})),
                Just(json!([1, "a"])),
            ]
        }

        /// A list item as servers send them: mostly tools, some with odd or missing fields,
        /// some not objects at all.
        fn item() -> impl Strategy<Value = Value> {
            let name = prop_oneof![
                "[a-c]{1,2}".prop_map(Value::from),
                "\\PC{0,140}".prop_map(Value::from),
                odd_value(),
            ];
            let field = |v| proptest::option::of(v);
            prop_oneof![
                4 => (field(name.boxed()), field(odd_value().boxed()), field(odd_value().boxed()))
                    .prop_map(|(name, schema, description)| {
                        let mut tool = serde_json::Map::new();
                        for (k, v) in [("name", name), ("inputSchema", schema), ("description", description)] {
                            if let Some(v) = v {
                                tool.insert(k.to_string(), v);
                            }
                        }
                        Value::Object(tool)
                    }),
                1 => odd_value(),
            ]
        }

        proptest! {
            #![proptest_config(crate::fuzz::cases(256))]

            /// Whatever a server lists: no panic, and exactly the first item of every distinct
            /// non-empty string name is kept, in order; every item dropped has a note.
            #[test]
            fn every_named_tool_is_kept_once(items in proptest::collection::vec(item(), 0..12)) {
                let mut expected: Vec<String> = Vec::new();
                for item in &items {
                    if let Some(n) = item.get("name").and_then(Value::as_str).filter(|n| !n.is_empty())
                        && !expected.iter().any(|e| e == n)
                    {
                        expected.push(n.to_string());
                    }
                }
                let objects: Vec<Value> = items.into_iter().filter(Value::is_object).collect();
                let dropped = objects.len() - expected.len();
                let mut notes = Vec::new();
                let kept = tidy_tools(objects, &mut notes);
                let names: Vec<String> = kept
                    .iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect();
                prop_assert_eq!(names, expected);
                prop_assert!(notes.len() >= dropped, "{:?}", notes);
            }
        }
    }
}
