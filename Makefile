# The two commands: `make run` starts the whole embedded stack, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test bench token histories clean browser fonts

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: $(INSTALLED) fonts
	$(PY) stack.py

# The console's browser tests drive Debian's chromium (and a CJK font for its screenshots):
# installed with apt where missing, which needs root. No browser build is ever downloaded.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		(apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei)
	@command -v chromium >/dev/null || echo "chromium is missing: as root, apt-get install chromium (the browser tests fail without it)"

# Decision letters embed WenQuanYi Micro Hei (a TrueType CJK font from Debian's packages):
# installed with apt where missing, which needs root. Without it letters use a PDF reader's own
# Song face (STSong-Light, not embedded).
fonts:
	@[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || [ "$$(id -u)" != 0 ] || \
		(apt-get update -q && apt-get install -y -q fonts-wqy-microhei)
	@[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || echo "fonts-wqy-microhei is missing: as root, apt-get install fonts-wqy-microhei (decision letters then embed no font)"

test: $(INSTALLED) browser fonts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) tests/run.py

bench: $(INSTALLED)
	$(PY) -m bench $(ARGS)

# make token ROLE=township_assistant JURISDICTION=370305001 [SUB=..] [NAME=..] [DEPARTMENT=..]
token: $(INSTALLED)
	$(PY) -m api.tokens --role $(ROLE) --jurisdiction $(JURISDICTION) $(if $(SUB),--sub $(SUB)) $(if $(NAME),--name $(NAME)) $(if $(DEPARTMENT),--department $(DEPARTMENT))

# Regenerate tests/histories/ (replay test) after a deliberate workflow change.
histories: $(INSTALLED)
	$(PY) tests/record_histories.py $(ARGS)

clean:
	rm -rf var
