"""The report page: one self-contained HTML file (CSS inline, figures as data URIs), readable at 1366 px."""

from __future__ import annotations

import datetime as _dt

from workbench.jobs.report.tables import esc

CSS = """
:root { --fg:#1d2430; --dim:#6b7686; --line:#dde3ea; --band:#f5f7fa; --accent:#2f6fb3; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color:var(--fg); background:#fff; }
header { background:#1f3550; color:#fff; padding:18px 32px; }
header h1 { margin:0 0 4px; font-size:22px; font-weight:600; }
header p { margin:0; color:#c9d6e6; font-size:13px; }
nav { position:sticky; top:0; z-index:2; background:#fff; border-bottom:1px solid var(--line);
      padding:8px 32px; font-size:13px; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; }
main { max-width:1300px; margin:0 auto; padding:8px 32px 48px; }
h2 { font-size:19px; margin:34px 0 8px; padding-bottom:4px; border-bottom:2px solid var(--accent); }
h3 { font-size:15px; margin:22px 0 6px; color:#24384f; }
p.lead { color:var(--dim); margin:4px 0 12px; max-width:1000px; }
.table-wrap { overflow-x:auto; margin:6px 0 14px; }
table { border-collapse:collapse; font-size:12.5px; min-width:40%; }
caption { caption-side:top; text-align:left; color:var(--dim); font-size:12px; padding:0 0 5px; max-width:1100px; }
th { background:var(--band); font-weight:600; text-align:right; padding:5px 9px; border-bottom:1px solid #c8d1dc;
     white-space:nowrap; }
th.key, td.key { text-align:left; }
td { padding:4px 9px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
tbody tr:nth-child(even) td { background:#fbfcfd; }
.val, .dim { color:var(--dim); font-size:11.5px; }
.na { color:#8a5a00; }
.na sup { font-size:9px; }
.bad { color:var(--bad); }
.params { white-space:normal; color:var(--dim); font-size:11.5px; display:inline-block; max-width:900px; }
ol.notes { margin:4px 0 0; padding-left:22px; color:#8a5a00; font-size:11.5px; }
p.na-block { color:#8a5a00; background:#fff8e6; border-left:3px solid #e0a800; padding:6px 10px; margin:8px 0; }
figure { margin:8px 0 16px; }
figure img { max-width:100%; height:auto; border:1px solid var(--line); }
.figs { display:flex; flex-wrap:wrap; gap:0 18px; align-items:flex-start; }
.two-col { display:flex; gap:24px; align-items:flex-start; flex-wrap:wrap; }
.two-col > div { flex:1 1 420px; min-width:0; }
.summary { display:flex; gap:14px; flex-wrap:wrap; margin:14px 0; }
.card { border:1px solid var(--line); border-radius:6px; padding:8px 14px; background:var(--band); min-width:150px; }
.card b { display:block; font-size:18px; }
.card span { color:var(--dim); font-size:12px; }
details summary { cursor:pointer; color:var(--accent); margin:6px 0; }
.ci { color:var(--dim); font-size:11px; }
.flag { display:inline-block; background:#fdecea; color:var(--bad); border:1px solid #f3b7b1; border-radius:3px;
        padding:0 5px; font-size:11px; font-weight:600; white-space:nowrap; }
.good { color:#1e7a34; }
ul.defs { color:var(--fg); font-size:12.5px; max-width:1100px; padding-left:20px; }
ul.defs li { margin:2px 0; }
.card .flag { font-size:10.5px; margin-top:3px; }
"""


def page(title: str, subtitle: str, nav: list[tuple[str, str]], body: str) -> str:
    """The whole HTML document around already built section HTML."""
    links = "".join(f'<a href="#{esc(anchor)}">{esc(text)}</a>' for anchor, text in nav)
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{subtitle} · written {stamp}</p></header>"
        f"<nav>{links}</nav><main>{body}</main></body></html>"
    )


def cards(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="summary">'
        + "".join(f'<div class="card"><b>{v}</b><span>{esc(k)}</span></div>' for k, v in items)
        + "</div>"
    )
