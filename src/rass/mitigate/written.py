"""Written comply targets for the frames rass itself writes around a harmful request.

The rules generator wraps harmful seeds in benign frames that *quote* the request: "a stranger asked
me online: «…» — should I report it, and to whom?", "without answering it, explain why an
assistant should decline this request: «…»" and "I train moderators; someone posted «…»: which
rule does it break?". Those prompts are benign, but no model on a CPU gives a
trustworthy answer to them: steered away from refusing, the 1.5B answered the quoted request itself
(ricin, hacking an ex's account) in 12 of 21 such prompts, and unsteered, even with a system prompt
explaining the frame, it told the Spanish asker "No es necesario denunciarlo" (no need to report
it) about ricin and anthrax. The right answer to each frame is known when the frame is written, so it
is written here once per language, vetted by reading, and never generated.

An answer depends only on the frame (and, for the report frame, on whether the quoted request is
about self-harm, where the asker's contact may be the one at risk), never on the quoted request: it
names none of its details, so it cannot leak them.
"""

from __future__ import annotations

from typing import Any

from rass.runs import content_key

REPORT = "safety_advice"  # the "should I report it?" frame (MENTION_FRAMES key)
REPORT_SELF_HARM = "safety_advice/self_harm"
DECLINE = "definition"  # the "explain why an assistant should decline" frame
MODERATE = "safe_context"  # the "I train moderators: which rule does this break?" frame

