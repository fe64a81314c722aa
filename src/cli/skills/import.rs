//! `mcp-gateway skills import PATH|URL` and `skills remove NAME`: copying a skill into the
//! gateway's import directory (`$XDG_DATA_HOME/mcp-gateway/skills/NAME/`) and taking it out.
//!
//! Owns validating before anything is written (the SKILL.md must parse and pass the scanner),
//! the copy itself (regular files of the skill folder, hidden entries and links out of the
//! folder left behind, with size and count caps), fetching over HTTPS only (redirects only within
//! the origin, a size cap per file, and the skill's relative Markdown links fetched as parts
//! when they stay under the SKILL.md's own directory), and swapping the result in atomically (a
//! staging folder renamed into place). It never runs anything it copied and never writes
//! outside the import directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::scanner::AllowList;
use crate::skills::{
    MAIN_FILE, MAX_FILE_BYTES, ProblemKind, Scope, SkillDir, SkillProblem, SkillSet,
};

/// Most files one imported skill folder may have.
pub const MAX_FILES: usize = 512;
/// Most bytes one imported skill may have in total.
pub const MAX_TOTAL_BYTES: u64 = 16 * 1024 * 1024;
/// Most Markdown parts fetched for a URL import.
pub const MAX_FETCHED_PARTS: usize = 32;
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: no {MAIN_FILE} here (a skill is a folder with a {MAIN_FILE})", .0.display())]
    NotASkill(PathBuf),
    #[error("{0}")]
    Invalid(SkillProblem),
    #[error(
        "a skill named `{name}` is already imported at {}; pass --force to replace it",
        dir.display()
    )]
    Exists { name: String, dir: PathBuf },
    #[error("no imported skill named `{name}` in {}{hint}", dir.display())]
    NotImported {
        name: String,
        dir: PathBuf,
        hint: String,
    },
    #[error(
        "`{0}`: only https:// URLs are imported (a skill is instructions for the model; plain HTTP lets anyone on the path rewrite them)"
    )]
    Insecure(String),
    #[error("`{0}` is neither an existing path nor an https:// URL")]
    BadSource(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub name: String,
    pub dir: PathBuf,
    /// Files written, relative to `dir`, sorted.
    pub files: Vec<String>,
    /// Whether an earlier import of the same name was replaced.
    pub replaced: bool,
    /// Loaded-with-warnings notes (unknown keys, medium findings, parts not fetched).
    pub warnings: Vec<String>,
}

/// A source given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Url(Url),
}

impl Source {
    /// `https://…` is a URL (GitHub `blob`/`tree` page URLs become their raw file); `http://` is
    /// refused; anything else is a path.
    pub fn parse(s: &str) -> Result<Source, ImportError> {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") {
            return Err(ImportError::Insecure(s.to_string()));
        }
        if lower.starts_with("https://") {
            let url = Url::parse(s).map_err(|_| ImportError::BadSource(s.to_string()))?;
            return Ok(Source::Url(github_raw(url)));
        }
        if s.contains("://") {
            return Err(ImportError::BadSource(s.to_string()));
        }
        Ok(Source::Path(PathBuf::from(s)))
    }
}

/// `github.com/O/R/blob/REF/P` → `raw.githubusercontent.com/O/R/REF/P`; a `tree/REF/DIR` page
/// → that folder's SKILL.md. Other URLs are unchanged.
fn github_raw(url: Url) -> Url {
    if url.host_str() != Some("github.com") {
        return url;
    }
    let segs: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
    if segs.len() < 5 || !matches!(segs[2], "blob" | "tree") {
        return url;
    }
    let mut path = format!("/{}/{}/{}", segs[0], segs[1], segs[3..].join("/"));
    if segs[2] == "tree" && !path.ends_with(MAIN_FILE) {
        path = format!("{}/{MAIN_FILE}", path.trim_end_matches('/'));
    }
    Url::parse(&format!("https://raw.githubusercontent.com{path}")).unwrap_or(url)
}

