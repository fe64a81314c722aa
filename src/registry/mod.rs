//! Built-in registry of well-known MCP servers for `mcp-gateway add NAME`: how to launch each
//! (command, arguments, required environment variables) and which published package it runs.
//!
//! Every entry was checked against its package on npm or PyPI (name and current version, recorded
//! in `checked`); the launch line follows the package's README. `{cwd}` in an argument stands for
//! the directory `add` runs in. Pure data and lookup: never installs or starts anything.

/// Where the server is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    Npm(&'static str),
    Pypi(&'static str),
}

/// One well-known server.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub description: &'static str,
    pub package: Package,
    /// Package version the entry was checked against.
    pub checked: &'static str,
    pub command: &'static str,
    pub args: &'static [&'static str],
    /// Environment variables the server needs: `(name, what it is)`.
    pub env: &'static [(&'static str, &'static str)],
}

impl Entry {
    /// Arguments with `{cwd}` replaced.
    pub fn args_in(&self, cwd: &std::path::Path) -> Vec<String> {
        self.args
            .iter()
            .map(|a| a.replace("{cwd}", &cwd.to_string_lossy()))
            .collect()
    }
}

macro_rules! npx {
    ($name:expr, $desc:expr, $pkg:expr, $ver:expr, [$($arg:expr),*], [$($env:expr),*]) => {
        Entry { name: $name, description: $desc, package: Package::Npm($pkg), checked: $ver, command: "npx", args: &["-y", $pkg $(, $arg)*], env: &[$($env),*] }
    };
}
macro_rules! uvx {
    ($name:expr, $desc:expr, $pkg:expr, $ver:expr, [$($arg:expr),*], [$($env:expr),*]) => {
        Entry { name: $name, description: $desc, package: Package::Pypi($pkg), checked: $ver, command: "uvx", args: &[$pkg $(, $arg)*], env: &[$($env),*] }
    };
}

