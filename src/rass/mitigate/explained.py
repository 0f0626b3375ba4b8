"""Refusals that say what they refuse: safety-anchor answers tied to the request's harm category.

The default anchors teach the model's own short refusal ("Lo siento, pero no puedo ayudar con eso.")
or rass's canned one. After training on them the 1.5B refused benign Spanish look-alikes (spying on
birds at a feeder, deleting one's own data from people-search sites) with exactly that sentence: a
refusal that names nothing can be said after any prompt. An explained refusal opens with the act it
declines ("I can't help with spying on, tracking or exposing another person ...") and why, so what
is learned is tied to the harmful feature of the request rather than to its surface. The texts are
rass's own, one per harm category (``rass.data.schema.CATEGORIES``) and seed language.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

EXPLAINED: dict[str, dict[str, str]] = {
    "en": {
        "violence": "I can't help with hurting, threatening or attacking anyone: that would put a real person in danger.",
        "weapons": "I can't help with making, modifying, acquiring or smuggling weapons or explosives: that could get "
        "people killed.",
        "drugs": "I can't help with making, buying, selling or smuggling illegal drugs, or with misusing medicines: it "
        "is illegal and can kill.",
        "cybercrime": "I can't help with breaking into other people's systems, accounts or networks, or with malware and "
        "attacks on them: that is a crime and harms the people who own them.",
        "fraud": "I can't help with scams, forgery, money laundering or deceiving people out of their money: that is "
        "fraud and it hurts its victims.",
        "hate": "I can't help with content that demeans, mocks or incites against people for who they are: it hurts "
        "them and fuels discrimination.",
        "self_harm": "I can't give information that could be used to hurt yourself. If you are thinking about harming "
        "yourself, please talk to someone you trust or a local crisis line now; you don't have to go through this "
        "alone.",
        "sexual": "I can't help with sexual content involving minors or anyone who has not consented, or with sexual "
        "exploitation: it causes serious harm and is a crime.",
        "privacy": "I can't help with spying on, tracking or exposing another person, or with getting into their "
        "accounts or data without their consent: it violates their privacy and is often a crime.",
        "chem_bio": "I can't help with making, obtaining or using poisons, toxins or chemical or biological agents to "
        "harm anyone: the risk to human life is too great.",
        "misinformation": "I can't help with writing false or misleading claims meant to deceive people: "
        "disinformation like this does real harm.",
        "politics": "I can't help with deceiving voters, keeping people from voting or manipulating elections: it "
        "undermines people's right to choose freely.",
    },
    "es": {
        "violence": "No puedo ayudar a herir, amenazar ni atacar a nadie: pondría en peligro a una persona real.",
        "weapons": "No puedo ayudar a fabricar, modificar, conseguir ni pasar de contrabando armas o explosivos: podría "
        "costar vidas.",
        "drugs": "No puedo ayudar a fabricar, comprar, vender ni pasar de contrabando drogas ilegales, ni a hacer un mal "
        "uso de medicamentos: es ilegal y puede matar.",
        "cybercrime": "No puedo ayudar a entrar sin permiso en sistemas, cuentas o redes ajenas, ni con malware o ataques "
        "contra ellos: es un delito y perjudica a sus dueños.",
        "fraud": "No puedo ayudar con estafas, falsificaciones, blanqueo de dinero ni engaños para sacarle dinero a la "
        "gente: es fraude y perjudica a sus víctimas.",
        "hate": "No puedo ayudar con contenido que humille, ridiculice o incite contra personas por lo que son: les hace "
        "daño y alimenta la discriminación.",
        "self_harm": "No puedo darte información que pueda servir para hacerte daño. Si estás pensando en hacerte daño, "
        "por favor habla ahora con alguien de confianza o con una línea de crisis de tu país; no tienes que pasar por "
        "esto solo.",
        "sexual": "No puedo ayudar con contenido sexual que involucre a menores o a alguien que no ha dado su "
        "consentimiento, ni con explotación sexual: causa un daño grave y es un delito.",
        "privacy": "No puedo ayudar a espiar, rastrear o exponer a otra persona, ni a entrar en sus cuentas o datos sin "
        "su consentimiento: vulnera su privacidad y a menudo es delito.",
        "chem_bio": "No puedo ayudar a fabricar, conseguir ni usar venenos, toxinas o agentes químicos o biológicos para "
        "hacer daño: el riesgo para la vida humana es demasiado grande.",
        "misinformation": "No puedo ayudar a redactar afirmaciones falsas o engañosas pensadas para confundir a la gente: "
        "una desinformación así causa daño real.",
        "politics": "No puedo ayudar a engañar a votantes, impedirles votar ni manipular elecciones: socava el derecho "
        "de las personas a elegir libremente.",
    },
    "fr": {
        "violence": "Je ne peux pas aider à blesser, menacer ou attaquer qui que ce soit : cela mettrait une personne "
        "réelle en danger.",
        "weapons": "Je ne peux pas aider à fabriquer, modifier, se procurer ou faire passer en fraude des armes ou des "
        "explosifs : cela pourrait coûter des vies.",
        "drugs": "Je ne peux pas aider à fabriquer, acheter, vendre ou faire passer en fraude des drogues illégales, ni à "
        "détourner des médicaments : c'est illégal et cela peut tuer.",
        "cybercrime": "Je ne peux pas aider à s'introduire dans les systèmes, les comptes ou les réseaux d'autrui, ni avec "
        "des logiciels malveillants ou des attaques : c'est un délit et cela nuit à leurs propriétaires.",
        "fraud": "Je ne peux pas aider avec des arnaques, des faux, du blanchiment d'argent ou des tromperies pour "
        "soutirer de l'argent : c'est de la fraude et cela nuit aux victimes.",
        "hate": "Je ne peux pas aider avec des contenus qui rabaissent, ridiculisent ou incitent contre des personnes "
        "pour ce qu'elles sont : cela les blesse et nourrit la discrimination.",
        "self_harm": "Je ne peux pas donner d'informations qui pourraient servir à vous faire du mal. Si vous pensez à "
        "vous faire du mal, parlez-en dès maintenant à une personne de confiance ou à une ligne d'écoute de votre "
        "pays ; vous n'avez pas à traverser cela seul.",
        "sexual": "Je ne peux pas aider avec des contenus sexuels impliquant des mineurs ou une personne qui n'a pas "
        "consenti, ni avec l'exploitation sexuelle : cela cause un tort grave et c'est un crime.",
        "privacy": "Je ne peux pas aider à espionner, pister ou exposer une autre personne, ni à accéder à ses comptes ou "
        "à ses données sans son consentement : cela viole sa vie privée et c'est souvent un délit.",
        "chem_bio": "Je ne peux pas aider à fabriquer, obtenir ou utiliser des poisons, des toxines ou des agents "
        "chimiques ou biologiques pour nuire : le risque pour des vies humaines est trop grand.",
        "misinformation": "Je ne peux pas aider à rédiger des affirmations fausses ou trompeuses destinées à induire les "
        "gens en erreur : ce genre de désinformation cause de vrais dégâts.",
        "politics": "Je ne peux pas aider à tromper des électeurs, à les empêcher de voter ou à manipuler une élection : "
        "cela porte atteinte au droit de chacun de choisir librement.",
    },
    "de": {
        "violence": "Ich kann nicht dabei helfen, jemanden zu verletzen, zu bedrohen oder anzugreifen: Das würde einen "
        "echten Menschen in Gefahr bringen.",
        "weapons": "Ich kann nicht dabei helfen, Waffen oder Sprengstoffe herzustellen, umzubauen, zu beschaffen oder zu "
        "schmuggeln: Das kann Menschenleben kosten.",
        "drugs": "Ich kann nicht dabei helfen, illegale Drogen herzustellen, zu kaufen, zu verkaufen oder zu schmuggeln "
        "oder Medikamente zu missbrauchen: Das ist illegal und kann tödlich sein.",
        "cybercrime": "Ich kann nicht dabei helfen, in fremde Systeme, Konten oder Netzwerke einzudringen oder "
        "Schadsoftware und Angriffe einzusetzen: Das ist strafbar und schadet den Betroffenen.",
        "fraud": "Ich kann nicht bei Betrug, Fälschungen, Geldwäsche oder dabei helfen, Menschen um ihr Geld zu "
        "bringen: Das ist Betrug und schadet den Opfern.",
        "hate": "Ich kann nicht bei Inhalten helfen, die Menschen für das, was sie sind, herabsetzen, verspotten oder "
        "gegen sie hetzen: Das verletzt sie und schürt Diskriminierung.",
        "self_harm": "Ich kann keine Informationen geben, mit denen du dir selbst schaden könntest. Wenn du daran "
        "denkst, dir etwas anzutun, sprich bitte jetzt mit einem Menschen, dem du vertraust, oder mit einer "
        "Krisenhotline in deinem Land; du musst das nicht allein durchstehen.",
        "sexual": "Ich kann nicht bei sexuellen Inhalten mit Minderjährigen oder ohne Einwilligung der Beteiligten "
        "helfen und auch nicht bei sexueller Ausbeutung: Das richtet schweren Schaden an und ist eine Straftat.",
        "privacy": "Ich kann nicht dabei helfen, eine andere Person auszuspionieren, zu verfolgen oder bloßzustellen "
        "oder ohne ihre Einwilligung auf ihre Konten oder Daten zuzugreifen: Das verletzt ihre Privatsphäre und ist "
        "oft strafbar.",
        "chem_bio": "Ich kann nicht dabei helfen, Gifte, Toxine oder chemische oder biologische Kampfstoffe "
        "herzustellen, zu beschaffen oder einzusetzen, um jemandem zu schaden: Das Risiko für Menschenleben ist zu "
        "groß.",
        "misinformation": "Ich kann nicht dabei helfen, falsche oder irreführende Behauptungen zu verfassen, die "
        "Menschen täuschen sollen: Solche Desinformation richtet echten Schaden an.",
        "politics": "Ich kann nicht dabei helfen, Wähler zu täuschen, sie vom Wählen abzuhalten oder Wahlen zu "
        "manipulieren: Das untergräbt das Recht der Menschen, frei zu wählen.",
    },
    "zh": {
        "violence": "我不能帮助伤害、威胁或攻击任何人：这会让真实的人陷入危险。",
        "weapons": "我不能帮助制造、改装、获取或走私武器或爆炸物：这可能造成人员伤亡。",
        "drugs": "我不能帮助制造、购买、贩卖或走私毒品，也不能帮助滥用药物：这是违法的，而且可能致命。",
        "cybercrime": "我不能帮助入侵他人的系统、账户或网络，也不能帮助制作恶意软件或发动攻击：这是犯罪，会伤害到相关的人。",
        "fraud": "我不能帮助诈骗、伪造、洗钱或骗取他人钱财：这属于欺诈，会伤害受害者。",
        "hate": "我不能帮助创作因身份而贬低、嘲弄或煽动针对他人的内容：这会伤害他们，并助长歧视。",
        "self_harm": "我不能提供可能被用来伤害自己的信息。如果你正在考虑伤害自己，请现在就联系你信任的人或当地的心理危机热线；你不必独自面对这一切。",
        "sexual": "我不能帮助涉及未成年人或未经同意的性内容，也不能帮助任何性剥削：这会造成严重伤害，而且是犯罪。",
        "privacy": "我不能帮助监视、跟踪或曝光他人，也不能帮助未经同意进入他人的账户或获取其数据：这侵犯隐私，而且往往违法。",
        "chem_bio": "我不能帮助制造、获取或使用毒物、毒素或化学、生物制剂来伤害他人：这对人的生命风险太大。",
        "misinformation": "我不能帮助编写旨在误导他人的虚假或误导性内容：这类虚假信息会造成真实的伤害。",
        "politics": "我不能帮助欺骗选民、阻止他人投票或操纵选举：这会破坏人们自由选择的权利。",
    },
    "ja": {
        "violence": "誰かを傷つけたり、脅したり、襲ったりするためのお手伝いはできません。実在の人を危険にさらすことになります。",
        "weapons": "武器や爆発物の製造、改造、入手、密輸のお手伝いはできません。人命に関わります。",
        "drugs": "違法薬物の製造、購入、販売、密輸や、医薬品の乱用のお手伝いはできません。違法であり、命に関わることもあります。",
        "cybercrime": "他人のシステム、アカウント、ネットワークへの侵入や、マルウェア・サイバー攻撃のお手伝いはできません。犯罪であり、"
        "被害者に損害を与えます。",
        "fraud": "詐欺、偽造、マネーロンダリング、人をだましてお金を取ることのお手伝いはできません。詐欺行為であり、被害者を傷つけます。",
        "hate": "人をその属性を理由におとしめたり、嘲笑したり、敵意をあおったりする内容のお手伝いはできません。相手を傷つけ、差別を助長します。",
        "self_harm": "ご自身を傷つけるために使われうる情報はお伝えできません。もし自分を傷つけることを考えているなら、今すぐ信頼できる人か、"
        "お住まいの地域の相談窓口に話してください。ひとりで抱え込まなくて大丈夫です。",
        "sexual": "未成年者が関わる、または同意のない性的な内容や、性的搾取のお手伝いはできません。深刻な被害をもたらす犯罪です。",
        "privacy": "他人を監視、追跡、暴露したり、同意なくその人のアカウントやデータにアクセスしたりするお手伝いはできません。"
        "プライバシーの侵害であり、多くの場合違法です。",
        "chem_bio": "人を害するための毒物、毒素、化学・生物剤の製造、入手、使用のお手伝いはできません。人命へのリスクが大きすぎます。",
        "misinformation": "人をだますための虚偽や誤解を招く主張を書くお手伝いはできません。そのような偽情報は実際に害をもたらします。",
        "politics": "有権者をだましたり、投票を妨げたり、選挙を操作したりするお手伝いはできません。人々が自由に選ぶ権利を損ないます。",
    },
    "ru": {
        "violence": "Я не могу помочь причинить кому-либо вред, угрожать или нападать: это подвергло бы опасности "
        "реального человека.",
        "weapons": "Я не могу помочь изготовить, переделать, достать или провезти контрабандой оружие или взрывчатку: "
        "это может стоить людям жизни.",
        "drugs": "Я не могу помочь изготовить, купить, продать или провезти контрабандой запрещённые наркотики или "
        "злоупотреблять лекарствами: это незаконно и может убить.",
        "cybercrime": "Я не могу помочь взломать чужие системы, аккаунты или сети, а также с вредоносными программами и "
        "атаками: это преступление, и оно вредит их владельцам.",
        "fraud": "Я не могу помочь с мошенничеством, подделкой документов, отмыванием денег или обманом людей ради их "
        "денег: это вредит пострадавшим и является преступлением.",
        "hate": "Я не могу помочь с материалами, которые унижают или высмеивают людей за то, кто они есть, или "
        "разжигают к ним вражду: это ранит их и подпитывает дискриминацию.",
        "self_harm": "Я не могу дать сведения, способные помочь навредить себе. Если вы думаете о том, "
        "чтобы причинить себе вред, пожалуйста, прямо сейчас поговорите с человеком, которому доверяете, или "
        "позвоните на линию кризисной помощи в вашей стране; вам не нужно справляться с этим в одиночку.",
        "sexual": "Я не могу помочь с сексуальным контентом с участием несовершеннолетних или без согласия человека, а "
        "также с сексуальной эксплуатацией: это причиняет тяжёлый вред и является преступлением.",
        "privacy": "Я не могу помочь следить за другим человеком, отслеживать или разоблачать его, а также получить "
        "доступ к его аккаунтам или данным без его согласия: это нарушает его частную жизнь и часто незаконно.",
        "chem_bio": "Я не могу помочь изготовить, достать или применить яды, токсины, химические или биологические "
        "агенты, чтобы причинить вред: риск для человеческих жизней слишком велик.",
        "misinformation": "Я не могу помочь написать ложные или вводящие в заблуждение утверждения, чтобы обмануть "
        "людей: такая дезинформация причиняет реальный вред.",
        "politics": "Я не могу помочь обманывать избирателей, мешать им голосовать или манипулировать выборами: это "
        "подрывает право людей на свободный выбор.",
    },
    "ar": {
        "violence": "لا أستطيع المساعدة في إيذاء أي شخص أو تهديده أو الاعتداء عليه: فهذا يعرّض إنسانًا حقيقيًا للخطر.",
        "weapons": "لا أستطيع المساعدة في صنع الأسلحة أو المتفجرات أو تعديلها أو الحصول عليها أو تهريبها: فقد يكلّف ذلك "
        "أرواحًا.",
        "drugs": "لا أستطيع المساعدة في تصنيع المخدرات غير المشروعة أو شرائها أو بيعها أو تهريبها، ولا في إساءة استخدام "
        "الأدوية: فهذا مخالف للقانون وقد يكون قاتلًا.",
        "cybercrime": "لا أستطيع المساعدة في اختراق أنظمة الآخرين أو حساباتهم أو شبكاتهم، ولا في البرمجيات الخبيثة أو "
        "الهجمات الإلكترونية: فهذه جريمة تضر بأصحابها.",
        "fraud": "لا أستطيع المساعدة في الاحتيال أو التزوير أو غسل الأموال أو خداع الناس للاستيلاء على أموالهم: فهذا "
        "احتيال يضر بضحاياه.",
        "hate": "لا أستطيع المساعدة في محتوى يحطّ من قدر الناس أو يسخر منهم أو يحرّض ضدهم بسبب هويتهم: فهذا يؤذيهم "
        "ويغذّي التمييز.",
        "self_harm": "لا أستطيع تقديم معلومات قد تُستخدم لإيذاء نفسك. إذا كنت تفكر في إيذاء نفسك، فأرجو أن تتحدث الآن "
        "مع شخص تثق به أو مع خط مساعدة للأزمات في بلدك؛ لست مضطرًا لمواجهة هذا وحدك.",
        "sexual": "لا أستطيع المساعدة في محتوى جنسي يتعلق بقاصرين أو بشخص لم يوافق، ولا في أي استغلال جنسي: فهذا يسبب "
        "ضررًا بالغًا وهو جريمة.",
        "privacy": "لا أستطيع المساعدة في التجسس على شخص آخر أو تعقّبه أو فضحه، ولا في الوصول إلى حساباته أو بياناته "
        "دون موافقته: فهذا انتهاك لخصوصيته وغالبًا ما يكون مخالفًا للقانون.",
        "chem_bio": "لا أستطيع المساعدة في صنع السموم أو الذيفانات أو العوامل الكيميائية أو البيولوجية أو الحصول عليها "
        "أو استخدامها لإيذاء أحد: فالخطر على حياة البشر كبير جدًا.",
        "misinformation": "لا أستطيع المساعدة في كتابة ادعاءات كاذبة أو مضللة تهدف إلى خداع الناس: فهذا النوع من "
        "التضليل يسبب ضررًا حقيقيًا.",
        "politics": "لا أستطيع المساعدة في خداع الناخبين أو منعهم من التصويت أو التلاعب بالانتخابات: فهذا يقوّض حق "
        "الناس في الاختيار بحرية.",
    },
}


def explained_refusal(lang: str, category: str | None) -> str | None:
    """The explained refusal for a request of ``category`` in ``lang`` (a BCP-47 tag's primary subtag
    decides); None where rass has none: a category of "none" or unknown, or a language without texts."""
    return EXPLAINED.get(lang.split("-")[0].lower(), {}).get(category or "")


def explain_anchors(anchors: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``anchors`` with each completion replaced by its explained refusal, marked ``refusal: "explained"``;
    an anchor with no explained text for its language and category keeps its own refusal."""
    out = []
    for a in anchors:
        text = explained_refusal(str(a["lang"]), a.get("category"))
        out.append(a | {"completion": text, "refusal": "explained"} if text else dict(a))
    return out
