#!/usr/bin/env bash
# The HTTP-library measurement of docs/SERVING.md: JDK HttpServer (TCP_NODELAY) vs Jetty 12 core on a
# trivial handler: start-up to first answer, sequential p50/p99 (java.net.http), and `hey -c 16` for 5 s.
# Needs the Jetty 12.1.13 jars in ~/.m2 (mvn dependency:get -Dartifact=org.eclipse.jetty:jetty-server:12.1.13) and hey.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
m2="$HOME/.m2/repository"
cp="$(ls "$m2"/org/eclipse/jetty/jetty-{server,http,io,util}/12.1.13/*.jar | tr '\n' ':')$m2/org/slf4j/slf4j-api/2.0.16/slf4j-api-2.0.16.jar"
javac -d "$work" -cp "$cp" "$here/HttpCmp.java"
head -c 2000 /dev/urandom > "$work/body.bin"
for w in jdk jetty jdk jetty; do
  java -Xmx256m -cp "$cp:$work" HttpCmp "$w" 25 > "$work/$w.out" 2>&1 & pid=$!
  for _ in $(seq 1 300); do grep -q PORT "$work/$w.out" && break; sleep 0.2; done
  port=$(grep PORT "$work/$w.out" | awk '{print $2}')
  grep startup "$work/$w.out"
  hey -z 5s -c 16 -m POST -D "$work/body.bin" "http://127.0.0.1:$port/x" | grep -E 'Requests/sec|50%|99%'
  kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
done
