#!/usr/bin/env bash
# Install Distribox on this machine: packages, PostgreSQL database, the `distribox` system user,
# a release build of the binary, /etc/distribox/distribox.env and a running service.
#
# Usage (as root, from a clone of the repository):  bash install.sh
# Supported: Debian 12, Ubuntu 22.04 and later. Safe to re-run: it rebuilds, keeps the existing
# configuration, database and admin password, and restarts the service with the new binary.
#
# Environment read at install time (first install only, they end up in the env file):
#   DISTRIBOX_LISTEN        listen address, default 127.0.0.1:3000
#   DISTRIBOX_DOMAIN_TYPE   kvm | qemu, default: qemu when /dev/kvm is missing, else unset (auto)
#   DISTRIBOX_ADMIN_PASSWORD  password for `admin` when it is first created (else one is generated)
#   CARGO_TARGET_DIR        where cargo builds, default ./target
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ENV_DIR=/etc/distribox
ENV_FILE=$ENV_DIR/distribox.env
DATA_DIR=/var/lib/distribox
BIN=/usr/local/bin/distribox
PID_FILE=/run/distribox.pid
LOG_FILE=/var/log/distribox.log
UNIT_FILE=/etc/systemd/system/distribox.service
MIN_RUST=1.85

export DEBIAN_FRONTEND=noninteractive
export PATH=$PATH:/usr/sbin:/sbin

step() { printf '\n==> %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo bash install.sh)"

# --- Distribution ----------------------------------------------------------------------------
[ -r /etc/os-release ] || die "cannot read /etc/os-release"
# shellcheck disable=SC1091
OS_ID=$(. /etc/os-release && echo "${ID:-}")
# shellcheck disable=SC1091
OS_VERSION=$(. /etc/os-release && echo "${VERSION_ID:-}")
case $OS_ID in
    debian) dpkg --compare-versions "${OS_VERSION:-0}" ge 12 || die "Debian $OS_VERSION is too old (need 12)" ;;
    ubuntu) dpkg --compare-versions "${OS_VERSION:-0}" ge 22.04 || die "Ubuntu $OS_VERSION is too old (need 22.04)" ;;
    *) die "unsupported distribution '$OS_ID' (Debian 12 or Ubuntu 22.04+ only)" ;;
esac
# Debian 12: qemu-utils is taken from bookworm-backports, so qemu and libvirt must come from there
# too, all together so that their versions match.
BACKPORTS=
[ "$OS_ID" = debian ] && [ "$OS_VERSION" = 12 ] && BACKPORTS=bookworm-backports

HAS_SYSTEMD=
[ "$(ps -p 1 -o comm= 2>/dev/null || true)" = systemd ] && HAS_SYSTEMD=1

# --- Packages ---------------------------------------------------------------------------------
APT_UPDATED=
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -q "$@"; }
apt_update_once() { [ -n "$APT_UPDATED" ] || { apt_get update; APT_UPDATED=1; }; }
missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
    done
}

step "Installing packages"
VIRT_PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-dev)
# genisoimage builds each VM's cloud-init seed ISO; ovmf is the UEFI firmware images may ask for;
# dnsmasq-base serves DHCP and DNS on libvirt's `default` NAT network.
BASE_PACKAGES=(postgresql pkg-config build-essential curl ca-certificates git genisoimage ovmf dnsmasq-base)
if [ -z "$HAS_SYSTEMD" ]; then
    # libvirtd lets the libvirt group in through polkit, which it asks over the system D-Bus;
    # with systemd both are there already, without it we start D-Bus ourselves (see below).
    BASE_PACKAGES+=(dbus)
    if [ "$(apt-cache policy polkitd 2>/dev/null | sed -n 's/^ *Candidate: //p')" = "(none)" ]; then
        BASE_PACKAGES+=(policykit-1)
    else
        BASE_PACKAGES+=(polkitd)
    fi
fi
if [ -n "$BACKPORTS" ]; then
    if ! grep -Rqs --include='*.list' --include='*.sources' -E "^[^#]*${BACKPORTS}" \
        /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "deb http://deb.debian.org/debian $BACKPORTS main" >"/etc/apt/sources.list.d/$BACKPORTS.list"
        APT_UPDATED=
        apt_update_once
    fi
