"""`asr-cli inspect --json` (C++ loader) and `python3 -m qasr.export inspect` (Python
reader) must print the same summary for every test file, and both must fail cleanly
(non-zero exit, message on stderr) on a corrupt one.

usage: inspect_parity.py ASR_CLI TESTDATA_DIR   (PYTHONPATH must include tools/)
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path


def same(a, b, where="$"):
    if isinstance(a, float) or isinstance(b, float):
        assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), f"{where}: {a} != {b}"
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))


def main() -> int:
    cli, data = sys.argv[1], Path(sys.argv[2])
    files = sorted(data.glob("*.qasr"))
    assert files, f"no .qasr files in {data}"
    for f in files:
        c = run([cli, "inspect", "--json", str(f)])
        p = run([sys.executable, "-m", "qasr.export", "inspect", str(f)])
        assert c.returncode == 0 and p.returncode == 0, c.stderr + p.stderr
        same(json.loads(c.stdout), json.loads(p.stdout))
        t = run([cli, "inspect", str(f)])
        assert t.returncode == 0 and "total:" in t.stdout, t.stderr
        print(f"{f.name}: C++ and Python agree")
    bad = data / "corrupt.bin"
    blob = bytearray(files[0].read_bytes())
    blob[100] ^= 0xFF
    bad.write_bytes(bytes(blob))
    for cmd in ([cli, "inspect", str(bad)], [sys.executable, "-m", "qasr.export", "inspect", str(bad)]):
        r = run(cmd)
        assert r.returncode != 0 and "checksum" in r.stderr, (cmd, r.returncode, r.stderr)
    r = run([cli, "inspect", str(data / "missing.qasr")])
    assert r.returncode != 0 and "NotFound" in r.stderr, r.stderr
    print("corrupt and missing files: clean errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
