#!/usr/bin/env bash
# Compile-time cost of the macros against the same code written by hand.
#
# Writes four crates under target/compile-time/ (a workspace of its own, with a path dependency
# on this repository's es-core): for N in 30 and 100, `gen_N` declares N events, their event
# set, an aggregate with N apply handlers and N command handlers with the derives and attribute
# macros, and `hand_N` implements the same traits by hand: the same decoding (including the
# set's one-pass `from_json`), dispatch and command handling, without the macros' compile-time
# checks and without the `EventHandler` impl an `#[event_handler]` block also gets. It builds the dependencies once, then times clean builds of only
# each crate (`cargo clean -p CRATE` first) and reports the median CPU time (user + sys of cargo
# and rustc) of RUNS runs, for `cargo build` and `cargo check`, and the ratio gen / hand.
#
# Usage: benches/compile-time.sh [RUNS] [REF]
#   RUNS  runs per measurement (default 3)
#   REF   the commit whose es-core and es-macros are measured (default HEAD; for example the
#         commit before a change, to compare). Its tree is exported with `git archive`, so
#         editing the working tree during a run does not change what is measured.
set -euo pipefail

runs=${1:-3}
ref=${2:-HEAD}
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse --short "$ref")
base="$repo/target/compile-time"
# The exported tree and the measured workspace side by side (a path dependency inside a
# workspace's directory would be taken as a member of it).
root="$base/$commit/es"
out="$base/$commit/ws"
sizes=(30 100)

mkdir -p "$root" "$out"
git -C "$repo" archive "$commit" | tar -x -C "$root"
members=""
for n in "${sizes[@]}"; do members+="\"gen_$n\", \"hand_$n\", "; done
cat >"$out/Cargo.toml" <<EOF
[workspace]
resolver = "3"
members = [${members%, }]

[workspace.dependencies]
es-core = { path = "$root/es-core" }
serde = { version = "1", features = ["derive"] }
EOF
# The repository's lock file, so the dependencies resolve offline to the same versions.
cp "$root/Cargo.lock" "$out/Cargo.lock"

manifest() {
    cat <<EOF
[package]
name = "$1"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
es-core.workspace = true
serde.workspace = true
EOF
}

generated() {
    local n=$1
    echo '#![allow(dead_code)]'
    echo 'use es_core::prelude::*;'
    echo 'use serde::{Deserialize, Serialize};'
    echo 'use std::convert::Infallible;'
    for ((i = 0; i < n; i++)); do
        echo "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]"
        echo "#[event(name = \"bench.e$i\")]"
        echo "pub struct E$i { pub n: i64 }"
        echo "#[derive(Clone)] pub struct C$i(pub i64);"
    done
    echo "#[derive(Debug, Clone, PartialEq, DomainEvent)]"
    echo "pub enum BenchEvent {"
    for ((i = 0; i < n; i++)); do echo "    E$i(E$i),"; done
    echo "}"
    echo "#[derive(Debug, Default, Aggregate)]"
    echo "#[aggregate(name = \"bench\", events = BenchEvent)]"
    echo "pub struct Bench { pub total: i64 }"
    echo "#[event_handler]"
    echo "impl Bench {"
    for ((i = 0; i < n; i++)); do echo "    fn e$i(&mut self, e: &E$i) { self.total += e.n * $i; }"; done
    echo "}"
    echo "#[command_handler]"
    echo "impl Bench {"
    for ((i = 0; i < n; i++)); do
        echo "    fn c$i(&self, c: C$i) -> Result<E$i, Infallible> { Ok(E$i { n: c.0 + self.total }) }"
    done
    echo "}"
}

