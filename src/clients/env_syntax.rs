//! How a client's config values refer to environment variables and placeholders ([`EnvSyntax`],
//! [`Placeholders`]), translated into the gateway's `${NAME:-default}` grammar. It never expands
//! an environment variable (a reference stays a reference; the gateway expands it when it loads)
//! and never carries a placeholder it cannot fill in: it says why instead.

use std::path::Path;

use crate::config::expand::is_var_name;

/// How a client's config values refer to environment variables. Values are converted to the
/// gateway's grammar on import (`${NAME:-}`, `${NAME:-default}`, `$$` for a literal `$`), so a
/// secret written literally stays exactly that secret, a reference stays a reference, and a
/// client placeholder is filled in (editor folders) or refused (prompts, files, secret stores).
///
/// The unset policy is the same for every client: a reference without a default becomes
/// `${NAME:-}`, empty when the variable is unset, so one unset variable makes that one value
/// empty instead of stopping the whole gateway from loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvSyntax {
    /// No expansion: every `$` is literal (escaped to `$$`).
    Literal,
    /// Literal, but `${{ secrets.X }}` / `${{ inputs.X }}` are Continue's own placeholders,
    /// which the gateway cannot read: such a server stays in Continue.
    Continue,
    /// `${NAME}`, `${NAME:-default}` and `${env:NAME}` (Claude Code, Kiro, Windsurf); any other
    /// `${…}` cannot be carried.
    Dollar,
    /// Like `Dollar`, plus bare `$NAME` (Gemini CLI).
    DollarBare,
    /// The editors' variables (VS Code, Cursor): `${env:NAME}`, `${userHome}`,
    /// `${workspaceFolder}` (only with a project), `${workspaceFolderBasename}`,
    /// `${pathSeparator}`, `${/}`; `${input:…}` prompts and any other `${…}` cannot be carried.
    /// Every other `$` is literal.
    Editor,
    /// `{env:NAME}` (opencode); `{file:…}` cannot be carried; any `$` is literal.
    Braces,
}

/// What client placeholders stand for on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Placeholders<'a> {
    /// `${userHome}`.
    pub home: &'a Path,
    /// `${workspaceFolder}`: the `--project` directory; `None` at user scope, where the folder
    /// is whatever the editor has open, so such a value cannot be carried.
    pub project: Option<&'a Path>,
}

fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl EnvSyntax {
    /// `value` in the gateway's grammar, or why it cannot be carried (the server then stays in
    /// its client).
    pub fn to_gateway(self, value: &str, places: &Placeholders<'_>) -> Result<String, String> {
        match self {
            EnvSyntax::Literal => Ok(value.replace('$', "$$")),
            EnvSyntax::Continue => match value.find("${{") {
                Some(i) => {
                    let end = value[i..].find("}}").map_or(value.len(), |e| i + e + 2);
                    Err(format!(
                        "`{}` is a Continue secret or input the gateway cannot read",
                        &value[i..end]
                    ))
                }
                None => Ok(value.replace('$', "$$")),
            },
            EnvSyntax::Dollar => dollar(value, false, None),
            EnvSyntax::DollarBare => dollar(value, true, None),
            EnvSyntax::Editor => dollar(value, false, Some(places)),
            EnvSyntax::Braces => braces(&value.replace('$', "$$")),
        }
    }
}

/// A path as a literal in the gateway's grammar.
fn literal(p: &Path) -> String {
    p.to_string_lossy().replace('$', "$$")
}

/// `${body}` of an editor: a predefined variable filled in, or why it cannot be.
fn editor_variable(body: &str, places: &Placeholders<'_>) -> Result<String, String> {
    let folder = || {
        places.project.ok_or_else(|| {
            format!("`${{{body}}}` is the folder open in the editor, which the gateway cannot know (run setup with --project DIR to fill it in)")
        })
    };
    match body {
        "userHome" => Ok(literal(places.home)),
        "workspaceFolder" => folder().map(literal),
        "workspaceFolderBasename" => folder().map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().replace('$', "$$"))
                .unwrap_or_default()
        }),
        "pathSeparator" | "/" => Ok(std::path::MAIN_SEPARATOR.to_string()),
        _ if body.starts_with("input:") => Err(format!(
            "`${{{body}}}` is an input prompt of the editor; the gateway cannot ask for it"
        )),
        _ => Err(format!(
            "`${{{body}}}` is an editor placeholder the gateway cannot fill in"
        )),
    }
}

