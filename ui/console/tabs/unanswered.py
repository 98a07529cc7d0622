"""Console tab "Unanswered": what one site's assistant could not answer, grouped by meaning (Assistant.unanswered).

Abstentions, handoffs for lack of an answer and thumbs-down replies, one row per group of similar questions with its
count, when it was last asked and its wordings. Select a group, write the answer (the question may be edited) and
**Save answer**: it becomes an FAQ entry of that site's knowledge base, answered from the customer's next turn on,
and the group leaves the list. Bad input (an empty or over-long answer) is a notice; nothing is written.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine.errors import InvalidMessage, MessageNotFound, RetrievalError, SiteNotFound
from assistant.engine.sites import DEFAULT_SITE
from assistant.engine.unanswered import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, UnansweredGroup
from ui.console.context import ConsoleContext, local_time, short
from ui.console.style import notice

COLUMNS = ["count", "last seen", "question", "other wordings", "why"]
SHOWN = 200  # groups in the table, biggest first


def _group_state(g: UnansweredGroup) -> dict[str, Any]:
    """What the browser keeps of a group between events (gr.State): plain data."""
    return {"id": g.id, "question": g.question, "examples": g.examples, "question_ids": g.question_ids}


class UnansweredTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Unanswered", id="unanswered") as self.tab:
            with gr.Row():
                self.site = gr.Dropdown([DEFAULT_SITE], value=DEFAULT_SITE, label="Site", scale=2,
                                        elem_id="unanswered-site")
                self.refresh = gr.Button("Refresh", scale=0, min_width=100, elem_id="unanswered-refresh")
            self.table = gr.Dataframe(pd.DataFrame(columns=COLUMNS), interactive=False, wrap=True,
                                      label="Questions without a good answer, grouped (select one to answer it)",
                                      elem_id="unanswered-table", max_height=360)
            self.list_status = gr.HTML(elem_id="unanswered-list-status")
            self.groups = gr.State([])  # [_group_state] in the table's order
            self.current = gr.State(None)  # the selected group
            with gr.Row():
                with gr.Column(scale=3):
                    self.question = gr.Textbox(label="Question (as customers ask it; you may edit it)",
                                               max_length=MAX_QUESTION_CHARS, elem_id="unanswered-question")
                    self.answer = gr.Textbox(label="Answer: what customers of this site get from now on", lines=4,
                                             elem_id="unanswered-answer",
                                             placeholder=f"At most {MAX_ANSWER_CHARS} characters.")
                    with gr.Row():
                        self.author = gr.Textbox(value="Operator", label="Your name (audit log)", max_length=100,
                                                 scale=2, elem_id="unanswered-author")
                        self.save = gr.Button("Save answer", variant="primary", scale=1, elem_id="unanswered-save")
                    self.status = gr.HTML(elem_id="unanswered-status")
                with gr.Column(scale=2):
                    self.examples = gr.Markdown(elem_id="unanswered-examples")

    def render(self, site: str) -> list[Any]:
        """[site choices, table, groups, status]."""
        assistant = self.ctx.assistant()
        site_id = site or DEFAULT_SITE
        choices = gr.update(choices=[s.id for s in assistant.sites.all_sites()])
        try:
            groups = assistant.unanswered.groups(site_id)[:SHOWN]
        except SiteNotFound:
            return [choices, pd.DataFrame(columns=COLUMNS), [], notice(f"No site {site_id!r}.", "warn")]
        tz = self.ctx.settings.console.timezone
        table = pd.DataFrame([(g.count, local_time(g.last_seen, tz), short(g.question, 90),
                               " · ".join(short(e, 60) for e in g.examples if e != g.question),
                               ", ".join(f"{k} {v}" for k, v in sorted(g.reasons.items())))
                              for g in groups], columns=COLUMNS)
        status = notice(f"{len(groups)} group{'s' if len(groups) != 1 else ''} of unanswered questions on "
                        f"{site_id}.", "info")
        return [choices, table, [_group_state(g) for g in groups], status]

    def on_select(self, groups: list[dict[str, Any]], evt: gr.SelectData) -> list[Any]:
        """[question box, wordings, current group] of the table's selected row."""
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        if row is None or not 0 <= row < len(groups):
            return ["", "", None]
        group = groups[row]
        wordings = "#### Asked as\n" + "\n".join(f"- {e}" for e in group["examples"])
        return [group["question"], wordings, group]

    def write(self, site: str, current: dict[str, Any] | None, question: str, answer: str, author: str
              ) -> list[Any]:
        """Save the answer as the site's FAQ entry: [site, table, groups, current, status, answer box]."""
        keep = [gr.update(), gr.update(), gr.update(), current]
        if not current:
            return [*keep, notice("Select a group of questions first.", "warn"), answer]
        site_id = site or DEFAULT_SITE
        try:
            saved = self.ctx.assistant().unanswered.answer(site_id, question, answer, current["question_ids"],
                                                           actor=(author or "").strip() or "Operator")
        except (InvalidMessage, MessageNotFound, RetrievalError, SiteNotFound) as exc:
            return [*keep, notice(str(exc), "error"), answer]
        done = notice(f"Saved: {saved.answers} question{'s' if saved.answers != 1 else ''} answered; customers of "
                      f"{site_id} asking it get this answer from now on.", "ok")
        return [*self.render(site_id)[:3], None, done, ""]

    def wire(self) -> None:
        listed = [self.site, self.table, self.groups, self.list_status]
        for trigger in (self.tab.select, self.refresh.click, self.site.input):
            trigger(self.render, self.site, listed)
        self.table.select(self.on_select, self.groups, [self.question, self.examples, self.current])
        self.save.click(self.write, [self.site, self.current, self.question, self.answer, self.author],
                        [self.site, self.table, self.groups, self.current, self.status, self.answer])
