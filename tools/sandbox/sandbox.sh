#!/usr/bin/env bash
# A throwaway systemd for system tests and the demo on machines whose PID 1 is not systemd
# (DESIGN.md, "Testing tiers" 3): systemd boots as PID 1 of its own pid, mount, net, uts, ipc
# and cgroup namespaces, over an overlay of the host root with a tmpfs upper layer, inside one
# cgroup subtree of ours in every hierarchy. Nothing of the host is remounted; tear-down is
# killing that PID 1 and one recursive rmdir per hierarchy.
#
#   sandbox.sh start STATE_DIR [--unified] [--bind PATH]...
#                                                  boot it; binds PATHs at the same place inside;
#                                                  --unified: systemd sees only cgroup2 (a pure
#                                                  cgroup v2 host, what most users run) instead of
#                                                  the host's layout
#   sandbox.sh run STATE_DIR [--] CMD...           CMD inside, as a transient unit; its exit status
#   sandbox.sh shell STATE_DIR                     a shell inside (nsenter), for debugging
#   sandbox.sh stop STATE_DIR                      kill it and remove everything it made
set -euo pipefail

die() { echo "sandbox: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root"

# /proc/self/mountinfo lines as "FSTYPE MOUNTPOINT SUPEROPTIONS" (the optional fields before
# the "-" separator vary in number, so fields are found from it).
mounts() {
  awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $(i + 1), $5, $(i + 3); next } }' /proc/self/mountinfo
}

