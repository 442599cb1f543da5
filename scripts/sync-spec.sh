#!/usr/bin/env bash
# Copies the team's spec updates into the repository's own copy, which is what the tests read.
#   ./scripts/sync-spec.sh [path/to/shared]     (default: ../shared beside the repository)
# Shows what changed; commit the result together with the code that follows it.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared}
if [ ! -d "$SRC/spec" ]; then
  echo "no spec folder at $SRC/spec; nothing to sync" >&2
  exit 1
fi
mkdir -p docs/spec tests/vectors
cp "$SRC/spec/protocol.md" "$SRC/spec/frontends.md" docs/spec/
cp "$SRC/spec/vectors/"* tests/vectors/
chmod -R u+w docs/spec tests/vectors
# The shared copy describes itself as ../shared/spec/vectors; in the repository it is tests/vectors.
sed -i 's#`\.\./shared/spec/vectors/`#`tests/vectors/`#; s#"\.\./shared/spec/vectors"#"../../tests/vectors"#' tests/vectors/README.md
git status --short docs/spec tests/vectors
