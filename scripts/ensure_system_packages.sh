#!/usr/bin/env bash
# Install the Debian packages wangge needs when they are missing:
#   postgis   PostGIS for the machine's PostgreSQL (the store; also in tests)
#   chromium  headless browser for the map-page tests
#   wrk       HTTP load generator of the benchmarks
#   mosquitto MQTT broker for sensor readings (embedded default; also in tests)
# Usage: scripts/ensure_system_packages.sh postgis [chromium] [wrk] [mosquitto]
set -euo pipefail
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
for want in "$@"; do
  case "$want" in
    postgis)
      pgdir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
      if [ -z "$pgdir" ]; then missing+=(postgresql-15 postgresql-15-postgis-3); continue; fi
      version=$(basename "$(dirname "$pgdir")")
      [ -f "/usr/share/postgresql/$version/extension/postgis.control" ] || missing+=("postgresql-$version-postgis-3")
      ;;
    chromium)
      [ -x /usr/bin/chromium ] || missing+=(chromium)
      ;;
    wrk)
      command -v wrk >/dev/null || missing+=(wrk)
      ;;
    mosquitto)
      [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
      ;;
    *) echo "unknown package group: $want" >&2; exit 2 ;;
  esac
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
