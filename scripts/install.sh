#!/bin/sh
# Installs the `mlproject` command into ${MLPROJECT_INSTALL:-$HOME/.mlproject}/bin and puts that
# directory on PATH for new shells (~/.profile, ~/.bashrc, and ~/.bash_profile, ~/.zshrc, fish's
# conf.d when they exist).
#
#   curl -fsSL https://github.com/mlproject/mlproject/releases/latest/download/install.sh | sh
#   sh install.sh            # the release binary for this OS/arch, its SHA-256 checked
#   sh install.sh --npx      # no binary: a launcher running mlproject with Deno fetched by npx
#
# Environment:
#   MLPROJECT_INSTALL        install root (default ~/.mlproject; the command is in its bin/)
#   MLPROJECT_VERSION        release tag, e.g. v0.1.0 (default: the latest release)
#   MLPROJECT_REPO           GitHub repository (default mlproject/mlproject)
#   MLPROJECT_DOWNLOAD_URL   where the release assets are (default: the release on GitHub)
#   MLPROJECT_SOURCE         --npx: what Deno runs (default jsr:@mlproject/mlproject[@VERSION]/cli)
#   MLPROJECT_NO_MODIFY_PATH=1  leave the shell start-up files alone
set -eu

DENO_VERSION=2.9.6
say() { printf '%s\n' "install.sh: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

method=binary
for arg in "$@"; do
  case "$arg" in
  --npx) method=npx ;;
  -h | --help)
    sed -n '2,16p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument '$arg' (try --help)" ;;
  esac
done

repo=${MLPROJECT_REPO:-mlproject/mlproject}
version=${MLPROJECT_VERSION:-latest}
root=${MLPROJECT_INSTALL:-${HOME:?HOME is not set}/.mlproject}
bin_dir="$root/bin"
command_path="$bin_dir/mlproject"

# The release asset for this machine: the Rust target triple `deno compile --target` builds for.
target() {
  os=$(uname -s)
  arch=$(uname -m)
  case "$arch" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  esac
  case "$os" in
  Linux) os=unknown-linux-gnu ;;
  Darwin)
    os=apple-darwin
    # An x86_64 shell under Rosetta on Apple silicon: take the native binary.
    if [ "$arch" = x86_64 ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ]; then
      arch=aarch64
    fi
    ;;
  MINGW* | MSYS* | CYGWIN* | Windows_NT) os=pc-windows-msvc ;;
  esac
  case "$arch-$os" in
  x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu | x86_64-apple-darwin | \
    aarch64-apple-darwin) echo "mlproject-$arch-$os" ;;
  x86_64-pc-windows-msvc) echo "mlproject-$arch-$os.exe" ;;
  *)
    die "no mlproject binary for $(uname -s) $(uname -m) (there are binaries for Linux x86_64 and aarch64, macOS x86_64 and arm64, Windows x86_64); with Node.js, run: sh install.sh --npx"
    ;;
  esac
}

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1" || die "could not download $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || die "could not download $1"
  else
    die "neither curl nor wget is installed"
  fi
}

sha256() { # FILE
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d ' ' -f 1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d ' ' -f 1
  else
    die "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

# Adds bin_dir to PATH in the start-up files new shells read, once.
add_to_path() {
  case ":${PATH:-}:" in
  *":$bin_dir:"*) return 0 ;;
  esac
  if [ "${MLPROJECT_NO_MODIFY_PATH:-0}" = 1 ]; then
    say "add $bin_dir to PATH to use mlproject"
    return 0
  fi
  line="export PATH=\"$bin_dir:\$PATH\" # mlproject"
  for rc in "$HOME/.profile" "$HOME/.bashrc" "$HOME/.bash_profile" "$HOME/.zshrc"; do
    case "$rc" in
    */.profile | */.bashrc) ;;
    *) [ -f "$rc" ] || continue ;;
    esac
    if ! grep -qsF "$bin_dir:" "$rc"; then
      printf '\n%s\n' "$line" >>"$rc"
      say "added $bin_dir to PATH in $rc"
    fi
  done
  fish_dir="$HOME/.config/fish/conf.d"
  if [ -d "$HOME/.config/fish" ] && ! grep -qsF "$bin_dir" "$fish_dir/mlproject.fish"; then
    mkdir -p "$fish_dir"
    # shellcheck disable=SC2016 # $PATH is for fish to expand
    printf 'set -gx PATH "%s" $PATH\n' "$bin_dir" >"$fish_dir/mlproject.fish"
  fi
  say "open a new shell (or run: export PATH=\"$bin_dir:\$PATH\") to use mlproject"
}

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t mlproject)
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ "$method" = npx ]; then
  npx_path=$(command -v npx 2>/dev/null) || die "npx not found: install Node.js first"
  if [ -n "${MLPROJECT_SOURCE:-}" ]; then
    source=$MLPROJECT_SOURCE
  elif [ "$version" = latest ]; then
    source=jsr:@mlproject/mlproject/cli
  else
    source="jsr:@mlproject/mlproject@${version#v}/cli"
  fi
  lazy=--unstable-lazy-dynamic-imports
  # Where npx keeps that Deno, so the launcher starts it directly (npx itself costs seconds).
  deno_path=$(npm_config_update_notifier=false npm_config_loglevel=error \
    "$npx_path" --yes "deno@$DENO_VERSION" eval 'console.log(Deno.execPath())' \
    2>/dev/null </dev/null) || deno_path=
  cat >"$tmp/mlproject" <<EOF
#!/bin/sh
# mlproject launcher written by install.sh --npx: Deno $DENO_VERSION from npm (through npx) runs
# $source
# The Deno npx fetched at install time while it is there, else npx again. Dynamic imports load
# when they run (as the project's deno.json asks), not all at start.
if [ -x '$deno_path' ]; then exec '$deno_path' run -A --quiet $lazy '$source' "\$@"; fi
npx=\$(command -v npx 2>/dev/null) || npx='$npx_path'
npm_config_update_notifier=false npm_config_loglevel=error \\
  exec "\$npx" --yes deno@$DENO_VERSION run -A --quiet $lazy '$source' "\$@"
EOF
else
  asset=$(target)
  if [ -n "${MLPROJECT_DOWNLOAD_URL:-}" ]; then
    base=${MLPROJECT_DOWNLOAD_URL%/}
  elif [ "$version" = latest ]; then
    base="https://github.com/$repo/releases/latest/download"
  else
    base="https://github.com/$repo/releases/download/$version"
  fi
  say "downloading $base/$asset"
  download "$base/SHA256SUMS" "$tmp/SHA256SUMS"
  download "$base/$asset" "$tmp/mlproject"
  expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
  [ -n "$expected" ] || die "$asset is not listed in $base/SHA256SUMS; nothing installed"
  actual=$(sha256 "$tmp/mlproject")
  [ "$actual" = "$expected" ] ||
    die "checksum mismatch for $asset: expected $expected, got $actual; nothing installed"
  case "$asset" in *.exe) command_path="$command_path.exe" ;; esac
fi

chmod 755 "$tmp/mlproject"
mkdir -p "$bin_dir"
# Moved into place in one step: a concurrent `mlproject` never sees half a file.
mv -f "$tmp/mlproject" "$bin_dir/.mlproject.$$"
mv -f "$bin_dir/.mlproject.$$" "$command_path"
say "installed $command_path"
add_to_path
