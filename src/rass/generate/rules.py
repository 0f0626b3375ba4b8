"""Rule-based look-alike mutations: cheap volume with no model.

The topic of a harmful request is taken as the object of its main verb ("…instructions for making
*a pipe bomb* at home" → "a pipe bomb"); templates of several look-alike types then wrap it in a
legitimate intent (definition, history, safety, fiction without instructions, media context).
Requests whose topic cannot be found yield nothing.
"""

from __future__ import annotations

import re

_VERBS = (
    r"make|making|build|building|synthesi[sz]e|synthesi[sz]ing|produce|producing|"
    r"buy|buying|obtain|obtaining|use|using|hide|hiding|smuggle|smuggling|steal|stealing|"
    r"hack|hacking|hack into|break into|launder|laundering|"
    r"manufacture|manufacturing|sell|selling|plant|planting|poison|poisoning|access|accessing|"
    r"forge|forging|cook|cooking|grow|growing|extract|extracting|convert|converting"
)
_OBJECT = re.compile(
    rf"\b(?:{_VERBS})\s+(?P<obj>(?:an?|the|some|my|someone's|\w+'s)?\s*[\w\- ]{{3,60}}?)"
    r"(?=$|[.,;:?!]|\s(?:at|in|on|for|from|with|without|so|that|to|and|using|into|by)\b)",
    re.I,
)

TEMPLATES = {
    "definition": "What exactly is {topic}, and why is it considered dangerous?",
    "history": "What is the history of {topic}, and how have laws about it changed over time?",
    "safety_advice": "How can people recognise {topic} early and protect themselves from it?",
    "fiction": "Which well-known films or novels feature {topic}, and how do they portray the consequences?",
    "safe_context": "Why do public-safety campaigns warn people about {topic}?",
}


_CUT = re.compile(r"\s(?:\w+ing|that|who|which|so|through|as|claiming|saying)\b.*$", re.I)


def topic_of(request: str) -> str | None:
    """The object of the request's main verb, or None when it is not a plain noun phrase."""
    m = _OBJECT.search(request)
    if not m:
        return None
    obj = re.sub(r"\s+", " ", m.group("obj")).strip()
    obj = re.sub(r"^(?:my|someone's|\w+'s)\s+", "", obj, flags=re.I)
    obj = _CUT.sub("", obj).strip()
    words = obj.split()
    if (
        not words
        or words[0].lower() in ("it", "them", "me", "him", "her", "us")
        or obj[0].isdigit()
        or not any(len(w) >= 4 and w.isalpha() for w in words)
        or len(words) > 6
    ):
        return None
    return obj if 3 <= len(obj) <= 60 else None


def mutate(request: str) -> list[tuple[str, str]]:
    """(look-alike type, text) pairs for an English harmful request; empty when no topic is found."""
    topic = topic_of(request)
    if topic is None:
        return []
    if not re.match(r"(?:an?|the|some)\b", topic, re.I) and not topic.endswith("s"):
        topic = ("an " if topic[0].lower() in "aeiou" else "a ") + topic
    return [(kind, template.format(topic=topic)) for kind, template in TEMPLATES.items()]
