"""One line per headline figure, which `./scripts/bench` gathers into benchmarks/RESULTS.md.

    figure("upload pipeline / Pillow alone, 12 MP JPEG", "0.99 (goal <= 1.3)")

prints `FIGURE | upload pipeline / Pillow alone, 12 MP JPEG | 0.99 (goal <= 1.3)`.
"""


def figure(name, value):
    print(f"FIGURE | {name} | {value}", flush=True)
