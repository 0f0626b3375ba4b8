"""Translation backends behind one interface, and the quality gates every translation must pass.

- ``parallel``: the natively written multilingual seed sets (exact, only for seed items);
- ``apertium``: Debian's offline rule-based MT (``apt-get install apertium apertium-eng-spa``);
- ``llm``: a chat model prompted to translate (and to translate back, for the similarity gate);
- ``hf``: any local seq2seq translation model folder (e.g. on a GPU box).

Gates: the output is in the target language (script and stop-word checks), its length is within a
ratio of the source, and its back-translation resembles the source. Failures are dropped and counted.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rass.errors import RassError
from rass.runs import read_rows

if TYPE_CHECKING:
    from rass.models.chat import ChatModel

APERTIUM_PAIRS = {"es": "eng-spa", "ca": "eng-cat", "gl": "eng-glg", "eo": "eng-epo", "eu": "eng-eus",
                  "sh": "eng-hbs", "is": "eng-isl", "mk": "eng-mkd"}  # fmt: skip


class Translator(Protocol):
    """Translate between two languages; ``supports(lang)`` means "from English into lang"."""

    name: str

    def supports(self, lang: str) -> bool: ...

    def known(self) -> list[str]: ...

    def pair(self, src: str, lang: str) -> bool: ...

    def translate(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str]: ...

    def back(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str] | None: ...


class ApertiumTranslator:
    """Debian's offline rule-based MT; only English<->X pairs (see APERTIUM_PAIRS)."""

    name = "apertium"

    def supports(self, lang: str) -> bool:
        return lang in APERTIUM_PAIRS

    def known(self) -> list[str]:
        return sorted(APERTIUM_PAIRS)

    def pair(self, src: str, lang: str) -> bool:
        return (src == "en" and lang in APERTIUM_PAIRS) or (lang == "en" and src in APERTIUM_PAIRS)

    def _mode(self, src: str, lang: str) -> str:
        if src == "en" and lang in APERTIUM_PAIRS:
            return APERTIUM_PAIRS[lang]
        if lang == "en" and src in APERTIUM_PAIRS:
            eng, other = APERTIUM_PAIRS[src].split("-")
            return f"{other}-{eng}"
        raise RassError(
            f"apertium has no {src}->{lang} pair; it translates English to and from: {', '.join(self.known())}"
        )

    def _run(self, pair: str, texts: Sequence[str]) -> list[str]:
        if shutil.which("apertium") is None:
            raise RassError("apertium is not installed: apt-get install -y --no-install-recommends apertium")
        joined = "\n".join(t.replace("\n", " ") for t in texts) + "\n"
        out = subprocess.run(["apertium", "-u", pair], input=joined, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            pkg = "apertium-" + pair if "-" in pair else pair
            raise RassError(f"apertium pair {pair} is missing: apt-get install -y {pkg} ({out.stderr.strip()[:80]})")
        lines = out.stdout.rstrip("\n").split("\n")
        if len(lines) != len(texts):
            raise RassError(f"apertium returned {len(lines)} lines for {len(texts)} inputs")
        return lines

    def translate(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str]:
        return self._run(self._mode(src, lang), texts)

    def back(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str] | None:
        try:
            return self._run(self._mode(lang, src), texts)
        except RassError:
            return None


LLM_TRANSLATE = "Translate the following request into {language}. Keep its meaning and tone exactly, \
including any risky-sounding words. Reply with the translation only.\n\n{text}"


class LLMTranslator:
    """A chat model prompted to translate (any direction), with back-translation into the source."""

    name = "llm"

    def __init__(self, chat: ChatModel, batch_size: int = 8) -> None:
        self.chat = chat
        self.batch_size = batch_size

    def supports(self, lang: str) -> bool:
        return True

    def known(self) -> list[str]:
        return []  # any language the model can write

    def pair(self, src: str, lang: str) -> bool:
        return True

    def _ask(self, texts: Sequence[str], lang: str) -> list[str]:
        from rass.generate.templates import LANGUAGE_NAMES

        prompts = [LLM_TRANSLATE.format(language=LANGUAGE_NAMES.get(lang, lang), text=t) for t in texts]
        outs = self.chat.generate(prompts, max_new_tokens=160, batch_size=self.batch_size)
        return [o.strip().strip('"“”«»').split("\n\n")[0].strip() for o in outs]

    def translate(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str]:
        return self._ask(texts, lang)

    def back(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str] | None:
        return self._ask(texts, src)


class HFTranslator:
    """A local seq2seq model folder per target language, from English: ``{"es": "/models/opus-en-es", …}``."""

    name = "hf"

    def __init__(self, folders: dict[str, str]) -> None:
        self.folders = folders
        self._pipes: dict[str, Any] = {}

    def supports(self, lang: str) -> bool:
        return lang in self.folders

    def known(self) -> list[str]:
        return sorted(self.folders)

    def pair(self, src: str, lang: str) -> bool:
        return src == "en" and lang in self.folders

    def translate(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str]:
        if not self.pair(src, lang):
            raise RassError(
                f"no local translation model for en->{lang!r}; configured: {', '.join(sorted(self.folders))}"
            )
        if lang not in self._pipes:
            from transformers import pipeline

            self._pipes[lang] = pipeline("translation", model=self.folders[lang])  # type: ignore[call-overload]
        return [o["translation_text"] for o in self._pipes[lang](list(texts))]

    def back(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str] | None:
        return None


class _NoBack(Exception):
    """The wrapped translator has no reverse direction for this pair."""


class CachedTranslator:
    """Any translator, with every translation appended to a JSONL file as it comes.

    An llm translation of a whole selection takes many minutes on a CPU; a killed build picks up the
    translations it already has. Rows carry ``key`` (the translator's identity and settings), so a
    cache made by another model or prompt is ignored rather than reused.
    """

    def __init__(self, inner: Translator, path: Path, key: str, chunk: int = 16) -> None:
        self.inner, self.path, self.key, self.chunk = inner, path, key, chunk
        self.name = inner.name
        self.memo = {(r["src"], r["lang"], r["text"]): r["out"] for r in read_rows(path) if r.get("key") == key}
        self.reused = len(self.memo)

    def supports(self, lang: str) -> bool:
        return self.inner.supports(lang)

    def known(self) -> list[str]:
        return self.inner.known()

    def pair(self, src: str, lang: str) -> bool:
        return self.inner.pair(src, lang)

    def _through(self, texts: Sequence[str], src: str, lang: str, fn: Callable[[list[str]], list[str]]) -> list[str]:
        todo = list(dict.fromkeys(t for t in texts if (src, lang, t) not in self.memo))
        if todo:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                for i in range(0, len(todo), self.chunk):
                    part = todo[i : i + self.chunk]
                    for text, out in zip(part, fn(part), strict=True):
                        self.memo[(src, lang, text)] = out
                        row = {"key": self.key, "src": src, "lang": lang, "text": text, "out": out}
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
                    f.flush()
        return [self.memo[(src, lang, t)] for t in texts]

    def translate(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str]:
        return self._through(texts, src, lang, lambda part: self.inner.translate(part, lang, src))

    def back(self, texts: Sequence[str], lang: str, src: str = "en") -> list[str] | None:
        def reverse(part: list[str]) -> list[str]:
            outs = self.inner.back(part, lang, src)
            if outs is None:
                raise _NoBack
            return outs

        try:  # a back-translation is a translation lang -> src, cached under that direction
            return self._through(texts, lang, src, reverse)
        except _NoBack:
            return None


# --------------------------------------------------------------------------- quality gates
_SCRIPTS = {
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ja": re.compile(r"[\u3040-\u30ff]"),
    "ko": re.compile(r"[\uac00-\ud7af]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "mk": re.compile(r"[\u0400-\u04ff]"),
}
_STOPWORDS = {
    "en": "the a an and or of to in is are how what why do i you my for with on".split(),
    "es": "el la los las un una y o de del que en es cómo por qué para con mi".split(),
    "fr": "le la les un une et ou de des du que en est comment pourquoi pour avec mon je".split(),
    "de": "der die das ein eine und oder von zu im ist wie was warum für mit mein ich".split(),
    "ca": "el la els les un una i o de del que en és com per què amb".split(),
    "gl": "o a os as un unha e ou de do que en é como por que para con".split(),
    "it": "il lo la i gli le un una e o di del che in è come perché per con".split(),
    "pt": "o a os as um uma e ou de do que em é como por que para com".split(),
}


def looks_like(text: str, lang: str) -> bool:
    """A light language check: the right script, or more target than English stop words."""
    if lang in _SCRIPTS:
        letters = [c for c in text if c.isalpha()]
        return bool(letters) and sum(bool(_SCRIPTS[lang].match(c)) for c in letters) / len(letters) >= 0.5
    words = re.findall(r"\w+", text.lower())
    if lang not in _STOPWORDS or not words:
        return bool(words)
    target = sum(w in _STOPWORDS[lang] for w in words)
    if lang != "en":  # the usual failure is an untranslated (English) output
        return target > sum(w in _STOPWORDS["en"] for w in words)
    return target > max(sum(w in stop for w in words) for other, stop in _STOPWORDS.items() if other != "en")


def similarity(a: str, b: str) -> float:
    from rass.select.choose import char_grams, jaccard

    return jaccard(char_grams(a, 3), char_grams(b, 3))


@dataclass(frozen=True)
class Gates:
    min_length_ratio: float = 0.3
    max_length_ratio: float = 3.0
    min_back_similarity: float = 0.25

    def check(self, source: str, translated: str, back: str | None, lang: str) -> str | None:
        """The first gate that fails, or None."""
        if not translated.strip():
            return "empty translation"
        if not looks_like(translated, lang):
            return "not in the target language"
        ratio = len(translated) / max(1, len(source))
        low = self.min_length_ratio / 3 if lang in ("zh", "ja", "ko") else self.min_length_ratio  # dense scripts
        if not low <= ratio <= self.max_length_ratio:
            return f"length ratio {ratio:.2f}"
        if back is not None and similarity(source.lower(), back.lower()) < self.min_back_similarity:
            return "back-translation too different"
        return None
