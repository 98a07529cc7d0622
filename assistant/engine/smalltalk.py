"""Small talk: greetings, thanks, goodbyes, "are you a bot?" and messages with no words get a short reply in
the site's voice, never an abstention and never a knowledge-base search.

    kind = small_talk("Thanks, that helped!")   # "thanks"
    reply = SmallTalk(company="Northwind Outfitters").reply(kind)

A message is small talk only when nothing is left once its small-talk words are taken away: "Thanks! And
how do I return a jacket?" is a question and goes on to be answered. A site's own greeting or thanks
template, when it has one, speaks instead of these defaults (facade.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["greeting", "thanks", "goodbye", "bot", "no_words"]

# Whole phrases first (longest wins), then the filler words that may surround them.
_PHRASES: dict[Kind, tuple[str, ...]] = {
    "bot": ("are you a bot", "are you a robot", "are you human", "are you a human", "are you a real person",
            "are you real", "are you an ai", "is this a bot", "is this a robot", "is this a real person",
            "am i talking to a bot", "am i talking to a human", "am i talking to a real person",
            "am i talking to a person", "am i chatting with a bot", "is this automated", "are you automated"),
    "goodbye": ("goodbye", "good bye", "bye bye", "bye", "see you", "see ya", "have a nice day",
                "have a good day", "have a great day", "that's all", "thats all", "that is all", "take care"),
    "thanks": ("thank you very much", "thank you so much", "thank you", "thanks a lot", "thanks so much",
               "many thanks", "thanks", "thx", "ty", "cheers", "much appreciated", "appreciate it",
               "that helped", "that helps", "that's helpful", "very helpful", "perfect", "great", "awesome",
               "got it", "brilliant", "excellent", "wonderful", "it worked", "that worked", "works now"),
    "greeting": ("good morning", "good afternoon", "good evening", "hello there", "hi there", "hey there",
                 "hello", "hiya", "hi", "hey", "howdy", "greetings", "how are you", "how are you doing"),
}
_FILLER = {"ok", "okay", "oh", "ah", "so", "very", "really", "much", "a", "lot", "that", "it", "this", "you",
           "yes", "yeah", "yep", "all", "everyone", "team", "again", "for", "your", "the", "help", "now",
           "and", "just", "wanted", "to", "say", "guys", "folks", "there", "me", "my", "friend", "bot"}
_POSITIVE_SYMBOLS = set("👍🙏😊🙂😀😃😄😁❤💯👌✅🥰😍🤩☺♥")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))


def small_talk(message: str) -> Kind | None:
    """What kind of small talk the message is, or None when it asks or says anything else."""
    text = unicodedata.normalize("NFKC", message).strip()
    words = _words(text)
    if not words:  # only emoji, symbols or punctuation
        return "thanks" if any(ch in _POSITIVE_SYMBOLS for ch in text) else "no_words"
    found: list[Kind] = []
    rest = f" {words} "
    for kind, phrases in _PHRASES.items():
        for phrase in sorted(phrases, key=len, reverse=True):
            if f" {phrase} " in rest:
                rest = rest.replace(f" {phrase} ", " ")
                if kind not in found:
                    found.append(kind)
    if not found or any(w not in _FILLER for w in rest.split()):
        return None
    for kind in ("bot", "goodbye", "thanks", "greeting"):  # "thanks, bye" is a goodbye; "hi, are you a bot" a bot
        if kind in found:
            return kind  # type: ignore[return-value]
    return None


@dataclass(frozen=True)
class SmallTalk:
    """The default replies, in the site's name (`company`; empty = no name)."""

    company: str = ""

    def reply(self, kind: Kind) -> str:
        at = f" to {self.company}" if self.company else ""
        ours = f"{self.company}'s" if self.company else "this site's"
        return {
            "greeting": f"Hi, welcome{at}! What can I help you with?",
            "thanks": "You're welcome! Is there anything else I can help with?",
            "goodbye": "Thanks for getting in touch. Goodbye!",
            "bot": (f"I'm {ours} virtual assistant: I answer from the help centre, and I can pass you to a "
                    "person whenever you like. Just ask."),
            "no_words": "Could you tell me in a few words what you need help with?",
        }[kind]


TEMPLATE_INTENTS: dict[Kind, tuple[str, ...]] = {  # a site's own template for these intents speaks instead
    "greeting": ("greeting",),
    "thanks": ("thanks_goodbye", "thanks"),
    "goodbye": ("thanks_goodbye", "goodbye"),
}
