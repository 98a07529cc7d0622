"""Console tab "Sentiment": share over time, distribution, most negative conversations, surge alerts."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine import alerts
from assistant.engine import analytics as an
from ui.console.context import ConsoleContext, Filters, bucket_labels, local_time, short, signed
from ui.console.style import COLORS, notice

NEGATIVE_COLUMNS = ["conversation", "site", "last activity", "recent score", "negative msgs", "last customer message",
                    "status"]
ALERT_COLUMNS = ["raised", "site", "negative share", "baseline share", "webhook", "why"]


def rule_text(config: Any) -> str:
    rule = an.SurgeRule()
    return (
        f"**Surge rule.** Every {alerts.SURGE_CHECK_SECONDS:g} s the server compares, per site, the negative "
        f"share of customer messages in the last **{rule.window.total_seconds() / 60:g} min** with the share in the "
        f"**{rule.baseline.total_seconds() / 3600:g} h** before that. It raises an alert when the window has at "
        f"least **{rule.min_volume}** messages, its negative share is at least **{rule.min_increase:.0%}** "
        f"points above the baseline, **and** at least **{rule.ratio:g}×** the baseline. The baseline is "
        f"smoothed towards **{rule.prior_share:.0%}** negative as if it held "
        f"{rule.prior_weight} more messages at that share, so a new site is not compared with 0 of 0. One alert per site per window; alerts are listed here and POSTed to "
        f"`console.alert_webhook_url`{' (configured)' if config.alert_webhook_url else ' (not configured)'}."
    )


def surge_status(ctx: ConsoleContext, filters: Filters) -> str:
    verdicts = ctx.assistant().surge_monitor().status(site_id=filters.site_id)
    if not verdicts:
        return notice("No customer messages in the surge window: nothing to watch right now.", "ok")
    parts = []
    for v in verdicts:
        head = f"Site {v.site_id}: " + ("NEGATIVE SURGE — " if v.triggered else "no surge — ")
        parts.append(notice(head + v.explanation, "error" if v.triggered else "ok"))
    return "".join(parts)


def alerts_frame(ctx: ConsoleContext, filters: Filters) -> pd.DataFrame:
    rows = [(local_time(a.raised_at, filters.tz), a.site_id,
             f"{a.recent_share:.0%} ({a.recent_negative}/{a.recent_total})", f"{a.baseline_share:.0%}",
             a.webhook_status, a.explanation)
            for a in ctx.assistant().alerts(site_id=filters.site_id)]
    return pd.DataFrame(rows, columns=ALERT_COLUMNS)


class SentimentTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Sentiment", id="sentiment") as self.tab:
            self.status = gr.HTML(elem_id="surge-status")
            with gr.Row():
                gr.Markdown(rule_text(ctx.settings.console), elem_classes="definition")
                check = gr.Button("Check for a surge now", size="sm", scale=0, min_width=190, elem_id="surge-check")
            with gr.Row():
                # stacked bars, one per bucket: readable from the first hour of traffic (a line needs two)
                self.shares = gr.BarPlot(x="bucket", y="share", color="sentiment", color_map=COLORS,
                                         y_lim=[0, 1], y_title="share of customer messages", x_title="",
                                         sort="x", x_label_angle=-30, y_axis_format=".0%",
                                         title="Sentiment share over time", height=300, scale=3,
                                         elem_id="sentiment-share-plot")
                self.dist = gr.BarPlot(x="sentiment", y="count", color="sentiment", color_map=COLORS,
                                       title="Distribution", height=300, scale=2, x_title="", y_title="messages",
                                       y_lim=[0, None],
                                       elem_id="sentiment-dist-plot")
            self.negative = gr.Dataframe(pd.DataFrame(columns=NEGATIVE_COLUMNS), interactive=False, wrap=True,
                                         label="Most negative conversations right now (mean score of the last "
                                               "3 customer messages)", elem_id="most-negative")
            self.alerts = gr.Dataframe(pd.DataFrame(columns=ALERT_COLUMNS), interactive=False, wrap=True,
                                       column_widths=["14%", "9%", "12%", "10%", "10%", "45%"],
                                       label="Surge alerts", elem_id="surge-alerts")
        self.check = check

    @property
    def outputs(self) -> list[gr.components.Component]:
        return [self.status, self.shares, self.dist, self.negative, self.alerts]

    def render(self, df: pd.DataFrame, f: Filters) -> list[Any]:
        shares = an.sentiment_over_time(df, f.bucket, f.tz)
        shares = shares.assign(bucket=bucket_labels(shares["bucket"], f.bucket))
        worst = an.most_negative_conversations(df)
        negative = pd.DataFrame({
            "conversation": worst["conversation_id"].str[:8], "site": worst["site_id"],
            "last activity": [local_time(t, f.tz) for t in worst["last_activity"]],
            "recent score": [signed(v) for v in worst["recent_score"]],
            "negative msgs": worst["negative_messages"],
            "last customer message": [short(t) for t in worst["last_customer_message"]],
            "status": worst["status"],
        }, columns=NEGATIVE_COLUMNS)
        return [surge_status(self.ctx, f), gr.update(value=shares, title=f"Sentiment share per {f.bucket} ({f.tz})"),
                an.sentiment_distribution(df), negative, alerts_frame(self.ctx, f)]

    def check_now(self, f: Filters) -> str:
        raised = self.ctx.assistant().surge_monitor().check()
        if not raised:
            return notice("Checked: no new surge (sites already alerted in this window are not alerted twice).", "ok")
        return "".join(notice(f"Alert raised for site {a.site_id}: {a.explanation} — webhook: {a.webhook_status}",
                              "error") for a in raised)