/// The registry, sorted by name.
pub static ENTRIES: &[Entry] = &[
    npx!(
        "apify",
        "Apify Actors: scrapers and automations",
        "@apify/actors-mcp-server",
        "0.16.0",
        [],
        [("APIFY_TOKEN", "Apify API token")]
    ),
    uvx!(
        "atlassian",
        "Jira and Confluence",
        "mcp-atlassian",
        "0.23.1",
        [],
        [
            ("JIRA_URL", "Jira base URL"),
            ("JIRA_USERNAME", "Atlassian account e-mail"),
            ("JIRA_API_TOKEN", "Atlassian API token")
        ]
    ),
    npx!(
        "azure",
        "Azure resources (uses your az login)",
        "@azure/mcp",
        "2.0.5",
        ["server", "start"],
        []
    ),
    npx!(
        "brave-search",
        "Brave web and local search",
        "@modelcontextprotocol/server-brave-search",
        "0.6.2",
        [],
        [("BRAVE_API_KEY", "Brave Search API key")]
    ),
    npx!(
        "browserbase",
        "Cloud browser automation (Browserbase + Stagehand)",
        "@browserbasehq/mcp-server-browserbase",
        "2.4.3",
        [],
        [
            ("BROWSERBASE_API_KEY", "Browserbase API key"),
            ("BROWSERBASE_PROJECT_ID", "Browserbase project id")
        ]
    ),
    npx!(
        "chrome-devtools",
        "Drive and inspect a local Chrome through DevTools",
        "chrome-devtools-mcp",
        "1.11.0",
        [],
        []
    ),
    npx!(
        "circleci",
        "CircleCI pipelines and build logs",
        "@circleci/mcp-server-circleci",
        "0.20.0",
        [],
        [("CIRCLECI_TOKEN", "CircleCI personal API token")]
    ),
    npx!(
        "context7",
        "Up-to-date library documentation",
        "@upstash/context7-mcp",
        "4.1.1",
        [],
        []
    ),
    npx!(
        "desktop-commander",
        "Terminal commands and file editing",
        "@wonderwhy-er/desktop-commander",
        "0.2.52",
        [],
        []
    ),
    uvx!(
        "duckduckgo",
        "DuckDuckGo web search (no key)",
        "duckduckgo-mcp-server",
        "0.7.0",
        [],
        []
    ),
    npx!(
        "elasticsearch",
        "Query Elasticsearch indices",
        "@elastic/mcp-server-elasticsearch",
        "0.3.1",
        [],
        [
            ("ES_URL", "Elasticsearch URL"),
            ("ES_API_KEY", "Elasticsearch API key")
        ]
    ),
    npx!(
        "everything",
        "MCP reference server exercising every protocol feature",
        "@modelcontextprotocol/server-everything",
        "2026.8.31",
        [],
        []
    ),
    npx!(
        "exa",
        "Exa web search and research",
        "exa-mcp-server",
        "3.4.1",
        [],
        [("EXA_API_KEY", "Exa API key")]
    ),
    uvx!(
        "fetch",
        "Fetch web pages as markdown",
        "mcp-server-fetch",
        "2026.10.24",
        [],
        []
    ),
    npx!(
        "figma",
        "Figma file and frame data",
        "figma-developer-mcp",
        "0.13.2",
        ["--stdio"],
        [("FIGMA_API_KEY", "Figma personal access token")]
    ),
    npx!(
        "filesystem",
        "Read and write files under the given directory",
        "@modelcontextprotocol/server-filesystem",
        "2026.8.31",
        ["{cwd}"],
        []
    ),
    npx!(
        "firecrawl",
        "Scrape, crawl and search the web",
        "firecrawl-mcp",
        "3.26.0",
        [],
        [("FIRECRAWL_API_KEY", "Firecrawl API key")]
    ),
    uvx!(
        "git",
        "Read, search and edit a Git repository",
        "mcp-server-git",
        "2026.10.19",
        ["--repository", "{cwd}"],
        []
    ),
    npx!(
        "github",
        "GitHub repositories, issues and pull requests",
        "@modelcontextprotocol/server-github",
        "2025.4.8",
        [],
        [(
            "GITHUB_PERSONAL_ACCESS_TOKEN",
            "GitHub personal access token"
        )]
    ),
    npx!(
        "gitlab",
        "GitLab projects, issues and merge requests",
        "@modelcontextprotocol/server-gitlab",
        "2025.4.25",
        [],
        [(
            "GITLAB_PERSONAL_ACCESS_TOKEN",
            "GitLab personal access token"
        )]
    ),
    npx!(
        "google-maps",
        "Geocoding, places and directions",
        "@modelcontextprotocol/server-google-maps",
        "0.6.2",
        [],
        [("GOOGLE_MAPS_API_KEY", "Google Maps API key")]
    ),
    npx!(
        "heroku",
        "Heroku apps, dynos and add-ons",
        "@heroku/mcp-server",
        "1.2.8",
        [],
        [("HEROKU_API_KEY", "Heroku API key")]
    ),
    npx!(
        "memory",
        "Knowledge-graph memory",
        "@modelcontextprotocol/server-memory",
        "2026.8.31",
        [],
        []
    ),
    npx!(
        "mongodb",
        "MongoDB databases and Atlas",
        "mongodb-mcp-server",
        "3.0.4",
        [],
        [("MDB_MCP_CONNECTION_STRING", "MongoDB connection string")]
    ),
    npx!(
        "notion",
        "Notion pages and databases",
        "@notionhq/notion-mcp-server",
        "2.5.2",
        [],
        [("NOTION_TOKEN", "Notion integration token")]
    ),
    uvx!(
        "obsidian",
        "Obsidian vault via the Local REST API plugin",
        "mcp-obsidian",
        "0.2.3",
        [],
        [("OBSIDIAN_API_KEY", "Local REST API plugin key")]
    ),
    npx!(
        "perplexity",
        "Perplexity search and reasoning",
        "@perplexity-ai/mcp-server",
        "1.2.1",
        [],
        [("PERPLEXITY_API_KEY", "Perplexity API key")]
    ),
    npx!(
        "playwright",
        "Browser automation with Playwright",
        "@playwright/mcp",
        "0.0.83",
        [],
        []
    ),
    npx!(
        "puppeteer",
        "Browser automation with Puppeteer",
        "@modelcontextprotocol/server-puppeteer",
        "2025.5.12",
        [],
        []
    ),
    uvx!(
        "qdrant",
        "Qdrant vector search memory",
        "mcp-server-qdrant",
        "0.8.1",
        [],
        [
            ("QDRANT_URL", "Qdrant URL"),
            ("COLLECTION_NAME", "collection to use")
        ]
    ),
    npx!(
        "sentry",
        "Sentry issues and events",
        "@sentry/mcp-server",
        "0.39.0",
        [],
        [("SENTRY_ACCESS_TOKEN", "Sentry user auth token")]
    ),
    npx!(
        "sequential-thinking",
        "Structured step-by-step thinking",
        "@modelcontextprotocol/server-sequential-thinking",
        "2026.8.31",
        [],
        []
    ),
    npx!(
        "slack",
        "Slack channels and messages",
        "@modelcontextprotocol/server-slack",
        "2025.4.25",
        [],
        [
            ("SLACK_BOT_TOKEN", "Slack bot token"),
            ("SLACK_TEAM_ID", "Slack workspace id")
        ]
    ),
    uvx!(
        "sqlite",
        "Query a SQLite database",
        "mcp-server-sqlite",
        "2025.4.25",
        ["--db-path", "{cwd}/db.sqlite"],
        []
    ),
    npx!(
        "stripe",
        "Stripe payments API",
        "@stripe/mcp",
        "0.3.3",
        ["--tools=all"],
        [("STRIPE_SECRET_KEY", "Stripe secret key")]
    ),
    npx!(
        "supabase",
        "Supabase projects and databases",
        "@supabase/mcp-server-supabase",
        "0.13.0",
        [],
        [("SUPABASE_ACCESS_TOKEN", "Supabase personal access token")]
    ),
    npx!(
        "tavily",
        "Tavily web search and extraction",
        "tavily-mcp",
        "0.2.22",
        [],
        [("TAVILY_API_KEY", "Tavily API key")]
    ),
    uvx!(
        "time",
        "Current time and timezone conversion",
        "mcp-server-time",
        "2026.10.19",
        [],
        []
    ),
];

