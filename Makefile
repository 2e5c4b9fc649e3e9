# mlsysrep: every target sets the two environment variables the project needs,
# so `make <target>` works from any shell (see README "Environment").
#   GOTOOLCHAIN=go1.27.3  GoMLX v0.28 needs Go >= 1.27; the go command fetches it
#                         from the module proxy once (a go.mod toolchain line is
#                         not enough on machines set to GOTOOLCHAIN=local).
#   GOEXPERIMENT=simd     turns on the AVX2/AVX-512 kernels (ours and GoMLX's).
export GOTOOLCHAIN := go1.27.3
export GOEXPERIMENT := simd

GO ?= go
# Where downloaded source archives may already sit (read-only is fine); the
# offline CIFAR-10 copy of the development machines is used when present. An
# absolute path: notebooks run in GoNB's own temporary module folder, where a
# relative one names nothing.
MLSYSREP_ARCHIVES ?= $(abspath $(firstword $(wildcard ../shared/data) $(HOME)/mlsysrep-archives))
export MLSYSREP_ARCHIVES
PRESET ?= smoke

.PHONY: all setup setup-jupyter setup-gonb setup-tools setup-xla run demo ledger results notebooks notebooks-clean test test-slurm test-notrain test-browser check fmt vet staticcheck unit fuzz mutants bench bench-compare bench-pytorch

all: test

## setup: install everything the project needs on Debian (safe to run twice).
setup: setup-jupyter setup-gonb setup-tools

setup-jupyter:
	@if /usr/bin/python3 -c 'import nbconvert, nbclient, ipykernel' 2>/dev/null && command -v jupyter >/dev/null; then \
		echo "setup: Jupyter already installed"; \
	else \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		log=$${TMPDIR:-/tmp}/mlsysrep-setup-apt.log; \
		echo "setup: installing Jupyter with apt (full log: $$log)"; \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			jupyter-notebook python3-nbconvert python3-nbclient python3-ipykernel; } >"$$log" 2>&1 || \
			{ tail -n 30 "$$log"; echo "setup: apt failed; full log in $$log"; exit 1; }; \
	fi

# GoNB from the version pinned as a module tool, and its kernel with the two
# variables in the kernel's environment.
setup-gonb:
	$(GO) install github.com/janpfeifer/gonb
	"$$($(GO) env GOPATH)/bin/gonb" --install --force_deps --logtostderr=false
	@/usr/bin/python3 .ci/kernel_env.py

# goimports fixes cell imports; gopls gives GoNB contextual help (without it
# GoNB logs an error line for every notebook).
setup-tools:
	@command -v goimports >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/goimports" ] || \
		$(GO) install golang.org/x/tools/cmd/goimports@latest
	@command -v gopls >/dev/null || [ -x "$$($(GO) env GOPATH)/bin/gopls" ] || \
		$(GO) install golang.org/x/tools/gopls@latest

## setup-xla: download the XLA/PJRT CPU plugin (and CUDA where a GPU is found).
## Needs internet; never done implicitly.
setup-xla:
	$(GO) run ./quant/cmd/mlsysrep setup-xla

## run: the main job on the embedded pure-Go engine: every reference table at
## PRESET (smoke by default; quick and paper take hours to days), records in
## results/, tables printed as Markdown.
run:
	$(GO) run ./quant/cmd/mlsysrep run -table all -preset $(PRESET) -out results

## demo: a single FP CIFAR ResNet-18 training run with progress.
demo:
	$(GO) run ./quant/cmd/mlsysrep demo -preset $(PRESET)

