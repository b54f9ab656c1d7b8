# mmwsss: two commands do all set-up on a fresh machine (Python 3.11, CPU):
#   make demo   - every pipeline stage on the bundled VOC images (data/voc_mini):
#                 tools/run_pipeline.py's runner (own data: tools/run_pipeline.py DIR)
#   make test   - the test suite
#   make wheel  - dist/mmwsss-*.whl: the package with its configs, tools and
#                 bundled images (mmwsss/.mim); pip install it anywhere, then
#                 mmwsss-pipeline DIR, mmwsss-train mmwsss::CONFIG, ...
# Both create (or reuse) the virtual environment $(VENV) with the pinned stack
# of requirements/pinned.txt and install mmwsss into it in editable mode.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIN := requirements/pinned.txt
STAMP := $(VENV)/.mmwsss-deps-$(shell sha1sum $(PIN) | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: venv demo test wheel gpu-check clean-demo

$(STAMP): $(PIN)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r $(PIN)
	@rm -f $(VENV)/.mmwsss-deps-*
	@touch $@

venv: $(STAMP)
	@$(PY) -m pip install --disable-pip-version-check -q --no-deps \
		--no-build-isolation -e .

demo: venv
	$(PY) tools/demo.py $(DEMO_ARGS)

test: venv
	$(PY) -m pytest tests $(PYTEST_ARGS)

wheel: venv
	$(PY) -m pip wheel --disable-pip-version-check -q --no-deps \
		--no-build-isolation -w dist .

# make gpu-check: every pipeline stage (tiny models) and every benchmark at
# the real sizes on the GPU, one table with Table S1 beside it (< 10 min);
# make gpu-check DEVICE=cpu: the same on the CPU with tiny models only.
DEVICE ?= cuda
GPU_CHECK_ARGS ?=
gpu-check: venv
	$(PY) tools/gpu_check.py --device $(DEVICE) $(GPU_CHECK_ARGS)

clean-demo:
	rm -rf work_dirs/demo
