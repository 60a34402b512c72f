//! Independent implementations in the test virtualenv (`standardwebhooks`,
//! `http_ece`, PyJWT): a script reads JSON on stdin.

/// Runs `script` with `input` on stdin: its stdout, or, when it exits
/// non-zero, what it printed (stdout and stderr).
pub fn run(script: &str, input: &serde_json::Value) -> Result<String, String> {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
    assert!(
        std::path::Path::new(python).exists(),
        "{python} is missing: scripts/test.sh installs the test tools (scripts/requirements-test.txt)"
    );
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run python");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("python ends");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout} {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
