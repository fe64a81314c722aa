//! The gateway's own entry in a client config: recognising it ([`is_gateway_entry`]: our program
//! with only our arguments) and a name for a new one that no other server has
//! ([`free_entry_name`]). It never takes another program (`mcp-gateway.py`, another product's
//! `mcp-gateway serve`) for ours.

use std::path::Path;

use super::{Server, ServerSpec};

/// Whether `server` is this gateway's own entry: our program (`mcp-gateway`, by path or on
/// `PATH`) with only our arguments (`stdio`, `--config PATH`). Anything else, such as
/// `/opt/x/bin/mcp-gateway.py` or another product's `mcp-gateway serve`, is a server to move.
pub fn is_gateway_entry(server: &Server) -> bool {
    let ServerSpec::Stdio { command, args, .. } = &server.spec else {
        return false;
    };
    let file = Path::new(command)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file != "mcp-gateway" && file != "mcp-gateway.exe" {
        return false;
    }
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "stdio" => {}
            "--config" | "-c" => {
                if args.next().is_none() {
                    return false;
                }
            }
            other if other.starts_with("--config=") => {}
            _ => return false,
        }
    }
    true
}

/// A name for the gateway entry that no other server in `taken` has: `gateway`, else
/// `mcp-gateway`, else `gateway-2`, `gateway-3`, ….
pub fn free_entry_name(preferred: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(preferred) {
        return preferred.to_string();
    }
    if !taken("mcp-gateway") {
        return "mcp-gateway".to_string();
    }
    (2..)
        .map(|n| format!("{preferred}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or_else(|| preferred.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn gateway_entry_detection() {
        let s = |c: &str| {
            Server::new(
                "x",
                ServerSpec::Stdio {
                    command: c.into(),
                    args: vec![],
                    env: BTreeMap::new(),
                    cwd: None,
                },
                true,
            )
        };
        assert!(is_gateway_entry(&s("mcp-gateway")));
        assert!(is_gateway_entry(&s("/home/u/.cargo/bin/mcp-gateway")));
        assert!(!is_gateway_entry(&s("npx")));
        // Only our program with our arguments is our entry.
        assert!(!is_gateway_entry(&s("/opt/lasso/bin/mcp-gateway.py")));
        let with = |args: &[&str]| {
            Server::new(
                "g",
                ServerSpec::Stdio {
                    command: "mcp-gateway".into(),
                    args: args.iter().map(|a| a.to_string()).collect(),
                    env: BTreeMap::new(),
                    cwd: None,
                },
                true,
            )
        };
        assert!(is_gateway_entry(&with(&[
            "--config",
            "/p/.mcp-gateway.yaml"
        ])));
        assert!(!is_gateway_entry(&with(&["serve", "--port", "1"])));
        assert_eq!(
            free_entry_name("gateway", |n| n == "gateway"),
            "mcp-gateway"
        );
        assert_eq!(
            free_entry_name("gateway", |n| n == "gateway" || n == "mcp-gateway"),
            "gateway-2"
        );
    }
}
