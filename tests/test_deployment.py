"""The deployment files: what `docker compose config` would check, and the pieces they name.

No Docker engine runs here, so the compose file is read as YAML and held to
the compose specification's shape for the parts wangge relies on.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from api.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
# `docker compose run` options that take a value
RUN_OPTIONS_WITH_VALUE = {"-v", "--volume", "--user", "-u", "-e", "--env", "-w", "--workdir", "--name"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_runs_postgis_with_a_health_check_and_wangge_after_it() -> None:
    services = _compose()["services"]
    assert services["db"]["image"].startswith("postgis/postgis:")
    check = services["db"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL" and "pg_isready" in check[1]
    app = services["wangge"]
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert app["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert "@db:5432/" in app["environment"]["DATABASE_URL"]
    assert (ROOT / app["build"] / "Dockerfile").exists()
    assert "/ready" in " ".join(app["healthcheck"]["test"])


def _production(services: dict) -> dict:
    return {name: spec for name, spec in services.items() if not spec.get("profiles")}


def test_production_migrates_and_serves_and_never_builds_the_demo() -> None:
    services = _compose()["services"]
    app = services["wangge"]
    assert app["command"][:2] == ["wangge", "serve"]  # serve migrates first (api.store.open_store)
    for name, spec in _production(services).items():
        assert "demo" not in " ".join(spec.get("command", [])), name
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert cmd.startswith('CMD ["wangge", "serve"') and "demo" not in cmd
    args = build_parser().parse_args(app["command"][1:])
    assert args.func.__name__ == "cmd_serve"


def test_the_demo_is_opt_in_with_a_database_of_its_own() -> None:
    services = _compose()["services"]
    demo = services["demo"]
    assert demo["profiles"] == ["demo"]
    assert demo["command"][:2] == ["wangge", "demo"]
    host = re.search(r"@([\w-]+):5432/", demo["environment"]["DATABASE_URL"])
    assert host and host.group(1) != "db"  # never the production database
    assert services[host.group(1)]["profiles"] == ["demo"]
    assert demo["depends_on"] == {host.group(1): {"condition": "service_healthy"}}
    published = {port.split(":")[0] for spec in services.values() for port in spec.get("ports", [])}
    assert len(published) == sum(len(spec.get("ports", [])) for spec in services.values())  # no clash


def test_no_database_password_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    refs = re.findall(r"\$\{(WANGGE_DB_PASSWORD|WANGGE_SECRET)([^}]*)\}", text)
    assert refs and all(rest.startswith(":?") for _, rest in refs)


def _compose_runs() -> list[list[str]]:
    """Every documented `docker compose run` command (README and the compose file's comments), as argv."""
    text = (ROOT / "README.md").read_text(encoding="utf-8") + (ROOT / "docker-compose.yml").read_text(
        encoding="utf-8")
    text = re.sub(r"\\\n\s*#?\s*", " ", text)  # shell line continuations, also inside comments
    runs = []
    for match in re.finditer(r"docker compose run [^`\n]*", text):
        runs.append(shlex.split(match.group(0).split(" # ")[0]))
    return runs


def test_documented_compose_runs_are_commands_the_image_understands() -> None:
    services = _compose()["services"]
    runs = _compose_runs()
    assert any("import" in argv for argv in runs) and any("init" in argv for argv in runs)
    for argv in runs:
        i, mounts = 3, []
        while argv[i].startswith("-"):
            if argv[i] in RUN_OPTIONS_WITH_VALUE:
                if argv[i] in ("-v", "--volume"):
                    mounts.append(argv[i + 1].split(":")[1])
                i += 1
            i += 1
        service, command = argv[i], argv[i + 1:]
        assert service in _production(services), argv
        assert command[0] == "wangge", argv
        build_parser().parse_args(command[1:])  # argparse exits on anything it does not know
        for path in (a for a in command if a.startswith("/")):  # files named inside the container
            assert any(path.startswith(m + "/") for m in mounts), (path, argv)


def test_compose_variables_are_well_formed() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for ref in re.findall(r"\$\{([^}]*)\}", text):
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?", ref), ref


def test_dockerfile_copies_every_package_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for package in ("geo", "layers", "maps", "api"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert 'CMD ["wangge"' in dockerfile


def test_the_image_can_back_up_and_does_not_run_as_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    # postgresql-client-15 (pg_dump/pg_restore as new as the PostGIS 15 server) is in Debian 12
    assert base and base.group(1).endswith("-bookworm")
    assert "postgresql-client-15" in dockerfile
    server = _compose()["services"]["db"]["image"]
    assert server.split(":")[1].startswith("15-")
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")


def test_ci_runs_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert run == "make test"
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
