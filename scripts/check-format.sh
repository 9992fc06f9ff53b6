#!/bin/bash
# Fails if any C file of the project differs from what clang-format makes of it.
# Usage: check-format.sh SOURCE_ROOT
set -u
root=${1:-.}
command -v clang-format >/dev/null || { echo "clang-format is not installed"; exit 77; }
cd "$root" || exit 1
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ "${#files[@]}" -gt 0 ] || { echo "no C files found under $root"; exit 1; }
bad=0
for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done
[ $bad -eq 0 ] && echo "format ok: ${#files[@]} files"
exit $bad
