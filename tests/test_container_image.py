"""The real image: deploy/Dockerfile built with podman and run the way a server runs it.

No Docker engine is needed. Debian's podman with runc builds the Dockerfile unchanged (`--format docker`, so the
HEALTHCHECK is kept) and runs it on a read-only root with host networking, a `/data` volume and the loopback ntfy
server. The base image the Dockerfile names (`python:3.12-slim-bookworm`) cannot be pulled here, so the test makes
a stand-in from Debian's packages when it is missing: `debootstrap --variant=minbase` of bookworm with python3,
pip and venv, a `python` link, this machine's CA bundle (pip and apt inside the build reach the registries as the
host does) and `PIP_BREAK_SYSTEM_PACKAGES=1` (the builder stage pip-installs into the system Python, which Debian
marks externally managed and the official image does not). The stand-in therefore has **Debian's Python 3.11,
not the official image's 3.12**: the project must keep working on both.

Podman is configured by a CONTAINERS_CONF file of the test's own (its default open-files limit is refused on these
machines, and no systemd manages cgroups), runs containers with runc, and keeps its storage in CONTAINERS_ROOT,
which survives between CI runs, so the stand-in is made once per machine. It needs root; outside CI a missing
tool or a non-root user skips with the reason, under CI (`CI=true`) it fails. `.ci/run` runs this module as its
own step (marker `container`), with its own time limit.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from ntfy_server import FakeNtfy
from test_container_entrypoint import free_port
from test_deploy import in_ci

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# Outlives the run (and the machine's tmp cleaning): the stand-in base image is made once, then reused.
CONTAINERS_ROOT = Path("/var/cache/reminder-ci/containers")
RUN_ROOT = Path("/run/reminder-ci")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Bumped whenever the recipe below changes, so a machine's cached stand-in is made again instead of reused.
STAND_IN_LABEL = "org.reminder.ci.stand-in"
STAND_IN_RECIPE = "debootstrap-minbase-bookworm-python3.11-1"
# Containers, volumes and image tags of one pytest process carry its pid: a run killed by its time limit leaves
# them behind, and the next run removes whatever belongs to a process that is gone.
OWNER_LABEL = "org.reminder.ci.owner-pid"
IMAGE_REPO = "localhost/reminder-ci"
TIMEZONE = "Asia/Seoul"
TOPIC = "study-reviews"
TITLE = "쿠버네티스 3.2 오브젝트"

CONTAINERS_CONF = """\
# Written by tests/test_container_image.py for its own podman calls only.
[containers]
# podman's default RLIMIT_NOFILE for containers is refused on these machines ("error setting rlimit type 7").
default_ulimits = []

