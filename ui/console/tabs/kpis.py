"""Console tab "KPIs": headline numbers with their definitions, a per-period table and trend, CSV export."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine import analytics as an
from ui.console.context import ConsoleContext, Filters, bucket_labels, ms, pct, signed
from ui.console.style import notice, tiles

DEFINITIONS = (
    f"**{an.RESOLUTION_DEFINITION}**  \n"
    "Handoff rate = conversations handed to a person / conversations. "
    "Abstention rate = replies where the assistant said it could not answer / all replies. "
    "Average sentiment = mean polarity of customer messages (−1 … +1). "
    "Latency = time to the complete reply, per reply (p50 = median, p90 = 9 in 10 replies are faster). "
    "Conversations count in the period they started."
)
TABLE_COLUMNS = ["period", "conversations", "automated resolution", "handoff", "abstention", "avg sentiment",
                 "latency p50", "latency p90"]


def kpi_tiles(k: an.Kpis) -> str:
    return tiles([
        ("Conversations", str(k.conversations), f"{k.customer_messages} customer messages", ""),
        ("Automated resolution", pct(k.automated_resolution_rate), "not handed off, not ending negative", "good"),
        ("Handoff rate", pct(k.handoff_rate), "handed to a person", ""),
        ("Abstention rate", pct(k.abstention_rate), "replies without an answer", ""),
        ("Average sentiment", signed(k.average_sentiment), "−1 … +1",
         "bad" if (k.average_sentiment or 0) < -0.2 else ""),
        ("Latency p50", ms(k.latency_p50_ms), "median reply", ""),
        ("Latency p90", ms(k.latency_p90_ms), "9 in 10 replies faster", ""),
    ])


class KpisTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("KPIs", id="kpis") as self.tab:
            self.tiles = gr.HTML(elem_id="kpi-tiles")
            gr.Markdown(DEFINITIONS, elem_classes="definition", elem_id="kpi-definitions")
            # points, not lines: a rate per period is visible from the first period on (a line needs two)
            self.trend = gr.ScatterPlot(x="period", y="rate", color="metric", title="Rates per period",
                                        y_lim=[0, 1], sort="x", x_label_angle=-30, y_axis_format=".0%",
                                        x_title="", y_title="share", height=280, elem_id="kpi-trend-plot")
            self.table = gr.Dataframe(pd.DataFrame(columns=TABLE_COLUMNS), interactive=False,
                                      label="Per period (conversation start)", elem_id="kpi-table")
            with gr.Row(elem_classes="bar"):
                self.export = gr.Button("Export KPIs to CSV", elem_id="kpi-export", scale=0, min_width=200)
                self.export_status = gr.HTML(elem_id="kpi-export-status")
            self.file = gr.File(label="CSV", interactive=False, elem_id="kpi-file", height=90)

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.tiles, self.trend, self.table]

    def render(self, df: pd.DataFrame, f: Filters) -> list[Any]:
        table = an.kpi_table(df, f.bucket, f.tz)
        periods = table[table["period"] != "all"]
        starts = pd.Series([pd.Timestamp(p) for p in periods["period"]], dtype=f"datetime64[ns, {f.tz}]")
        labels = bucket_labels(starts, f.bucket).tolist()
        trend = pd.concat([
            pd.DataFrame({"period": labels, "rate": periods[col].astype(float), "metric": name})
            for col, name in (("automated_resolution_rate", "automated resolution"), ("handoff_rate", "handoff"),
                              ("abstention_rate", "abstention"))
        ]) if len(periods) else pd.DataFrame({"period": pd.Series(dtype=str),
                                               "rate": pd.Series(dtype=float), "metric": pd.Series(dtype=str)})
        shown = pd.DataFrame({
            "period": [*labels, "all"],
            "conversations": table["conversations"],
            "automated resolution": [pct(v) for v in table["automated_resolution_rate"]],
            "handoff": [pct(v) for v in table["handoff_rate"]],
            "abstention": [pct(v) for v in table["abstention_rate"]],
            "avg sentiment": [signed(v) for v in table["average_sentiment"]],
            "latency p50": [ms(v) for v in table["latency_p50_ms"]],
            "latency p90": [ms(v) for v in table["latency_p90_ms"]],
        }, columns=TABLE_COLUMNS)
        return [kpi_tiles(an.kpis(df)), trend, shown]

    def on_export(self, f: Filters) -> tuple[str, str]:
        df = self.ctx.frame(f)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        site = f.site_id or "all-sites"
        path = an.export_kpis_csv(df, self.ctx.export_dir() / f"kpis-{site}-{stamp}.csv", f.bucket, f.tz)
        self.ctx.assistant().audit.record(f.site_id or "*", "operator", "export", "export:kpis",
                                          {"file": Path(path).name, "period": f.period})
        return str(path), notice(f"Exported {f.period.lower()}, per {f.bucket} ({f.tz}), to {path}.", "ok")