## ledger: run (or resume: finished cells are reused, interrupted ones resume
## from their last epoch) the quick preset of every CIFAR table on the offline
## CIFAR-10 copy, then regenerate RESULTS.md. Many hours on 2 cores.
LEDGER_RUN = $(GO) run ./quant/cmd/mlsysrep run -preset quick -out results
ledger:
	$(LEDGER_RUN) -table ptq-resnet18
	$(LEDGER_RUN) -table pact
	$(LEDGER_RUN) -table lsq
	$(LEDGER_RUN) -table dorefa -cells resnet18/dorefa:w2a2g2,mobilenetv2/dorefa:w2a2g2,resnet18/dorefa:w6a6g6,mobilenetv2/dorefa:w6a6g6
	$(LEDGER_RUN) -table ptq-mobilenetv2
	$(MAKE) --no-print-directory results

## results: regenerate RESULTS.md (the replication ledger) from results/quick.
results:
	$(GO) run ./quant/cmd/mlsysrep results -preset quick -in results -o RESULTS.md

## notebooks: execute every notebook headless on PRESET (smoke by default),
## failing if a cell errors or a table is not rendered; executed copies and
## HTML exports in notebooks/_out. Installs Jupyter and GoNB first if needed.
## Records are read and written in $MLSYSREP_RESULTS, else results/: tables
## whose records are there already are redrawn, not trained (make test runs
## the notebooks in a fresh folder).
notebooks: setup-jupyter setup-gonb setup-tools
	MLSYSREP_PRESET=$(PRESET) /usr/bin/python3 notebooks/execute.py

