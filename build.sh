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
	# Rename over the old file rather than overwrite it: a process that has the
	# library mapped keeps its inode instead of dying of SIGBUS.
	cp build/libgonmf.so "$out.tmp.$$"
	mv -f "$out.tmp.$$" "$out"
	echo "built $out" >&2
}

install() {
	"$PY" -m pip install --quiet --upgrade pip
	"$PY" -m pip install --quiet "$@"
}

sample() {
	install .
	# The DepMap workflow on the bundled sample (the seed's settings); `gonmf fit --help`
	# explains every option. `-m gonmf` is the installed `gonmf` command, also when pip's
	# script directory is not on PATH.
	"$PY" -m gonmf fit examples/data/CRISPRGeneEffect.parquet \
		--gene-dict examples/data/CRISPR_gene_dictionary.parquet \
		--id-column ModelID --n-components 50 --shift-min --out-dir results
}

test_all() {
	install ".[test]"
	echo "== gofmt" && test -z "$(gofmt -l capi nmf bench 2>/dev/null | tee /dev/stderr)"
	echo "== go vet" && go vet ./...
	echo "== go test" && go test -count=1 ./...
	echo "== C ABI test (valgrind)" && bash tests/c/run.sh
	echo "== fuzz, ${GONMF_FUZZTIME:-30s} per target" && bash capi/fuzz.sh "${GONMF_FUZZTIME:-30s}"
	echo "== ruff" && "$PY" -m ruff check python tests examples
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
