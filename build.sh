#!/usr/bin/env bash
# Developer entry point.
#   ./build.sh lib      build the shared library into python/gonmf/ (also run by `pip install .`)
#   ./build.sh sample   install gonmf and run the main job on the bundled sample
#   ./build.sh test     install gonmf with its test dependencies and run every test (Go, C, Python)
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}

lib() {
	# -trimpath and stripped symbols keep the wheel reproducible and small; the Go
	# build cache makes repeated builds take seconds.
	local out=${GONMF_LIB_OUT:-python/gonmf/libgonmf.so}
	mkdir -p build
	go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o "build/libgonmf.so" ./capi
	cp build/libgonmf.so "$out"
	echo "built $out" >&2
}

install() {
	"$PY" -m pip install --quiet --upgrade pip
	"$PY" -m pip install --quiet "$@"
}

sample() {
	install .
	"$PY" examples/fit_sample.py
}

test_all() {
	install ".[test]"
	echo "== go vet" && go vet ./...
	echo "== go test" && go test -count=1 ./...
	echo "== pytest" && "$PY" -m pytest -q tests/python
}

case "${1:-}" in
lib) lib ;;
sample) sample ;;
test) test_all ;;
*)
	sed -n '2,5p' "$0" >&2
	exit 2
	;;
esac