## notebooks-clean: strip outputs from the notebooks before committing them.
notebooks-clean:
	/usr/bin/python3 -m nbconvert --clear-output --inplace notebooks/*.ipynb

## test: what CI runs (.ci/run calls exactly this): static checks, the Go
## tests, a bounded fuzzing of every file decoder, the Slurm integration test
## (test-slurm), every notebook executed headless on the smoke preset, then
## the live tour in headless Chromium (test-browser; these two install Debian
## packages and need root or sudo the first time). The notebooks keep their
## records and checkpoints in a fresh folder, removed afterwards: a notebook
## whose cells all have records redraws them and trains nothing, so records
## left in results/smoke (or in $MLSYSREP_RESULTS) by an earlier run would
## let a broken notebook pass.
test: check unit fuzz test-slurm
	@fresh=$$(mktemp -d "$${TMPDIR:-/tmp}/mlsysrep-notebooks.XXXXXX") && trap 'rm -rf "$$fresh"' EXIT && \
	echo "test: notebooks on the smoke preset with MLSYSREP_RESULTS=$$fresh (fresh: no earlier records)" && \
	MLSYSREP_RESULTS="$$fresh" $(MAKE) --no-print-directory notebooks PRESET=smoke
	@$(MAKE) --no-print-directory test-notrain
	@$(MAKE) --no-print-directory test-browser

## test-notrain: the documented records-only run, every notebook on the quick
## preset with MLSYSREP_NO_TRAIN=1: the tables come from the committed
## results/quick records, the tour from the committed FP model, nothing is
## trained or downloaded, and results/ is left exactly as it was.
test-notrain:
	@before=$$(find results -type f -exec sha256sum {} + | sort) && \
	echo "test: notebooks on the quick preset with MLSYSREP_NO_TRAIN=1 (records only)" && \
	MLSYSREP_NO_TRAIN=1 NOTEBOOKS_OUT=notebooks/_out/quick $(MAKE) --no-print-directory notebooks PRESET=quick && \
	after=$$(find results -type f -exec sha256sum {} + | sort) && \
	if [ "$$before" != "$$after" ]; then echo "test-notrain: results/ changed during a records-only run"; exit 1; fi

## test-browser: the live tour in headless Chromium: a Jupyter server with the
## GoNB kernel on localhost, the tour's cells run up to the bits slider, the
## slider moved from 2 to 6 bits and the plot checked to be redrawn;
## screenshots in notebooks/_out/ (installs Debian's chromium and npm's
## playwright-core when missing; never a downloaded browser).
test-browser: setup-jupyter setup-gonb setup-tools
	bash .ci/browser-test.sh

## test-slurm: the pact table's smoke preset as a 3-task Slurm job array on
## a one-node Slurm started on this machine (installs slurm-wlm and munge with
## apt when missing; needs root or sudo), checked against a single-process
## run; the daemons are stopped afterwards, also on failure.
test-slurm:
	bash .ci/slurm-integration.sh

## fuzz: each decoder of files (checkpoints, records, CIFAR binary records and
## archives, image folders, SVHN .mat, PyTorch weight files) fuzzed for FUZZTIME; the seed corpora,
## with the crashing inputs found so far, are under each package's
## testdata/fuzz/. Minimization is off so that the budget goes to new inputs.
FUZZTIME ?= 10s
FUZZ_TARGETS = ./pkg/train:FuzzDecodeCheckpoint ./pkg/report:FuzzDecode \
	./datasets/svhn:FuzzReadMat ./datasets/svhn:FuzzDecode \
	./datasets/cifar10:FuzzDecodeRecords ./datasets/cifar10:FuzzExtract ./datasets/cifar10:FuzzFolderArchive \
	./datasets/imagefolder:FuzzDecodeImage ./datasets/imagefolder:FuzzReadTarGz \
	./pkg/torchfile:FuzzRead
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 0 $$pkg || exit 1; \
	done

## mutants: plant the bugs of quant/cmd/mutants/mutants.txt one at a time in a
## scratch copy and report which the tests catch (minutes; not part of test).
## MUTANTS=text plants only the bugs whose name contains text.
MUTANTS ?=
mutants:
	$(GO) run ./quant/cmd/mutants -only '$(MUTANTS)'

check: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi; echo "gofmt: ok"

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

# Then the quantizer, layer, model, training and recipe tests again on
# engine v1 (kept selectable as purego:v1 for A/B comparisons), and the
# engine's tests on each forced kernel path (the kernels' own tests already
# run every path the CPU has).
unit:
	$(GO) test -count=1 ./...
	MLSYSREP_TEST_ENGINE=purego:v1 $(GO) test -count=1 ./pkg/quant/ ./pkg/nn/ ./pkg/train/ ./models/... ./quant/recipe/
	MLSYSREP_KERNELS=avx2 $(GO) test -count=1 ./pkg/backend/engine/
	MLSYSREP_KERNELS=generic $(GO) test -count=1 ./pkg/backend/engine/

## bench: the engine benchmarks of BENCHMARKS.md, engines v1 and v2
## (MLSYSREP_BENCH_ENGINES=... to choose others).
bench:
	$(GO) test -run '^$$' -bench 'FMAPeak|Conv2DForward' -benchtime 10x ./pkg/backend/kernels/
	$(GO) test -run '^$$' -bench 'Conv3x3' -benchtime 5x ./pkg/backend/engine/
	$(GO) test -run '^$$' -bench 'TrainStep' -benchtime 5x ./models/resnet/
	$(GO) test -run '^$$' -bench 'TrainStep' -benchtime 3x ./models/mobilenetv2/

## bench-compare: engine v2 against PyTorch on this CPU, back to back, with
## the host's CPU steal read around each side; prints the BENCHMARKS.md table
## and alternating pairs of the target steps, ResNet-18 and MobileNetV2 (PyTorch with glibc malloc
## keeping freed memory, as compare.py says why).
## Needs Debian's python3-torch.
bench-compare:
	/usr/bin/python3 pkg/backend/engine/testdata/compare.py

## TORCH_MALLOC: glibc malloc keeping freed memory, as compare.py's
## TORCH_MALLOC gives PyTorch (its docstring says why).
TORCH_MALLOC = MALLOC_MMAP_THRESHOLD_=268435456 MALLOC_TRIM_THRESHOLD_=1073741824

bench-pytorch:
	$(TORCH_MALLOC) /usr/bin/python3 models/resnet/testdata/pytorch_trainstep.py --threads $$(nproc)
