#!/usr/bin/env bash
# Install the named Debian packages that are missing, when this machine uses apt and we may install.
# Prints what it does; never fails the build on a machine without apt (e.g. macOS), only warns.
set -u
missing=()
if ! command -v dpkg-query >/dev/null 2>&1; then
  exit 0
fi
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "warning: missing system packages: ${missing[*]} (install them with apt-get)" >&2; exit 0; fi
echo "Installing system packages: ${missing[*]}"
$SUDO apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
  || echo "warning: could not install ${missing[*]}" >&2
exit 0
