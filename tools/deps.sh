#!/usr/bin/env bash
# Installs every Debian package corral's build, tests, demo and benchmarks need.
# Idempotent and quick when everything is already there: apt-get runs only for what is missing.
set -euo pipefail

packages=(
  # build
  bazel-bootstrap bazel-platforms g++ libc6-dev
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libseccomp-dev libsystemd-dev libcap-dev libmnl-dev libnftables-dev nlohmann-json3-dev
  zlib1g-dev libzstd-dev  # gzip and zstd OCI image layers (tools/images/oci)
  # fuzzing (tools/fuzz.sh: clang with libFuzzer) and the sanitizer run (gcc's libasan, libubsan)
  clang libclang-rt-14-dev libasan8 libubsan1
  # run time and tests
  busybox-static iproute2 nftables util-linux procps psmisc debootstrap
  podman containerd docker.io  # clients of corral-oci in tests/system/oci_*_test.sh
  skopeo docker-registry zstd  # image pull and tests/system/oci_image_test.sh (registry on loopback)
  systemd systemd-container dbus kmod libglib2.0-bin
  # peers for the side-by-side benchmarks
  crun containernetworking-plugins iptables python3 gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Update the lists only when an install is needed: a fresh machine has none.
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: all ${#packages[@]} packages present"