hand_written() {
    local n=$1
    echo '#![allow(dead_code)]'
    echo 'use es_core::serde_json::{self, Value};'
    echo 'use es_core::{Aggregate, DecodeErrorKind, DomainEvent, Event, Handle, IntoEvents};'
    echo 'use serde::{Deserialize, Serialize};'
    echo 'use std::convert::Infallible;'
    for ((i = 0; i < n; i++)); do
        echo "#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]"
        echo "pub struct E$i { pub n: i64 }"
        echo "impl Event for E$i { const NAME: &'static str = \"bench.e$i\"; }"
        echo "impl From<E$i> for BenchEvent { fn from(e: E$i) -> Self { BenchEvent::E$i(e) } }"
        echo "impl IntoEvents<BenchEvent> for E$i { fn into_events(self) -> Vec<BenchEvent> { vec![BenchEvent::E$i(self)] } }"
        echo "#[derive(Clone)] pub struct C$i(pub i64);"
    done
    echo "#[derive(Debug, Clone, PartialEq)]"
    echo "pub enum BenchEvent {"
    for ((i = 0; i < n; i++)); do echo "    E$i(E$i),"; done
    echo "}"
    echo "impl DomainEvent for BenchEvent {"
    echo "    fn event_types() -> Vec<&'static str> { vec![$(for ((i = 0; i < n; i++)); do printf '"bench.e%d", ' $i; done)] }"
    echo "    fn handles(t: &str) -> bool { $(for ((i = 0; i < n; i++)); do printf 'E%d::handles(t) || ' $i; done) false }"
    echo "    fn event_type(&self) -> &'static str { match self {"
    for ((i = 0; i < n; i++)); do echo "        BenchEvent::E$i(e) => e.event_type(),"; done
    echo "    } }"
    echo "    fn schema_version(&self) -> u32 { match self {"
    for ((i = 0; i < n; i++)); do echo "        BenchEvent::E$i(e) => e.schema_version(),"; done
    echo "    } }"
    echo "    fn to_payload(&self) -> Result<Value, serde_json::Error> { match self {"
    for ((i = 0; i < n; i++)); do echo "        BenchEvent::E$i(e) => e.to_payload(),"; done
    echo "    } }"
    echo "    fn from_payload(t: &str, v: u32, p: Value) -> Result<Self, DecodeErrorKind> {"
    for ((i = 0; i < n; i++)); do echo "        if E$i::handles(t) { return E$i::from_payload(t, v, p).map(BenchEvent::E$i); }"; done
    echo "        Err(DecodeErrorKind::UnknownType { target: \"BenchEvent\" })"
    echo "    }"
    echo "    fn from_json(t: &str, v: u32, json: &str) -> Result<Self, DecodeErrorKind> {"
    for ((i = 0; i < n; i++)); do echo "        if E$i::handles(t) { return E$i::from_json(t, v, json).map(BenchEvent::E$i); }"; done
    echo "        Err(DecodeErrorKind::UnknownType { target: \"BenchEvent\" })"
    echo "    }"
    echo "}"
    echo "#[derive(Debug, Default)]"
    echo "pub struct Bench { pub total: i64 }"
    echo "impl Bench {"
    for ((i = 0; i < n; i++)); do echo "    fn e$i(&mut self, e: &E$i) { self.total += e.n * $i; }"; done
    echo "}"
    echo "impl Aggregate for Bench {"
    echo "    const NAME: &'static str = \"bench\";"
    echo "    type Event = BenchEvent;"
    echo "    fn apply(&mut self, event: &BenchEvent) { match event {"
    for ((i = 0; i < n; i++)); do echo "        BenchEvent::E$i(e) => self.e$i(e),"; done
    echo "    } }"
    echo "}"
    for ((i = 0; i < n; i++)); do
        echo "impl Handle<C$i> for Bench {"
        echo "    type Error = Infallible;"
        echo "    async fn handle(&self, c: C$i) -> Result<Vec<BenchEvent>, Infallible> { Ok(vec![E$i { n: c.0 + self.total }.into()]) }"
        echo "}"
    done
}

for n in "${sizes[@]}"; do
    for kind in gen hand; do
        mkdir -p "$out/${kind}_$n/src"
        manifest "${kind}_$n" >"$out/${kind}_$n/Cargo.toml"
    done
    generated "$n" >"$out/gen_$n/src/lib.rs"
    hand_written "$n" >"$out/hand_$n/src/lib.rs"
done

cd "$out"
# Shared by every REF: the third-party dependencies build once.
export CARGO_TARGET_DIR="$base/target"
echo "measuring es-core and es-macros of $commit; building the dependencies once..." >&2
cargo build --offline -q --workspace >&2
cargo check --offline -q --workspace >&2

# Median CPU seconds (user + sys, cargo and rustc) of clean `cargo $1` runs of crate $2.
measure() {
    local mode=$1 crate=$2 times=()
    for ((r = 0; r < runs; r++)); do
        cargo clean --offline -q -p "$crate"
        /usr/bin/time -f '%U %S' -o "$out/time.txt" cargo "$mode" --offline -q -p "$crate" >/dev/null 2>&1
        times+=("$(awk '{ printf "%.2f", $1 + $2 }' "$out/time.txt")")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

printf '%-7s %-6s %10s %10s %7s\n' events mode "macros s" "by hand s" ratio
for n in "${sizes[@]}"; do
    for mode in build check; do
        g=$(measure "$mode" "gen_$n")
        h=$(measure "$mode" "hand_$n")
        printf '%-7s %-6s %10s %10s %7s\n' "$n" "$mode" "$g" "$h" "$(awk -v g="$g" -v h="$h" 'BEGIN { printf "%.2fx", g / h }')"
    done
done
