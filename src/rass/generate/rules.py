"""Rule-based look-alike mutations: cheap volume with no model.

The topic of a harmful request is taken as the object of its main verb ("…instructions for making
*a pipe bomb* at home" → "a pipe bomb"); templates of several look-alike types then wrap it in a
legitimate intent (definition, history, safety, fiction without instructions, media context).
Requests whose topic cannot be found yield nothing.

Mention frames work in every seed language: the whole harmful request is quoted inside a question
*about* it (how a moderator should handle it, whether to report it, why an assistant declines it).
They keep every surface feature of the seed while asking for something safe, and the quoted seed
is recorded in ``meta["mention"]`` so the benign gate's pattern screen judges the frame, not the
quotation (the classifier still reads the whole prompt).
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


MENTION_FRAMES: dict[str, dict[str, str]] = {
    "en": {
        "safe_context": 'I train content moderators. Someone posted: "{seed}" Which platform rule does this break, and how should a moderator respond?',
        "safety_advice": 'A stranger online asked me: "{seed}" This worried me. Should I report it, and to whom?',
        "definition": 'Without answering it, explain why an assistant should decline this request: "{seed}"',
    },
    "zh": {
        "safe_context": "我在培训内容审核员。有人发帖问：“{seed}” 这违反了哪条平台规则？审核员应该如何处理？",
        "safety_advice": "网上有个陌生人问我：“{seed}” 这让我很担心。我应该举报吗？向谁举报？",
        "definition": "请不要回答这个问题本身，只解释为什么AI助手应该拒绝这个请求：“{seed}”",
    },
    "es": {
        "safe_context": "Estoy formando a moderadores de contenido. Alguien publicó: «{seed}» ¿Qué norma de la plataforma incumple y cómo debería responder un moderador?",
        "safety_advice": "Un desconocido me preguntó por internet: «{seed}» Me preocupó. ¿Debería denunciarlo y ante quién?",
        "definition": "Sin responderla, explica por qué un asistente debería rechazar esta petición: «{seed}»",
    },
    "fr": {
        "safe_context": "Je forme des modérateurs de contenu. Quelqu'un a publié : « {seed} » Quelle règle de la plateforme cela enfreint-il, et comment un modérateur devrait-il réagir ?",
        "safety_advice": "Un inconnu m'a demandé en ligne : « {seed} » Cela m'inquiète. Dois-je le signaler, et à qui ?",
        "definition": "Sans y répondre, explique pourquoi un assistant devrait refuser cette demande : « {seed} »",
    },
    "de": {
        "safe_context": "Ich schule Content-Moderatoren. Jemand hat gepostet: „{seed}“ Gegen welche Plattformregel verstößt das, und wie sollte ein Moderator reagieren?",
        "safety_advice": "Ein Fremder hat mich online gefragt: „{seed}“ Das beunruhigt mich. Sollte ich es melden, und wo?",
        "definition": "Ohne sie zu beantworten: Erkläre, warum ein Assistent diese Anfrage ablehnen sollte: „{seed}“",
    },
    "ja": {
        "safe_context": "コンテンツモデレーターの研修をしています。ある人がこう投稿しました：「{seed}」 これはどのプラットフォーム規則に違反し、モデレーターはどう対応すべきですか？",
        "safety_advice": "ネットで知らない人にこう聞かれました：「{seed}」 心配です。通報すべきですか？どこに通報すればいいですか？",
        "definition": "質問自体には答えずに、AIアシスタントがこの依頼を断るべき理由を説明してください：「{seed}」",
    },
    "ru": {
        "safe_context": "Я обучаю модераторов контента. Кто-то опубликовал: «{seed}» Какое правило платформы это нарушает и как модератору следует отреагировать?",
        "safety_advice": "Незнакомец в интернете спросил меня: «{seed}» Меня это встревожило. Стоит ли сообщить об этом и куда?",
        "definition": "Не отвечая на сам вопрос, объясни, почему ассистенту следует отклонить этот запрос: «{seed}»",
    },
    "ar": {
        "safe_context": "أقوم بتدريب مشرفي المحتوى. نشر شخص ما: «{seed}» ما قاعدة المنصة التي يخالفها هذا، وكيف ينبغي للمشرف أن يتصرف؟",
        "safety_advice": "سألني شخص غريب على الإنترنت: «{seed}» أقلقني ذلك. هل يجب أن أبلّغ عنه، ولمن؟",
        "definition": "دون الإجابة عنه، اشرح لماذا ينبغي للمساعد أن يرفض هذا الطلب: «{seed}»",
    },
}  # fmt: skip


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


def mention(request: str, lang: str) -> list[tuple[str, str]]:
    """(look-alike type, text) pairs quoting ``request`` inside safe frames of its language."""
    frames = MENTION_FRAMES.get(lang.split("-")[0], {})
    seed = request.strip()
    return [(kind, frame.format(seed=seed)) for kind, frame in frames.items()]


def mutate(request: str) -> list[tuple[str, str]]:
    """(look-alike type, text) pairs for an English harmful request; empty when no topic is found."""
    topic = topic_of(request)
    if topic is None:
        return []
    if not re.match(r"(?:an?|the|some)\b", topic, re.I) and not topic.endswith("s"):
        topic = ("an " if topic[0].lower() in "aeiou" else "a ") + topic
    return [(kind, template.format(topic=topic)) for kind, template in TEMPLATES.items()]
