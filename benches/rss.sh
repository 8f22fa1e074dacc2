# Resident-memory sampling, sourced by compare.sh and memory.sh.

# rss_kb PID: the process's VmRSS in KiB; a process that is gone, or a zombie (no VmRSS
# line), counts as 0.
rss_kb() { local v; v=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null); echo "${v:-0}"; }

# start_sampler FILE PID: writes the highest VmRSS of PID seen (KiB) to FILE, every 100 ms,
# until stop_sampler or the process's end. Each value is written aside and renamed into
# place: a reader (or a kill) between the truncation and the write of a plain `>` would
# otherwise find the file empty.
start_sampler() {
  local file=$1 pid=$2
  echo 0 > "$file"
  ( max=0; while kill -0 "$pid" 2>/dev/null; do
      v=$(rss_kb "$pid")
      if [ "${v:-0}" -gt "$max" ]; then max=$v; echo "$max" > "$file.new" && mv -f "$file.new" "$file"; fi
      sleep 0.1
    done ) &
  SAMPLER_PID=$!
}
stop_sampler() { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; }

# cpu_ticks PID: the CPU time the process (all its threads) has used, user and system, in
# clock ticks (getconf CLK_TCK); 0 when it is gone. A server's CPU time per request is less
# sensitive than its request rate to other work on a shared core.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