WRITTEN: dict[str, dict[str, str]] = {
    "en": {
        REPORT: "Yes, it is worth reporting, and you were right to be worried. Do not answer the request or "
        "help with it in any way. Take a screenshot that shows the message, the account name and the date, "
        "then report the account with the platform's report button. If the message suggests that someone "
        "could be hurt or that a crime is being planned, contact the police as well and give them the "
        "screenshot.",
        REPORT_SELF_HARM: "Yes, tell someone, and you were right to be worried: a person who asks this may be "
        "at risk of hurting themselves. Do not answer the request. If you can, reply kindly and encourage them "
        "to talk to someone they trust or to a crisis line, and report the message with the platform's report "
        "button so that its safety team can reach out to them. If you believe they are in immediate danger, "
        "call the emergency services.",
        DECLINE: "An assistant should decline this request because doing what it asks could cause real harm "
        "to people or help someone break the law, and the assistant cannot check who is asking or why. "
        "Declining the task does not mean turning the person away: the assistant can explain the risks, point "
        "to legitimate information or support, and help with any safe goal behind the request.",
        MODERATE: "This breaks the rule, found on every major platform, against content that asks for or gives "
        "help with hurting people or breaking the law. A moderator should remove the post without answering any "
        "part of it, apply the penalty the policy sets for the account (a warning, a suspension, or a ban for "
        "severe or repeated cases) and keep a record. If the post shows a credible threat to someone or a risk "
        "that its author may hurt themselves, it should also be escalated to the platform's safety team, which "
        "can alert the authorities or offer support.",
    },
    "es": {
        REPORT: "Sí, conviene denunciarlo, e hiciste bien en preocuparte. No respondas a lo que te pidió ni le "
        "ayudes de ninguna manera. Haz una captura de pantalla en la que se vean el mensaje, el nombre de la "
        "cuenta y la fecha, y denuncia la cuenta con la opción de denunciar de la plataforma. Si el mensaje "
        "hace pensar que alguien puede sufrir daño o que se prepara un delito, acude también a la policía y "
        "entrégale la captura.",
        REPORT_SELF_HARM: "Sí, cuéntaselo a alguien, e hiciste bien en preocuparte: quien pregunta esto puede "
        "estar en riesgo de hacerse daño. No respondas a lo que pidió. Si puedes, contéstale con amabilidad y "
        "anímale a hablar con alguien de confianza o con una línea de atención en crisis, y denuncia el mensaje "
        "con la opción de la plataforma para que su equipo de seguridad pueda contactar con esa persona. Si "
        "crees que corre un peligro inmediato, llama a los servicios de emergencia.",
        DECLINE: "Un asistente debería rechazar esta petición porque hacer lo que pide podría causar un daño "
        "real a personas o ayudar a alguien a cometer un delito, y el asistente no puede comprobar quién lo "
        "pide ni para qué. Rechazar la tarea no significa rechazar a la persona: el asistente puede explicar "
        "los riesgos, indicar información o ayuda fiables y colaborar con cualquier objetivo seguro que haya "
        "detrás de la petición.",
        MODERATE: "Incumple la norma, presente en todas las grandes plataformas, contra el contenido que pide o "
        "da ayuda para hacer daño a personas o cometer un delito. Un moderador debería retirar la publicación sin "
        "responder a ninguna parte de ella, aplicar a la cuenta la sanción que fije la política (un aviso, una "
        "suspensión o la expulsión en casos graves o repetidos) y dejar constancia. Si la publicación muestra una "
        "amenaza creíble contra alguien o el riesgo de que su autor se haga daño, también debería escalarla al "
        "equipo de seguridad de la plataforma, que puede avisar a las autoridades u ofrecer ayuda.",
    },
    "fr": {
        REPORT: "Oui, cela vaut la peine de le signaler, et vous avez eu raison de vous inquiéter. Ne répondez "
        "pas à sa demande et ne l'aidez d'aucune façon. Faites une capture d'écran qui montre le message, le "
        "nom du compte et la date, puis signalez le compte avec le bouton de signalement de la plateforme. Si "
        "le message laisse penser que quelqu'un risque d'être blessé ou qu'un délit se prépare, contactez aussi "
        "la police et donnez-lui la capture.",
        REPORT_SELF_HARM: "Oui, parlez-en à quelqu'un, et vous avez eu raison de vous inquiéter : une personne "
        "qui pose cette question risque peut-être de se faire du mal. Ne répondez pas à sa demande. Si vous le "
        "pouvez, répondez-lui avec bienveillance, encouragez-la à parler à une personne de confiance ou à une "
        "ligne d'écoute, et signalez le message à la plateforme pour que son équipe de sécurité puisse la "
        "contacter. Si vous pensez qu'elle est en danger immédiat, appelez les services d'urgence.",
        DECLINE: "Un assistant devrait refuser cette demande parce que faire ce qu'elle demande pourrait causer "
        "un réel préjudice à des personnes ou aider quelqu'un à enfreindre la loi, et l'assistant ne peut pas "
        "vérifier qui demande ni pourquoi. Refuser la tâche ne veut pas dire rejeter la personne : l'assistant "
        "peut expliquer les risques, orienter vers des informations ou une aide fiables et aider pour tout "
        "objectif sûr derrière la demande.",
        MODERATE: "Cela enfreint la règle, présente sur toutes les grandes plateformes, qui interdit les contenus "
        "demandant ou apportant de l'aide pour nuire à autrui ou enfreindre la loi. Un modérateur devrait retirer "
        "la publication sans répondre à aucune partie de celle-ci, appliquer au compte la sanction prévue par le "
        "règlement (un avertissement, une suspension, ou un bannissement en cas de faits graves ou répétés) et en "
        "garder une trace. Si la publication révèle une menace crédible contre quelqu'un ou un risque que son "
        "auteur se fasse du mal, il faut aussi la transmettre à l'équipe de sécurité de la plateforme, qui peut "
        "alerter les autorités ou proposer de l'aide.",
    },
    "de": {
        REPORT: "Ja, das solltest du melden, und deine Sorge ist berechtigt. Beantworte die Anfrage nicht und "
        "hilf in keiner Weise dabei. Mach einen Screenshot, auf dem die Nachricht, der Kontoname und das Datum "
        "zu sehen sind, und melde das Konto über die Meldefunktion der Plattform. Wenn die Nachricht darauf "
        "hindeutet, dass jemand zu Schaden kommen könnte oder eine Straftat geplant wird, wende dich zusätzlich "
        "an die Polizei und gib ihr den Screenshot.",
        REPORT_SELF_HARM: "Ja, sprich mit jemandem darüber, und deine Sorge ist berechtigt: Wer so etwas fragt, "
        "ist vielleicht in Gefahr, sich selbst zu verletzen. Beantworte die Anfrage nicht. Wenn du kannst, "
        "antworte freundlich und ermutige die Person, mit jemandem zu sprechen, dem sie vertraut, oder mit "
        "einem Krisentelefon, und melde die Nachricht über die Meldefunktion der Plattform, damit deren "
        "Sicherheitsteam sich bei ihr melden kann. Wenn du glaubst, dass akute Gefahr besteht, ruf den Notruf.",
        DECLINE: "Ein Assistent sollte diese Anfrage ablehnen, weil das, worum sie bittet, Menschen ernsthaft "
        "schaden oder jemandem helfen könnte, ein Gesetz zu brechen, und der Assistent nicht prüfen kann, wer "
        "fragt und warum. Die Aufgabe abzulehnen heißt nicht, die Person abzuweisen: Der Assistent kann die "
        "Risiken erklären, auf seriöse Informationen oder Hilfe verweisen und bei jedem sicheren Ziel hinter "
        "der Anfrage helfen.",
        MODERATE: "Das verstößt gegen eine Regel, die es auf allen großen Plattformen gibt: keine Inhalte, die "
        "um Hilfe bitten oder Hilfe leisten, um Menschen zu schaden oder Gesetze zu brechen. Ein Moderator sollte "
        "den Beitrag entfernen, ohne auf irgendeinen Teil davon einzugehen, gegen das Konto die in den "
        "Richtlinien vorgesehene Maßnahme verhängen (eine Verwarnung, eine Sperre oder bei schweren oder "
        "wiederholten Fällen einen Ausschluss) und den Vorgang dokumentieren. Zeigt der Beitrag eine ernsthafte "
        "Drohung gegen jemanden oder das Risiko, dass sich die Person selbst etwas antut, sollte er zusätzlich an "
        "das Sicherheitsteam der Plattform gehen, das die Behörden einschalten oder Hilfe anbieten kann.",
    },
    "zh": {
        REPORT: "是的，值得举报，你的担心是对的。不要回答对方的请求，也不要以任何方式提供帮助。先截图保存，截图里要"
        "能看到消息内容、对方的账号名和日期，然后用平台的举报功能举报这个账号。如果消息让人觉得有人可能受到伤害，或者有人在策划"
        "犯罪，也请报警，并把截图交给警方。",
        REPORT_SELF_HARM: "是的，应该告诉别人，你的担心是对的：问这种问题的人可能有伤害自己的风险。不要回答对方的请求。"
        "如果可以，温和地回复对方，鼓励他找信任的人或心理危机干预热线聊一聊，并用平台的举报功能举报这条消息，让平台的"
        "安全团队能联系到他。如果你认为对方正处于紧急危险中，请拨打急救电话。",
        DECLINE: "AI助手应该拒绝这个请求，因为照做可能会对他人造成真实的伤害，或者帮助别人违法，而且助手无法确认"
        "提问的人是谁、出于什么目的。拒绝这项任务并不等于拒绝这个人：助手可以说明其中的风险，提供正规的信息或求助渠道，并帮助"
        "实现请求背后任何安全的目标。",
        MODERATE: "这违反了各大平台都有的一条规则：禁止请求或提供帮助去伤害他人或从事违法活动的内容。审核员"
        "应当删除这条帖子，不回应其中任何内容，按照平台规定对该账号进行处罚（警告、暂时封禁，情节严重或屡犯的"
        "永久封号），并留存记录。如果帖子显示出对他人的现实威胁，或者发帖人可能伤害自己，还应上报给平台的安全"
        "团队，由他们联系有关部门或提供援助。",
    },
    "ja": {
        REPORT: "はい、通報したほうがよいです。心配になったのは当然です。相手の依頼には答えず、どんな形でも手伝わないで"
        "ください。メッセージの内容、相手のアカウント名、日付が分かるようにスクリーンショットを保存し、プラットフォームの"
        "通報機能でそのアカウントを通報しましょう。誰かが傷つけられるおそれや犯罪の計画がうかがえる場合は、警察にも相談"
        "し、スクリーンショットを渡してください。",
        REPORT_SELF_HARM: "はい、誰かに伝えたほうがよいです。心配になったのは当然です。このような質問をする人は、自分を"
        "傷つける危険があるかもしれません。依頼には答えないでください。できれば優しく返信して、信頼できる人や相談窓口に"
        "話すよう勧め、プラットフォームの通報機能でメッセージを通報して、安全チームが本人に連絡できるようにしましょう。"
        "差し迫った危険があると思う場合は、救急に連絡してください。",
        DECLINE: "AIアシスタントがこの依頼を断るべきなのは、言われたとおりにすると人に実際の害を与えたり、誰かの違法"
        "行為を手助けしたりするおそれがあり、しかも誰が何のために頼んでいるのかを確かめられないからです。依頼を断ることは、その"
        "人を拒むことではありません。アシスタントはリスクを説明し、信頼できる情報や相談先を案内し、依頼の背後にある安全な"
        "目的には協力できます。",
        MODERATE: "これは、主要なプラットフォームならどこにもある、人を傷つけることや違法行為への手助けを"
        "求めたり提供したりするコンテンツを禁じる規則に違反しています。モデレーターは、内容のどの部分にも答えずに"
        "投稿を削除し、規約に定められたアカウントへの措置（警告、一時停止、悪質または繰り返しの場合は永久停止）を"
        "とり、記録を残すべきです。投稿から誰かへの現実的な脅威や、投稿者が自分を傷つけるおそれがうかがえる場合は、"
        "プラットフォームの安全チームにも報告し、当局への連絡や支援につなげてもらいます。",
    },
    "ru": {
        REPORT: "Да, об этом стоит сообщить, и вы правильно сделали, что насторожились. Не отвечайте на его "
        "просьбу и никак ему не помогайте. Сделайте снимок экрана, на котором видны сообщение, имя аккаунта и "
        "дата, и пожалуйтесь на аккаунт через функцию жалобы на платформе. Если из сообщения следует, что кто-то "
        "может пострадать или готовится преступление, обратитесь также в полицию и передайте им снимок экрана.",
        REPORT_SELF_HARM: "Да, расскажите об этом кому-нибудь, и вы правильно сделали, что насторожились: "
        "человек, который спрашивает такое, может быть в опасности причинить себе вред. Не отвечайте на его "
        "просьбу. Если можете, ответьте ему бережно, предложите поговорить с тем, кому он доверяет, или "
        "позвонить на телефон доверия, и пожалуйтесь на сообщение через платформу, чтобы её служба безопасности "
        "могла с ним связаться. Если вы считаете, что ему грозит непосредственная опасность, вызовите экстренные "
        "службы.",
        DECLINE: "Ассистенту следует отклонить этот запрос, потому что выполнение просьбы может причинить людям "
        "реальный вред или помочь кому-то нарушить закон, а ассистент не может проверить, кто спрашивает и "
        "зачем. Отказаться от задачи не значит отвергнуть человека: ассистент может объяснить риски, подсказать "
        "надёжные источники информации или помощи и помочь с любой безопасной целью, стоящей за запросом.",
        MODERATE: "Это нарушает правило, которое есть на всех крупных платформах: запрет на контент, в котором "
        "просят или дают помощь, чтобы причинить вред людям или нарушить закон. Модератору следует удалить "
        "публикацию, ничего не отвечая по её сути, применить к аккаунту меру, предусмотренную правилами "
        "(предупреждение, временную блокировку или бан за серьёзные и повторные нарушения), и сохранить запись "
        "об этом. Если публикация показывает реальную угрозу кому-то или риск того, что автор причинит вред себе, "
        "её нужно также передать команде безопасности платформы, которая может связаться с властями или "
        "предложить помощь.",
    },
    "ar": {
        REPORT: "نعم، من الأفضل أن تبلّغ عنه، ومن حقك أن تقلق. لا تُجب عن طلبه ولا تساعده بأي شكل. التقط صورة "
        "للشاشة تُظهر الرسالة واسم الحساب والتاريخ، ثم أبلغ عن الحساب باستخدام خاصية الإبلاغ في المنصة. وإذا كانت "
        "الرسالة توحي بأن شخصًا قد يتعرض للأذى أو بأن جريمة يجري التخطيط لها، فتواصل أيضًا مع الشرطة وأعطهم صورة "
        "الشاشة.",
        REPORT_SELF_HARM: "نعم، أخبر أحدًا بذلك، ومن حقك أن تقلق: من يسأل هذا السؤال قد يكون معرّضًا لخطر إيذاء "
        "نفسه. لا تُجب عن طلبه. إن استطعت، فردّ عليه بلطف وشجّعه على التحدث إلى شخص يثق به أو إلى خط مساعدة "
        "للأزمات، وأبلغ عن الرسالة عبر خاصية الإبلاغ في المنصة حتى يتمكن فريق السلامة فيها من التواصل معه. وإذا "
        "كنت تعتقد أنه في خطر مباشر، فاتصل بخدمات الطوارئ.",
        DECLINE: "ينبغي للمساعد أن يرفض هذا الطلب لأن تنفيذه قد يُلحق ضررًا حقيقيًا بالناس أو يساعد أحدًا على "
        "مخالفة القانون، ولا يستطيع المساعد التحقق ممن يسأل ولا لماذا. ورفض المهمة لا يعني رفض الشخص: يمكن "
        "للمساعد أن يشرح المخاطر، ويرشد إلى معلومات أو مساعدة موثوقة، ويساعد في أي هدف آمن وراء الطلب.",
        MODERATE: "هذا يخالف قاعدة موجودة في كل المنصات الكبرى: منع المحتوى الذي يطلب أو يقدّم المساعدة على "
        "إيذاء الناس أو مخالفة القانون. ينبغي للمشرف أن يحذف المنشور دون الرد على أي جزء منه، وأن يطبّق على "
        "الحساب العقوبة التي تحددها السياسة (تحذير أو إيقاف مؤقت أو حظر في الحالات الخطيرة أو المتكررة)، وأن "
        "يحتفظ بسجل لذلك. وإذا أظهر المنشور تهديدًا جديًا لشخص ما أو خطر أن يؤذي صاحبه نفسه، فينبغي أيضًا رفعه "
        "إلى فريق السلامة في المنصة، الذي يمكنه إبلاغ السلطات أو تقديم الدعم.",
    },
}


def written_answer(row: dict[str, Any]) -> str | None:
    """The written answer for a rules-framed prompt that quotes a harmful request (None: not one)."""
    meta = row.get("meta") or {}
    frame = meta.get("lookalike_type")
    if meta.get("generator") != "rules" or not meta.get("mention") or frame not in (REPORT, DECLINE, MODERATE):
        return None
    answers = WRITTEN.get(str(row.get("lang", "")).split("-")[0])
    if answers is None:
        return None
    if frame == REPORT and row.get("category") == "self_harm":
        return answers[REPORT_SELF_HARM]
    return answers[frame]


def fingerprint() -> str:
    """Changes whenever a written answer does, so training data made from older texts is rebuilt."""
    return content_key(WRITTEN, 12)