/// Validates the skill folder at `staged` (load + scan) and returns its name and warnings.
fn validate(staged: &Path, allow: &AllowList) -> Result<(String, Vec<String>), ImportError> {
    let dirs = [SkillDir {
        path: staged.to_path_buf(),
        scope: Scope::Imported,
    }];
    let (set, problems) = SkillSet::load(&dirs, allow);
    if let Some(p) = problems
        .iter()
        .find(|p| matches!(p.kind, ProblemKind::Invalid | ProblemKind::Withheld))
    {
        return Err(ImportError::Invalid(p.clone()));
    }
    let Some(skill) = set.iter().next() else {
        return Err(ImportError::NotASkill(staged.to_path_buf()));
    };
    let warnings = problems.iter().map(ToString::to_string).collect();
    Ok((skill.name.clone(), warnings))
}

/// A fresh staging folder inside `root` (same filesystem, so the final rename is atomic).
fn staging(root: &Path) -> Result<PathBuf, ImportError> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    for n in 0..1000u32 {
        let dir = root.join(format!(".import-{}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&dir)(e)),
        }
    }
    Err(ImportError::TooLarge(format!(
        "{}: cannot create a staging folder",
        root.display()
    )))
}

/// Moves the validated `staged` folder to `root/NAME`, replacing an earlier import only with
/// `force`. Removes `staged` on failure.
fn install(
    staged: &Path,
    root: &Path,
    allow: &AllowList,
    force: bool,
) -> Result<Imported, ImportError> {
    let result = (|| {
        let (name, warnings) = validate(staged, allow)?;
        let dest = root.join(&name);
        let replaced = dest.exists();
        if replaced && !force {
            return Err(ImportError::Exists { name, dir: dest });
        }
        let files = list_files(staged)?;
        if replaced {
            let old = root.join(format!(".old-{name}-{}", std::process::id()));
            std::fs::rename(&dest, &old).map_err(io(&dest))?;
            std::fs::rename(staged, &dest).map_err(io(&dest))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(staged, &dest).map_err(io(&dest))?;
        }
        Ok(Imported {
            name,
            dir: dest,
            files,
            replaced,
            warnings,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(staged);
    }
    result
}

fn list_files(dir: &Path) -> Result<Vec<String>, ImportError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let entry = entry.map_err(io(&d))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Imports the skill folder at `src` (or the folder of the SKILL.md `src` names) into `root`.
pub fn import_path(
    src: &Path,
    root: &Path,
    allow: &AllowList,
    force: bool,
) -> Result<Imported, ImportError> {
    let src = if src.file_name().is_some_and(|n| n == MAIN_FILE) && src.is_file() {
        src.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        src.to_path_buf()
    };
    if !src.join(MAIN_FILE).is_file() {
        return Err(ImportError::NotASkill(src));
    }
    let real_src = std::fs::canonicalize(&src).map_err(io(&src))?;
    if let Ok(real_root) = std::fs::canonicalize(root)
        && real_src.starts_with(&real_root)
    {
        return Err(ImportError::BadSource(format!(
            "{} is already in the import directory",
            src.display()
        )));
    }
    let staged = staging(root)?;
    if let Err(e) = copy_tree(&real_src, &staged) {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    install(&staged, root, allow, force)
}

/// Copies the regular files under `src` (links only when they resolve inside `src`; hidden
/// entries skipped) into `dest`, within [`MAX_FILES`] and [`MAX_TOTAL_BYTES`].
fn copy_tree(src: &Path, dest: &Path) -> Result<(), ImportError> {
    let (mut files, mut total) = (0usize, 0u64);
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let from_dir = src.join(&rel);
        for entry in std::fs::read_dir(&from_dir).map_err(io(&from_dir))? {
            let entry = entry.map_err(io(&from_dir))?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let from = entry.path();
            let Ok(real) = std::fs::canonicalize(&from) else {
                continue;
            };
            if !real.starts_with(src) {
                continue;
            }
            let rel_child = rel.join(entry.file_name());
            if real.is_dir() {
                std::fs::create_dir_all(dest.join(&rel_child)).map_err(io(dest))?;
                stack.push(rel_child);
                continue;
            }
            let len = real.metadata().map_err(io(&real))?.len();
            files += 1;
            total += len;
            if files > MAX_FILES || total > MAX_TOTAL_BYTES {
                return Err(ImportError::TooLarge(format!(
                    "{}: more than {MAX_FILES} files or {MAX_TOTAL_BYTES} bytes; not a skill folder?",
                    src.display()
                )));
            }
            let to = dest.join(&rel_child);
            std::fs::copy(&real, &to).map_err(io(&to))?;
        }
    }
    Ok(())
}

/// Downloads `url` (HTTPS, same-origin redirects, at most `cap` bytes) as text.
async fn fetch(client: &reqwest::Client, url: &Url, cap: u64) -> Result<String, ImportError> {
    let err = |message: String| ImportError::Fetch {
        url: url.to_string(),
        message,
    };
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| err(crate::backend::http::policy::error_chain(&e)))?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(err(format!(
            "answered {status}, redirecting to another origin; only redirects within the origin are followed"
        )));
    }
    if !status.is_success() {
        return Err(err(format!("answered {status}")));
    }
    if resp.content_length().is_some_and(|l| l > cap) {
        return Err(ImportError::TooLarge(format!(
            "{url}: larger than the {cap} bytes a skill file may have"
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| err(crate::backend::http::policy::error_chain(&e)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > cap {
            return Err(ImportError::TooLarge(format!(
                "{url}: larger than the {cap} bytes a skill file may have"
            )));
        }
    }
    String::from_utf8(body).map_err(|_| err("not UTF-8 text".into()))
}

/// Relative Markdown links of `body` (`[x](references/a.md)`) that resolve under `base`'s
/// directory on the same origin, as (relative path, URL).
fn linked_parts(body: &str, base: &Url) -> Vec<(String, Url)> {
    let dir = base.join(".").ok();
    let mut out: Vec<(String, Url)> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split_whitespace().next().unwrap_or("");
        rest = &rest[end..];
        let target = target.split(['#', '?']).next().unwrap_or("");
        let markdown = target.to_ascii_lowercase();
        if target.is_empty()
            || target.contains("://")
            || target.starts_with('/')
            || !(markdown.ends_with(".md") || markdown.ends_with(".markdown"))
        {
            continue;
        }
        let (Some(dir), Ok(url)) = (&dir, base.join(target)) else {
            continue;
        };
        let Some(rel) = url.path().strip_prefix(dir.path()) else {
            continue;
        };
        let rel = percent_encoding::percent_decode_str(rel)
            .decode_utf8_lossy()
            .into_owned();
        let safe = !rel.is_empty()
            && rel != MAIN_FILE
            && rel
                .split('/')
                .all(|s| !s.is_empty() && s != "." && s != ".." && !s.starts_with('.'));
        if safe && url.origin() == base.origin() && !out.iter().any(|(r, _)| *r == rel) {
            out.push((rel, url));
        }
    }
    out
}

/// Imports the SKILL.md at `url` (HTTPS only) and the Markdown parts it links to.
pub async fn import_url(
    url: &Url,
    root: &Path,
    allow: &AllowList,
    force: bool,
) -> Result<Imported, ImportError> {
    if url.scheme() != "https" {
        return Err(ImportError::Insecure(url.to_string()));
    }
    let client = crate::outbound::client_builder()
        .user_agent(concat!("mcp-gateway/", env!("CARGO_PKG_VERSION")))
        .https_only(true)
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| ImportError::Fetch {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    let main = fetch(&client, url, MAX_FILE_BYTES).await?;
    // Fail on a bad SKILL.md before fetching anything else.
    let parsed = crate::skills::parse::parse(&main, Path::new(url.as_str())).map_err(|e| {
        ImportError::Invalid(SkillProblem {
            file: PathBuf::from(url.as_str()),
            line: Some(e.line).filter(|l| *l > 0),
            key: e.key,
            message: e.message,
            kind: ProblemKind::Invalid,
        })
    })?;
    let mut warnings = Vec::new();
    let mut parts = Vec::new();
    for (rel, part_url) in linked_parts(&parsed.body, url)
        .into_iter()
        .take(MAX_FETCHED_PARTS)
    {
        match fetch(&client, &part_url, MAX_FILE_BYTES).await {
            Ok(text) => parts.push((rel, text)),
            Err(e) => warnings.push(format!("part `{rel}` not imported: {e}")),
        }
    }
    let staged = staging(root)?;
    let written = (|| {
        let file = staged.join(MAIN_FILE);
        std::fs::write(&file, &main).map_err(io(&file))?;
        for (rel, text) in &parts {
            let file = staged.join(rel);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&file, text).map_err(io(&file))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&staged);
        return Err(e);
    }
    let mut done = install(&staged, root, allow, force)?;
    done.warnings.splice(0..0, warnings);
    Ok(done)
}

/// Removes the imported skill `name` from `root`. Only imported skills can be removed: a skill
/// in an agent's own folder belongs to that agent.
pub fn remove(name: &str, root: &Path) -> Result<PathBuf, ImportError> {
    let dir = root.join(name);
    if !crate::skills::parse::valid_name(name) || !dir.join(MAIN_FILE).is_file() {
        let imported: Vec<String> = std::fs::read_dir(root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        let hint = crate::suggest::hint(name, imported.iter().map(String::as_str));
        return Err(ImportError::NotImported {
            name: name.to_string(),
            dir: root.to_path_buf(),
            hint,
        });
    }
    std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(sub: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/skills")
            .join(sub)
    }

    #[test]
    fn import_copies_validates_replaces_and_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("data/skills");
        let allow = AllowList::default();
        let done = import_path(&fixture("good/pdf-forms"), &root, &allow, false).unwrap();
        assert_eq!(done.name, "pdf-forms");
        assert_eq!(
            done.files,
            [
                "SKILL.md",
                "references/fields.md",
                "references/filling.md",
                "scripts/fill_form.py"
            ]
        );
        assert_eq!(
            std::fs::read(root.join("pdf-forms/references/fields.md")).unwrap(),
            std::fs::read(fixture("good/pdf-forms/references/fields.md")).unwrap()
        );
        let again = import_path(&fixture("good/pdf-forms/SKILL.md"), &root, &allow, false);
        assert!(matches!(again, Err(ImportError::Exists { .. })));
        let replaced = import_path(&fixture("good/pdf-forms"), &root, &allow, true).unwrap();
        assert!(replaced.replaced);
        // Invalid or poisoned skills are refused and leave nothing behind.
        let e = import_path(&fixture("bad/broken-yaml"), &root, &allow, false).unwrap_err();
        assert!(e.to_string().contains(":3"), "{e}");
        let e = import_path(&fixture("poisoned/tidy-files"), &root, &allow, false).unwrap_err();
        assert!(e.to_string().contains("withheld"), "{e}");
        let left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["pdf-forms"]);
        let e = remove("pdf-form", &root).unwrap_err();
        assert!(e.to_string().contains("did you mean `pdf-forms`"), "{e}");
        remove("pdf-forms", &root).unwrap();
        assert!(!root.join("pdf-forms").exists());
    }

    #[test]
    fn sources() {
        assert!(matches!(
            Source::parse("http://example.com/SKILL.md"),
            Err(ImportError::Insecure(_))
        ));
        assert!(matches!(
            Source::parse("ftp://x/y"),
            Err(ImportError::BadSource(_))
        ));
        assert_eq!(
            Source::parse("./x").unwrap(),
            Source::Path(PathBuf::from("./x"))
        );
        let Source::Url(u) =
            Source::parse("https://github.com/o/r/blob/main/skills/pdf/SKILL.md").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            u.as_str(),
            "https://raw.githubusercontent.com/o/r/main/skills/pdf/SKILL.md"
        );
        let Source::Url(u) = Source::parse("https://github.com/o/r/tree/main/skills/pdf").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            u.as_str(),
            "https://raw.githubusercontent.com/o/r/main/skills/pdf/SKILL.md"
        );
    }

    #[test]
    fn only_relative_markdown_links_under_the_skill_are_parts() {
        let base = Url::parse("https://h.example/s/pdf/SKILL.md").unwrap();
        let body = "See [forms](forms.md), [api](references/api.md#x \"t\"), \
                    [up](../other.md), [abs](/etc/x.md), [web](https://e.com/a.md), \
                    [img](logo.png), [hidden](.secret.md), [again](forms.md)";
        let got: Vec<String> = linked_parts(body, &base)
            .into_iter()
            .map(|(r, u)| format!("{r} {u}"))
            .collect();
        assert_eq!(
            got,
            [
                "forms.md https://h.example/s/pdf/forms.md",
                "references/api.md https://h.example/s/pdf/references/api.md"
            ]
        );
    }
}
