#!/usr/bin/env python3
"""How the dashboards' cost grows with the log: reads the JSON reports of
`passerelle bench dashboards` (the last line of its output) at several sizes,
prints the curve as a Markdown table and draws it as an SVG.

    python3 scripts/cost_curve.py docs/performance/dashboards-*.json \
        --svg docs/performance/cost-curve.svg

Only the standard library: the SVG is written by hand. Both axes are
logarithmic, so a flat line is a query whose cost does not grow, and a line
of slope one grows as the log does.
"""

import argparse
import json
import math
import sys

PANELS = [
    ("Sans filtre", lambda q: not q["as_of"] and "filtered" not in q["query"]),
    ("Filtrées", lambda q: not q["as_of"] and "filtered" in q["query"]),
    ("À une date passée", lambda q: q["as_of"]),
]
COLOURS = ["#1b6ca8", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"]


def load(paths):
    reports = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            reports.append(json.load(f))
    reports.sort(key=lambda r: r["events"])
    return reports


def table(reports):
    sizes = [r["events"] for r in reports]
    head = "| query | " + " | ".join(f"{s / 1e6:.2f} M" for s in sizes) + " |"
    lines = [head, "|---|" + "--:|" * len(sizes)]
    for q in reports[0]["queries"]:
        row = [q["query"]]
        for r in reports:
            found = next((x for x in r["queries"] if x["query"] == q["query"]), None)
            row.append(f"{found['p95_ms']:.1f}" if found else "—")
        lines.append("| " + " | ".join(row) + " |")
    lines.append(
        "| one-pass rebuild, log events/s | "
        + " | ".join(f"{r['one_pass']['events_per_s']:,.0f}" for r in reports)
        + " |"
    )
    lines.append(
        "| one-pass rebuild, of the raw read | "
        + " | ".join(f"{r['one_pass']['of_raw']:.2f}" for r in reports)
        + " |"
    )
    lines.append(
        "| raw sequential read, events/s | "
        + " | ".join(f"{r['raw_read_events_per_s']:,.0f}" for r in reports)
        + " |"
    )
    return "\n".join(lines)


def svg(reports):
    width, height = 1200, 480
    pw, ph, top, left, gap = 330, 300, 50, 60, 70
    sizes = [r["events"] for r in reports]
    xs = [math.log10(s) for s in sizes]
    x0, x1 = min(xs) - 0.05, max(xs) + 0.05
    times = [q["p95_ms"] for r in reports for q in r["queries"] if q["p95_ms"] > 0]
    y0 = math.floor(math.log10(min(times)))
    y1 = math.ceil(math.log10(max(times)))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="22" font-size="15">p95 des requêtes des tableaux de bord '
        f"(ms) selon la taille du journal (événements), échelles logarithmiques</text>",
    ]
    for p, (title, keep) in enumerate(PANELS):
        ox = left + p * (pw + gap)

        def px(x, ox=ox):
            return ox + (x - x0) / (x1 - x0) * pw

        def py(y):
            return top + ph - (y - y0) / (y1 - y0) * ph

        out.append(f'<text x="{ox}" y="{top - 8}" font-weight="bold">{title}</text>')
        out.append(
            f'<rect x="{ox}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>'
        )
        for e in range(y0, y1 + 1):
            y = py(e)
            out.append(f'<line x1="{ox}" x2="{ox + pw}" y1="{y}" y2="{y}" stroke="#eee"/>')
            out.append(f'<text x="{ox - 6}" y="{y + 4}" text-anchor="end">{10 ** e:g}</text>')
        for s, x in zip(sizes, xs):
            out.append(
                f'<text x="{px(x)}" y="{top + ph + 16}" text-anchor="middle">{s / 1e6:.1f} M</text>'
            )
        names = [q["query"] for q in reports[0]["queries"] if keep(q)]
        for i, name in enumerate(names):
            colour = COLOURS[i % len(COLOURS)]
            points = []
            for r, x in zip(reports, xs):
                q = next((q for q in r["queries"] if q["query"] == name), None)
                if q and q["p95_ms"] > 0:
                    points.append((px(x), py(math.log10(q["p95_ms"]))))
            out.append(
                '<polyline fill="none" stroke-width="2" stroke="{}" points="{}"/>'.format(
                    colour, " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
                )
            )
            for a, b in points:
                out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>')
            label = name.replace(" as of a year ago", "").replace(",", "")
            out.append(
                f'<text x="{ox + 4}" y="{top + ph + 34 + 13 * i}" fill="{colour}">— {label}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+")
    parser.add_argument("--svg")
    args = parser.parse_args()
    reports = load(args.reports)
    print(table(reports))
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
