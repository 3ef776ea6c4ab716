"""The deployment files (deploy/), checked offline: no Docker engine or cluster is needed.

hadolint and kubernetes-validate are test dependencies (`pip install -e '.[test]'`) and are taken from the
venv that runs pytest, so a missing one fails the run instead of skipping. systemd-analyze and kubectl come
from the operating system: without CI they may be absent (skip, with the reason); under CI they must run.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from image import (
    dockerfile_instructions,
    dockerignore_patterns,
    final_stage,
    healthcheck_argv,
    ignored,
    image_command,
    image_env,
    last,
)

from reminder.config import SETTINGS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
VENV_BIN = Path(sys.executable).parent
# The oldest Kubernetes minor still common in managed clusters, and the newest schemas the validator ships.
K8S_VERSIONS = ("1.30.0", "1.37.0")
SETTING_ENV = {s.env for s in SETTINGS}
# The path the README's systemd steps install reminder to; the units' ExecStart must point there.
SYSTEMD_BIN = "/opt/reminder/bin/reminder"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def venv_tool(name: str) -> Path:
    tool = VENV_BIN / name
    assert tool.exists(), f"{name} is missing from {VENV_BIN}: pip install -e '.[test]'"
    return tool


def system_tool(path_or_name: str) -> str:
    found = shutil.which(path_or_name)
    if found is None:
        if in_ci():
            pytest.fail(f"{path_or_name} is required under CI but was not found")
        pytest.skip(f"{path_or_name} is not installed here (it runs under CI)")
    return found


def run(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs)


# ---- Dockerfile ---------------------------------------------------------------------------------------------


def test_hadolint_finds_nothing_at_warning_level() -> None:
    result = run(venv_tool("hadolint"), "--no-color", "--failure-threshold", "warning", DEPLOY / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_really_checking(tmp_path: Path) -> None:
    """The linter run above must be able to fail: an unpinned apt install is a warning (DL3008)."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm\nRUN apt-get update && apt-get install -y curl\n", encoding="utf-8")
    result = run(venv_tool("hadolint"), "--no-color", "--failure-threshold", "warning", bad)
    assert result.returncode != 0
    assert "DL3008" in result.stdout


def test_runtime_stage_installs_the_builders_wheel_not_the_source_tree() -> None:
    instructions = dockerfile_instructions()
    assert sum(1 for w, _ in instructions if w == "FROM") == 2
    runtime = final_stage()
    # Only what a builder stage made reaches the runtime: no COPY/ADD of the context into it.
    assert all("--from=" in a for w, a in runtime if w in ("COPY", "ADD")), runtime
    assert any("from=builder" in a for w, a in runtime if w in ("RUN", "COPY"))


def test_runtime_runs_as_a_numeric_non_root_user_that_owns_its_data_volume() -> None:
    user = last("USER")
    assert user is not None, "the image runs as root"
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) >= 1000 and (not gid or gid.isdigit()), user
    assert "/data" in json.loads(last("VOLUME") or "[]")
    owner = re.compile(rf"\bchown\s+(-R\s+)?{uid}(:\d+)?\s+/data\b|\binstall\s+.*-o\s+{uid}\b.*\s/data\b")
    assert any(w == "RUN" and owner.search(a) for w, a in final_stage()), "/data is not the user's"
    env = image_env()
    assert env["REMINDER_DATABASE_URL"] == "sqlite:////data/reminder.db"
    assert env["REMINDER_HOST"] == "0.0.0.0"


def test_entrypoint_runs_the_service_under_tini_with_a_python_healthcheck() -> None:
    assert image_command() == ["/usr/bin/tini", "--", "reminder", "run", "--serve"]
    assert any(w == "RUN" and re.search(r"\binstall\b.*\btini\b", a) for w, a in final_stage())
    argv = healthcheck_argv()
    # The image's own Python (no curl in a slim image); what the one-liner does is run below.
    assert Path(argv[0]).name.startswith("python") and argv[1] == "-c" and "/healthz" in argv[2]


