"""Console tab "Inbox": handed-off conversations as the team works them (Assistant.handoffs, queue.py).

The queue (waiting longest first, with the time waited; or claimed, or closed), one conversation's transcript with
the assistant's sources and the customer's sentiment per message, the agents' internal notes, and the actions:
claim, reply (the customer sees it in the widget under the name given here), add a note, close, hand back.
Everything goes through the facade, as the API's agent queue does, so it is audited and sent to the site's webhook.
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from assistant.engine.errors import ConversationNotFound, InvalidMessage, NotHandedOff
from ui.console.context import ALL_SITES, ConsoleContext, short
from ui.console.style import notice

QUEUE_COLUMNS = ["conversation", "site", "state", "waiting", "agent", "customer's last message", "sentiment"]
VIEWS = {"Waiting": "waiting", "Claimed": "claimed", "Mine": "mine", "Closed": "closed"}
SENTIMENT_MARK = {"negative": "negative ☹", "neutral": "neutral", "positive": "positive ☺"}


def waited(seconds: float) -> str:
    """12 s, 4 min, 2 h 05 min, 3 d 4 h: how long a customer has waited, at a glance."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


class InboxTab:
    def __init__(self, ctx: ConsoleContext) -> None:
        self.ctx = ctx
        with gr.Tab("Inbox", id="inbox") as self.tab:
            with gr.Row():
                self.site = gr.Dropdown([ALL_SITES], value=ALL_SITES, label="Site", scale=2, elem_id="inbox-site")
                self.view = gr.Radio(list(VIEWS), value="Waiting", label="Queue", scale=3, elem_id="inbox-view")
                self.agent = gr.Textbox(value="Operator", label="Your name (the customer sees it on replies)",
                                        max_length=100, scale=2, elem_id="inbox-agent")
                self.refresh = gr.Button("Refresh", scale=0, min_width=100, elem_id="inbox-refresh")
            self.queue = gr.Dataframe(pd.DataFrame(columns=QUEUE_COLUMNS), interactive=False, wrap=True,
                                      label="Queue (select a conversation to open it)", elem_id="inbox-queue",
                                      max_height=280)
            self.queue_status = gr.HTML(elem_id="inbox-queue-status")
            self.rows = gr.State([])  # [(conversation id, site id)] in the table's order
            self.current = gr.State(None)  # (conversation id, site id) of the open conversation
            with gr.Row():
                with gr.Column(scale=3):
                    self.transcript = gr.Chatbot(label="Transcript", height=420, elem_id="inbox-transcript",
                                                 feedback_options=None, placeholder="Select a conversation above.")
                    self.reply = gr.Textbox(label="Reply to the customer", lines=3, elem_id="inbox-reply",
                                            placeholder="Shown in the customer's widget under your name.")
                    self.send = gr.Button("Send reply", variant="primary", elem_id="inbox-send")
                with gr.Column(scale=2):
                    self.summary = gr.Markdown(elem_id="inbox-summary")
                    with gr.Row():
                        self.claim = gr.Button("Claim", elem_id="inbox-claim")
                        self.close = gr.Button("Close", elem_id="inbox-close")
                        self.hand_back = gr.Button("Hand back to the assistant", elem_id="inbox-handback")
                    self.action_status = gr.HTML(elem_id="inbox-status")
                    self.notes = gr.Markdown(elem_id="inbox-notes")
                    self.note = gr.Textbox(label="Internal note (never shown to the customer)", lines=2,
                                           elem_id="inbox-note")
                    self.add_note = gr.Button("Add note", elem_id="inbox-add-note")

    # -- the queue -----------------------------------------------------------------------------
    def site_ids(self) -> list[str]:
        """Every site (the queue is per site; a site with no conversation yet has an empty one)."""
        return [s.id for s in self.ctx.assistant().sites.all_sites()]

    def sites_for(self, site: str) -> list[str]:
        return self.site_ids() if site in ("", ALL_SITES, None) else [site]

    def render_queue(self, site: str, view: str, agent: str) -> list[Any]:
        """[site choices, queue table, rows, status]."""
        handoffs = self.ctx.assistant().handoffs
        kind = VIEWS.get(view, "waiting")
        items = []
        try:
            for site_id in self.sites_for(site):
                items += handoffs.items(site_id, kind, agent=agent, limit=200)  # type: ignore[arg-type]
        except InvalidMessage as exc:
            return [gr.update(), pd.DataFrame(columns=QUEUE_COLUMNS), [], notice(str(exc), "warn")]
        if kind == "closed":
            items.sort(key=lambda e: e.closed_at or e.handoff_at, reverse=True)
        else:
            items.sort(key=lambda e: (e.handoff_at is None, e.handoff_at))
        table = pd.DataFrame([(e.conversation_id[:12], e.site_id, e.outcome or e.state, waited(e.waiting_s),
                               e.agent or "", short(e.last_customer_message, 90),
                               SENTIMENT_MARK.get(e.sentiment or "", e.sentiment or ""))
                              for e in items], columns=QUEUE_COLUMNS)
        status = notice(f"{len(items)} {view.lower()} conversation{'s' if len(items) != 1 else ''}.", "info")
        return [gr.update(choices=[ALL_SITES, *self.site_ids()]), table,
                [(e.conversation_id, e.site_id) for e in items], status]

    # -- one conversation ------------------------------------------------------------------------
    def open(self, current: tuple[str, str] | None) -> list[Any]:
        """[transcript, summary, notes] of the open conversation."""
        if not current:
            return [[], "", ""]
        conversation_id, site_id = current
        assistant = self.ctx.assistant()
        try:
            conv = assistant.conversations.get(conversation_id, site_id)
            entry = assistant.handoffs.entry(conversation_id, site_id)
            notes = assistant.handoffs.notes(conversation_id, site_id)
        except ConversationNotFound:
            return [[], "That conversation was deleted.", ""]
        history: list[dict[str, Any]] = []
        for m in conv.messages:
            if m.role == "user":
                mood = f"\n\n*sentiment: {SENTIMENT_MARK.get(m.sentiment, m.sentiment)}*" if m.sentiment else ""
                history.append({"role": "user", "content": m.content + mood})
            elif m.role == "agent":
                history.append({"role": "assistant", "content": f"**{m.author or 'Agent'} (agent):** {m.content}"})
            elif not (m.route == "paused" and not m.content):  # the assistant's silence while a person had it
                history.append({"role": "assistant", "content": m.content})
                if m.sources:
                    lines = [f"[{i}] {s.get('title') or s.get('doc_id')}" + (f" — {s['url']}" if s.get("url") else "")
                             for i, s in enumerate(m.sources, 1)]
                    history.append({"role": "assistant", "content": "\n".join(lines),
                                    "metadata": {"title": f"Sources ({len(m.sources)})", "status": "done"}})
        state = entry.outcome or entry.state
        summary = (f"**{conversation_id[:12]}** on site `{site_id}` · {state}"
                   + (f" by **{entry.agent}**" if entry.agent else "")
                   + f" · waited {waited(entry.waiting_s)}"
                   + (f" · reason: {entry.handoff_reason}" if entry.handoff_reason else ""))
        email = assistant.contact_of(conversation_id)  # left out of hours, for a person to write back
        summary += f" · e-mail: **{email}**" if email else ""
        notes_md = "#### Internal notes\n" + ("\n".join(f"- **{n.author}** ({n.created_at:%Y-%m-%d %H:%M}): {n.text}"
                                                       for n in notes) or "_none yet_")
        return [history, summary, notes_md]

    def on_select(self, rows: list[tuple[str, str]], evt: gr.SelectData) -> list[Any]:
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        current = tuple(rows[row]) if row is not None and row < len(rows) else None
        return [current, *self.open(current), ""]

    def act(self, action: str, current: tuple[str, str] | None, agent: str, text: str = "") -> list[Any]:
        """Claim, reply, note, close or hand back; [transcript, summary, notes, status, cleared text box]."""
        if not current:
            return [gr.update(), gr.update(), gr.update(), notice("Select a conversation first.", "warn"), text]
        conversation_id, site_id = current
        queue = self.ctx.assistant().handoffs
        name = (agent or "").strip() or "Operator"
        try:
            if action == "claim":
                queue.claim(conversation_id, site_id, name)
                done = f"Claimed by {name}."
            elif action == "reply":
                queue.reply(conversation_id, site_id, name, text)
                done = "Reply sent: the customer sees it in the widget."
            elif action == "note":
                queue.note(conversation_id, site_id, name, text)
                done = "Note added (agents only)."
            elif action == "close":
                queue.close(conversation_id, site_id, name)
                done = "Closed: the handoff ended."
            else:
                queue.hand_back(conversation_id, site_id, name)
                done = "Handed back: the assistant answers this customer again."
        except NotHandedOff as exc:  # AlreadyClaimed among them
            message = str(exc) if "claimed by" in str(exc) else "This conversation is not with a person any more."
            return [*self.open(current), notice(message, "error"), text]
        except (InvalidMessage, ConversationNotFound) as exc:
            return [*self.open(current), notice(str(exc) or "That conversation was deleted.", "error"), text]
        return [*self.open(current), notice(done, "ok"), ""]

    def wire(self) -> None:
        queue_in, queue_out = [self.site, self.view, self.agent], [self.site, self.queue, self.rows, self.queue_status]
        for trigger in (self.tab.select, self.refresh.click, self.site.input, self.view.input):
            trigger(self.render_queue, queue_in, queue_out)
        self.queue.select(self.on_select, self.rows,
                          [self.current, self.transcript, self.summary, self.notes, self.action_status])
        shown = [self.transcript, self.summary, self.notes, self.action_status]
        for button, action in ((self.claim, "claim"), (self.close, "close"), (self.hand_back, "hand_back")):
            button.click(lambda c, a, action=action: self.act(action, c, a)[:4], [self.current, self.agent], shown) \
                .then(self.render_queue, queue_in, queue_out)
        self.send.click(lambda c, a, t: self.act("reply", c, a, t), [self.current, self.agent, self.reply],
                        [*shown, self.reply]).then(self.render_queue, queue_in, queue_out)
        self.add_note.click(lambda c, a, t: self.act("note", c, a, t), [self.current, self.agent, self.note],
                            [*shown, self.note])
