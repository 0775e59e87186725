# Two commands a person needs: `make run` (the app on the bundled digits) and `make test`.
# Both create .venv/ on first use and reuse it afterwards.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Shared libraries Qt needs, offscreen and in a real window (Debian/Ubuntu package names).
QT_DEBS := libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 \
	libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
	libxcb-xinerama0 libxcb-xfixes0 libglib2.0-0
# PortAudio, which sounddevice plays the GUI's audio clips through.
AUDIO_DEBS := libportaudio2
# Demo data read from the installed package, never copied: the fortune-cookie quotes are the text demo
# (text:fortunes; /usr/share/games/fortunes, one category per file); the Sonic Pi instrument samples are the
# recorded-audio demo (audio:sonic-pi; /usr/share/sonic-pi/samples, FLAC, the name prefix is the category).
DATA_DEBS := fortunes sonic-pi-samples
# Xvfb and screenshot tools for the real-window GUI test; the validators of the desktop entry and metainfo.
TEST_DEBS := xvfb xauth x11-utils imagemagick desktop-file-utils appstream

.PHONY: run test lint bench venv sysdeps sysdeps-test clean

run: $(STAMP) sysdeps
	$(BIN)/ssl-workbench

# One pytest-xdist worker per core (at most four), each test file on one worker (its module fixtures are
# made once); the 30 slowest tests and the total are printed, so a test that got slow shows in every log.
test: $(STAMP) sysdeps sysdeps-test
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadscope --durations 30

lint: $(STAMP)
	$(BIN)/ruff check ssl_core app tests bench
	$(BIN)/ruff format --check ssl_core app tests bench

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

venv: $(STAMP)

# torch and torchvision come in as a matched pair pinned in constraints.txt (see that file for why).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,dev]'
	touch $(STAMP)

sysdeps:
	@./packaging/ensure-debs.sh $(QT_DEBS) $(AUDIO_DEBS) $(DATA_DEBS)

sysdeps-test:
	@./packaging/ensure-debs.sh $(TEST_DEBS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The sdist and the wheel (built from that sdist) in dist/, with the tools already in .venv.
.PHONY: dist
dist: $(STAMP)
	$(BIN)/python -m build --no-isolation --outdir dist .
