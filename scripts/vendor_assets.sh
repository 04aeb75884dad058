#!/usr/bin/env bash
# Refresh maps/static/vendor/: the JS, CSS, fonts and images that Folium pages
# load, pinned and served by wangge itself because the service runs on a
# closed network where every CDN is unreachable.
#
# Maintenance tool, never run at service start. Needs npm (registry access)
# and the project's Python (PyPI access, for folium's source distribution).
#
#   scripts/vendor_assets.sh            # rewrite maps/static/vendor/*/
#   PYTHON=/usr/bin/python3 scripts/vendor_assets.sh
#
# After bumping a version here, update maps/static/vendor/cdn-map.json and the
# table in maps/static/vendor/README.md, then run tests/test_assets.py: it fails
# on any URL folium asks for that the table does not cover, and on any file or
# CSS url() reference that is missing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST="$ROOT/maps/static/vendor"
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
# Must match the folium the service runs: its templates decide which URLs exist.
FOLIUM_VERSION=0.20.0

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

die() { echo "vendor_assets: $*" >&2; exit 1; }

# fetch SPEC: npm-pack one exact version and unpack it under $WORK/SPEC/package.
fetch() {
    local spec=$1
    mkdir -p "$WORK/$spec"
    (cd "$WORK/$spec" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
}

# put SPEC PATTERN...: copy files of an unpacked package into $DEST/SPEC,
# keeping their paths inside the package so relative url() references in the
# CSS still resolve. Patterns are globs relative to the package root.
put() {
    local spec=$1 pattern file
    shift
    (
        cd "$WORK/$spec/package"
        for pattern in "$@"; do
            # An unmatched glob stays literal, so the -e test catches a file
            # that a new version moved or dropped.
            # shellcheck disable=SC2086
            for file in $pattern; do
                [[ -e $file ]] || die "$spec has no $pattern"
                install -D -m 0644 "$file" "$DEST/$spec/$file"
            done
        done
    )
}

# vendor SPEC PATTERN...: fetch and put in one step, for the plain cases.
vendor() {
    fetch "$1"
    put "$@"
}

command -v npm >/dev/null || die "npm not found"
mkdir -p "$DEST"
# Start clean so a dropped package or file does not linger; README.md stays.
find "$DEST" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +

# --- folium.Map's default template -----------------------------------------
vendor leaflet@1.9.3 LICENSE dist/leaflet.js dist/leaflet.css 'dist/images/*.png'
vendor jquery@3.7.1 LICENSE.txt dist/jquery.min.js
vendor bootstrap@5.2.2 LICENSE dist/js/bootstrap.bundle.min.js dist/css/bootstrap.min.css
# Only woff2: every browser that runs the command-centre pages supports it and
# picks it before the ttf fallback listed after it in the @font-face rules.
vendor @fortawesome/fontawesome-free@6.2.0 LICENSE.txt css/all.min.css 'webfonts/*.woff2'
# Folium asks netdna for Bootstrap 3's glyphicons (the default icon prefix of
# folium.Icon); this package is that glyphicons CSS and font cut out of
# Bootstrap 3 alone, so it cannot fight Bootstrap 5's styles.
vendor @neos21/bootstrap3-glyphicons@1.0.7 LICENSE \
    dist/css/bootstrap3-glyphicons.min.css dist/fonts/glyphicons-halflings-regular.woff2
# Folium loads Leaflet.awesome-markers 2.0.2 from cdnjs; on npm that exact
# release is only published as drmonty-leaflet-awesome-markers (same files).
vendor drmonty-leaflet-awesome-markers@2.0.2 js/leaflet.awesome-markers.min.js \
    css/leaflet.awesome-markers.css 'css/images/markers-s*.png'
# That tarball ships no licence file; take the upstream author's MIT LICENSE
# from the later npm release of the same project.
fetch leaflet.awesome-markers@2.0.5
install -m 0644 "$WORK/leaflet.awesome-markers@2.0.5/package/LICENSE" \
    "$DEST/drmonty-leaflet-awesome-markers@2.0.2/LICENSE"

# --- folium.plugins used by the map pages ----------------------------------
vendor leaflet.markercluster@1.1.0 MIT-LICENCE.txt dist/leaflet.markercluster.js \
    dist/MarkerCluster.css dist/MarkerCluster.Default.css
vendor leaflet-realtime@2.2.0 LICENSE.md dist/leaflet-realtime.min.js
vendor leaflet.fullscreen@3.0.0 LICENSE Control.FullScreen.js Control.FullScreen.css \
    icon-fullscreen.svg
vendor leaflet-draw@1.0.2 dist/leaflet.draw.js dist/leaflet.draw.css \
    'dist/images/spritesheet*'
# Folium pins "@latest" for these two; we pin what latest was when vendored.
vendor leaflet.vectorgrid@1.3.0 README.md dist/Leaflet.VectorGrid.bundled.min.js
vendor @geoman-io/leaflet-geoman-free@2.20.2 LICENSE dist/leaflet-geoman.min.js \
    dist/leaflet-geoman.css

# --- MapLibre GL JS: the vector-tile sample page (maps/static/maplibre.html) --
# Version 6 ships ES modules only; the main module loads its worker module
# from the same folder, so both must sit side by side. No source maps.
vendor maplibre-gl@6.20.0 LICENSE.txt dist/maplibre-gl.mjs dist/maplibre-gl-worker.mjs \
    dist/maplibre-gl.css

# Neither tarball ships a licence file; record the terms their packages state.
sed -n '/^## Legalese/,$p' "$WORK/leaflet.vectorgrid@1.3.0/package/README.md" \
    >"$DEST/leaflet.vectorgrid@1.3.0/LICENSE"
[[ -s "$DEST/leaflet.vectorgrid@1.3.0/LICENSE" ]] || die "vectorgrid README lost its Legalese"
{
    echo "leaflet-draw 1.0.2 is published under the MIT licence (package.json: \"license\": \"MIT\")."
    echo "Its npm tarball ships no licence file; the copyright line below is the one in"
    echo "dist/leaflet.draw.js."
    echo
    echo "Copyright (c) 2012-2017, Jacob Toye, Jon West, Smartrak, Leaflet"
    echo
    cat <<'MIT'
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
THE SOFTWARE.
MIT
} >"$DEST/leaflet-draw@1.0.2/LICENSE"

# --- the CJK font of every page: Noto Sans SC (Fontsource) -------------------
# No system font is assumed on a wall's PC, so wangge serves its own. Only the
# two weights the pages use (400 text, 700 headings and figures), and only the
# woff2 files their CSS names: each is one unicode-range slice, so a page
# downloads just the slices holding the characters it shows.
fetch @fontsource/noto-sans-sc@5.3.0
for weight in 400 700; do
    # shellcheck disable=SC2046
    put @fontsource/noto-sans-sc@5.3.0 LICENSE "$weight.css" \
        $(grep -o 'files/[^)]*\.woff2' "$WORK/@fontsource/noto-sans-sc@5.3.0/package/$weight.css" | sort -u)
done

# --- files folium serves from its own GitHub repository --------------------
# HeatMap loads folium's patched Leaflet.heat (weights fix, Leaflet.heat PR 78)
# and Map loads the icon-rotation CSS; both live in folium's templates folder,
# and only the source distribution ships the CSS.
"$PYTHON" -m pip download --quiet --no-deps --no-binary :all: \
    "folium==$FOLIUM_VERSION" -d "$WORK/pypi"
mkdir -p "$WORK/folium@$FOLIUM_VERSION"
tar xzf "$WORK/pypi/folium-$FOLIUM_VERSION.tar.gz" -C "$WORK/folium@$FOLIUM_VERSION"
mv "$WORK/folium@$FOLIUM_VERSION/folium-$FOLIUM_VERSION" "$WORK/folium@$FOLIUM_VERSION/package"
put "folium@$FOLIUM_VERSION" LICENSE.txt folium/templates/leaflet_heat.min.js \
    folium/templates/leaflet.awesome.rotate.css
# The heat file is a build of Leaflet.heat + simpleheat: keep their BSD terms too.
fetch leaflet.heat@0.2.0
install -m 0644 "$WORK/leaflet.heat@0.2.0/package/LICENSE" \
    "$DEST/folium@$FOLIUM_VERSION/LICENSE.leaflet.heat"

du -sh "$DEST"
