#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment with the pinned OpenMMLab stack.
#
# Idempotent: a stamp file keyed by the requirement files' hash makes a second run a no-op.
# mmcv 2.1.0 has no wheel for torch 2.14, so it is built from its sdist with its C++ ops.
# torch 2.14's headers need C++20 but mmcv's setup.py hard-codes -std=c++17: we patch that
# flag and cache the built wheel under a directory keyed by the torch version (pip's own
# wheel cache ignores which torch a wheel was compiled against).
#
# Environment:
#   VENV            virtual-environment folder (default: .venv in the repo root)
#   PYTHON          interpreter used to create it (default: python3.11, else python3)
#   INTERN_MM_CACHE wheel cache root (default: ~/.cache/intern_mm)
#   INTERN_MM_WORDNET WordNet 3.0 dict folder of GV-D's label space (default:
#                   /usr/share/wordnet, the Debian / Ubuntu package wordnet-base, which this
#                   script installs with apt-get when it is missing and apt-get is usable)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
CACHE="${INTERN_MM_CACHE:-$HOME/.cache/intern_mm}"
TORCH_VERSION="$(sed -n 's/^torch==//p' "$ROOT/requirements/runtime.txt")"
MMCV_VERSION="$(sed -n 's/^mmcv==//p' "$ROOT/requirements/mminstall.txt")"

log() { printf '[setup_env] %s\n' "$*" >&2; }

# WordNet 3.0 (a system package, checked before the venv stamp: the venv may be complete
# on a machine that lacks it). Read offline by nltk (intern_mm/datasets/gvd/wordnet.py).
WORDNET_DIR="${INTERN_MM_WORDNET:-/usr/share/wordnet}"
if [[ ! -f "$WORDNET_DIR/index.noun" ]]; then
  if [[ -z "${INTERN_MM_WORDNET:-}" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing WordNet 3.0 (Debian package wordnet-base) into /usr/share/wordnet"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends wordnet-base >/dev/null 2>&1 || {
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends wordnet-base >/dev/null
    }
    [[ -f "$WORDNET_DIR/index.noun" ]] || {
      log "apt-get installed wordnet-base but $WORDNET_DIR/index.noun is still missing"
      exit 1
    }
  else
    log "WordNet is missing ($WORDNET_DIR/index.noun): tools/gvd.py taxonomy and the GV-D" \
      "label space need it. Install it as root with 'apt-get install wordnet-base'" \
      "(or 'sudo apt-get install wordnet-base'), or point INTERN_MM_WORDNET at a" \
      "WordNet 3.0 dict folder (index.noun, data.noun, noun.exc); then rerun this script"
  fi
fi

stamp_hash="$(cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/setup.cfg" "$0" \
  "$ROOT/tools/misc/install_editable.sh" 2>/dev/null | sha256sum | cut -c1-16)"
STAMP="$VENV/.intern_mm-env-$stamp_hash"
if [[ -f "$STAMP" ]]; then
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating virtual environment $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -c "$ROOT/requirements/constraints.txt")

log "installing build tools, torch==$TORCH_VERSION and runtime requirements"
"${PIP[@]}" -q -r "$ROOT/requirements/build.txt"
"${PIP[@]}" -q -r "$ROOT/requirements/runtime.txt"

if ! "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
  WHEEL_DIR="$CACHE/wheels/torch-$TORCH_VERSION-$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  mkdir -p "$WHEEL_DIR"
  wheel="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -z "$wheel" ]]; then
    log "building mmcv $MMCV_VERSION with ops against torch $TORCH_VERSION (about 15 min on 2 cores, once)"
    build="$(mktemp -d)"
    trap 'rm -rf "$build"' EXIT
    "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
    tar -xzf "$build"/mmcv-"$MMCV_VERSION".tar.gz -C "$build"
    src="$build/mmcv-$MMCV_VERSION"
    grep -q -- '-std=c++17' "$src/setup.py" || { log "mmcv setup.py has no -std=c++17 flag to patch"; exit 1; }
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    (cd "$src" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel -q --no-build-isolation --no-deps . -w "$build/dist")
    cp "$build"/dist/mmcv-"$MMCV_VERSION"-*.whl "$WHEEL_DIR/"
    wheel="$(ls "$WHEEL_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)"
  fi
  log "installing $wheel"
  "${PIP[@]}" -q --no-deps "$wheel"
  "${PIP[@]}" -q addict packaging Pillow pyyaml yapf opencv-python
fi

log "installing mmengine / mmpretrain / mmdet / mmseg, optional and test requirements"
"${PIP[@]}" -q -r "$ROOT/requirements/mminstall.txt" -r "$ROOT/requirements/optional.txt" \
  -r "$ROOT/requirements/tests.txt"
log "installing OpenMMLab's mim (openmim without its dataset-download extras)"
"${PIP[@]}" -q -r "$ROOT/requirements/mim.txt"
"${PIP[@]}" -q --no-deps -r "$ROOT/requirements/mim-nodeps.txt"
log "installing mmdeploy (its protobuf pin conflicts with onnx: the modules it uses, then itself without dependencies)"
"${PIP[@]}" -q -r "$ROOT/requirements/deploy.txt"
"${PIP[@]}" -q --no-deps -r "$ROOT/requirements/deploy-nodeps.txt"
log "installing intern_mm (editable, with <site-packages>/intern_mm/.mim for mim)"
bash "$ROOT/tools/misc/install_editable.sh" "$PY"
"$PY" -c "import pkg_resources" 2>/dev/null || {
  log "setuptools in $VENV has no pkg_resources (setuptools>=82?); requirements/constraints.txt should have prevented that"
  exit 1
}
"$PY" -c "import nltk, imagehash" || { log "nltk / imagehash (requirements/runtime.txt) did not install"; exit 1; }
"$PY" -c "import torch, mmcv.ops, mmengine, mmpretrain, mmdet, mmseg, setuptools; print('[setup_env] ok: torch', torch.__version__, 'mmcv', mmcv.__version__, 'setuptools', setuptools.__version__)"
rm -f "$VENV"/.intern_mm-env-*
touch "$STAMP"
