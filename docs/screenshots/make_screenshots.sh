#!/bin/bash
# The labeler's screenshots in docs/screenshots/, as a reviewer sees them: a real X server (Xvfb)
# with a window manager (openbox), the train split with a label-issue report, a tag filter on,
# and a reviewer's keys sent with xdotool (Right, T, "whole person", Enter).
#
#   train-and-export --out /tmp/x --cross-val 5          # a model with a label-issue report
#   MODEL=/tmp/x docs/screenshots/make_screenshots.sh
#
# Needs Xvfb, openbox, xdotool, xwininfo and ImageMagick (import, convert).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=${PYTHON:-python}
MODEL=${MODEL:-$ROOT/models}
WORK=$(mktemp -d)

shoot() {  # display, screen WxH, output, extra labeler flags
  local n=$1 screen=$2 out=$3 extra=${4:-}
  export DISPLAY=:$n
  Xvfb :$n -screen 0 "${screen}x24" >/dev/null 2>&1 & local xpid=$!
  sleep 2
  openbox >/dev/null 2>&1 & local opid=$!
  sleep 2
  PYTHONPATH=$ROOT $PY "$ROOT/docs/screenshots/tag_store.py" "$MODEL" "$WORK/c-$n.sqlite"
  # A fresh settings folder: a first launch, sized to the screen.
  XDG_CONFIG_HOME=$WORK/cfg-$n FASHION_LABELER_DIR=$WORK/labeler-$n QT_QPA_PLATFORM=xcb PYTHONPATH=$ROOT \
    $PY -m gui.labeler_command --model "$MODEL" --split train --corrections "$WORK/c-$n.sqlite" \
    --show issues --sort quality --tag camisole $extra >"$WORK/app-$n.log" 2>&1 & local apid=$!
  local wid=""
  for _ in $(seq 1 120); do
    wid=$(xdotool search --name "train split" 2>/dev/null | head -1) && [ -n "$wid" ] && break
    sleep 1
  done
  sleep 3
  xdotool windowmove "$wid" 0 0; sleep 1
  xdotool windowactivate --sync "$wid" 2>/dev/null || true; sleep 1
  xdotool key --window "$wid" Right; sleep 0.5
  xdotool key --window "$wid" t; sleep 1.5
  xdotool type --delay 60 "whole person"; sleep 0.5
  xdotool key Return; sleep 6.5  # past the "tagged" message, so the status line's facts show
  import -window root "$WORK/root.png"
  convert "$WORK/root.png" -crop "$(xwininfo -id "$wid" | awk '/Width/{w=$2}/Height/{h=$2}END{print w"x"h}')+0+0" \
    +repage "$out"
  kill $apid; sleep 1; kill $opid $xpid
}

shoot 91 1280x800 "$ROOT/docs/screenshots/labeler-1280x800-tags.png"
shoot 92 1024x768 "$ROOT/docs/screenshots/labeler-1024x700-tags.png" "--size 1024x700"