/// A value of a client that expands `${NAME}`, `${NAME:-default}` and `${env:NAME}` (and, with
/// `bare`, `$NAME`; with `editor`, the editors' own variables) in the gateway's grammar. Every
/// other `$` is literal in these clients and is escaped to `$$`, so `p@$$w0rd` arrives byte for
/// byte.
fn dollar(value: &str, bare: bool, editor: Option<&Placeholders<'_>>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(body_and_tail) = after.strip_prefix('{')
            && let Some(end) = body_and_tail.find('}')
        {
            let body = &body_and_tail[..end];
            rest = &body_and_tail[end + 1..];
            if let Some(name) = body.strip_prefix("env:")
                && is_var_name(name)
            {
                out.push_str(&format!("${{{name}:-}}"));
                continue;
            }
            if let Some(places) = editor {
                out.push_str(&editor_variable(body, places)?);
                continue;
            }
            let (var, default) = body.split_once(":-").unwrap_or((body, ""));
            if is_var_name(var) && !default.contains(['{', '}']) {
                out.push_str(&format!("${{{var}:-{}}}", default.replace('$', "$$")));
                continue;
            }
            return Err(format!(
                "`${{{body}}}` is a placeholder the gateway cannot fill in"
            ));
        }
        let name: String = after.chars().take_while(|c| is_var_char(*c)).collect();
        if bare && is_var_name(&name) {
            out.push_str(&format!("${{{name}:-}}"));
            rest = &after[name.len()..];
            continue;
        }
        out.push_str("$$");
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

/// opencode's `{env:NAME}` → `${NAME:-}`; `{file:path}` cannot be carried; anything else is kept.
fn braces(s: &str) -> Result<String, String> {
    if let Some(i) = s.find("{file:") {
        let end = s[i..].find('}').map_or(s.len(), |e| i + e + 1);
        return Err(format!(
            "`{}` reads a file in opencode; the gateway cannot",
            &s[i..end]
        ));
    }
    let (open, close) = ("{env:", "}");
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        out.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        match after.find(close) {
            Some(j) if j > 0 && after[..j].chars().all(is_var_char) => {
                out.push_str(&format!("${{{}:-}}", &after[..j]));
                rest = &after[j + close.len()..];
            }
            _ => {
                out.push_str(open);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::tests::places;
    use crate::clients::{ServerSpec, codex, decode_entry, vscode};
    use serde_json::json;

    fn conv(syntax: EnvSyntax, value: &str) -> Result<String, String> {
        syntax.to_gateway(value, &places())
    }

    #[test]
    fn env_syntaxes_convert_to_the_gateway_grammar() {
        // Unset policy: a reference without a default is `${NAME:-}` (empty when unset).
        assert_eq!(
            conv(EnvSyntax::Literal, "pa$$word${X}").unwrap(),
            "pa$$$$word$${X}"
        );
        assert_eq!(
            conv(EnvSyntax::Dollar, "${env:TOKEN} ${A:-b} ${KR} $5").unwrap(),
            "${TOKEN:-} ${A:-b} ${KR:-} $$5"
        );
        assert_eq!(
            conv(EnvSyntax::DollarBare, "$KEY and ${B} and $$ and 5$").unwrap(),
            "${KEY:-} and ${B:-} and $$$$ and 5$$"
        );
        assert_eq!(
            conv(EnvSyntax::DollarBare, "Bearer $GM_TOKEN").unwrap(),
            "Bearer ${GM_TOKEN:-}"
        );
        // `$$` is two literal dollars in these clients: it must reach the server byte for byte.
        for syntax in [EnvSyntax::Dollar, EnvSyntax::Editor, EnvSyntax::Continue] {
            assert_eq!(
                conv(syntax, "p@$$w0rd").unwrap(),
                "p@$$$$w0rd",
                "{syntax:?}"
            );
        }
        // A default with a `$` keeps it literal.
        assert_eq!(conv(EnvSyntax::Dollar, "${A:-x$y}").unwrap(), "${A:-x$$y}");
        assert!(conv(EnvSyntax::Dollar, "${bad name}").is_err());
        assert!(conv(EnvSyntax::Dollar, "${file:/x}").is_err());
        assert_eq!(
            conv(EnvSyntax::Braces, "Bearer {env:OC_TOKEN} costs $5").unwrap(),
            "Bearer ${OC_TOKEN:-} costs $$5"
        );
        assert!(conv(EnvSyntax::Braces, "{file:~/.secret}").is_err());
        assert!(conv(EnvSyntax::Continue, "${{ secrets.GH }}").is_err());
        let codex = decode_entry(
            "g",
            &json!({"url": "https://x", "bearer_token_env_var": "TOK", "http_headers": {"X": "a$b"}}),
            &codex::Codex,
            &places(),
        )
        .unwrap();
        assert!(
            matches!(&codex.spec, ServerSpec::Remote { headers, .. } if headers["Authorization"] == "Bearer ${TOK:-}" && headers["X"] == "a$$b")
        );
    }

    #[test]
    fn editor_placeholders_are_filled_in_or_refused() {
        let project = Placeholders {
            home: Path::new("/home/u"),
            project: Some(Path::new("/work/p$1")),
        };
        let ed = |v: &str, p: &Placeholders<'_>| EnvSyntax::Editor.to_gateway(v, p);
        assert_eq!(
            ed(
                "${workspaceFolder}/db ${userHome}${/}x ${env:TOK}",
                &project
            )
            .unwrap(),
            "/work/p$$1/db /home/u/x ${TOK:-}"
        );
        assert_eq!(ed("${workspaceFolderBasename}", &project).unwrap(), "p$$1");
        let no_project = ed("${workspaceFolder}/db", &places()).unwrap_err();
        assert!(no_project.contains("--project"), "{no_project}");
        let input = ed("${input:tok}", &project).unwrap_err();
        assert!(input.contains("input prompt"), "{input}");
        // An editor does not read `${NAME}` from the environment: not carried either.
        assert!(ed("${TOK}", &project).is_err());
        // Through a whole entry: the server is not decoded, so it stays in its client.
        let e = decode_entry(
            "v",
            &json!({"type": "stdio", "command": "x", "env": {"T": "${input:tok}"}}),
            &vscode::VsCode,
            &project,
        );
        assert!(e.unwrap_err().contains("${input:tok}"));
    }
}
