#!/usr/bin/env bash
# Real music for the beat tracker's reference check (tests/test_beat_tracker.py,
# benchmarks/bench_beat_tracker.py): Debian's game-music packages asc-music (GPL-2+) and
# singularity-music (CC BY-SA), 19 tracks under /usr/share/games. Needs root and apt-get.
set -euo pipefail
pkgs=(asc-music singularity-music)
dpkg -s "${pkgs[@]}" >/dev/null 2>&1 && exit 0
[ "$(id -u)" = 0 ] || { echo "real-music: ${pkgs[*]} are not installed and this is not root: run 'sudo apt-get install ${pkgs[*]}'" >&2; exit 2; }
command -v apt-get >/dev/null || { echo "real-music: ${pkgs[*]} are not installed and there is no apt-get" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${pkgs[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${pkgs[@]}" >/dev/null; }
echo "real-music: installed ${pkgs[*]}"