# The cgroup directories of the subtree, one per hierarchy, for the launcher with PID $1:
# "<mount point><launcher's cgroup>/corral-sandbox-<pid>". The launcher's own cgroup is the
# parent, never the hierarchy's root unless that is where the launcher already is.
subtree_dirs() {
  local launcher=$1 id controllers path mount
  while IFS=: read -r id controllers path; do
    if [ "$id" = 0 ]; then
      mount=$(mounts | awk '$1 == "cgroup2" {print $2; exit}')
    else
      mount=$(mounts | awk -v want="$controllers" '
        $1 == "cgroup" {
          n = split($3, opts, ","); m = split(want, need, ","); found = 0
          for (i = 1; i <= m; i++) for (j = 1; j <= n; j++) if (opts[j] == need[i]) found++
          if (found == m) { print $2; exit }
        }')
    fi
    [ -n "$mount" ] || continue
    echo "$mount${path%/}/corral-sandbox-$launcher"
  done < "/proc/$launcher/cgroup"
}

# Makes the subtree; cpuset needs its parent's cpus and mems or joining it fails (ENOSPC).
make_subtree() {
  local dir
  for dir in "$@"; do
    mkdir "$dir"
    if [ -e "$dir/cpuset.cpus" ]; then
      cat "$dir/../cpuset.cpus" > "$dir/cpuset.cpus"
      cat "$dir/../cpuset.mems" > "$dir/cpuset.mems"
    fi
  done
}

remove_subtree() {
  local dir attempt
  for dir in "$@"; do
    [ -d "$dir" ] || continue
    for attempt in $(seq 50); do
      find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$dir" ] || break
      sleep 0.1
    done
    [ -d "$dir" ] && echo "sandbox: could not remove $dir" >&2
  done
  return 0
}

# PID 1 of the sandbox, as the host sees it: the process of our subtree whose NSpid ends in 1.
find_pid1() {
  local procs=$1 pid
  for pid in $(cat "$procs" 2>/dev/null); do
    if awk '/^NSpid:/ { exit !($NF == 1 && NF > 2) }' "/proc/$pid/status" 2>/dev/null; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

# ---- inside: runs as PID 1 of the new namespaces, sets up the root and becomes systemd ----
inside() {
  local state=$1; shift
  local layout=$1; shift
  local top=$state/root
  mkdir -p "$top"
  mount -t tmpfs -o mode=0755 sandbox "$top"
  mkdir -p "$top/upper" "$top/work" "$top/merged"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$top/upper,workdir=$top/work" "$top/merged"
  local new=$top/merged

  mount -t proc proc "$new/proc"
  # Most of /proc/sys is the host's kernel, not a namespace's: read-only, so nothing booting in
  # here (systemd-sysctl applying sysctl.d, say) changes the host. /proc/sys/net belongs to the
  # sandbox's own network namespace and stays writable (corrald sets ip_forward there).
  mount --bind "$new/proc/sys" "$new/proc/sys"
  mount --bind "$new/proc/sys/net" "$new/proc/sys/net"
  mount -o remount,bind,ro "$new/proc/sys"
  # A second proc instance with nothing mounted over it, in a root-only directory nothing
  # looks at: the kernel lets a user namespace mount a fresh proc only where one is fully
  # visible already (nothing over a non-empty directory of it), and the binds above cover
  # /proc/sys. Containers run in their own user namespaces by default and mount their own proc;
  # on a normal host /proc itself is unobstructed.
  mkdir -p "$new/run/sandbox-host"
  chmod 0700 "$new/run/sandbox-host"
  mkdir -p "$new/run/sandbox-host/proc"
  mount -t proc proc "$new/run/sandbox-host/proc"
  mount -t sysfs sysfs "$new/sys"
  # Fresh cgroup mounts in the same layout as the host's (hybrid here), rooted at our subtree
  # because the cgroup namespace was unshared inside it; or, unified, cgroup2 alone on
  # /sys/fs/cgroup. (On a hybrid host the v2 hierarchy has no controllers of its own, so a
  # unified sandbox there has no memory or pids limits; device filters, which are BPF
  # programs, need none.)
  local fstype target options
  if [ "$layout" = unified ]; then
    mount -t cgroup2 cgroup2 "$new/sys/fs/cgroup"
  else
    mount -t tmpfs -o mode=0755 cgroup "$new/sys/fs/cgroup"
    while read -r fstype target options; do
      mkdir -p "$new$target"
      if [ "$fstype" = cgroup2 ]; then
        mount -t cgroup2 cgroup2 "$new$target"
      else
        mount -t cgroup -o "$options" cgroup "$new$target"
      fi
    done < <(mounts | awk '$1 == "cgroup" || $1 == "cgroup2" {
               n = split($3, o, ","); keep = ""
               for (i = 1; i <= n; i++) if (o[i] != "rw" && o[i] != "ro") keep = keep (keep ? "," : "") o[i]
               print $1, $2, (keep ? keep : "none") }')
  fi

  mount -t tmpfs -o mode=0755,nosuid dev "$new/dev"
  local node
  # fuse for the device tests (corralctl create --device /dev/fuse), where the host has it;
  # loop-control for sized volumes (their loop device nodes are made by corrald, no devtmpfs).
  for node in null zero full random urandom tty fuse loop-control; do
    [ -e "/dev/$node" ] || continue
    touch "$new/dev/$node"
    mount --bind "/dev/$node" "$new/dev/$node"
  done
  mkdir -p "$new/dev/pts" "$new/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$new/dev/pts"
  ln -s pts/ptmx "$new/dev/ptmx"
  mount -t tmpfs -o mode=1777,nosuid,nodev shm "$new/dev/shm"
  ln -s /proc/self/fd "$new/dev/fd"

  local path
  for path in "$@"; do
    [ -e "$path" ] || continue
    mkdir -p "$new$path"
    mount --rbind "$path" "$new$path"
  done

  # Only what the tests need: no host services (postgresql, cron, ...), no gettys.
  mkdir -p "$new/etc/systemd/system"
  local unit
  for unit in systemd-sysctl.service postgresql.service e2scrub_reap.service cron.service ssh.service getty@.service \
              console-getty.service systemd-networkd.service systemd-resolved.service \
              systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer man-db.timer \
              e2scrub_all.timer fstrim.timer logrotate.timer; do
    ln -sf /dev/null "$new/etc/systemd/system/$unit"
  done
  echo corral-sandbox > "$new/etc/hostname"
  hostname corral-sandbox

  cd "$new"
  mkdir -p .oldroot
  pivot_root . .oldroot
  umount -l /.oldroot
  rmdir /.oldroot 2>/dev/null || true
  exec env -i container=corral-sandbox PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --unit=basic.target
}

start() {
  local state=$1; shift
  local binds=() layout=host
  while [ $# -gt 0 ]; do
    case $1 in
      --bind) binds+=("$2"); shift 2 ;;
      --unified) layout=unified; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  mkdir -p "$state"
  [ ! -e "$state/launcher" ] || die "$state holds a sandbox already; stop it first"
  local self
  self=$(readlink -f "$0")

  # The launcher: joins the subtree, then unshares (the cgroup namespace last, so its root is
  # the subtree) and runs `inside` as the new PID 1.
  local dirs
  mapfile -t dirs < <(subtree_dirs $$)
  make_subtree "${dirs[@]}"
  printf '%s\n' "${dirs[@]}" > "$state/cgroups"
  (
    for dir in "${dirs[@]}"; do echo "$BASHPID" > "$dir/cgroup.procs"; done
    exec setsid unshare --pid --mount --net --uts --ipc --cgroup --fork --propagation private \
      "$self" __inside "$state" "$layout" "${binds[@]}" </dev/null >"$state/console.log" 2>&1
  ) &
  echo $! > "$state/launcher"

  local procs pid1="" i
  procs=$(grep -m1 unified "$state/cgroups" || head -1 "$state/cgroups")/cgroup.procs
  for i in $(seq 100); do
    pid1=$(find_pid1 "$procs") && break
    sleep 0.05
  done
  if [ -z "$pid1" ]; then
    echo "sandbox: the sandbox's PID 1 did not appear; its console:" >&2
    tail -30 "$state/console.log" >&2 || true
    stop "$state"
    exit 1
  fi
  echo "$pid1" > "$state/pid1"

  # systemctl fails at once until systemd's private socket exists; then --wait waits for boot.
  local status="" deadline=$((SECONDS + 60))
  while [ $SECONDS -lt $deadline ]; do
    status=$(timeout 60 nsenter -t "$pid1" -a systemctl is-system-running --wait 2>/dev/null || true)
    case $status in running | degraded | maintenance | stopping) break ;; esac
    kill -0 "$pid1" 2>/dev/null || break
    sleep 0.1
  done
  case $status in
    running) ;;
    degraded)
      echo "sandbox: systemd is degraded; failed units:" >&2
      nsenter -t "$pid1" -a systemctl --failed --no-legend >&2 || true ;;
    *)
      echo "sandbox: systemd did not come up (state: ${status:-none}); its console:" >&2
      tail -30 "$state/console.log" >&2 || true
      stop "$state"
      exit 1 ;;
  esac
  echo "sandbox: systemd is up as PID $pid1 (state $status)"
}

