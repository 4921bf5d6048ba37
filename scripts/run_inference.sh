#!/usr/bin/env bash
# Run the ExoWaveNet transit detector (`exowavenet detect`) over light-curve files and folders -> JSON report.
#
#   scripts/run_inference.sh [--model NAME|PATH] [--threshold T] [--out report.json] FILE_OR_DIR...
#
# The last step of the guide's prepare (scripts/prepare_data.py) -> train (scripts/train_pretrained.py) -> infer
# pipeline. Folders are searched (not recursively) for *.fits, *.fits.gz, *.csv and *.npz light curves. Without
# --out the JSON goes to stdout. The exit status is that of `exowavenet detect` (1 if some file failed to load).
# EXOWAVENET overrides the command (default: .venv/bin/exowavenet next to this script, else exowavenet on PATH).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe="${EXOWAVENET:-}"
if [[ -z "$exe" ]]; then
  if [[ -x "$root/.venv/bin/exowavenet" ]]; then exe="$root/.venv/bin/exowavenet"; else exe="exowavenet"; fi
fi

usage() { sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }

opts=() files=() out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model|--threshold) [[ $# -ge 2 ]] || usage; opts+=("$1" "$2"); shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage; out="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option: $1" >&2; usage ;;
    *)
      if [[ -d "$1" ]]; then
        shopt -s nullglob
        found=("$1"/*.fits "$1"/*.fits.gz "$1"/*.csv "$1"/*.npz)
        shopt -u nullglob
        [[ ${#found[@]} -gt 0 ]] || { echo "no light-curve files in $1" >&2; exit 2; }
        files+=("${found[@]}")
      else
        files+=("$1")
      fi
      shift ;;
  esac
done
[[ ${#files[@]} -gt 0 ]] || usage

if [[ -n "$out" ]]; then
  mkdir -p "$(dirname "$out")"
  status=0
  "$exe" detect "${opts[@]}" "${files[@]}" > "$out.tmp" || status=$?
  mv "$out.tmp" "$out"
  echo "wrote $out (${#files[@]} file(s))" >&2
  exit "$status"
fi
exec "$exe" detect "${opts[@]}" "${files[@]}"
