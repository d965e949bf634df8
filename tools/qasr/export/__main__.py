"""Command line of qasr.export.

    PYTHONPATH=tools /usr/bin/python3 -m qasr.export fp32 --checkpoint models/X-fp32.pt \\
        --spm models/X.spm.model --out models/X-fp32.qasr [--metadata '{"wer": ...}']
    PYTHONPATH=tools /usr/bin/python3 -m qasr.export inspect models/X-fp32.qasr
    PYTHONPATH=tools /usr/bin/python3 -m qasr.export quant --checkpoint runs/quant/X/model-quant.pt \
        --spm models/X.spm.model --out models/X-w4g64.qasr
    PYTHONPATH=tools /usr/bin/python3 -m qasr.export testdata --out DIR
    PYTHONPATH=tools /usr/bin/python3 -m qasr.export engine-fixture --out DIR
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m qasr.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fp32", help="export the FP32 reference model")
    f.add_argument("--checkpoint", required=True)
    f.add_argument("--spm", required=True, help="SentencePiece model file")
    f.add_argument("--out", required=True)
    f.add_argument("--metadata", default="{}", help="extra metadata (JSON object), e.g. measured WER")
    i = sub.add_parser("inspect", help="print a .qasr file's summary as JSON")
    i.add_argument("model")
    i.add_argument("--no-verify", action="store_true", help="skip the checksum")
    t = sub.add_parser("testdata", help="write the small test files")
    t.add_argument("--out", required=True)
    q = sub.add_parser("quant", help="export a quantized checkpoint (qasr.quant ptq/qat output)")
    q.add_argument("--checkpoint", required=True)
    q.add_argument("--spm", required=True, help="SentencePiece model file")
    q.add_argument("--out", required=True)
    q.add_argument("--metadata", default="{}", help="extra metadata (JSON object), e.g. measured WER")
    e = sub.add_parser("engine-fixture", help="write the graph executor's parity data")
    e.add_argument("--out", required=True)
    a = p.parse_args(argv)

    if a.cmd == "fp32":
        from .fp32 import export_fp32

        size = export_fp32(a.checkpoint, a.spm, a.out, json.loads(a.metadata))
        print(f"wrote {a.out} ({size:,} bytes)")
    elif a.cmd == "inspect":
        from .inspect_model import summary
        from .reader import FormatError, read_model

        try:
            m = read_model(a.model, verify_checksum=not a.no_verify)
        except (FormatError, OSError) as e:
            print(f"error: {a.model}: {e}", file=sys.stderr)
            return 1
        print(json.dumps(summary(m), indent=1, ensure_ascii=False))
    elif a.cmd == "quant":
        from .quantized import export_quantized

        size = export_quantized(a.checkpoint, a.spm, a.out, json.loads(a.metadata))
        print(f"wrote {a.out} ({size:,} bytes)")
    elif a.cmd == "engine-fixture":
        from .engine_fixture import make_engine_fixture

        for path in make_engine_fixture(a.out):
            print(path)
    else:
        from .testdata import make_test_files

        for path in make_test_files(a.out):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