run() {
  local state=$1; shift
  [ "${1:-}" = -- ] && shift
  local pid1
  pid1=$(cat "$state/pid1" 2>/dev/null) || die "no sandbox in $state"
  # A transient unit, so the command and every cgroup it makes live under the sandbox's
  # systemd (a process entered with nsenter keeps the cgroups of whoever ran nsenter).
  # systemd expands $VAR and ${VAR} in a unit's command line; "$$" is its escape for "$", so
  # doubling every "$" hands CMD over verbatim.
  local args=("${@//\$/\$\$}")
  exec nsenter -t "$pid1" -a systemd-run --quiet --wait --pipe --collect --service-type=exec \
    -p Delegate=no -E HOME=/root -E "TERM=${TERM:-dumb}" -- "${args[@]}"
}

shell() {
  local state=$1
  exec nsenter -t "$(cat "$state/pid1")" -a /bin/bash -l
}

stop() {
  local state=$1
  [ -d "$state" ] || return 0
  local pid1 launcher
  pid1=$(cat "$state/pid1" 2>/dev/null || true)
  launcher=$(cat "$state/launcher" 2>/dev/null || true)
  # Only our own processes: the sandbox's PID 1 takes its whole PID namespace with it.
  if [ -n "$pid1" ] && grep -q corral-sandbox- "/proc/$pid1/cgroup" 2>/dev/null; then kill -KILL "$pid1" 2>/dev/null || true; fi
  if [ -n "$launcher" ]; then
    for _ in $(seq 100); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.05; done
  fi
  if [ -f "$state/cgroups" ]; then
    local dirs
    mapfile -t dirs < "$state/cgroups"
    remove_subtree "${dirs[@]}"
  fi
  rm -rf "$state"
}

command=${1:-}
[ $# -ge 2 ] || die "usage: sandbox.sh start|run|shell|stop STATE_DIR ..."
shift
case $command in
  start) start "$@" ;;
  run) run "$@" ;;
  shell) shell "$@" ;;
  stop) stop "$@" ;;
  __inside) inside "$@" ;;
  *) die "unknown command $command" ;;
esac