[engine]
# No systemd owns the containers' cgroups here: said outright instead of left to podman's fallback.
cgroup_manager = "cgroupfs"
tmp_dir = "{run}/libpod"
"""

STORAGE_CONF = """\
[storage]
driver = "overlay"
graphroot = "{root}"
runroot = "{run}/storage"
"""


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"the container image test must run under CI: {reason}")
    pytest.skip(reason)


def base_image_name() -> str:
    """The one image every stage of the Dockerfile starts FROM (a stage name is not an image)."""
    stages: set[str] = set()
    bases: set[str] = set()
    for image, _, stage in re.findall(r"^FROM\s+(\S+)(\s+AS\s+(\S+))?\s*$", DOCKERFILE.read_text(), re.M | re.I):
        if image not in stages:
            bases.add(image)
        if stage:
            stages.add(stage)
    assert len(bases) == 1, f"the stand-in recipe makes one base image; the Dockerfile names {sorted(bases)}"
    return bases.pop()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, but alive
        pass
    return True


@dataclass
class Podman:
    env: dict[str, str]

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if check:
            assert proc.returncode == 0, f"podman {' '.join(args[:3])}... exited {proc.returncode}:\n{proc.stderr}"
        return proc

    def inspect(self, name: str, template: str) -> str:
        return self("inspect", "--format", template, name).stdout.strip()

    def remove_leftovers(self) -> None:
        """What an earlier, killed run left: its containers (which may still hold a port), volumes and images."""
        owner = f'{{{{index .Labels "{OWNER_LABEL}"}}}}'
        for listing, remove in (
            (("ps", "--all", "--format", f"{{{{.ID}}}} {owner}"), ("rm", "--force", "--time", "0")),
            (("volume", "ls", "--format", f"{{{{.Name}}}} {owner}"), ("volume", "rm", "--force")),
        ):
            for line in self(*listing, "--filter", f"label={OWNER_LABEL}").stdout.splitlines():
                item, pid = line.split()
                if not pid_alive(int(pid)):
                    self(*remove, item, check=False)
        listed = self("images", "--filter", f"reference={IMAGE_REPO}", "--format", "{{.Repository}}:{{.Tag}}")
        for ref in listed.stdout.split():
            pid = ref.rsplit(":", 1)[-1]
            if pid.isdigit() and not pid_alive(int(pid)):
                self("rmi", "--force", ref, check=False)


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    for tool in ("podman", "runc", "debootstrap", "tar"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (apt-get install podman runc debootstrap)")
    if os.geteuid() != 0:
        unavailable("the container image test runs podman as root (CI does)")
    conf_dir = tmp_path_factory.mktemp("podman-conf")
    (conf_dir / "containers.conf").write_text(CONTAINERS_CONF.format(run=RUN_ROOT))
    (conf_dir / "storage.conf").write_text(STORAGE_CONF.format(root=CONTAINERS_ROOT, run=RUN_ROOT))
    CONTAINERS_ROOT.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMINDER_", "CONTAINERS_"))}
    env["CONTAINERS_CONF"] = str(conf_dir / "containers.conf")
    env["CONTAINERS_STORAGE_CONF"] = str(conf_dir / "storage.conf")
    pm = Podman(env)
    pm.remove_leftovers()
    return pm


def unmount_below(path: Path) -> None:
    """debootstrap mounts /proc and /sys inside the target; a failed run can leave them mounted, and deleting the
    tree through them would reach the host's."""
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)


def make_stand_in(pm: Podman, name: str, work: Path) -> None:
    rootfs = work / "rootfs"
    try:
        boot = subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-pip,python3-venv",
                "bookworm",
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert boot.returncode == 0, f"debootstrap failed:\n{boot.stdout[-3000:]}\n{boot.stderr[-3000:]}"
        # The official image has `python` and `pip`; Debian has `python3` (pip it has).
        (rootfs / "usr" / "bin" / "python").symlink_to("python3")
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc" / "ssl" / "certs" / "ca-certificates.crt")
        for cache in ("var/lib/apt/lists", "var/cache/apt"):  # the .debs and indexes: 50 MB nobody reads
            for entry in (rootfs / cache).rglob("*"):
                if entry.is_file() and entry.name != "lock":
                    entry.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
        try:
            pm(
                "import",
                "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change", "ENV LANG=C.UTF-8",
                "--change", "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
                "--change", f"LABEL {STAND_IN_LABEL}={STAND_IN_RECIPE}",
                "--change", 'CMD ["python3"]',
                "-",
                name,
                stdin=tar.stdout,
                timeout=300,
            )  # fmt: skip
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            assert tar.wait(timeout=60) == 0
    finally:
        if rootfs.exists():
            unmount_below(rootfs)
            shutil.rmtree(rootfs, ignore_errors=True)


