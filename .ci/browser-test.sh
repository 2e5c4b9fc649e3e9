#!/usr/bin/env bash
# Real-browser test of the live tour (make test-browser; README "Notebooks").
#
# Starts a Jupyter server with the GoNB kernel on localhost, opens
# notebooks/00-quantizers-tour.ipynb in headless Chromium (Debian's
# chromium, driven by playwright-core from npm; never a downloaded
# browser), runs the cells up to the bits slider, moves the slider and
# checks that the plot is redrawn (.ci/browser/tour.mjs). Screenshots go to
# notebooks/_out/. The server is stopped on every exit. Installs chromium
# with apt (root or sudo) and playwright-core with npm when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export GOTOOLCHAIN="${GOTOOLCHAIN:-go1.27.3}" GOEXPERIMENT="${GOEXPERIMENT:-simd}"
say() { echo "browser-test: $*"; }
fail() { say "FAIL: $*"; exit 1; }

if ! command -v chromium >/dev/null; then
	SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
	log=${TMPDIR:-/tmp}/mlsysrep-chromium-apt.log
	say "installing chromium with apt (full log: $log)"
	{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >"$log" 2>&1 ||
		{ tail -n 30 "$log"; fail "apt failed; full log in $log"; }
fi
command -v node >/dev/null && command -v npm >/dev/null || fail "needs node and npm (Debian: apt-get install nodejs npm)"
if [ ! -d .ci/browser/node_modules/playwright-core ]; then
	say "installing playwright-core with npm"
	(cd .ci/browser && npm install --silent --no-audit --no-fund) || fail "npm install failed"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mlsysrep-browser.XXXXXX")
server=""
cleanup() {
	status=$?
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	if [ "$status" != 0 ] && [ -f "$work/jupyter.log" ]; then
		echo "--- jupyter log (last 30 lines)"
		tail -n 30 "$work/jupyter.log"
	fi
	rm -rf "$work"
	exit "$status"
}
trap cleanup EXIT

token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=18888
mkdir -p notebooks/_out "$work/results"
# The tour on the smoke preset with fresh records; the slider listens for
# two minutes.
MLSYSREP_PRESET=smoke MLSYSREP_RESULTS="$work/results" MLSYSREP_WIDGET_SECONDS=120 \
	jupyter notebook --no-browser --allow-root --ip=127.0.0.1 --port="$port" \
	--NotebookApp.token="$token" --NotebookApp.open_browser=False \
	--notebook-dir="$root/notebooks" >"$work/jupyter.log" 2>&1 &
server=$!
for i in $(seq 60); do
	curl -fs "http://127.0.0.1:$port/api/status?token=$token" >/dev/null 2>&1 && break
	kill -0 "$server" 2>/dev/null || fail "the Jupyter server exited"
	sleep 1
done
curl -fs "http://127.0.0.1:$port/api/status?token=$token" >/dev/null || fail "the Jupyter server did not start"
say "Jupyter server on port $port"
tour=notebooks/00-quantizers-tour.ipynb
sum=$(sha256sum "$tour")
start=$(date +%s)
node .ci/browser/tour.mjs "http://127.0.0.1:$port/notebooks/00-quantizers-tour.ipynb?token=$token" "$root/notebooks/_out"
say "done in $(($(date +%s) - start)) s"
echo "$sum" | sha256sum -c --quiet - || fail "$tour was changed (saved from the browser)"
