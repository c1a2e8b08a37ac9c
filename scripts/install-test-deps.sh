#!/usr/bin/env bash
# Installs what the full test suite needs beyond Go: the services behind
# the AWS-driver storage tests (MariaDB as the MySQL-compatible database,
# versitygw as the S3-compatible object store) and headless Chromium for the
# annual report's HTML test (verifier/report). Idempotent: anything
# already present is skipped. Debian packages and Go modules only.
#
# Debian packages, one a line (add new ones here):
set -euo pipefail
APT_PACKAGES=()
[ "${ACDLEDGER_NO_SERVICES:-}" = 1 ] || APT_PACKAGES+=(mariadb-server)
[ "${ACDLEDGER_NO_BROWSER:-}" = 1 ] || APT_PACKAGES+=(chromium fonts-noto-cjk)
VERSITYGW_VERSION=v1.8.0

missing=()
for p in "${APT_PACKAGES[@]+"${APT_PACKAGES[@]}"}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "install-test-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if [ "${ACDLEDGER_NO_SERVICES:-}" != 1 ] && [ ! -x "$gobin/versitygw" ] && ! command -v versitygw >/dev/null; then
  echo "install-test-deps: go install versitygw@$VERSITYGW_VERSION (about 2 minutes)"
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
fi
echo "install-test-deps: ok (mariadbd: $(command -v mariadbd || echo /usr/sbin/mariadbd), versitygw: $gobin/versitygw)"