@pytest.fixture(scope="module")
def base_image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The image the Dockerfile starts FROM: the cached stand-in, made first when missing or out of date."""
    name = base_image_name()
    # Two CI runs on one machine must not both make it (nor one use it half-imported).
    with open(CONTAINERS_ROOT.parent / "stand-in.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = podman("image", "inspect", "--format", f'{{{{index .Labels "{STAND_IN_LABEL}"}}}}', name, check=False)
        if current.returncode != 0 or current.stdout.strip() != STAND_IN_RECIPE:
            if current.returncode == 0:  # an older recipe's: it would stay behind, untagged, for good
                podman("rmi", "--force", name)
            make_stand_in(podman, name, tmp_path_factory.mktemp("stand-in", numbered=True))
    return name


@pytest.fixture(scope="module")
def image(podman: Podman, base_image: str) -> Iterator[str]:
    """deploy/Dockerfile built from the repository root, as `docker build -f deploy/Dockerfile .` builds it."""
    tag = f"{IMAGE_REPO}:{os.getpid()}"
    build = podman(
        "build",
        "--pull=never",  # the base is the stand-in above; nothing may be fetched in its place
        "--network=host",
        "--format", "docker",  # the OCI format has no HEALTHCHECK
        "--runtime", "runc",
        "--layers=false",  # no intermediate images pile up in the cached storage
        "--file", str(DOCKERFILE),
        "--tag", tag,
        str(ROOT),
        check=False,
        timeout=600,
    )  # fmt: skip
    assert build.returncode == 0, f"the image did not build:\n{build.stdout[-4000:]}\n{build.stderr[-4000:]}"
    yield tag
    podman("rmi", "--force", tag, check=False)


@dataclass
class Service:
    """One `reminder run --serve` container started from the image."""

    pm: Podman
    name: str
    port: int

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.pm("exec", self.name, *args, check=check)

    def logs(self) -> str:
        proc = self.pm("logs", self.name, check=False)
        return proc.stdout + proc.stderr

    def wait_healthy(self) -> requests.Response:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                if health.status_code == 200:
                    return health
            except requests.ConnectionError:
                pass
            assert self.pm.inspect(self.name, "{{.State.Running}}") == "true", f"the container exited:\n{self.logs()}"
            assert time.monotonic() < deadline, f"no healthy /healthz within 60 s:\n{self.logs()}"
            time.sleep(0.2)

    def stop(self) -> tuple[int, float]:
        """`podman stop`: SIGTERM, then SIGKILL after 10 s. The exit status and how long stopping took."""
        started = time.monotonic()
        self.pm("stop", "--time", "10", self.name, timeout=60)
        return int(self.pm.inspect(self.name, "{{.State.ExitCode}}")), time.monotonic() - started


class Services:
    """Containers started as compose.yaml runs the service (read-only root, /tmp in memory, state on a volume),
    all on one volume, removed with it at the end."""

    def __init__(self, pm: Podman, image: str, ntfy: FakeNtfy) -> None:
        self.pm, self.image, self.ntfy = pm, image, ntfy
        self.owner = f"{OWNER_LABEL}={os.getpid()}"
        self.volume = f"reminder-ci-data-{uuid.uuid4().hex[:10]}"
        self.started: list[str] = []
        pm("volume", "create", "--label", self.owner, self.volume)

    def start(self, cron: str) -> Service:
        name = f"reminder-ci-{uuid.uuid4().hex[:10]}"
        port = free_port()
        self.started.append(name)
        self.pm(
            "run", "--detach", "--name", name, "--label", self.owner,
            "--runtime", "runc",
            "--network=host",  # the loopback ntfy is the host's 127.0.0.1
            "--read-only", "--tmpfs", "/tmp",
            "--volume", f"{self.volume}:/data",
            "--env", f"REMINDER_PORT={port}",
            "--env", f"REMINDER_NTFY_SERVER={self.ntfy.url}",
            "--env", f"REMINDER_NTFY_TOPIC={TOPIC}",
            "--env", f"REMINDER_TIMEZONE={TIMEZONE}",
            "--env", f"REMINDER_CRON={cron}",
            self.image,
        )  # fmt: skip
        return Service(self.pm, name, port)

    def volume_dir(self) -> Path:
        """The volume's folder on this machine, as a host's backup job would see it."""
        return Path(self.pm("volume", "inspect", "--format", "{{.Mountpoint}}", self.volume).stdout.strip())

    def remove(self) -> None:
        for name in self.started:
            self.pm("rm", "--force", "--time", "0", name, check=False)
        self.pm("volume", "rm", "--force", self.volume, check=False)


@pytest.fixture
def services(podman: Podman, image: str, ntfy_server: FakeNtfy) -> Iterator[Services]:
    made = Services(podman, image, ntfy_server)
    yield made
    made.remove()


def test_built_image_runs_as_uid_10001_and_keeps_its_healthcheck(podman: Podman, image: str) -> None:
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--", "reminder"]
    assert config["Cmd"] == ["run", "--serve"]
    assert "/data" in config["Volumes"]
    # Only the docker format carries HEALTHCHECK; an OCI-format build would drop it without a word.
    health = inspected["Healthcheck"]
    assert health["Test"][:3] == ["CMD", "python", "-c"] and "/healthz" in health["Test"][3]
    assert (health["Interval"], health["Retries"]) == (30 * 10**9, 3)


def test_service_container_serves_delivers_stops_and_keeps_its_store(services: Services, ntfy_server: FakeNtfy) -> None:
    # The slot the second container will find due: one minute ago. The first one's slot is 12 hours away from it,
    # so the two never share a slot key (a slot is claimed once), and nothing is stored yet when it is claimed.
    slot = (datetime.now(ZoneInfo(TIMEZONE)) - timedelta(minutes=1)).replace(second=0, microsecond=0)
    first = services.start(f"{slot.minute} {(slot.hour + 12) % 24} * * *")
    health = first.wait_healthy()
    assert health.json()["status"] == "ok"
    # PID 1 is tini and, like reminder under it, runs as the image's user, never root.
    status = first.exec("cat", "/proc/1/status").stdout
    assert re.search(r"^Uid:\s+10001\s+10001\s+10001\s+10001$", status, re.M), status
    assert first.exec("id", "-u").stdout.strip() == "10001"
    assert first.exec("touch", "/opt/reminder/written", check=False).returncode != 0  # the root is read-only
    check = first.pm("healthcheck", "run", first.name, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert first.pm.inspect(first.name, "{{.State.Health.Status}}") == "healthy"

    # A note first studied the day before the slot: its D+1 review is due at the slot.
    studied = (slot.date() - timedelta(days=1)).isoformat()
    added = first.exec("reminder", "add", TITLE, "--subject", "Kubernetes", "--first-study", studied, "--json")
    assert json.loads(added.stdout)["title"] == TITLE

    code, took = first.stop()
    assert code == 0, first.logs()
    assert took < 10, f"podman stop took {took:.1f} s"
    assert "event=stop" in first.logs()

    # A new container on the same volume: the store is the one the first wrote, and its runner, started with a
    # slot that is already due, sends that slot's digest (listing the note) to the ntfy server.
    second = services.start(f"{slot.minute} {slot.hour} * * *")
    second.wait_healthy()
    listed = json.loads(second.exec("reminder", "list", "--json").stdout)
    assert [n["title"] for n in listed] == [TITLE]
    assert ntfy_server.wait_for_requests(1, timeout=30), second.logs()
    (digest,) = ntfy_server.messages(TOPIC)
    assert TITLE in digest["message"], digest
    assert "result=sent" in second.logs()

    backup = second.exec("reminder", "db", "backup", "/data/backup.db")
    assert "/data/backup.db" in backup.stdout
    copy = services.volume_dir() / "backup.db"
    info = copy.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert (info.st_uid, info.st_gid) == (10001, 10001)
    with contextlib.closing(sqlite3.connect(f"file:{copy}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT title FROM notes").fetchall() == [(TITLE,)]

    code, took = second.stop()
    assert code == 0, second.logs()
    assert took < 10
