//! Test-only: how many cases each property test (the project's fuzz targets, see
//! docs/security.md) runs. Each target names its default; `PROPTEST_CASES=N` in the environment
//! overrides every one of them (proptest's own `with_cases` would ignore it), so CI or a
//! developer can run the same targets longer without editing code.

/// The proptest config of a target that runs `default_cases` cases unless `PROPTEST_CASES` is
/// set to a number.
pub(crate) fn cases(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::Config::with_cases(cases)
}
