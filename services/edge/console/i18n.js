// The console's words in the platform's eight languages. The language is the one asked for
// (?lang=), else the user's own (their notification preferences), else the browser's, else
// English. Elements carry data-i18n="key"; views call t(key, values) for what they draw.

export const LANGUAGES = {
  en: "English", es: "Español", fr: "Français", de: "Deutsch",
  it: "Italiano", pt: "Português", zh: "中文", ja: "日本語",
};

const WORDS = {
  title: ["Communications console", "Consola de comunicaciones", "Console des communications", "Kommunikationskonsole", "Console delle comunicazioni", "Console de comunicações", "通信控制台", "コミュニケーションコンソール"],
  skip_to_content: ["Skip to content", "Ir al contenido", "Aller au contenu", "Zum Inhalt springen", "Vai al contenuto", "Ir para o conteúdo", "跳到内容", "本文へ移動"],
  wallboard: ["Wallboard", "Panel en vivo", "Tableau mural", "Wallboard", "Tabellone", "Painel", "实时看板", "ウォールボード"],
  my_desk: ["My desk", "Mi escritorio", "Mon poste", "Mein Arbeitsplatz", "La mia postazione", "Minha mesa", "我的工作台", "マイデスク"],
  team: ["Team", "Equipo", "Équipe", "Team", "Squadra", "Equipe", "团队", "チーム"],
  language: ["Language", "Idioma", "Langue", "Sprache", "Lingua", "Idioma", "语言", "言語"],
  log_in: ["Log in", "Iniciar sesión", "Se connecter", "Anmelden", "Accedi", "Entrar", "登录", "ログイン"],
  log_out: ["Log out", "Cerrar sesión", "Se déconnecter", "Abmelden", "Esci", "Sair", "退出", "ログアウト"],
  email: ["Email", "Correo electrónico", "E-mail", "E-Mail", "E-mail", "E-mail", "电子邮件", "メールアドレス"],
  password: ["Password", "Contraseña", "Mot de passe", "Passwort", "Password", "Senha", "密码", "パスワード"],
  login_failed: ["Email or password is wrong.", "Correo o contraseña incorrectos.", "E-mail ou mot de passe incorrect.", "E-Mail oder Passwort ist falsch.", "E-mail o password errati.", "E-mail ou senha incorretos.", "电子邮件或密码错误。", "メールアドレスまたはパスワードが違います。"],
  live: ["Live", "En vivo", "En direct", "Live", "In diretta", "Ao vivo", "实时", "ライブ"],
  reconnecting: ["Reconnecting…", "Reconectando…", "Reconnexion…", "Verbinde neu…", "Riconnessione…", "Reconectando…", "正在重新连接…", "再接続中…"],
  queues: ["Queues", "Colas", "Files d'attente", "Warteschlangen", "Code", "Filas", "队列", "キュー"],
  queue: ["Queue", "Cola", "File", "Warteschlange", "Coda", "Fila", "队列", "キュー"],
  any_skill: ["any skill", "cualquier habilidad", "toute compétence", "beliebige Fähigkeit", "qualsiasi competenza", "qualquer habilidade", "任意技能", "スキル指定なし"],
  waiting: ["Waiting", "En espera", "En attente", "Wartend", "In attesa", "Aguardando", "等待中", "待機中"],
  longest_wait: ["Longest wait", "Espera más larga", "Attente la plus longue", "Längste Wartezeit", "Attesa più lunga", "Maior espera", "最长等待", "最長待ち時間"],
  offered: ["Offered", "Ofrecidas", "Présentés", "Angeboten", "Offerte", "Oferecidas", "呼入", "着信"],
  answered: ["Answered", "Atendidas", "Répondus", "Angenommen", "Risposte", "Atendidas", "已接听", "応答済み"],
  abandoned: ["Abandoned", "Abandonadas", "Abandonnés", "Abgebrochen", "Abbandonate", "Abandonadas", "已放弃", "放棄"],
  service_level: ["Service level", "Nivel de servicio", "Niveau de service", "Servicelevel", "Livello di servizio", "Nível de serviço", "服务水平", "サービスレベル"],
  abandon_rate: ["Abandon rate", "Tasa de abandono", "Taux d'abandon", "Abbruchquote", "Tasso di abbandono", "Taxa de abandono", "放弃率", "放棄率"],
  average_speed_of_answer: ["Average speed of answer", "Velocidad media de respuesta", "Délai moyen de réponse", "Durchschnittliche Annahmezeit", "Tempo medio di risposta", "Tempo médio de atendimento", "平均应答速度", "平均応答時間"],
  occupancy: ["Occupancy", "Ocupación", "Taux d'occupation", "Auslastung", "Occupazione", "Ocupação", "占用率", "稼働率"],
  this_quarter_hour: ["this quarter hour", "este cuarto de hora", "ce quart d'heure", "diese Viertelstunde", "questo quarto d'ora", "este quarto de hora", "本刻钟", "この15分間"],
  agents: ["Agents", "Agentes", "Agents", "Agenten", "Operatori", "Agentes", "坐席", "エージェント"],
  agent: ["Agent", "Agente", "Agent", "Agent", "Operatore", "Agente", "坐席", "エージェント"],
  state: ["State", "Estado", "État", "Status", "Stato", "Estado", "状态", "状態"],
  time_in_state: ["Time in state", "Tiempo en estado", "Temps dans l'état", "Zeit im Status", "Tempo nello stato", "Tempo no estado", "状态时长", "状態の継続時間"],
  active_calls: ["Active calls", "Llamadas activas", "Appels en cours", "Aktive Anrufe", "Chiamate attive", "Chamadas ativas", "进行中的通话", "通話中"],
  direction: ["Direction", "Dirección", "Sens", "Richtung", "Direzione", "Direção", "方向", "方向"],
  number: ["Number", "Número", "Numéro", "Nummer", "Numero", "Número", "号码", "番号"],
  since: ["Since", "Desde", "Depuis", "Seit", "Da", "Desde", "开始于", "開始"],
  pacing: ["Lines per agent", "Líneas por agente", "Lignes par agent", "Leitungen pro Agent", "Linee per operatore", "Linhas por agente", "每坐席线路数", "エージェントあたり回線数"],
  campaigns: ["Campaigns", "Campañas", "Campagnes", "Kampagnen", "Campagne", "Campanhas", "外呼活动", "キャンペーン"],
  alerts: ["Alerts", "Alertas", "Alertes", "Warnungen", "Avvisi", "Alertas", "警报", "アラート"],
  no_alerts: ["No alerts.", "Sin alertas.", "Aucune alerte.", "Keine Warnungen.", "Nessun avviso.", "Sem alertas.", "没有警报。", "アラートはありません。"],
  none: ["None.", "Ninguno.", "Aucun.", "Keine.", "Nessuno.", "Nenhum.", "无。", "なし。"],
  alert_long_wait: ["A caller has waited {seconds} s in {queue}.", "Un cliente lleva {seconds} s esperando en {queue}.", "Un appelant attend depuis {seconds} s dans {queue}.", "Ein Anrufer wartet seit {seconds} s in {queue}.", "Un chiamante attende da {seconds} s in {queue}.", "Um cliente espera há {seconds} s em {queue}.", "有来电者已在 {queue} 等待 {seconds} 秒。", "{queue} で {seconds} 秒待っている通話があります。"],
  alert_service_level: ["Service level is {percent}%, under 80%.", "El nivel de servicio es {percent}%, por debajo del 80%.", "Le niveau de service est de {percent} %, sous 80 %.", "Der Servicelevel liegt bei {percent} %, unter 80 %.", "Il livello di servizio è {percent}%, sotto l'80%.", "O nível de serviço é {percent}%, abaixo de 80%.", "服务水平为 {percent}%，低于 80%。", "サービスレベルが {percent}% で、80% を下回っています。"],
  inbound: ["inbound", "entrante", "entrant", "eingehend", "in entrata", "recebida", "呼入", "着信"],
  outbound: ["outbound", "saliente", "sortant", "ausgehend", "in uscita", "efetuada", "呼出", "発信"],
  s_available: ["available", "disponible", "disponible", "verfügbar", "disponibile", "disponível", "空闲", "受付可"],
  s_reserved: ["reserved", "reservado", "réservé", "reserviert", "riservato", "reservado", "已预留", "予約済み"],
  s_busy: ["on a call", "en llamada", "en appel", "im Gespräch", "in chiamata", "em chamada", "通话中", "通話中"],
  s_wrap_up: ["wrap-up", "cierre", "post-appel", "Nachbearbeitung", "post-chiamata", "pós-atendimento", "话后处理", "後処理"],
  s_break: ["break", "pausa", "pause", "Pause", "pausa", "pausa", "休息", "休憩"],
  s_away: ["away", "ausente", "absent", "abwesend", "assente", "ausente", "离开", "離席"],
  s_offline: ["offline", "desconectado", "hors ligne", "abgemeldet", "disconnesso", "desconectado", "离线", "オフライン"],
  c_initiated: ["dialing", "marcando", "numérotation", "wählt", "in composizione", "discando", "拨号中", "発信中"],
  c_ringing: ["ringing", "sonando", "sonne", "klingelt", "squilla", "tocando", "振铃中", "呼び出し中"],
  c_answered: ["connected", "conectada", "connecté", "verbunden", "collegata", "conectada", "已接通", "通話中"],
  c_ended: ["ended", "finalizada", "terminé", "beendet", "terminata", "encerrada", "已结束", "終了"],
  c_failed: ["failed", "fallida", "échoué", "fehlgeschlagen", "fallita", "falhou", "失败", "失敗"],
  c_no_answer: ["no answer", "sin respuesta", "pas de réponse", "keine Antwort", "nessuna risposta", "sem resposta", "无人接听", "応答なし"],
  c_busy: ["busy", "ocupado", "occupé", "besetzt", "occupato", "ocupado", "占线", "話し中"],
  c_canceled: ["canceled", "cancelada", "annulé", "abgebrochen", "annullata", "cancelada", "已取消", "キャンセル"],
  desk_title: ["My desk", "Mi escritorio", "Mon poste", "Mein Arbeitsplatz", "La mia postazione", "Minha mesa", "我的工作台", "マイデスク"],
  not_an_agent: ["You are not an agent of this organization.", "No es agente de esta organización.", "Vous n'êtes pas agent de cette organisation.", "Sie sind kein Agent dieser Organisation.", "Non sei un operatore di questa organizzazione.", "Você não é agente desta organização.", "您不是该组织的坐席。", "この組織のエージェントではありません。"],
  my_state: ["My state", "Mi estado", "Mon état", "Mein Status", "Il mio stato", "Meu estado", "我的状态", "自分の状態"],
  set_state: ["Set state", "Cambiar estado", "Changer d'état", "Status setzen", "Imposta stato", "Definir estado", "设置状态", "状態を変更"],
  reason: ["Reason", "Motivo", "Motif", "Grund", "Motivo", "Motivo", "原因", "理由"],
  next_state: ["Next, after this call: {state}", "Después de esta llamada: {state}", "Après cet appel : {state}", "Nach diesem Anruf: {state}", "Dopo questa chiamata: {state}", "Depois desta chamada: {state}", "本次通话后：{state}", "この通話の後: {state}"],
  my_call: ["My call", "Mi llamada", "Mon appel", "Mein Anruf", "La mia chiamata", "Minha chamada", "我的通话", "自分の通話"],
  no_call: ["No call right now.", "Ninguna llamada ahora.", "Aucun appel en ce moment.", "Gerade kein Anruf.", "Nessuna chiamata ora.", "Nenhuma chamada agora.", "当前没有通话。", "現在通話はありません。"],
  caller: ["Caller", "Llamante", "Appelant", "Anrufer", "Chiamante", "Chamador", "来电者", "発信者"],
  called: ["Called", "Destino", "Appelé", "Angerufen", "Chiamato", "Destino", "被叫", "着信先"],
  hang_up: ["Hang up", "Colgar", "Raccrocher", "Auflegen", "Riattacca", "Desligar", "挂断", "通話を終了"],
  disposition: ["Disposition", "Resultado", "Qualification", "Ergebnis", "Esito", "Resultado", "处理结果", "結果"],
  notes: ["Notes", "Notas", "Notes", "Notizen", "Note", "Notas", "备注", "メモ"],
  save: ["Save", "Guardar", "Enregistrer", "Speichern", "Salva", "Salvar", "保存", "保存"],
  saved: ["Saved.", "Guardado.", "Enregistré.", "Gespeichert.", "Salvato.", "Salvo.", "已保存。", "保存しました。"],
  preview: ["Next contact", "Siguiente contacto", "Prochain contact", "Nächster Kontakt", "Prossimo contatto", "Próximo contato", "下一个联系人", "次の連絡先"],
  no_preview: ["No contact to preview.", "Ningún contacto para revisar.", "Aucun contact à prévisualiser.", "Kein Kontakt zur Vorschau.", "Nessun contatto in anteprima.", "Nenhum contato para revisar.", "没有待预览的联系人。", "プレビューする連絡先はありません。"],
  call_contact: ["Call", "Llamar", "Appeler", "Anrufen", "Chiama", "Ligar", "呼叫", "発信"],
  skip: ["Skip", "Omitir", "Passer", "Überspringen", "Salta", "Pular", "跳过", "スキップ"],
  team_title: ["My teams", "Mis equipos", "Mes équipes", "Meine Teams", "Le mie squadre", "Minhas equipes", "我的团队", "マイチーム"],
  force_state: ["Force state", "Forzar estado", "Imposer l'état", "Status erzwingen", "Forza stato", "Forçar estado", "强制状态", "状態を強制"],
  waiting_calls: ["Waiting calls", "Llamadas en espera", "Appels en attente", "Wartende Anrufe", "Chiamate in attesa", "Chamadas em espera", "等待中的通话", "待機中の通話"],
  pull_to: ["Pull to", "Pasar a", "Attribuer à", "Zuweisen an", "Assegna a", "Passar para", "转给", "割り当て先"],
  reroute: ["Send to queue", "Enviar a la cola", "Envoyer dans la file", "In Warteschlange verschieben", "Sposta in coda", "Enviar para a fila", "转到队列", "キューへ移す"],
  skills: ["Skills", "Habilidades", "Compétences", "Fähigkeiten", "Competenze", "Habilidades", "技能", "スキル"],
  pull: ["Pull", "Pasar", "Attribuer", "Zuweisen", "Assegna", "Passar", "转接", "割り当て"],
  failed: ["That did not work: {reason}", "No funcionó: {reason}", "Échec : {reason}", "Das hat nicht geklappt: {reason}", "Non è riuscito: {reason}", "Não funcionou: {reason}", "操作失败：{reason}", "失敗しました: {reason}"],
  mood: ["Caller's mood", "Ánimo del cliente", "Humeur de l'appelant", "Stimmung des Anrufers", "Umore del chiamante", "Humor do cliente", "来电者情绪", "発信者の感情"],
  m_positive: ["pleased", "contento", "satisfait", "zufrieden", "soddisfatto", "satisfeito", "满意", "満足"],
  m_neutral: ["calm", "tranquilo", "calme", "ruhig", "tranquillo", "tranquilo", "平静", "平静"],
  m_negative: ["upset", "molesto", "mécontent", "verärgert", "arrabbiato", "chateado", "不满", "不満"],
  upset_callers: ["Upset callers", "Clientes molestos", "Appelants mécontents", "Verärgerte Anrufer", "Chiamanti arrabbiati", "Clientes chateados", "不满的来电者", "不満な発信者"],
  alert_upset: ["The caller on {number} is upset ({agent}).", "El cliente en {number} está molesto ({agent}).", "L'appelant au {number} est mécontent ({agent}).", "Der Anrufer unter {number} ist verärgert ({agent}).", "Il chiamante al {number} è arrabbiato ({agent}).", "O cliente em {number} está chateado ({agent}).", "{number} 的来电者情绪不满（{agent}）。", "{number} の発信者が不満を感じています（{agent}）。"],
  suggestion: ["Suggested answer", "Respuesta sugerida", "Réponse suggérée", "Antwortvorschlag", "Risposta suggerita", "Resposta sugerida", "建议回复", "回答の提案"],
  notes_heard: ["Notes for what the caller said", "Notas sobre lo que dijo el cliente", "Notes sur ce qu'a dit l'appelant", "Hinweise zu dem, was der Anrufer sagte", "Note su ciò che ha detto il chiamante", "Notas sobre o que o cliente disse", "与来电者所说内容相关的知识", "発信者の発言に関するナレッジ"],
  heard: ["Heard: “{words}”", "Oído: «{words}»", "Entendu : « {words} »", "Gehört: „{words}“", "Sentito: «{words}»", "Ouvido: “{words}”", "听到：“{words}”", "聞き取った言葉:「{words}」"],
  agents_calls: ["My agents' calls", "Llamadas de mis agentes", "Appels de mes agents", "Gespräche meiner Agenten", "Chiamate dei miei operatori", "Chamadas dos meus agentes", "我的坐席的通话", "担当エージェントの通話"],
  monitor: ["Join the call", "Unirse a la llamada", "Rejoindre l'appel", "Dem Gespräch beitreten", "Partecipa alla chiamata", "Entrar na chamada", "加入通话", "通話に参加"],
  listen: ["Listen", "Escuchar", "Écouter", "Mithören", "Ascolta", "Ouvir", "监听", "モニター"],
  whisper: ["Whisper", "Susurrar", "Souffler", "Flüstern", "Sussurra", "Sussurrar", "耳语", "ささやき"],
  barge: ["Barge in", "Intervenir", "Intervenir", "Aufschalten", "Intervieni", "Intervir", "强插", "割り込み"],
  leave: ["Leave", "Salir", "Quitter", "Verlassen", "Esci", "Sair", "离开", "退出"],
  mode_listen: ["You are listening", "Está escuchando", "Vous écoutez", "Sie hören mit", "Sta ascoltando", "Está ouvindo", "您正在监听", "モニター中"],
  mode_whisper: ["You are whispering to the agent", "Está susurrando al agente", "Vous soufflez à l'agent", "Sie flüstern dem Agenten zu", "Sta sussurrando all'operatore", "Está sussurrando ao agente", "您正在对坐席耳语", "エージェントにささやき中"],
  mode_barge: ["You are on the call", "Está en la llamada", "Vous êtes dans l'appel", "Sie sind im Gespräch", "È nella chiamata", "Está na chamada", "您已加入通话", "通話に参加中"],
  no_audio: ["No audio: the simulated carrier carries none.", "Sin audio: el operador simulado no transmite audio.", "Pas d'audio : l'opérateur simulé n'en transporte pas.", "Kein Ton: der simulierte Anbieter überträgt keinen.", "Nessun audio: l'operatore simulato non ne trasporta.", "Sem áudio: a operadora simulada não transmite áudio.", "无音频：模拟运营商不传输音频。", "音声なし：シミュレーションの通信事業者は音声を運びません。"],
  summary: ["Summary", "Resumen", "Résumé", "Zusammenfassung", "Riepilogo", "Resumo", "摘要", "要約"],
  no_agent: ["no agent", "sin agente", "sans agent", "kein Agent", "nessun operatore", "sem agente", "无坐席", "エージェントなし"],
  seconds: ["{n} s", "{n} s", "{n} s", "{n} s", "{n} s", "{n} s", "{n} 秒", "{n} 秒"],
};

const CODES = Object.keys(LANGUAGES);
let current = "en";

/// The first of `candidates` (language tags like `de-AT`) that the console speaks.
export function pick(candidates) {
  for (const tag of candidates) {
    const code = String(tag || "").toLowerCase().split("-")[0];
    if (CODES.includes(code)) return code;
  }
  return "en";
}

export function language() {
  return current;
}

export function setLanguage(code) {
  current = CODES.includes(code) ? code : "en";
  document.documentElement.lang = current;
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

/// The words for `key` in the current language, `{name}` filled from `values`.
export function t(key, values = {}) {
  const words = WORDS[key];
  if (!words) return key;
  const text = words[CODES.indexOf(current)] || words[0];
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/// A number in the current language's way (1 234,5 or 1,234.5).
export function number(value, digits = 0) {
  return new Intl.NumberFormat(current, { maximumFractionDigits: digits }).format(value);
}
