"""The customer's language, per message, and the fixed replies the assistant can give in it.

    detect_language("Combien de temps prend un remboursement ?")   # -> "fr"

Detection is py3langid (langid.py's model, BSD, shipped inside the wheel), limited to the languages a
support team is likely to see; a message too short or too uncertain to tell ("ok", "merci", "👍", an
order number) is "unknown", and the turn then goes on as if it were in the knowledge base's language.
The retrieval encoder (all-MiniLM-L6-v2) reads English only, so a question in another language is
answered only from pages written in that language; otherwise the assistant says so in the customer's
language and offers a person (turn.py). LOCALISED holds those replies for the languages the product
speaks besides English.
"""

from __future__ import annotations

import re
from functools import lru_cache

UNKNOWN = "unknown"
# What the detector may answer; a language outside it is read as the closest of these, so the list is broad
# (Dutch must not be read as German) while LOCALISED below covers the languages the replies are written in.
DETECTED = ("en", "fr", "de", "es", "zh", "nl", "it", "pt")
# langid's normalised probability below which the language is unknown: single words ("merci" 0.18, "danke"
# 0.52, "hallo" 0.31) fall under it, sentences of three words or more score 0.8-1.0.
MIN_PROBABILITY = 0.8
MIN_LETTERS = 6  # fewer letters (Latin) than this: unknown, whatever the model says
MIN_CJK = 2  # Chinese has no spaces: two characters already carry a word
MAX_CHARS = 1000  # the opening of a long message decides; langid is linear in the length

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# links and order numbers say nothing about the language (ASCII runs only: Chinese has no spaces to stop at)
_URL_OR_CODE = re.compile(r"https?://\S+|[A-Za-z0-9_#./-]*\d[A-Za-z0-9_#./-]*")

# Replies in the customer's language. `abstain` and `handoff` stand in for understanding.abstain_message and
# handoff_message while those are at their (English) defaults (while a person has the chat the assistant says
# nothing); `other_language` is said when the knowledge base has no page in the customer's language: it offers
# a person, which a second such message then gets. `after_hours` ({when}: opening_hours.describe's phrase in the
# same language, {zone}: the site's time zone) and `after_hours_closed` (no opening ahead) stand in for
# opening_hours' English texts when a person is asked for outside the site's opening hours.
LOCALISED: dict[str, dict[str, str]] = {
    "fr": {
        "abstain": "Désolé, je n'ai pas trouvé de réponse fiable à cette question dans notre centre d'aide. "
                   "Vous pouvez la reformuler, ou me demander de vous mettre en relation avec un conseiller.",
        "handoff": "Je transmets cette conversation à un membre de notre équipe. Il vous répondra ici dès que "
                   "possible, pendant nos heures d'ouverture.",
        "other_language": "Désolé, je ne peux pas encore répondre en français à partir de notre centre d'aide. "
                          "Un membre de notre équipe peut vous aider : écrivez-moi à nouveau et je lui transmets "
                          "la conversation, ou posez votre question en anglais.",
        "after_hours": "Notre équipe n'est pas disponible pour le moment et sera de retour {when} ({zone}). "
                       "Laissez votre adresse e-mail ci-dessous et un conseiller vous écrira à ce moment-là.",
        "after_hours_closed": "Notre équipe ne répond pas aux messages pour le moment. Laissez votre adresse "
                              "e-mail ci-dessous et un conseiller vous écrira.",
    },
    "de": {
        "abstain": "Leider habe ich in unserem Hilfe-Center keine verlässliche Antwort darauf gefunden. Sie "
                   "können die Frage anders formulieren oder mich bitten, Sie mit einem Mitarbeiter zu verbinden.",
        "handoff": "Ich übergebe dieses Gespräch an ein Mitglied unseres Support-Teams. Sie erhalten hier so bald "
                   "wie möglich eine Antwort, während unserer Öffnungszeiten.",
        "other_language": "Leider kann ich aus unserem Hilfe-Center noch nicht auf Deutsch antworten. Ein "
                          "Mitarbeiter kann Ihnen helfen: Schreiben Sie mir noch einmal, dann leite ich das "
                          "Gespräch weiter, oder stellen Sie Ihre Frage auf Englisch.",
        "after_hours": "Unser Team ist gerade nicht erreichbar und ist {when} wieder da ({zone}). Hinterlassen "
                       "Sie unten Ihre E-Mail-Adresse, dann schreibt Ihnen ein Mitarbeiter.",
        "after_hours_closed": "Unser Team beantwortet im Moment keine Chats. Hinterlassen Sie unten Ihre "
                              "E-Mail-Adresse, dann schreibt Ihnen ein Mitarbeiter.",
    },
    "es": {
        "abstain": "Lo siento, no he encontrado una respuesta fiable a esa pregunta en nuestro centro de ayuda. "
                   "Puede reformularla o pedirme que le ponga en contacto con una persona del equipo.",
        "handoff": "Paso esta conversación a un miembro de nuestro equipo de atención al cliente. Le responderá "
                   "aquí lo antes posible, dentro de nuestro horario de atención.",
        "other_language": "Lo siento, todavía no puedo responder en español a partir de nuestro centro de ayuda. "
                          "Una persona de nuestro equipo puede ayudarle: escríbame de nuevo y le paso la "
                          "conversación, o haga su pregunta en inglés.",
        "after_hours": "Nuestro equipo no está disponible ahora y vuelve {when} ({zone}). Deje su dirección de "
                       "correo electrónico abajo y una persona del equipo le escribirá entonces.",
        "after_hours_closed": "Nuestro equipo no está atendiendo chats en este momento. Deje su dirección de "
                              "correo electrónico abajo y una persona del equipo le escribirá.",
    },
    "zh": {
        "abstain": "抱歉，我在帮助中心里没有找到这个问题的可靠答案。您可以换一种说法提问，或者让我为您转接人工客服。",
        "handoff": "我正在把这段对话转给我们的客服人员，他们会在工作时间内尽快在这里回复您。",
        "other_language": "抱歉，我目前还无法根据帮助中心用中文回答。我们的客服人员可以帮助您：请再给我发一条消息，"
                          "我会为您转接人工客服；您也可以用英文提问。",
        "after_hours": "我们的客服人员现在不在线，将于{when}回来（{zone}）。请在下方留下您的电子邮箱地址，"
                       "届时会有客服人员给您写信。",
        "after_hours_closed": "我们的客服人员目前不接待在线咨询。请在下方留下您的电子邮箱地址，会有客服人员给您写信。",
    },
}

