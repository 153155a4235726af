//! The Kubernetes manifests: every file of the kustomize base, and each overlay rendered where
//! `kubectl kustomize` exists, passes `kubernetes-validate --strict` for Kubernetes 1.30, checkov's
//! Kubernetes checks (none failed; the few skipped say why in a `checkov.io/skip*` annotation)
//! and our own security review (`integration-tests/python/k8s_check.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    // Canonical: checkov finds nothing in a directory named through `..`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn venv(tool: &str) -> PathBuf {
    let python = std::env::var("TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".venv/bin/python"));
    python.with_file_name(tool)
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}; scripts/test installs the checkers"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// Runs checkov over `target` (`-f FILE` or `-d DIR`) and returns its report; fails on any failed
/// check. `--skip-download` keeps it offline (it would otherwise hang fetching policies).
fn checkov(target: &[&std::ffi::OsStr], skip: &[&str]) -> String {
    let mut command = Command::new(venv("checkov"));
    command
        .args(target)
        .args(["--framework", "kubernetes", "--skip-download", "--compact"]);
    for check in skip {
        command.args(["--skip-check", check]);
    }
    let report = run(&mut command);
    assert!(report.contains("Failed checks: 0,"), "{report}");
    report
}

fn check(files: &[PathBuf]) {
    run(Command::new(venv("kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", "1.30.0"])
        .args(files));
    for file in files {
        checkov(&["-f".as_ref(), file.as_os_str()], &[]);
    }
    let out = run(Command::new(venv("python"))
        .arg(root().join("integration-tests/python/k8s_check.py"))
        .args(files));
    assert_eq!(out.trim(), "ok");
}

#[test]
fn the_kustomize_base_is_valid_and_passes_the_security_checks() {
    let base = root().join("deploy/k8s/base");
    let files: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml")
        })
        .collect();
    assert!(files.len() >= 7, "{files:?}");
    run(Command::new(venv("kubernetes-validate"))
        .args(["--strict", "--quiet", "-k", "1.30.0"])
        .args(&files));
    let out = run(Command::new(venv("python"))
        .arg(root().join("integration-tests/python/k8s_check.py"))
        .args(&files));
    assert_eq!(out.trim(), "ok");
    // As a directory, so the NetworkPolicies count for the pods of the other files. The base's
    // files carry no namespace (its kustomization sets one), so the namespace check is left to
    // the rendered manifests below.
    let report = checkov(&["-d".as_ref(), base.as_os_str()], &["CKV_K8S_21"]);
    // Three written skips on each of the eight pods (seven Deployments and the migrations Job).
    assert!(report.contains("Skipped checks: 24"), "{report}");
}

#[test]
fn each_overlay_renders_to_valid_manifests_where_kubectl_exists() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!(
            "kubectl is not installed: overlays are validated where it is (the base is always)"
        );
        return;
    }
    let out = tempfile_dir();
    for overlay in [
        "base",
        "overlays/dev",
        "overlays/production",
        "overlays/platform",
    ] {
        let rendered = run(Command::new("kubectl")
            .arg("kustomize")
            .arg(root().join("deploy/k8s").join(overlay)));
        let overlay = overlay.trim_start_matches("overlays/");
        let file = out.join(format!("{overlay}.yaml"));
        std::fs::write(&file, &rendered).unwrap();
        check(std::slice::from_ref(&file));
        if overlay == "platform" {
            assert!(
                rendered.contains("PLATFORM_MODE: \"true\""),
                "platform mode is on"
            );
        }
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("comms-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_security_checks_catch_a_weakened_manifest() {
    let original = std::fs::read_to_string(root().join("deploy/k8s/base/calls.yaml")).unwrap();
    let config = std::fs::read_to_string(root().join("deploy/k8s/base/config.yaml")).unwrap();
    let weakened = original
        .replace(
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
        )
        .replace(
            "automountServiceAccountToken: false",
            "automountServiceAccountToken: true",
        );
    assert_ne!(weakened, original);
    let dir = tempfile_dir();
    let (bad, cfg) = (dir.join("weakened.yaml"), dir.join("config.yaml"));
    std::fs::write(&bad, weakened).unwrap();
    std::fs::write(&cfg, config).unwrap();
    let output = Command::new(venv("python"))
        .arg(root().join("integration-tests/python/k8s_check.py"))
        .args([&bad, &cfg])
        .output()
        .unwrap();
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        findings.contains("readOnlyRootFilesystem") && findings.contains("service account token"),
        "{findings}"
    );
    let checkov = Command::new(venv("checkov"))
        .args(["-f".as_ref(), bad.as_os_str()])
        .args(["--framework", "kubernetes", "--skip-download", "--compact"])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&checkov.stdout);
    assert!(!checkov.status.success());
    assert!(report.contains("CKV_K8S_22"), "{report}");
}

#[test]
fn the_helm_chart_lints_and_its_schema_rejects_bad_values() {
    let chart = root().join("helm/comms");
    run(Command::new(venv("yamllint"))
        .args([
            "--strict",
            "-d",
            "{extends: default, rules: {line-length: {max: 120}}}",
        ])
        .arg(chart.join("Chart.yaml"))
        .arg(chart.join("values.yaml")));
    let out = run(Command::new(venv("python"))
        .arg(root().join("integration-tests/python/helm_check.py"))
        .arg(&chart));
    assert_eq!(out.trim(), "ok");
    // Rendered and checked like the kustomize manifests wherever a helm binary exists.
    if Command::new("helm").arg("version").output().is_ok() {
        run(Command::new("helm").arg("lint").arg(&chart));
        let rendered = run(Command::new("helm").args(["template", "comms"]).arg(&chart));
        let file = tempfile_dir().join("helm.yaml");
        std::fs::write(&file, rendered).unwrap();
        check(std::slice::from_ref(&file));
    } else {
        eprintln!("helm is not installed: the templates are checked structurally only");
    }
}
