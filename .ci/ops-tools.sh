# Sourced by .ci/run before the tests: the tools the packaging and reverse-proxy tests drive
# (crates/cli/tests/it/package.rs and proxy.rs). Idempotent and quiet; uses .ci/run's
# apt_install. Under CI those tests fail rather than skip when a tool is missing.
ops_missing=""
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || ops_missing="$ops_missing nginx-light"
command -v openssl >/dev/null 2>&1 || ops_missing="$ops_missing openssl"
command -v curl >/dev/null 2>&1 || ops_missing="$ops_missing curl"
command -v dpkg-deb >/dev/null 2>&1 || ops_missing="$ops_missing dpkg"
# setpriv and unshare (the package test runs the maintainer script in a mount namespace).
command -v setpriv >/dev/null 2>&1 || ops_missing="$ops_missing util-linux"
command -v adduser >/dev/null 2>&1 || [ -x /usr/sbin/adduser ] || ops_missing="$ops_missing adduser"
# systemd-analyze checks the unit file (systemd is installed, not started).
command -v systemd-analyze >/dev/null 2>&1 || ops_missing="$ops_missing systemd"
if [ -n "$ops_missing" ]; then
  log "installing$ops_missing"
  # Installing nginx must not start it (port 80 is not the tests'): policy-rc.d says no, unless
  # the machine has a policy of its own.
  ops_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    ops_policy=yes
  fi
  # shellcheck disable=SC2086
  apt_install $ops_missing
  if [ -n "$ops_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
  unset ops_policy
fi
unset ops_missing
