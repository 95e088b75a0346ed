"""The libFuzzer targets of fuzz/ (ASan+UBSan): replay the committed corpus
(regression inputs), then fuzz each target for FUZZ_SECONDS.  Records runs,
coverage and crashes in $MACHI_SEC_OUT/fuzz.json; exit status 1 on a crash.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))
FUZZ = os.path.join(ROOT, "fuzz")
WHAT = {
    "image_fuzz": "extension/image.c: JPEG/PNG structure check and metadata stripper",
    "uri_fuzz": "extension/uri.c: path checker, route pattern matcher, query-string decoder",
    "gateway_fuzz": "gateway: request validation, JSON escaping and header-object parser, access-log redaction",
}


def main():
    b = subprocess.run(["make", "-s", "-C", FUZZ, "build"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    if b.returncode != 0:
        print(b.stdout)
        return 1
    clang = subprocess.run(["clang", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    results, failed = [], False
    for target in WHAT:
        name = target[: -len("_fuzz")]
        corpus = os.path.join(FUZZ, "corpus", name)
        work = os.path.join(TMP, "fuzz-work", name)
        arts = os.path.join(TMP, "fuzz-artifacts")
        os.makedirs(work, exist_ok=True)
        os.makedirs(arts, exist_ok=True)
        seeds = len(os.listdir(corpus))
        replay = subprocess.run([os.path.join(FUZZ, target), "-runs=0", corpus], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=120, cwd=FUZZ)
        cmd = [os.path.join(FUZZ, target), f"-max_total_time={SECONDS}", "-print_final_stats=1",
               f"-artifact_prefix={arts}/{name}-", work, corpus]
        if os.path.exists(os.path.join(FUZZ, name + ".dict")):
            cmd.insert(1, f"-dict={os.path.join(FUZZ, name + '.dict')}")
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=SECONDS + 120, cwd=FUZZ)
        with open(os.path.join(TMP, f"fuzz-{name}.out"), "w") as f:
            f.write(replay.stdout + p.stdout)
        runs = re.findall(r"stat::number_of_executed_units: (\d+)", p.stdout)
        cov = re.findall(r"cov: (\d+)", p.stdout)
        crashes = sorted(f for f in os.listdir(arts) if f.startswith(name + "-"))
        ok = replay.returncode == 0 and p.returncode == 0 and not crashes
        failed |= not ok
        results.append({"target": target, "covers": WHAT[target], "seed_inputs": seeds,
                        "replay_ok": replay.returncode == 0, "seconds": SECONDS,
                        "runs": int(runs[-1]) if runs else 0, "coverage": int(cov[-1]) if cov else 0,
                        "crashes": crashes, "ok": ok})
        print(f"{target}: {results[-1]['runs']} runs, cov {results[-1]['coverage']}, crashes {crashes or 'none'}")
        if not ok:
            print("\n".join(p.stdout.splitlines()[-40:]))
    with open(os.path.join(OUT, "fuzz.json"), "w") as f:
        json.dump({"tool": "libFuzzer", "version": clang, "targets": results}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
