"""The console's look: Gradio theme, a little CSS, and the small HTML pieces (stat tiles, badges, notices).

Plots are Gradio's native plot components; HTML here is only for text-like pieces.
"""

from __future__ import annotations

from html import escape

import gradio as gr

COLORS = {"negative": "#dc2626", "neutral": "#94a3b8", "positive": "#16a34a"}

THEME = gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                       # local fonts only: the console must look right on machines without internet access
                       font=["ui-sans-serif", "system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

CSS = """
.console-header h2 { margin: 0; }
.console-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.tile { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px;
        background: var(--background-fill-primary); }
.tile .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em;
               color: var(--body-text-color-subdued); }
.tile .value { font-size: 26px; font-weight: 650; margin-top: 2px; }
.tile .hint { font-size: 12px; color: var(--body-text-color-subdued); margin-top: 2px; }
.tile.bad .value { color: #dc2626; } .tile.good .value { color: #16a34a; }
.notice { border-radius: 8px; padding: 10px 14px; margin: 4px 0; border: 1px solid; }
.notice.ok { background: #f0fdf4; border-color: #86efac; color: #14532d; }
.notice.warn { background: #fffbeb; border-color: #fcd34d; color: #78350f; }
.notice.error { background: #fef2f2; border-color: #fca5a5; color: #7f1d1d; }
.notice.info { background: #eef2ff; border-color: #c7d2fe; color: #312e81; }
.badges { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.badge { border-radius: 999px; padding: 2px 10px; font-size: 13px; border: 1px solid var(--border-color-primary);
         background: var(--background-fill-secondary); }
.badge.negative { background: #fee2e2; border-color: #fca5a5; color: #7f1d1d; }
.badge.positive { background: #dcfce7; border-color: #86efac; color: #14532d; }
.badge.flag { background: #fef3c7; border-color: #fcd34d; color: #78350f; }
.definition { font-size: 14px; border-left: 3px solid #6366f1; padding: 6px 12px; margin: 6px 0;
              background: var(--background-fill-secondary); }
.bar { align-items: flex-end !important; }
.bar > button, .bar > .form + button { margin-bottom: 2px; }
footer { display: none !important; }
"""


def tiles(items: list[tuple[str, str, str, str]]) -> str:
    """Stat tiles: (label, value, hint, tone) with tone '', 'good' or 'bad'."""
    cells = "".join(
        f'<div class="tile {tone}" data-kpi="{escape(label)}"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div><div class="hint">{escape(hint)}</div></div>'
        for label, value, hint, tone in items
    )
    return f'<div class="tiles">{cells}</div>'


def notice(text: str, tone: str = "info") -> str:
    return f'<div class="notice {tone}">{escape(text)}</div>'


def badges(items: list[tuple[str, str]]) -> str:
    """(text, tone) pairs; tone is '', 'negative', 'positive' or 'flag'."""
    return '<div class="badges">' + "".join(
        f'<span class="badge {tone}">{escape(text)}</span>' for text, tone in items) + "</div>"
