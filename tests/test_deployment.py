"""The deployment files: what `docker compose config` would check, and the pieces they name.

No Docker engine runs here, so the compose file is read as YAML and held to
the compose specification's shape for the parts wangge relies on.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


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


def test_compose_variables_are_well_formed() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for ref in re.findall(r"\$\{([^}]*)\}", text):
        assert re.fullmatch(r"[A-Z_][A-Z0-9_]*(:?[-?][^}]*)?", ref), ref


def test_dockerfile_copies_every_package_and_runs_the_cli() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for package in ("geo", "layers", "maps", "api"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert 'CMD ["wangge"' in dockerfile


def test_ci_runs_the_readme_test_command() -> None:
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert run == "make test"
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
