"""bench/report.py: ratio table from bench_gemm JSON, cached and DRAM-streamed rows."""
import json
import subprocess
import sys
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "bench" / "report.py"


def _row(name: str, real_us: float, weight_bytes: float, cpu_us: float | None = None) -> dict:
    return {"name": name, "run_name": name, "run_type": "iteration", "real_time": real_us,
            "cpu_time": cpu_us if cpu_us is not None else real_us, "time_unit": "us",
            "bytes_per_second": weight_bytes / (real_us * 1e-6)}


def _run(tmp_path: Path, rows: list[dict], *args: str) -> str:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": rows}))
    return subprocess.run([sys.executable, str(REPORT), str(path), *args], check=True,
                          capture_output=True, text=True).stdout


def test_ratios_and_stream_rows_are_separate(tmp_path: Path) -> None:
    shape = "M1xN1024xK4096/threads:1"
    rows = [
        # membw probes: bytes_per_second follows CPU time for them
        _row("membw/read", 1000.0, 1e7),  # 10 GB/s DRAM
        _row("membw/read/4096KiB", 100.0, 4e6),  # 40 GB/s cache
        _row(f"gemm/qasr_w2a8/{shape}", 50.0, 1.0e6),
        _row(f"gemm/onednn_f32/{shape}", 500.0, 16.0e6),
        _row(f"gemm/qasr_w2a8/{shape}/stream", 200.0, 1.0e6),
        _row(f"gemm/onednn_f32/{shape}/stream", 1600.0, 16.0e6),
    ]
    out = _run(tmp_path, rows)
    lines = [l for l in out.splitlines() if "qasr_w2a8" in l]
    assert len(lines) == 2
    cached = next(l for l in lines if "| cached |" in l)
    dram = next(l for l in lines if "| DRAM |" in l)
    assert "| 10.00x |" in cached  # 500 / 50, against the cached baseline only
    assert "| 8.00x |" in dram  # 1600 / 200, against the streamed baseline only
    # streamed: 1 MB / 200 us = 5 GB/s = 50 % of the DRAM probe, no cache column
    assert dram.rstrip().endswith("| 50% |")
    # cached: 1 MB / 50 us = 20 GB/s = 50 % of the 4 MiB probe, 200 % of DRAM
    assert cached.rstrip().endswith("| 50% / 200% |")


def test_two_thread_scaling_table(tmp_path: Path) -> None:
    rows = [
        _row("gemm/qasr_w2a8/M256xN1024xK4096/threads:1", 1000.0, 1.0e6),
        _row("gemm/qasr_w2a8/M256xN1024xK4096/threads:2", 500.0, 1.0e6),
        _row("gemm/onednn_s8/M256xN1024xK4096/threads:1", 900.0, 4.0e6),
        _row("gemm/onednn_s8/M256xN1024xK4096/threads:2", 600.0, 4.0e6),
        _row("gemm/qasr_w2a8/M1xN1024xK4096/threads:1", 50.0, 1.0e6),  # no 2-thread row
    ]
    out = _run(tmp_path, rows)
    assert "| 256 | 1024 | 4096 | qasr_w2a8 | 2.00x |" in out
    assert "| 256 | 1024 | 4096 | onednn_s8 | 1.50x |" in out
    assert "| 1 | 1024 | 4096 | qasr_w2a8 |" not in out.split("2 threads vs 1")[1]


def test_min_statistic_takes_the_fastest_repetition(tmp_path: Path) -> None:
    shape = "M256xN1024xK4096/threads:1"
    rows = [_row(f"gemm/qasr_w2a8/{shape}", t, 1.0e6) for t in (300.0, 100.0, 200.0)]
    rows += [_row(f"gemm/onednn_s8/{shape}", t, 4.0e6) for t in (150.0, 400.0, 120.0)]
    median = {"run_type": "aggregate", "aggregate_name": "median"}
    rows += [dict(_row(f"gemm/qasr_w2a8/{shape}", 200.0, 1.0e6), **median),
             dict(_row(f"gemm/onednn_s8/{shape}", 150.0, 4.0e6), **median)]
    assert "| 0.75x |" in _run(tmp_path, rows)  # medians: 150 / 200
    assert "| 1.20x |" in _run(tmp_path, rows, "--stat", "min")  # minima: 120 / 100