/// Exact lookup (case-insensitive).
pub fn get(name: &str) -> Option<&'static Entry> {
    ENTRIES.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

/// Up to three names close to `name` (see `crate::suggest`), best first.
pub fn suggest(name: &str) -> Vec<&'static str> {
    let mut near = crate::suggest::ranked(name, ENTRIES.iter().map(|e| e.name));
    near.truncate(3);
    near
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_sound() {
        // docs/cli/add.md says 38: keep the two in step.
        assert_eq!(
            ENTRIES.len(),
            38,
            "update docs/cli/add.md with the new count"
        );
        let mut names: Vec<_> = ENTRIES.iter().map(|e| e.name).collect();
        let sorted = names.clone();
        names.sort_unstable();
        assert_eq!(names, sorted, "keep ENTRIES sorted by name");
        names.dedup();
        assert_eq!(names.len(), ENTRIES.len(), "duplicate names");
        for e in ENTRIES {
            assert!(
                e.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                e.name
            );
            match e.package {
                Package::Npm(p) => assert_eq!((e.command, e.args[0], e.args[1]), ("npx", "-y", p)),
                Package::Pypi(p) => assert_eq!((e.command, e.args[0]), ("uvx", p)),
            }
            for (var, _) in e.env {
                assert!(
                    var.chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()),
                    "{var}"
                );
            }
        }
    }

    #[test]
    fn lookup() {
        assert_eq!(
            get("Memory").unwrap().package,
            Package::Npm("@modelcontextprotocol/server-memory")
        );
        assert_eq!(suggest("githb").first(), Some(&"github"));
        assert_eq!(
            get("git").unwrap().args_in(std::path::Path::new("/r")),
            ["mcp-server-git", "--repository", "/r"]
        );
    }
}
