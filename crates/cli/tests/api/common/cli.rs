//! Driving the built `strongroom` binary as a client (the `cli_*` tests): a run with its
//! profiles under a temporary config directory and only the environment given, and the
//! checks of its output and exit codes.

use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// `strongroom ARGS` with its profiles under `config` (XDG_CONFIG_HOME), no STRONGROOM_*
/// variable from the caller, and `env` set.
fn command(config: &Path, env: &[(&str, &str)], args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_strongroom"));
    cmd.args(args).env("XDG_CONFIG_HOME", config);
    for (k, _) in std::env::vars() {
        if k.starts_with("STRONGROOM_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

/// Runs [`command`] with no stdin.
pub async fn cli(config: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = command(config, env, args);
    cmd.stdin(Stdio::null());
    cmd.output().await.expect("run strongroom")
}

/// Asserts success and an empty stderr; returns stdout.
#[track_caller]
pub fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}; stderr: {stderr}",
        out.status.code()
    );
    assert!(stderr.is_empty(), "nothing on stderr when piped: {stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[track_caller]
pub fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("stdout is JSON")
}

/// Asserts exit `code` and nothing on stdout; returns stderr.
#[track_caller]
pub fn fails(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(
        stderr.lines().any(|l| l.starts_with("strongroom: ")),
        "{stderr}"
    );
    stderr
}

/// Runs [`command`] with `input` on stdin.
pub async fn cli_stdin(config: &Path, env: &[(&str, &str)], args: &[&str], input: &[u8]) -> Output {
    let mut cmd = command(config, env, args);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run strongroom");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.expect("run strongroom")
}

/// Runs `strongroom ARGS` under a pseudo-terminal (`script`), so stderr is a terminal; returns
/// what the terminal showed.
pub fn on_a_terminal(config: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let line = std::iter::once(env!("CARGO_BIN_EXE_strongroom"))
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    for (k, _) in std::env::vars() {
        if k.starts_with("STRONGROOM_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .args(["-qec", &line, "/dev/null"])
        .env("XDG_CONFIG_HOME", config)
        .envs(env.iter().copied())
        .output()
        .expect("run script");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `strongroom ARGS` under a pseudo-terminal, typing each answer once the screen ends with
/// its prompt; returns the exit code and what the terminal showed.
pub fn typed(
    config: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    answers: &[(&str, &str)],
) -> (i32, String) {
    use std::io::{Read, Write};
    let line = std::iter::once(env!("CARGO_BIN_EXE_strongroom"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    for (k, _) in std::env::vars() {
        if k.starts_with("STRONGROOM_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args(["-qec", &line, "/dev/null"])
        .env("XDG_CONFIG_HOME", config)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run script");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = Vec::new();
    for (prompt, answer) in answers {
        let mut byte = [0u8; 1];
        while !String::from_utf8_lossy(&screen)
            .trim_end()
            .ends_with(prompt.trim_end())
        {
            assert_eq!(
                stdout.read(&mut byte).unwrap(),
                1,
                "no prompt {prompt:?}: {screen:?}"
            );
            screen.push(byte[0]);
        }
        // The prompt is printed just before echo is turned off: give it a moment, so an
        // echoed answer means the prompt echoes, not that the answer came early.
        std::thread::sleep(std::time::Duration::from_millis(200));
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
    }
    stdout.read_to_end(&mut screen).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    (
        status.code().unwrap(),
        String::from_utf8_lossy(&screen).into_owned(),
    )
}
