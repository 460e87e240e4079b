"""Run read_table/check_submission on a file in a child; report size, peak RSS above baseline, CPU, outcome."""
import sys, os, resource, subprocess, json
CHILD = r'''
import sys, resource, time, json
import jdl.intake as ji
from jdl.core.config import Settings
s = Settings().intake
def hwm():
    for l in open("/proc/self/status"):
        if l.startswith("VmHWM"): return int(l.split()[1])
base = hwm(); t = time.process_time()
try:
    r = ji.check_submission(sys.argv[1]); out = f"CHECKED {type(r).__name__}"
except Exception as e:
    out = f"{type(e).__name__}: {str(e)[:110]}"
print(json.dumps({"base_mb": base/1024, "peak_mb": hwm()/1024, "cpu": time.process_time()-t, "out": out}))
'''
p = sys.argv[1]
r = subprocess.run([sys.executable, "-c", CHILD, p], capture_output=True, text=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": "/work/wt/s6-rv2/src"})
try:
    d = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"{os.path.basename(p)} size={os.path.getsize(p)} +RSS={d['peak_mb']-d['base_mb']:.0f}MB cpu={d['cpu']:.1f}s {d['out']}")
except Exception:
    print(p, "CHILD FAILED", r.returncode, r.stderr[-500:])
