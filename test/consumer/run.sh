#!/usr/bin/env bash
# The package as a new user meets it: packs Ml.Autoencoders.Core and Ml.Autoencoders from this checkout into a local
# folder, creates a console app OUTSIDE the repository with `dotnet new console`, adds the package from that folder
# plus the CPU backend (libtorch-cpu-linux-x64), copies in the quick start (test/consumer/Program.cs), runs it and
# checks its last line. Then runs the app a second time, as a fresh process that loads the pipeline the first run saved
# with mlContext.Model.Load (a new MLContext, no registration call) and checks its outputs bit for bit.
# All of this once per Microsoft.ML version in ML_AUTOENCODERS_MLNET_VERSIONS (default "5.0.1 6.0.0"): the app adds
# Microsoft.ML at that version (NuGet then resolves it over the package's own >= 5.0.1), the run checks that it is the one
# loaded, and each later version also loads the pipeline saved under the first one.
# Package sources other than the local folder come from the machine's own NuGet configuration.
# Each run packs a unique pre-release version (so NuGet's global cache never serves an older build) and removes it
# from that cache afterwards. Exit status 0 = the quick start ran and checked its own output.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ml-autoencoders-consumer.XXXXXX")
version="0.4.0-consumer.$(date +%s).$$"
cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
cleanup() {
  rm -rf "$work" "$cache/ml.autoencoders/$version" "$cache/ml.autoencoders.core/$version"
}
trap cleanup EXIT
log="$work/log.txt"
step() { echo "consumer: [${SECONDS}s] $*" >&2; }

step "packing $version into $work/packages"
for p in Ml.Autoencoders.Core Ml.Autoencoders; do
  dotnet pack "$root/src/$p/$p.csproj" -c Release -o "$work/packages" -p:Version="$version" -p:IncludeSymbols=false -nologo -v q >>"$log" 2>&1 \
    || { cat "$log" >&2; echo "consumer: dotnet pack $p failed" >&2; exit 1; }
done

step "dotnet new console (outside the repository: $work/app)"
mkdir -p "$work/app"
cd "$work/app"
dotnet new console --framework net10.0 --name QuickStart --output . >>"$log" 2>&1 || { cat "$log" >&2; exit 1; }
# A local folder source next to the machine's sources (this file adds a folder, no registry).
cat > nuget.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="ml-autoencoders-local" value="$work/packages" />
  </packageSources>
</configuration>
XML
step "dotnet add package Ml.Autoencoders $version, libtorch-cpu-linux-x64 2.10.0"
dotnet add package Ml.Autoencoders --version "$version" >>"$log" 2>&1 || { cat "$log" >&2; echo "consumer: adding Ml.Autoencoders failed" >&2; exit 1; }
dotnet add package libtorch-cpu-linux-x64 --version 2.10.0 >>"$log" 2>&1 || { cat "$log" >&2; echo "consumer: adding the CPU backend failed" >&2; exit 1; }
cp "$root/test/consumer/Program.cs" Program.cs

# Runs a command of the app, shows its output, and fails unless it exits 0 with "QUICKSTART OK" as its last line.
check() {
  local what=$1; shift
  set +e
  "$@" >"$work/run.txt" 2>&1
  local status=$?
  set -e
  cat "$work/run.txt"
  if [ $status -ne 0 ] || ! tail -n 1 "$work/run.txt" | grep -q "QUICKSTART OK"; then
    echo "consumer: $what failed (exit $status); build log:" >&2
    cat "$log" >&2
    exit 1
  fi
}

first=""
for mlnet in ${ML_AUTOENCODERS_MLNET_VERSIONS:-5.0.1 6.0.0}; do
  step "Microsoft.ML $mlnet: dotnet add package Microsoft.ML --version $mlnet"
  dotnet add package Microsoft.ML --version "$mlnet" >>"$log" 2>&1 || { cat "$log" >&2; echo "consumer: adding Microsoft.ML $mlnet failed" >&2; exit 1; }
  step "Microsoft.ML $mlnet: dotnet run (train, check, save the pipeline)"
  rm -f quickstart.zip quickstart.expected
  check "the quick start on Microsoft.ML $mlnet" dotnet run -c Release
  grep -qx "Microsoft.ML $mlnet" "$work/run.txt" || { echo "consumer: the app did not run on Microsoft.ML $mlnet" >&2; exit 1; }
  step "Microsoft.ML $mlnet: a fresh process loads the saved pipeline (no registration call)"
  check "loading on Microsoft.ML $mlnet" dotnet bin/Release/net10.0/QuickStart.dll load quickstart.zip quickstart.expected
  if [ -z "$first" ]; then
    first=$mlnet
    cp quickstart.zip "$work/saved-$mlnet.zip"
    cp quickstart.expected "$work/saved-$mlnet.expected"
  else
    step "Microsoft.ML $mlnet: a fresh process loads the pipeline saved under Microsoft.ML $first"
    check "loading a Microsoft.ML $first model on $mlnet" dotnet bin/Release/net10.0/QuickStart.dll load "$work/saved-$first.zip" "$work/saved-$first.expected"
  fi
done
step "ok"
