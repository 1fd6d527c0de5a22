#!/usr/bin/env bash
# Editable install of this checkout into the environment of PYTHON, usable by OpenMMLab's mim.
#
#   bash tools/misc/install_editable.sh [PYTHON]      (default: .venv/bin/python)
#
# tools/setup_env.sh (`make env`) runs it. mim 0.3.9 locates a package as
# `<location of its dist-info>/<name>` (`pkg_resources.get_distribution(name).location`),
# i.e. `<site-packages>/intern_mm`, and reads `.mim/model-index.yml`, `.mim/configs` and
# `.mim/tools` there. An editable install has no such folder, so this script adds
# `<site-packages>/intern_mm/.mim` as a link to the checkout's `intern_mm/.mim` (which
# setup.py fills with links to configs/, tools/ and model-index.yml). That folder has no
# `__init__.py`: it is only a namespace portion, and `import intern_mm` still finds the
# checkout's regular package because `editable_mode=compat` makes setuptools put the
# checkout on sys.path (a static .pth) instead of an import hook that would run after the
# portion was found (setuptools' default for this flat layout). The last step checks that.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="${1:-$ROOT/.venv/bin/python}"

"$PY" -m pip install -q --disable-pip-version-check -c "$ROOT/requirements/constraints.txt" \
  --no-deps --no-build-isolation --use-pep517 --config-settings editable_mode=compat \
  -e "$ROOT"
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
if [[ -L "$SITE/intern_mm" || -f "$SITE/intern_mm/__init__.py" ]]; then
  echo "[install_editable] $SITE/intern_mm is a link or a regular install; remove it first" >&2
  exit 1
fi
mkdir -p "$SITE/intern_mm"
ln -sfn "$ROOT/intern_mm/.mim" "$SITE/intern_mm/.mim"
"$PY" -I - "$ROOT" <<'PY'  # -I: not the current folder's intern_mm
import os.path as osp
import sys

import intern_mm

root = sys.argv[1]
found = osp.dirname(osp.abspath(intern_mm.__file__))
if found != osp.join(root, 'intern_mm'):
    sys.exit(f'[install_editable] import intern_mm finds {found}, not {root}/intern_mm')
if not osp.isfile(osp.join(root, 'intern_mm', '.mim', 'model-index.yml')):
    sys.exit(f'[install_editable] {root}/intern_mm/.mim/model-index.yml is missing')
PY