fi
mapfile -t missing_virt < <(missing_packages "${VIRT_PACKAGES[@]}")
mapfile -t missing_base < <(missing_packages "${BASE_PACKAGES[@]}")
if [ ${#missing_virt[@]} -gt 0 ]; then
    apt_update_once
    # All four together, so qemu and libvirt come from the same suite.
    apt_get install -y ${BACKPORTS:+-t "$BACKPORTS"} "${VIRT_PACKAGES[@]}"
fi
if [ ${#missing_base[@]} -gt 0 ]; then
    apt_update_once
    apt_get install -y "${missing_base[@]}"
fi
echo "system packages present"

# --- Rust -------------------------------------------------------------------------------------
# Distribox needs Rust >= 1.85. If cargo is missing: the distro's cargo/rustc when new enough;
# otherwise rustup. Ubuntu 24.04+ packages rustup (we run its rustup-init); Debian 12 has no rustup
# package and only rustc 1.63, so there we run the official installer from https://sh.rustup.rs.
# rustup-init installs into root's ~/.cargo/bin, which sudo's PATH usually lacks: add it (and
# /usr/lib/rustup/bin, where the distro rustup keeps its cargo/rustc proxies).
export PATH=$HOME/.cargo/bin:$PATH:/usr/lib/rustup/bin
apt_candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' | head -n1; }
if ! command -v cargo >/dev/null; then
    step "Installing Rust"
    apt_update_once
    rustc_candidate=$(apt_candidate rustc)
    rustup_candidate=$(apt_candidate rustup)
    if [ -n "$rustc_candidate" ] && [ "$rustc_candidate" != "(none)" ] &&
        dpkg --compare-versions "$rustc_candidate" ge "$MIN_RUST"; then
        apt_get install -y cargo rustc
    elif [ -n "$rustup_candidate" ] && [ "$rustup_candidate" != "(none)" ]; then
        apt_get install -y rustup
        if command -v rustup-init >/dev/null; then
            rustup-init -y --profile minimal --default-toolchain stable
        else
            rustup default stable
        fi
    else
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    fi
    command -v cargo >/dev/null || die "cargo is still not on PATH after installing Rust"
fi
rustc_version=$(rustc --version | awk '{print $2}')
dpkg --compare-versions "$rustc_version" ge "$MIN_RUST" ||
    die "rustc $rustc_version is older than $MIN_RUST: update it (e.g. rustup update stable)"
echo "using $(cargo --version)"

# --- Services: PostgreSQL, libvirt ------------------------------------------------------------
step "Starting PostgreSQL and libvirt"
wait_for() { # SECONDS DESCRIPTION COMMAND...
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 1
    done
    die "$what did not come up within ${seconds}s"
}
if [ -n "$HAS_SYSTEMD" ]; then
    systemctl enable --now postgresql libvirtd
    systemctl enable --now virtlogd 2>/dev/null || systemctl start virtlogd.socket ||
        warn "could not start virtlogd"
else
    if ! pg_isready -q; then
        pg_version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
        [ -n "$pg_version" ] || die "no PostgreSQL cluster found in /etc/postgresql"
        pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
    fi
    # The system D-Bus before libvirtd: libvirtd looks for it once, and without it refuses every
    # non-root client (polkit, D-Bus-activated, authorises the libvirt group).
    if [ ! -S /run/dbus/system_bus_socket ]; then
        install -d -m 0755 /run/dbus
        if [ -s /run/dbus/pid ] && ! kill -0 "$(cat /run/dbus/pid)" 2>/dev/null; then
            rm -f /run/dbus/pid # stale, or dbus-daemon refuses to start
        fi
        dbus-daemon --system --fork || warn "could not start the system D-Bus"
    fi
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
fi
wait_for 30 "PostgreSQL" pg_isready -q
wait_for 30 "libvirt" virsh -c qemu:///system list
echo "PostgreSQL and libvirt are up"

# --- User and directories ---------------------------------------------------------------------
step "Creating the distribox user and $DATA_DIR"
getent group distribox >/dev/null || groupadd --system distribox
if ! getent passwd distribox >/dev/null; then
    useradd --system --gid distribox --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "Distribox" distribox
fi
# libvirt: qemu:///system without polkit prompts; kvm: /dev/kvm, to detect hardware virtualisation;
# libvirt-qemu: the group libvirt gives images and disks while VMs use them (they are not
# readable by other users), so Distribox can still build new disks on a base image in use.
for group in libvirt kvm libvirt-qemu; do
    if getent group "$group" >/dev/null; then
        usermod -aG "$group" distribox
    else
        warn "group $group does not exist; distribox may not reach libvirt or /dev/kvm"
    fi
done
# QEMU runs as libvirt-qemu and must traverse these to reach images and disks; others may
# pass through but not list what is inside.
install -d -o distribox -g distribox -m 0711 "$DATA_DIR" "$DATA_DIR/images" "$DATA_DIR/vms"
# Images, disks and seeds from before they were kept from other users.
find "$DATA_DIR/images" "$DATA_DIR/vms" -type f -perm /o+r -exec chmod o-rwx {} +
find "$DATA_DIR/vms" -mindepth 1 -type d -exec chmod 0711 {} +

# --- Database ---------------------------------------------------------------------------------
step "Creating the PostgreSQL role and database"
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
if [ "$(as_postgres psql -XtAqc "SELECT 1 FROM pg_roles WHERE rolname = 'distribox'")" != 1 ]; then
    as_postgres createuser --login distribox
fi
if [ "$(as_postgres psql -XtAqc "SELECT 1 FROM pg_database WHERE datname = 'distribox'")" != 1 ]; then
    as_postgres createdb --owner distribox distribox
fi
# `distribox serve` run by root in the foreground connects as role root (peer authentication):
# let it act as distribox, and make whatever it creates belong to distribox too.
if [ "$(as_postgres psql -XtAqc "SELECT 1 FROM pg_roles WHERE rolname = 'root'")" != 1 ]; then
    as_postgres createuser --login root
fi
as_postgres psql -Xq -v ON_ERROR_STOP=1 -c "GRANT distribox TO root" \
    -c "ALTER ROLE root IN DATABASE distribox SET role = 'distribox'"
echo "database distribox owned by role distribox (peer authentication over the local socket)"

# --- Build ------------------------------------------------------------------------------------
step "Building the web app (web/, embedded into the binary)"
PATH="$("$REPO_DIR/scripts/ensure-node"):$PATH"
export PATH
(cd "$REPO_DIR/web" && npm ci --no-audit --no-fund --ignore-scripts && npm run build)

step "Building Distribox (release; this takes a few minutes the first time)"
target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}
build_started=$SECONDS
(cd "$REPO_DIR" && CARGO_TARGET_DIR=$target_dir cargo build --release --locked -p distribox-api)
echo "built in $((SECONDS - build_started))s"
# Install beside and rename: replacing a running executable in place fails with ETXTBSY.
install -m 0755 "$target_dir/release/distribox" "$BIN.new"
mv -f "$BIN.new" "$BIN"
echo "installed $BIN"

# --- Configuration ----------------------------------------------------------------------------
step "Configuration"
install -d -m 0755 "$ENV_DIR"
if [ ! -e "$ENV_FILE" ]; then
    listen=${DISTRIBOX_LISTEN:-127.0.0.1:3000}
    domain_type=${DISTRIBOX_DOMAIN_TYPE:-}
    # Without /dev/kvm guests can only run emulated (TCG).
    [ -z "$domain_type" ] && [ ! -e /dev/kvm ] && domain_type=qemu
    tmp_env=$(mktemp "$ENV_DIR/.distribox.env.XXXXXX")
    {
        echo "# Distribox configuration: KEY=value lines, read by the distribox service."
        echo "# Written by install.sh on $(date -u +%Y-%m-%d); install.sh never overwrites it."
        echo "# Every setting is described in README.md (Configuration)."
        echo "DISTRIBOX_LISTEN=$listen"
        echo "DISTRIBOX_DATA_DIR=$DATA_DIR"
        echo "#DISTRIBOX_DATABASE_URL=postgres:///distribox?host=/var/run/postgresql"
        echo "#DISTRIBOX_LIBVIRT_URI=qemu:///system"
        if [ -n "$domain_type" ]; then
            echo "DISTRIBOX_DOMAIN_TYPE=$domain_type"
        else
            echo "# kvm when /dev/kvm is usable, else qemu (software emulation, slow but always works)"
            echo "#DISTRIBOX_DOMAIN_TYPE=qemu"
        fi
        echo "#DISTRIBOX_ALLOWED_ORIGINS=https://lab.example.org"
        echo "#DISTRIBOX_CONSOLE_TICKET_TTL=30"
        echo "#DISTRIBOX_LOG=info"
        echo "#DISTRIBOX_LOG_FORMAT=json"
    } >"$tmp_env"
    chown root:distribox "$tmp_env"
    chmod 0640 "$tmp_env"
    mv "$tmp_env" "$ENV_FILE"
    echo "wrote $ENV_FILE"
else
    echo "keeping $ENV_FILE"
fi

# The env file as KEY=value words for env(1). Same syntax as systemd's EnvironmentFile for what we
# write: comments, blank lines, optional quotes around the value.
ENV_ARGS=()
while IFS= read -r line || [ -n "$line" ]; do
    line=${line#"${line%%[![:space:]]*}"}
    case $line in '' | '#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    if [[ ! $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || [ "$key" = "$line" ]; then
        warn "ignoring malformed line in $ENV_FILE: $line"
        continue
    fi
    if [[ $value =~ ^\"(.*)\"$ ]] || [[ $value =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
    ENV_ARGS+=("$key=$value")
done <"$ENV_FILE"
env_value() { # KEY DEFAULT: the env file's value of KEY
    local kv value=$2
    for kv in "${ENV_ARGS[@]}"; do
        [ "${kv%%=*}" = "$1" ] && value=${kv#*=}
    done
    echo "$value"
}
listen=$(env_value DISTRIBOX_LISTEN 127.0.0.1:3000)
if [ -n "${DISTRIBOX_LISTEN:-}" ] && [ "$DISTRIBOX_LISTEN" != "$listen" ]; then
    warn "DISTRIBOX_LISTEN=$DISTRIBOX_LISTEN ignored: $ENV_FILE (kept) says $listen"
fi

# Runs a command as distribox with a clean environment: PATH and the env file only.
as_distribox() {
    (cd / && exec setpriv --reuid=distribox --regid=distribox --init-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$DATA_DIR" LANG=C.UTF-8 NO_COLOR=1 "${ENV_ARGS[@]}" "$@")
}

# --- libvirt access ---------------------------------------------------------------------------
libvirt_uri=$(env_value DISTRIBOX_LIBVIRT_URI qemu:///system)
LIBVIRT_WARNING=
if ! libvirt_error=$(as_distribox virsh -c "$libvirt_uri" list 2>&1 >/dev/null); then
    LIBVIRT_WARNING="the distribox user cannot use $libvirt_uri: ${libvirt_error//$'\n'/ }"
    if [ -z "$HAS_SYSTEMD" ] && [[ $libvirt_error == *"system bus"* ]]; then
        LIBVIRT_WARNING+=$'\n  libvirtd was started before the system D-Bus (now running): restart it,'
        LIBVIRT_WARNING+=$'\n  e.g. kill $(pgrep -x libvirtd) && libvirtd -d   (running VMs keep running)'
    fi
    warn "$LIBVIRT_WARNING"
fi

# --- Migrations and the admin account ---------------------------------------------------------
step "Migrating the database and creating the admin account"
admin_args=()
[ -n "${DISTRIBOX_ADMIN_PASSWORD:-}" ] && admin_args=("DISTRIBOX_ADMIN_PASSWORD=$DISTRIBOX_ADMIN_PASSWORD")
admin_output=$(as_distribox "${admin_args[@]}" "$BIN" ensure-admin) || {
    printf '%s\n' "$admin_output" >&2
    die "distribox ensure-admin failed"
}
admin_password=$(printf '%s\n' "$admin_output" | sed -n 's/^admin password (shown once): //p')
printf '%s\n' "$admin_output" | grep -v '^admin password (shown once): ' || true
[ -z "$admin_password" ] || echo "created the admin account (password printed at the end)"

# --- Service ----------------------------------------------------------------------------------
step "Starting the service"
case $listen in
    0.0.0.0:*) probe_host=127.0.0.1 ;;
    "[::]:"*) probe_host="[::1]" ;;
    *) probe_host=${listen%:*} ;;
esac
port=${listen##*:}
case $probe_host in
    127.* | "[::1]" | localhost) url_host=localhost ;;
    *) url_host=$probe_host ;;
esac
URL="http://$url_host:$port"
HEALTH_URL="http://$probe_host:$port/healthz"

# Pids listening on the port (empty without ss, from iproute2).
port_holders() {
    command -v ss >/dev/null || return 0
    ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}
port_taken_by_other() { # OUR_PID: says who else listens on the port, if anyone
    local holder
    for holder in $(port_holders); do
        [ "$holder" = "${1:-}" ] && continue
        echo "pid $holder ($(ps -p "$holder" -o args= 2>/dev/null || echo '?'))"
        return 0
    done
    return 1
}

if [ -n "$HAS_SYSTEMD" ]; then
    if other=$(port_taken_by_other "$(systemctl show -p MainPID --value distribox 2>/dev/null)"); then
        die "$listen is already in use by $other: set DISTRIBOX_LISTEN in $ENV_FILE and re-run"
    fi
    cat >"$UNIT_FILE.tmp" <<EOF
[Unit]
Description=Distribox: share KVM virtual machines through the browser
Documentation=file://$REPO_DIR/README.md
After=network.target postgresql.service libvirtd.service
Wants=postgresql.service libvirtd.service

[Service]
User=distribox
Environment=NO_COLOR=1
Group=distribox
EnvironmentFile=$ENV_FILE
ExecStart=$BIN serve
Restart=on-failure
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$DATA_DIR
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes

[Install]
WantedBy=multi-user.target
EOF
    mv -f "$UNIT_FILE.tmp" "$UNIT_FILE"
    systemctl daemon-reload
    systemctl enable distribox
    # restart, not start: a re-run must pick up the binary just built.
    systemctl restart distribox
    LOGS="journalctl -u distribox"
else
    # No systemd: run in the background as distribox, pid in $PID_FILE, output in $LOG_FILE.
    # Our instance: $BIN (possibly replaced since: "(deleted)") running as distribox, so a reused
    # pid or another distribox (a developer's) is never touched.
    is_ours() {
        [ -n "$1" ] && [ "$(ps -p "$1" -o user= 2>/dev/null)" = distribox ] &&
            case $(readlink "/proc/$1/exe" 2>/dev/null) in "$BIN" | "$BIN (deleted)") true ;; *) false ;; esac
    }
    if [ -s "$PID_FILE" ]; then
        old_pid=$(cat "$PID_FILE")
        if is_ours "$old_pid"; then
            echo "stopping the previous instance (pid $old_pid)"
            kill -TERM "$old_pid" 2>/dev/null || true
            for _ in $(seq 1 20); do is_ours "$old_pid" || break; sleep 0.5; done
            if is_ours "$old_pid"; then
                warn "pid $old_pid did not stop on SIGTERM; killing it"
                kill -KILL "$old_pid" 2>/dev/null || true
                sleep 0.5
            fi
        fi
        rm -f "$PID_FILE"
    fi
    if other=$(port_taken_by_other); then
        die "$listen is already in use by $other: set DISTRIBOX_LISTEN in $ENV_FILE and re-run"
    fi
    touch "$LOG_FILE"
    chmod 0640 "$LOG_FILE"
    echo "--- $(date -u +%FT%TZ) install.sh starting distribox serve" >>"$LOG_FILE"
    nohup setpriv --reuid=distribox --regid=distribox --init-groups \
        env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$DATA_DIR" LANG=C.UTF-8 NO_COLOR=1 "${ENV_ARGS[@]}" \
        "$BIN" serve </dev/null >>"$LOG_FILE" 2>&1 &
    new_pid=$!
    echo "$new_pid" >"$PID_FILE"
    echo "started distribox serve (pid $new_pid)"
    LOGS="$LOG_FILE"
fi

# Wait (bounded) until the server answers.
healthy=
for _ in $(seq 1 60); do
    if curl -fsS -m 2 "$HEALTH_URL" >/dev/null 2>&1; then healthy=1; break; fi
    if [ -z "$HAS_SYSTEMD" ] && ! kill -0 "$new_pid" 2>/dev/null; then break; fi
    sleep 0.5
done
# Make sure it is our process that answered, not another one on the same port.
if [ -n "$healthy" ]; then
    if [ -n "$HAS_SYSTEMD" ]; then
        our_pid=$(systemctl show -p MainPID --value distribox)
    else
        our_pid=$new_pid
    fi
    if [ "${our_pid:-0}" = 0 ] || ! kill -0 "$our_pid" 2>/dev/null || other=$(port_taken_by_other "$our_pid"); then
        healthy=
        echo "something else answers on $listen: ${other:-our process exited}" >&2
    fi
fi
if [ -z "$healthy" ]; then
    if [ -n "$HAS_SYSTEMD" ]; then
        journalctl -u distribox -n 30 --no-pager >&2 || true
    else
        tail -n 30 "$LOG_FILE" >&2 || true
    fi
    die "distribox did not answer on $HEALTH_URL within 30s (logs: $LOGS)"
fi

# --- Done -------------------------------------------------------------------------------------
echo
echo "Distribox is running: $URL"
if [ -n "$admin_password" ]; then
    echo
    echo "  Log in as:  admin"
    echo "  Password:   $admin_password"
    echo
    echo "  This password is shown only once (only its hash is stored): write it down now."
elif [ -n "${DISTRIBOX_ADMIN_PASSWORD:-}" ]; then
    echo "Log in as admin: with DISTRIBOX_ADMIN_PASSWORD if this run created it, else its password is unchanged."
else
    echo "Log in as admin: its password was set on first install and is unchanged."
fi
echo "Configuration: $ENV_FILE"
echo "Logs:          $LOGS"
if [ -n "$LIBVIRT_WARNING" ]; then
    echo
    warn "VMs will not start until this is fixed: $LIBVIRT_WARNING"
fi
