# bin/stack's installs: what setup downloads, each step skipped when its stamp says it is current.
# Sourced by bin/stack (its variables, log and die); everything lands in git-ignored folders.

install_system_packages() {
  local missing=()
  [ -x "/usr/lib/postgresql/$POSTGRES_VERSION/bin/postgres" ] || missing+=("postgresql-$POSTGRES_VERSION")
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  apt_install "${missing[@]}"
  # Debian's package creates and starts a system cluster we do not use.
  if [[ " ${missing[*]} " == *" postgresql-"* ]] && command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster "$POSTGRES_VERSION" main stop 2>/dev/null || true
  fi
}

install_test_browser() {  # the market page's browser test drives Debian's chromium (Playwright, no download)
  command -v chromium >/dev/null || apt_install chromium
}

apt_install() {  # package...: those missing, with apt, as root
  [ $# -eq 0 ] && return
  log "installing $* with apt"
  [ "$(id -u)" = 0 ] || die "run as root, or install $* first"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_python() {  # .venv from requirements.txt and constraints.txt, then the project, editable
  local stamp=$VENV/.requirements.sha
  local want
  want=$(cat "$ROOT/requirements.txt" "$ROOT/constraints.txt" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  log "installing Python packages into .venv (a minute on a cold cache)"
  [ -x "$VENV/bin/python" ] || /usr/bin/python3 -m venv "$VENV"
  {
    "$VENV/bin/pip" install --upgrade pip &&
    "$VENV/bin/pip" install -r "$ROOT/requirements.txt" -c "$ROOT/constraints.txt" &&
    "$VENV/bin/pip" install --no-deps -e "$ROOT"
  } > "$LOGS/pip-install.log" 2>&1 || die "pip install failed; see $LOGS/pip-install.log"
  echo "$want" > "$stamp"
}

install_jars() {  # name of the POM folder under ops/maven: its runtime jars into .cache/jars/NAME
  local name=$1 dest=$JARS_DIR/$1
  local want
  want=$(sha256sum "$ROOT/ops/maven/$name/pom.xml" | cut -c1-16)
  [ -f "$dest/.pom.sha" ] && [ "$(cat "$dest/.pom.sha")" = "$want" ] && return
  log "resolving $name jars from Maven Central"
  rm -rf "$dest"
  # A private local repository: ~/.m2 on these machines can hold POM-only entries.
  mvn -B -f "$ROOT/ops/maven/$name/pom.xml" -Dmaven.repo.local="$CACHE_DIR/m2" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest" \
    > "$LOGS/mvn-$name.log" 2>&1 || die "mvn failed; see $LOGS/mvn-$name.log"
  echo "$want" > "$dest/.pom.sha"
}
