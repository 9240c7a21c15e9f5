#!/usr/bin/env bash
# behaviour-diff: prove that a refactoring changed no behaviour. It dumps
# the results of every check test (sharedtest.Dump) and the JSON and text
# reports of many CLI runs over the bundled zones, for two revisions, and
# compares them after masking what differs from run to run (ephemeral
# ports, durations, certificate serials and dates made at test time).
#
#   scripts/behaviour-diff.sh BASE [HEAD]     (HEAD: the work tree; BASE at
#   or after the commit that added sharedtest.Dump)
set -euo pipefail
base=${1:?usage: behaviour-diff.sh BASE [HEAD]}
head=${2:-}
root=$(git rev-parse --show-toplevel)
out=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$out/base-tree" >/dev/null 2>&1 || true' EXIT

snapshot() { # snapshot TREE DIR
	local tree=$1 dir=$2
	mkdir -p "$dir/tests" "$dir/cli"
	(cd "$tree" && go build -o "$dir/mailcheck" ./cmd/mailcheck &&
		MAILCHECK_DUMP_DIR="$dir/tests" go test -count=1 ./checks/ >/dev/null)
	(cd "$root" && bash scripts/behaviour-cli.sh "$dir/mailcheck" "$dir/cli")
}

git -C "$root" worktree add --detach "$out/base-tree" "$base" >/dev/null 2>&1
snapshot "$out/base-tree" "$out/base"
if [ -n "$head" ]; then
	git -C "$root" worktree add --detach "$out/head-tree" "$head" >/dev/null 2>&1
	snapshot "$out/head-tree" "$out/head"
	git -C "$root" worktree remove --force "$out/head-tree"
else
	snapshot "$root" "$out/head"
fi
echo "snapshots in $out"
python3 "$root/scripts/behaviour-mask.py" "$out/base" "$out/head"
