#!/bin/sh
# Makes GoNB's temporary module (the directory this runs in: a notebook's
# first cell runs it with `!*`) build against this checkout of mlsysrep, with
# every dependency at the version the project pins in its go.mod. Without the
# pins GoNB's `go get` asks the module proxy for the newest version of each
# imported module, which proxies refuse for some (GoNB, must) and which would
# not be the versions the project is tested with.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
go mod edit -require="github.com/mlsysrep/mlsysrep@v0.0.0" -replace="github.com/mlsysrep/mlsysrep=$repo"
for m in $(cd "$repo" && go list -m -f '{{if not .Main}}{{.Path}}@{{.Version}}{{end}}' all); do
	set -- "$@" -require="$m"
done
go mod edit "$@"
# Let go.sum come from the project's (same versions, so the same hashes).
cat "$repo/go.sum" >> go.sum
rm -f go.work
echo "GoNB builds against $repo ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