# "I want a person" in the languages above (English is policy._HUMAN_REQUEST): caught before the intent model,
# which was trained on English messages only.
HUMAN_REQUEST_ELSEWHERE = re.compile(
    r"\b(?:parler\s+(?:à|a|avec)\s+(?:un|une|quelqu['’]un|un\s+vrai|une\s+vraie)\s*(?:humain|personne|conseill\w*|agent)?"
    r"|(?:un|une)\s+(?:humain|conseill(?:er|ère))"
    r"|(?:mit\s+)?(?:einem|einer)\s+(?:echten\s+)?(?:Menschen|Mitarbeiter\w*|Berater\w*)\s+(?:sprechen|reden|verbinden)"
    r"|(?:hablar|comunicarme)\s+con\s+(?:una\s+persona|un\s+humano|un\s+agente|alguien|un\s+asesor)"
    r")|人工客服|转人工|真人",
    re.I,
)


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(DETECTED))
    return identifier


def load() -> None:
    """Load the model now (start-up), so that a broken install stops the server instead of the first chat."""
    try:
        _identifier()
    except Exception as exc:
        raise RuntimeError(f"the language detector (py3langid) cannot be loaded: {exc}; reinstall the package") \
            from exc


def detect_language(text: str) -> str:
    """ISO 639-1 code of `text`'s language (one of DETECTED), or "unknown" when it cannot be told."""
    sample = _URL_OR_CODE.sub(" ", text[:MAX_CHARS])
    cjk = len(_CJK.findall(sample))
    if cjk < MIN_CJK and len(_LETTER.findall(sample)) < MIN_LETTERS:
        return UNKNOWN
    language, probability = _identifier().classify(sample)
    return language if probability >= MIN_PROBABILITY else UNKNOWN


def localised(language: str, key: str) -> str | None:
    """The reply `key` (abstain, handoff, other_language, after_hours, after_hours_closed) in `language`, or None
    when there is none."""
    return LOCALISED.get(language, {}).get(key)


def is_human_request_elsewhere(text: str) -> bool:
    return bool(HUMAN_REQUEST_ELSEWHERE.search(text))
