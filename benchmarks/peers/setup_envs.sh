#!/usr/bin/env bash
# Create the two peer virtualenvs used by the benchmarks (idempotent).
#
#   bash benchmarks/peers/setup_envs.sh            # both envs
#   bash benchmarks/peers/setup_envs.sh sim        # only .venv-bench-sim
#   bash benchmarks/peers/setup_envs.sh jax        # only .venv-bench-jax
#   bash benchmarks/peers/setup_envs.sh --force    # reinstall even if the stamp matches
#   BENCH_PYTHON=/path/to/python3.10 bash benchmarks/peers/setup_envs.sh   # choose the interpreter
#
# .venv-bench-sim : NEST 3.10.0 (PyPI manylinux wheel) + Brian2 2.9.0 (sdist, built here) + Cython
# .venv-bench-jax : jaxsnn 0.3.0 + jax/jaxlib 0.6.2 (CPU) + optax 0.2.8
# The envs live in the repository root (ignored by git via `.venv-*/`). Each gets a stamp file
# `.bench-stamp` holding the exact package spec; an env whose stamp matches is skipped, so a
# second run costs well under a second. Exits non-zero with the reason if something fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

# Versions: pinned, so that every run measures the same peers.
SIM_PKGS=("nest-simulator==3.10.0" "brian2==2.9.0" "cython>=3.0" "setuptools>=61" "numpy>=1.26,<2.3" "scipy" "matplotlib")
JAX_PKGS=("jaxsnn==0.3.0" "jax==0.6.2" "jaxlib==0.6.2" "optax==0.2.8" "numpy>=1.26,<2.3")
SIM_CHECK='import nest, brian2, Cython, numpy; print("nest", nest.__version__, "| brian2", brian2.__version__, "| cython", Cython.__version__, "| numpy", numpy.__version__)'
JAX_CHECK='import jax, jaxlib, optax, numpy, importlib.metadata as m; import jaxsnn.examples.event.yinyang_layered_event_prop; print("jaxsnn", m.version("jaxsnn"), "| jax", jax.__version__, "| jaxlib", jaxlib.__version__, "| optax", optax.__version__, "| numpy", numpy.__version__, "| backend", jax.default_backend())'
# Python minor versions to try, best first. All peer wheels exist for cp310 (and NEST/jaxlib for cp311).
WANT_MINORS=("3.10" "3.11")

FORCE=0
WHICH=()
for a in "$@"; do
  case "$a" in
    --force) FORCE=1 ;;
    sim|jax) WHICH+=("$a") ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "setup_envs: unknown argument '$a' (use: sim, jax, --force)" >&2; exit 2 ;;
  esac
done
[ ${#WHICH[@]} -eq 0 ] && WHICH=(sim jax)

log() { echo "[setup_envs] $*"; }
die() { echo "[setup_envs] ERROR: $*" >&2; exit 1; }

# Serialise concurrent invocations (two `make bench` at once would otherwise race on pip).
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/eventsim-bench-setup-$(id -u).lock"
  flock 9
fi

# ---- find a working interpreter: probe candidates by running them (pyenv shims may be broken) ----
probe() {  # probe CANDIDATE MINOR -> prints the path if it runs, has that minor version, venv and ensurepip
  local c="$1" minor="$2"
  [ -n "$c" ] || return 1
  "$c" -c "import sys, venv, ensurepip; assert '%d.%d' % sys.version_info[:2] == '$minor'; print(sys.executable)" 2>/dev/null
}
find_python() {
  if [ -n "${BENCH_PYTHON:-}" ]; then
    "$BENCH_PYTHON" -c 'import sys, venv, ensurepip; print(sys.executable)' 2>/dev/null \
      || die "BENCH_PYTHON=$BENCH_PYTHON does not run or lacks venv/ensurepip"
    return 0
  fi
  local pyroot="" minor c out
  if command -v pyenv >/dev/null 2>&1; then pyroot="$(pyenv root 2>/dev/null || true)"; fi
  for minor in "${WANT_MINORS[@]}"; do
    for c in "python$minor" ${pyroot:+$pyroot/versions/$minor*/bin/python$minor} \
             "$HOME"/.pyenv/versions/"$minor"*/bin/python"$minor" \
             /usr/local/bin/python"$minor" /usr/bin/python"$minor"; do
      [ -e "$c" ] || command -v "$c" >/dev/null 2>&1 || continue
      if out="$(probe "$c" "$minor")"; then echo "$out"; return 0; fi
    done
  done
  return 1
}

# ---- one env ----
make_env() {  # make_env NAME CHECK PKG...
  local name="$1" check="$2"; shift 2
  local venv="$ROOT/$name" stamp="$ROOT/$name/.bench-stamp"
  local spec="$* | python ${PYVER}"
  if [ $FORCE -eq 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$spec" ] && [ -x "$venv/bin/python" ]; then
    log "$name: up to date (stamp $name/.bench-stamp), skipped"
    return 0
  fi
  local t0=$SECONDS
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 \
     && [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = "$PYVER" ]; then
    log "$name: reusing existing virtualenv"
  else
    rm -rf "$venv"
    log "$name: creating virtualenv with $PY (Python $PYVER)"
    "$PY" -m venv "$venv" || die "$name: '$PY -m venv' failed"
  fi
  rm -f "$stamp"
  log "$name: upgrading pip/wheel"
  "$venv/bin/python" -m pip install --quiet --upgrade pip wheel \
    || die "$name: could not upgrade pip (is the package registry reachable?)"
  log "$name: installing $* (this can take a few minutes)"
  "$venv/bin/python" -m pip install --quiet "$@" \
    || die "$name: pip install failed for: $* (see pip's message above)"
  log "$name: checking imports"
  local msg
  msg="$("$venv/bin/python" -c "$check" 2>&1 | tail -n 1)" \
    || die "$name: installed, but the import check failed: $msg"
  case "$msg" in *Error*|*error*) die "$name: import check failed: $msg" ;; esac
  echo "$spec" > "$stamp"
  log "$name: ready in $((SECONDS - t0)) s: $msg"
}

T0=$SECONDS
PY="$(find_python)" || die "no usable Python ${WANT_MINORS[*]} found (tried PATH, \$(pyenv root)/versions, ~/.pyenv, /usr/local/bin, /usr/bin); set BENCH_PYTHON=/path/to/python3.10"
PYVER="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
log "using $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"

for w in "${WHICH[@]}"; do
  case "$w" in
    sim)
      # Brian2's cython and cpp_standalone targets (and its own sdist build) need a C++ compiler.
      command -v g++ >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1 \
        || die "no C++ compiler (g++) on PATH: Brian2 needs one (Debian: apt-get install g++)"
      make_env .venv-bench-sim "$SIM_CHECK" "${SIM_PKGS[@]}" ;;
    jax)
      make_env .venv-bench-jax "$JAX_CHECK" "${JAX_PKGS[@]}" ;;
  esac
done
log "done in $((SECONDS - T0)) s"
