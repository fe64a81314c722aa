//! The interactive part of setup: show what was found, ask which servers to import, confirm.
//! Plain line prompts over any reader/writer, so it works on every terminal and is driven for
//! real through a pseudo-terminal in the tests. Never writes files: it only returns a choice.

use std::io::{BufRead, Write};

use super::plan::{Detected, LocationState, Merged};
use crate::output::{Style, table};

/// Prints the detected locations and servers (same server in several clients shown once).
pub fn print_overview(
    out: &mut dyn Write,
    detected: &[Detected],
    merged: &Merged,
    style: Style,
) -> std::io::Result<()> {
    let candidates = &merged.candidates;
    let mut rows = Vec::new();
    for d in detected {
        let status = match &d.state {
            LocationState::Missing => continue,
            LocationState::Broken(e) => style.red(&format!("not parsed, left untouched: {e}")),
            LocationState::Read {
                servers, skipped, ..
            } => {
                let mut s = format!(
                    "{} server{}",
                    servers.len(),
                    if servers.len() == 1 { "" } else { "s" }
                );
                if !skipped.is_empty() {
                    s.push_str(&format!(" (kept as is: {})", skipped.join("; ")));
                }
                s
            }
        };
        rows.push(vec![
            d.location.client.name().to_string(),
            d.location.describe(),
            status,
        ]);
    }
    if rows.is_empty() {
        writeln!(out, "No AI client config files found.")?;
        return Ok(());
    }
    writeln!(out, "{}", style.bold("Client configs found:"))?;
    write!(out, "{}", table(&["CLIENT", "FILE", "STATUS"], &rows))?;
    for k in &merged.kept {
        writeln!(out, "Kept in its clients: {k}")?;
    }
    if candidates.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "{}", style.bold("Servers:"))?;
    let rows: Vec<Vec<String>> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut found: Vec<&str> = Vec::new();
            for (d, _) in &c.sources {
                let n = detected[*d].location.client.name();
                if !found.contains(&n) {
                    found.push(n);
                }
            }
            let mut name = c.backend.clone();
            if c.already_in_gateway {
                name.push_str(" (already in gateway)");
            }
            vec![
                (i + 1).to_string(),
                name,
                c.transport().to_string(),
                c.target(),
                found.join(", "),
            ]
        })
        .collect();
    write!(
        out,
        "{}",
        table(
            &["#", "NAME", "TRANSPORT", "COMMAND / URL", "FOUND IN"],
            &rows
        )
    )?;
    Ok(())
}

/// Parses "1,3", "1-2", "all", "" (= all) or "none" against `n` items → 0-based indices.
pub fn parse_selection(input: &str, n: usize) -> Result<Vec<usize>, String> {
    let t = input.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("all") || t == "*" {
        return Ok((0..n).collect());
    }
    if t.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut picked = Vec::new();
    for part in t.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let parse = |s: &str| -> Result<usize, String> {
            let k: usize = s
                .trim()
                .parse()
                .map_err(|_| format!("`{part}` is not a number or range"))?;
            if k == 0 || k > n {
                return Err(format!("{k} is out of range 1-{n}"));
            }
            Ok(k - 1)
        };
        let (a, b) = (parse(a)?, parse(b)?);
        for k in a.min(b)..=a.max(b) {
            if !picked.contains(&k) {
                picked.push(k);
            }
        }
    }
    picked.sort_unstable();
    Ok(picked)
}

/// Asks which candidates to import; re-asks on invalid input. `None`: input closed.
pub fn ask_selection(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    n: usize,
) -> std::io::Result<Option<Vec<usize>>> {
    loop {
        write!(
            out,
            "Import which servers? [all] (e.g. 1,3 or 1-2, 'none' to stop): "
        )?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        match parse_selection(&line, n) {
            Ok(sel) => return Ok(Some(sel)),
            Err(e) => writeln!(out, "  {e}")?,
        }
    }
}

/// Yes/no question, `default` on an empty answer; `false` when input closes.
pub fn confirm(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    question: &str,
    default: bool,
) -> std::io::Result<bool> {
    loop {
        write!(out, "{question} [{}] ", if default { "Y/n" } else { "y/N" })?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "" => return Ok(default),
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => writeln!(out, "  please answer y or n")?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections() {
        assert_eq!(parse_selection("", 3).unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_selection("3,1", 3).unwrap(), vec![0, 2]);
        assert_eq!(parse_selection("1-2", 3).unwrap(), vec![0, 1]);
        assert_eq!(parse_selection("none", 3).unwrap(), Vec::<usize>::new());
        assert!(
            parse_selection("4", 3)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_selection("x", 3).is_err());
    }

    #[test]
    fn prompts_reask_and_confirm() {
        let mut input = std::io::Cursor::new(b"9\n2\nmaybe\ny\n".to_vec());
        let mut out = Vec::new();
        assert_eq!(
            ask_selection(&mut input, &mut out, 3).unwrap(),
            Some(vec![1])
        );
        assert!(confirm(&mut input, &mut out, "Go?", false).unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("9 is out of range") && text.contains("please answer"),
            "{text}"
        );
    }
}
