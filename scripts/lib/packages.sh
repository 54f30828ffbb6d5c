# shellcheck shell=bash
# What scripts/run and scripts/test need on the machine, installed when it is missing.
#
# Sourced, not run. `need COMMAND PACKAGE` notes a Debian package to install when COMMAND is not on the
# PATH; `install_needed WHY` installs the noted ones with apt-get (as root, or through sudo when it is
# there), or else exits 1 with one message naming them. `ensure_uv` installs uv from PyPI when missing.
# TIDINGS_APT_DRY_RUN=1 asks apt-get what it would do (`apt-get -s`) and installs nothing.

tidings_missing=()

need() {
  command -v "$1" >/dev/null 2>&1 || tidings_missing+=("$2")
}

# the commands apt-get runs with: nothing as root, sudo otherwise; fails when neither can install
_tidings_apt_prefix() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$(id -u)" = 0 ]; then
    tidings_apt=()
  elif command -v sudo >/dev/null 2>&1; then
    tidings_apt=(sudo)
  else
    return 1
  fi
}

install_needed() {
  local why="$1"
  [ ${#tidings_missing[@]} -eq 0 ] && return 0
  local packages
  # a package noted twice (by two commands) is installed once
  packages=$(printf '%s\n' "${tidings_missing[@]}" | awk '!seen[$0]++' | tr '\n' ' ')
  packages=${packages% }
  if ! _tidings_apt_prefix; then
    echo "$why needs these packages, which are not installed: $packages" >&2
    echo "install them (Debian/Ubuntu: apt-get install $packages) or your system's equivalents, then run this again" >&2
    exit 1
  fi
  # shellcheck disable=SC2086  # one word per package
  if [ -n "${TIDINGS_APT_DRY_RUN:-}" ]; then
    echo "would install: $packages (apt-get -s, nothing is changed)" >&2
    "${tidings_apt[@]}" apt-get -s install -y --no-install-recommends $packages
    return 0
  fi
  echo "installing $packages (for $why)" >&2
  "${tidings_apt[@]}" apt-get update -qq
  "${tidings_apt[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends $packages >/dev/null
  tidings_missing=()
}

# uv from PyPI, into a virtual environment of its own when the system Python refuses `pip install`
# (Debian's Python is "externally managed")
ensure_uv() {
  command -v uv >/dev/null 2>&1 && return 0
  local home="${TIDINGS_CACHE_DIR:-$HOME/.cache/tidings}/uv"
  if [ ! -x "$home/bin/uv" ]; then
    if ! python3 -c "import ensurepip" >/dev/null 2>&1; then
      tidings_missing=(python3-venv)
      install_needed "installing uv"
    fi
    echo "installing uv from PyPI into $home" >&2
    python3 -m venv "$home"
    "$home/bin/python" -m pip install -q uv
  fi
  export PATH="$home/bin:$PATH"
}
