#!/usr/bin/env bash
# The package as a new user meets it: packs Ml.Autoencoders.Core and Ml.Autoencoders from this checkout into a local
# folder, creates a console app OUTSIDE the repository with `dotnet new console`, adds the package from that folder
# plus the CPU backend (libtorch-cpu-linux-x64), copies in the quick start (test/consumer/Program.cs), runs it and
# checks its last line. Package sources other than the local folder come from the machine's own NuGet configuration.
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
step() { echo "consumer: $*" >&2; }

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

step "dotnet run"
set +e
dotnet run -c Release >"$work/run.txt" 2>&1
status=$?
set -e
cat "$work/run.txt"
if [ $status -ne 0 ] || ! tail -n 1 "$work/run.txt" | grep -q "QUICKSTART OK"; then
  echo "consumer: the quick start failed (exit $status); build log:" >&2
  cat "$log" >&2
  exit 1
fi
step "ok"
