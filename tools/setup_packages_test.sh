#!/usr/bin/env bash
# Fails when a fresh machine could not build //... after `tools/setup.sh`:
# every library that third_party/BUILD links (-lNAME) and every system header
# the project's code includes must belong to a Debian package that setup.sh's
# default list installs, itself or through its dependencies.
#
# Resolution is the compiler's own: `g++ -print-file-name` for libraries and
# `g++ -M` for headers (so transitive includes count too), then `dpkg -S` for
# the owner. It reads this machine's dpkg database, so it is tagged
# "external" (never cached) in tools/BUILD.
set -uo pipefail

# The runfile is a symlink into the source tree; its target tells us the
# workspace root, whose sources are not all in one Bazel package.
self=$(readlink -f "${BASH_SOURCE[0]}")
root=$(cd "$(dirname "$self")/.." && pwd)
setup="$root/tools/setup.sh"
build="$root/third_party/BUILD"
[[ -f "$setup" && -f "$build" ]] || {
  echo "cannot find tools/setup.sh and third_party/BUILD from $self" >&2
  exit 1
}

# The default package list: the first `packages=( ... )` array in setup.sh.
mapfile -t listed < <(awk '/^packages=\(/{f=1;next} f&&/^\)/{exit} f' "$setup" |
  sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$')
[[ ${#listed[@]} -gt 0 ]] || { echo "no default package list in $setup" >&2; exit 1; }

# What apt installs for that list: the Depends/Pre-Depends closure, taking
# the first alternative (apt's choice), over the installed packages.
declare -A installed_by_setup=()
queue=("${listed[@]}")
while [[ ${#queue[@]} -gt 0 ]]; do
  p=${queue[0]}; queue=("${queue[@]:1}")
  p=${p%%:*}
  [[ -n "$p" && -z "${installed_by_setup[$p]:-}" ]] || continue
  installed_by_setup[$p]=1
  deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null) || continue
  while IFS= read -r dep; do
    first=$(echo "$dep" | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g')
    [[ -n "$first" ]] && queue+=("$first")
  done < <(echo "$deps" | tr ',' '\n')
done
# Virtual packages (libc-dev, ...) resolve to their providers.
while IFS=' ' read -r pkg provides; do
  for v in $(echo "$provides" | tr ',' ' ' | sed 's/([^)]*)//g'); do
    [[ -n "${installed_by_setup[$v]:-}" ]] && installed_by_setup[$pkg]=1
  done
done < <(dpkg-query -W -f='${Package} ${Provides}\n' 2>/dev/null | awk 'NF>1')

failures=0
check_owner() {  # $1 = what needs it, $2 = file
  local owner
  owner=$(dpkg -S "$2" 2>/dev/null | head -n 1 | cut -d: -f1)
  if [[ -z "$owner" ]]; then
    owner=$(dpkg -S "$(readlink -f "$2")" 2>/dev/null | head -n 1 | cut -d: -f1)
  fi
  if [[ -z "$owner" ]]; then
    echo "FAIL: $1 resolves to $2, which no Debian package owns;" \
         "install it from a package and add that package to tools/setup.sh"
    failures=$((failures + 1))
  elif owner=${owner%%,*}; [[ -z "${installed_by_setup[$owner]:-}" ]]; then
    echo "FAIL: $1 needs $2 from package '$owner'," \
         "which tools/setup.sh does not install by default; add it to the packages=( ... ) list"
    failures=$((failures + 1))
  fi
}

# 1. Libraries.
libs=$(grep -o '"-l[A-Za-z0-9_+.-]*"' "$build" | tr -d '"' | sed 's/^-l//' | sort -u)
nlibs=0
for lib in $libs; do
  path=$(g++ -print-file-name="lib$lib.so")
  [[ "$path" == /* ]] || path=$(g++ -print-file-name="lib$lib.a")
  if [[ "$path" != /* ]]; then
    echo "FAIL: -l$lib (third_party/BUILD) is not found by g++; install its -dev package via tools/setup.sh"
    failures=$((failures + 1))
    continue
  fi
  check_owner "-l$lib" "$(realpath -s "$path")"
  nlibs=$((nlibs + 1))
done

# 2. Headers: every <...> include in our code, resolved by the compiler.
tu=$(mktemp "${TEST_TMPDIR:-/tmp}/includes.XXXXXX.cc")
trap 'rm -f "$tu"' EXIT
(cd "$root" && git ls-files '*.h' '*.cc' 2>/dev/null ||
  find . -path ./third_party -prune -o \( -name '*.h' -o -name '*.cc' \) -print) |
  grep -v '^third_party/' |
  (cd "$root" && xargs grep -h '^#include <' ) | sort -u > "$tu"
# Headers that are only valid inside Highway's per-target include loop.
sed -i '/hwy\/foreach_target.h/d; /hwy\/highway.h/d; /-inl.h>/d' "$tu"
nheaders=$(wc -l < "$tu")
deps=$(g++ -std=c++17 -M -MT x -I"$root" -x c++ "$tu" 2>&1) || {
  echo "FAIL: the system headers our code includes do not all resolve:"
  echo "$deps" | grep -m 5 'error'
  echo "install the missing -dev packages and add them to tools/setup.sh"
  exit 1
}
mapfile -t files < <(echo "$deps" | tr ' \\' '\n\n' | grep '^/usr/' |
  xargs -r realpath -s | sort -u)
# One dpkg call for all of them: "pkg[:arch][, pkg2]: /path" per owned file.
declare -A owner_of=()
while IFS= read -r line; do
  owner_of[${line#*: }]=${line%%: *}
done < <(dpkg -S "${files[@]}" 2>/dev/null)
for f in "${files[@]}"; do
  owner=${owner_of[$f]:-}
  owner=${owner%%,*}; owner=${owner%%:*}
  if [[ -z "$owner" ]]; then
    check_owner "#include" "$f"  # dpkg may list it under /lib or a link
  elif [[ -z "${installed_by_setup[$owner]:-}" ]]; then
    echo "FAIL: #include needs $f from package '$owner'," \
         "which tools/setup.sh does not install by default; add it to the packages=( ... ) list"
    failures=$((failures + 1))
  fi
done

echo "checked $nlibs libraries and $nheaders include lines (${#files[@]} header files)" \
     "against ${#listed[@]} packages in tools/setup.sh"
if [[ $failures -gt 0 ]]; then
  echo "$failures problem(s): a fresh machine would fail to build; see above"
  exit 1
fi
echo "every library and header comes from a package tools/setup.sh installs"