def test_no_secret_is_baked_into_the_image() -> None:
    for word, args in dockerfile_instructions():
        if word in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args)
            secret_like = [n for n in names if re.search(r"TOKEN|PASSWORD|SECRET|_KEY$", n, re.I)]
            assert not secret_like, f"{word} {args}"
    assert "tk_" not in (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/healthz" else 404
        body = b'{"ok": true}' if code == 200 else b'{"ok": false}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Health,), {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("source", ["Dockerfile", "compose.yaml"])
def test_healthcheck_command_follows_healthz(source: str, health_server) -> None:  # type: ignore[no-untyped-def]
    """The python one-liner exits 0 on 200 and non-zero on the 503 an unhealthy service answers."""
    if source == "Dockerfile":
        snippet = healthcheck_argv()[2]
    else:
        test = compose()["services"]["reminder"]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"]
        snippet = test[3]
    env = {**os.environ, "REMINDER_PORT": str(health_server.server_address[1])}
    handler = health_server.RequestHandlerClass
    handler.status = 200
    assert run(sys.executable, "-c", snippet, env=env).returncode == 0
    handler.status = 503
    assert run(sys.executable, "-c", snippet, env=env).returncode != 0
    health_server.shutdown()
    health_server.server_close()
    assert run(sys.executable, "-c", snippet, env=env).returncode != 0


# ---- .dockerignore and the builder's context ----------------------------------------------------------------


def test_build_context_holds_the_package_and_no_secrets() -> None:
    patterns = dockerignore_patterns()
    needed = [
        "pyproject.toml",
        "README.md",
        "reminder/__init__.py",
        "reminder/db/backup.py",
        "alembic/env.py",
        "alembic/versions/0001_initial.py",
    ]
    for rel in needed:
        assert not ignored(rel, patterns), f"{rel} must reach the builder"
    for rel in [
        ".git/config",
        "deploy/.env",
        "deploy/secrets/ntfy_token",
        "deploy/backups/r.db",
        ".env",
        "tests/test_deploy.py",
        ".venv/bin/python",
        "reminder/__pycache__/x.cpython-311.pyc",
        "data/reminder.db",
        "reminder.db-wal",
    ]:
        assert ignored(rel, patterns), f"{rel} must stay out of the build context"
    # Every COPY source of the builder is inside the context.
    for word, args in dockerfile_instructions():
        if word == "COPY" and "--from" not in args:
            for source in args.split()[:-1]:
                assert not ignored(source.strip("/"), patterns), source


def test_wheel_builds_from_the_docker_context_and_can_migrate(built_wheel: Path, tmp_path: Path) -> None:
    """What the builder stage does, on the files .dockerignore lets through; then the wheel migrates a store."""
    wheel = built_wheel
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "reminder/_alembic/env.py" in names
    assert any(n.startswith("reminder/_alembic/versions/0001") for n in names)
    assert re.search(r"^reminder = reminder\.cli:main$", entry_points, flags=re.M)

    site = tmp_path / "site"
    assert run(sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", site, wheel).returncode == 0
    db = tmp_path / "store" / "reminder.db"
    db.parent.mkdir()
    code = (
        "import reminder, sys, zoneinfo\n"
        f"assert reminder.__file__.startswith({str(site)!r}), reminder.__file__\n"
        "zoneinfo.ZoneInfo('Asia/Seoul')\n"
        "from reminder.db import HEAD, open_store\n"
        f"open_store('sqlite:///{db}').dispose()\n"
        "import sqlite3\n"
        f"print(sqlite3.connect({str(db)!r}).execute('SELECT version_num FROM alembic_version').fetchone()[0])\n"
    )
    # As in the image: the installed wheel first on the path, zone data from the tzdata package only.
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONTZPATH": ""}
    result = run(sys.executable, "-c", code, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    from reminder.db import HEAD

    assert result.stdout.strip() == HEAD


# ---- compose.yaml ---------------------------------------------------------------------------------------------


def test_compose_has_the_services_their_restart_policies_and_order() -> None:
    services = compose()["services"]
    assert {"reminder", "ntfy", "migrate"} <= set(services)
    app, migrate, ntfy = services["reminder"], services["migrate"], services["ntfy"]
    assert app["command"] == ["run", "--serve"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["image"] == app["image"]
    assert app["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert app["restart"] in ("unless-stopped", "always")
    assert ntfy["restart"] in ("unless-stopped", "always")
    assert migrate["restart"] == "no"
    for name, service in services.items():
        assert "restart" in service, f"{name} has no restart policy"


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """container path -> named volume, for the named (not bind) volumes of a service."""
    out = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        if not source.startswith((".", "/")):
            out[target] = source
    return out


def test_compose_keeps_state_on_named_volumes() -> None:
    doc = compose()
    declared = set(doc["volumes"])
    app = doc["services"]["reminder"]
    ntfy = doc["services"]["ntfy"]
    assert _volume_targets(app).get("/data") in declared
    assert _volume_targets(doc["services"]["migrate"]).get("/data") == _volume_targets(app)["/data"]
    env = ntfy["environment"]
    assert env["NTFY_AUTH_DEFAULT_ACCESS"] == "deny-all"
    assert ntfy["command"] in (["serve"], "serve")
    assert env["NTFY_BASE_URL"].startswith("${NTFY_BASE_URL")
    ntfy_volumes = _volume_targets(ntfy)
    for key in ("NTFY_CACHE_FILE", "NTFY_AUTH_FILE"):
        folder = str(Path(env[key]).parent)
        assert ntfy_volumes.get(folder) in declared, f"{key}={env[key]} is not on a named volume"


def test_compose_healthchecks() -> None:
    services = compose()["services"]
    app_test = services["reminder"]["healthcheck"]["test"]
    assert app_test[0] == "CMD" and "/healthz" in app_test[-1]
    ntfy_test = services["ntfy"]["healthcheck"]["test"]
    assert ntfy_test[0] == "CMD-SHELL" and "/v1/health" in ntfy_test[1]
    for name in ("reminder", "ntfy"):
        check = services[name]["healthcheck"]
        assert {"interval", "timeout", "retries"} <= set(check), name
    # The one-shot would otherwise inherit the image's HEALTHCHECK and report "unhealthy" while migrating.
    assert services["migrate"]["healthcheck"] == {"disable": True}


@pytest.mark.parametrize(
    ("body", "healthy"),
    [
        ('{"healthy":true}', True),
        ('{"healthy": false}', False),
        ('{ "healthy" : true }\n', True),
        ("502 Bad Gateway", False),
    ],
)
def test_ntfy_healthcheck_pattern(body: str, healthy: bool) -> None:
    """The grep half of ntfy's healthcheck, run by sh as the container would (wget replaced by printf)."""
    shell = compose()["services"]["ntfy"]["healthcheck"]["test"][1]
    grep = shell.split("|", 1)[1]
    result = run("sh", "-c", f"printf '%s' '{body}' |{grep}")
    assert (result.returncode == 0) is healthy


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif node is not None:
        yield path, str(node)


def test_compose_reads_the_token_from_a_secret_file_and_inlines_no_secret() -> None:
    doc = compose()
    assert set(doc["secrets"]["ntfy_token"]) == {"file"}
    app = doc["services"]["reminder"]
    assert app["secrets"] == ["ntfy_token"]
    assert app["environment"]["REMINDER_NTFY_TOKEN_FILE"] == "/run/secrets/ntfy_token"
    for path, value in _strings(doc):
        assert not re.search(r"tk_[a-z0-9]{10,}", value), path
        key = path.rsplit(".", 1)[-1]
        if re.search(r"TOKEN|PASSWORD|SECRET|_KEY$|PASS$", key) and not key.endswith("_FILE"):
            # Only an interpolation from the operator's environment would be tolerable; none is needed.
            pytest.fail(f"{path} sets a secret inline: keep it in a secret file")
        assert not re.search(r"://[^/\s:@]+:[^@/\s]+@", value), f"{path} has a password in a URL"


def test_compose_sets_only_real_settings() -> None:
    services = compose()["services"]
    for name in ("reminder", "migrate"):
        unknown = {k for k in services[name]["environment"] if k.startswith("REMINDER_")} - SETTING_ENV
        assert not unknown, f"{name}: {unknown} are not reminder settings"


def test_env_example_names_every_variable_compose_needs() -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z_]+)", text))
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "env.example").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    assert required <= example, required - example
    assert example <= used, example - used
    for name in example & SETTING_ENV:
        assert name in compose()["services"]["reminder"]["environment"], name
    # The Caddyfile's site addresses come from variables the proxy service is given.
    caddy_vars = set(re.findall(r"\{\$([A-Z_]+)\}", (DEPLOY / "Caddyfile").read_text(encoding="utf-8")))
    assert caddy_vars and caddy_vars <= set(compose()["services"]["proxy"]["environment"])


def test_readme_names_only_files_that_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    readme = text.split("\n## Deploy on a VPS\n", 1)[1].split("\n## ", 1)[0]
    # deploy/backups and deploy/secrets are made on the server by the README's own steps.
    made_there = {"deploy/backups", "deploy/secrets", "deploy/.env"}
    for rel in set(re.findall(r"deploy/[\w./-]+\w", readme)) - made_there:
        assert (ROOT / rel).exists(), rel


# ---- Kubernetes -----------------------------------------------------------------------------------------------


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def k8s_files() -> tuple[list[Path], list[Path]]:
    """(resource manifests, patch files) named by the kustomizations."""
    resources, patches = [], []
    for kfile in kustomizations():
        doc = yaml.safe_load(kfile.read_text(encoding="utf-8"))
        for entry in doc.get("resources", []):
            path = (kfile.parent / entry).resolve()
            if path.is_file():
                resources.append(path)
        for patch in doc.get("patches", []):
            patches.append((kfile.parent / patch["path"]).resolve())
    return resources, patches


def k8s_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_every_k8s_file_is_part_of_a_kustomization() -> None:
    resources, patches = k8s_files()
    named = set(resources) | set(patches) | {k.resolve() for k in kustomizations()}
    stray = [p for p in K8S.rglob("*.y*ml") if p.resolve() not in named]
    assert not stray, f"not referenced by any kustomization.yaml (so never validated): {stray}"
    assert {p.parent.name for p in kustomizations()} >= {"base", "sqlite", "postgres"}


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_strictly(version: str) -> None:
    resources, _ = k8s_files()
    assert resources
    result = run(venv_tool("kubernetes-validate"), "--strict", "--quiet", "-k", version, *resources)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_is_really_strict(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: 80\n  selectr: {}\n",
        encoding="utf-8",
    )
    result = run(venv_tool("kubernetes-validate"), "--strict", "--quiet", "-k", K8S_VERSIONS[-1], bad)
    assert result.returncode != 0


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = system_tool("kubectl")
    result = run(kubectl, "kustomize", K8S / "overlays" / overlay)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.parametrize("overlay", ["sqlite", "postgres"])
def test_rendered_overlay_validates_strictly(overlay: str, tmp_path: Path) -> None:
    docs = render(overlay)
    out = tmp_path / f"{overlay}.yaml"
    out.write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    for version in K8S_VERSIONS:
        result = run(venv_tool("kubernetes-validate"), "--strict", "--quiet", "-k", version, out)
        assert result.returncode == 0, result.stdout + result.stderr


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def test_base_deployment_is_a_single_non_root_pod_probed_on_healthz() -> None:
    dep = by_kind(k8s_docs(K8S / "base" / "deployment.yaml"), "Deployment")
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] >= 1000
    # A Service called "reminder" would inject REMINDER_PORT=tcp://... and break the port setting.
    assert pod["enableServiceLinks"] is False
    (container,) = pod["containers"]
    assert container["args"] == ["run", "--serve"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_config_and_secret_hold_the_right_things() -> None:
    config = by_kind(k8s_docs(K8S / "base" / "configmap.yaml"), "ConfigMap")["data"]
    assert set(config) <= SETTING_ENV, set(config) - SETTING_ENV
    assert not {"REMINDER_NTFY_TOKEN", "REMINDER_NTFY_PASSWORD", "REMINDER_SECRET_KEY"} & set(config)
    assert config["REMINDER_HOST"] == "0.0.0.0"
    secret_files = [K8S / "base" / "secret.yaml", K8S / "overlays" / "postgres" / "database-secret.yaml"]
    for path in secret_files:
        secret = by_kind(k8s_docs(path), "Secret")
        assert path.read_text(encoding="utf-8").startswith("# PLACEHOLDER")
        for key, value in secret["stringData"].items():
            assert "REPLACE-ME" in value, f"{path.name}: {key} is not a marked placeholder"


def test_sqlite_overlay_puts_the_store_on_a_claim() -> None:
    docs = render("sqlite")
    pvc = by_kind(docs, "PersistentVolumeClaim")
    pod = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert volume["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    (container,) = pod["containers"]
    assert {"name": volume["name"], "mountPath": "/data"} in container["volumeMounts"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["REMINDER_DATABASE_URL"] == "sqlite:////data/reminder.db"
    assert not [d for d in docs if d["kind"] == "CronJob"]


def test_postgres_overlay_migrates_and_runs_the_cronjob() -> None:
    docs = render("postgres")
    cron = by_kind(docs, "CronJob")["spec"]
    config = by_kind(docs, "ConfigMap")["data"]
    assert cron["schedule"] == config["REMINDER_CRON"]
    assert cron["timeZone"] == config["REMINDER_TIMEZONE"]
    assert cron["concurrencyPolicy"] == "Forbid"
    assert cron["startingDeadlineSeconds"] > 0
    job = cron["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1
    pod = job["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"] == ["run", "--once"]
    url = next(e for e in container["env"] if e["name"] == "REMINDER_DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"]["name"] == "reminder-database"

    deployment = by_kind(docs, "Deployment")["spec"]["template"]["spec"]
    (init,) = deployment["initContainers"]
    assert init["args"] == ["db", "upgrade"]
    (web,) = deployment["containers"]
    assert init["image"] == web["image"] == container["image"]
    assert not [v for v in deployment["volumes"] if "persistentVolumeClaim" in v]
    # The CronJob is the only sender; the Deployment serves the buttons. Its probes cannot depend on /healthz,
    # which turns 503 when the CronJob misses a slot (a web restart would not fix that).
    assert web["args"] == ["serve"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert web[probe].get("tcpSocket") == {"port": "http"} and "httpGet" not in web[probe], probe


# ---- systemd ---------------------------------------------------------------------------------------------------


def unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists: systemd allows a key more than once."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
            continue
        key, _, value = line.partition("=")
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    """A root file system for `systemd-analyze verify --root`: the real unit library (so targets such as
    network-online.target resolve), our units in /etc/systemd/system, and an executable at the install path,
    so verify checks every directive and the ExecStart path without reminder being installed on this host."""
    systemd_analyze()  # skip (or fail under CI) before copying a unit library that may not exist
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for path in SYSTEMD.iterdir():
        shutil.copy2(path, units / path.name)
    binary = root / SYSTEMD_BIN.lstrip("/")
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    binary.chmod(0o755)
    return root


def systemd_analyze() -> str:
    path = "/usr/bin/systemd-analyze"
    if not Path(path).exists():
        if in_ci():
            pytest.fail("/usr/bin/systemd-analyze is required under CI")
        pytest.skip("/usr/bin/systemd-analyze is not installed here (it runs under CI)")
    return path


def test_systemd_units_verify(fake_root: Path) -> None:
    tool = systemd_analyze()
    names = sorted(p.name for p in SYSTEMD.iterdir())
    assert names == ["reminder-once.service", "reminder-once.timer", "reminder.service"]
    result = run(tool, "verify", f"--root={fake_root}", *[f"/etc/systemd/system/{n}" for n in names])
    # verify exits 0 on directives it ignores (a typo'd key, a bad value) but prints them: both must be clean.
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (
        result.stdout + result.stderr
    )


def test_systemd_verify_notices_a_broken_unit(fake_root: Path) -> None:
    tool = systemd_analyze()
    broken = fake_root / "etc/systemd/system/reminder.service"
    broken.write_text(broken.read_text(encoding="utf-8").replace("Restart=on-failure", "Restart=sometimes"))
    result = run(tool, "verify", f"--root={fake_root}", "/etc/systemd/system/reminder.service")
    assert "restart" in result.stderr.lower()


@pytest.mark.parametrize(
    ("name", "command"), [("reminder.service", "run --serve"), ("reminder-once.service", "run --once")]
)
def test_systemd_service_is_hardened_and_configured_by_env_file(name: str, command: str) -> None:
    service = unit(SYSTEMD / name)["Service"]
    assert values(service, "ExecStart") == [f"{SYSTEMD_BIN} {command}"]
    assert values(service, "ExecStartPre") == [f"{SYSTEMD_BIN} db upgrade"]
    assert values(service, "User") == ["reminder"]
    assert values(service, "EnvironmentFile") == ["/etc/reminder/env"]
    assert values(service, "StateDirectory") == ["reminder"]
    assert values(service, "NoNewPrivileges") == ["yes"]
    assert values(service, "ProtectSystem") == ["strict"]
    assert values(service, "ProtectHome") == ["yes"]
    assert values(service, "PrivateTmp") == ["yes"]
    for env in values(service, "Environment"):
        assert env.split("=", 1)[0] in SETTING_ENV | {"PYTHONUNBUFFERED"}, env
    # The default store lives in the StateDirectory, the only place ProtectSystem=strict leaves writable.
    assert "Environment=REMINDER_DATABASE_URL=sqlite:////var/lib/reminder/reminder.db" in (SYSTEMD / name).read_text(
        encoding="utf-8"
    )


def test_systemd_restart_and_timer() -> None:
    assert values(unit(SYSTEMD / "reminder.service")["Service"], "Restart") == ["on-failure"]
    assert values(unit(SYSTEMD / "reminder-once.service")["Service"], "Type") == ["oneshot"]
    timer = unit(SYSTEMD / "reminder-once.timer")
    assert values(timer["Timer"], "Persistent") == ["true"]
    assert values(timer["Timer"], "Unit") == ["reminder-once.service"]
    assert values(timer["Timer"], "OnCalendar")
    assert values(timer["Install"], "WantedBy") == ["timers.target"]
