#!/usr/bin/env bash
# Installs corral: binaries, systemd units, the D-Bus activation file and bus policy, then
# reloads systemd and D-Bus. Usage: tools/install.sh [PREFIX]   (default /usr/local)
# Builds with Bazel first unless CORRAL_BIN_DIR names a directory with the built binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
bindir=$prefix/bin

if [ -n "${CORRAL_BIN_DIR:-}" ]; then
  bin=$CORRAL_BIN_DIR
else
  bazel build -c opt //dbus:corrald //tools:corralctl //tools:corral-run //tools:corral-oci 2>&1 | tail -1
  bin=bazel-bin
fi

install -d "$bindir" "$prefix/libexec/corral" /etc/systemd/system /usr/share/dbus-1/system-services /usr/share/dbus-1/system.d \
  "$prefix/share/doc/corral"
# corral's state is root's: the top directories only traversable (0711), the container and image
# state not even that; /run/corral/containers stays traversable, since the root of an
# unprivileged container resolves its own run directory (0710 root:BASE) from the host's side. Older versions made them 0755, which let any user walk to an image's
# setuid binaries and run them as root (the moby CVE-2021-41091 class): an upgrade closes them.
# Only these directories change; the trees of images and containers keep their modes.
install -d -m 0711 /var/lib/corral /run/corral
chmod 0711 /var/lib/corral /run/corral
for dir in /var/lib/corral/containers /var/lib/corral/images; do
  if [ -d "$dir" ] && [ ! -L "$dir" ]; then chmod 0700 "$dir"; fi
done
if [ -d /run/corral/containers ] && [ ! -L /run/corral/containers ]; then chmod 0711 /run/corral/containers; fi
for dir in /var/lib/corral/images/*/; do
  dir=${dir%/}
  if [ -d "$dir" ] && [ ! -L "$dir" ]; then chmod 0700 "$dir"; fi
done
install -m 0755 "$bin/dbus/corrald" "$bin/tools/corralctl" "$bin/tools/corral-run" "$bin/tools/corral-oci" "$bindir/"
# corralctl runs its D-Bus client from here for every verb but root's exec (tools/ctl/front.cc).
install -m 0755 "$bin/tools/corralctl-dbus" "$prefix/libexec/corral/"
for unit in corrald.service corral@.service; do
  sed "s|@BINDIR@|$bindir|g" "units/$unit" > "/etc/systemd/system/$unit"
done
install -m 0644 units/org.corral1.service /usr/share/dbus-1/system-services/
install -m 0644 units/org.corral1.conf /usr/share/dbus-1/system.d/
install -m 0644 README.md "$prefix/share/doc/corral/"
# The alias makes D-Bus activation (SystemdService=dbus-org.corral1.service) find corrald.
ln -sf corrald.service /etc/systemd/system/dbus-org.corral1.service

if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  # The bus re-reads its policy; without this the new policy applies only after a restart.
  busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null 2>&1 || true
fi
echo "installed corral into $prefix"
