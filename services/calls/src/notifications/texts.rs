//! What a notification says, in the recipient's language (the platform's eight).

use comms_events::platform::{MilestoneReached, TaskNotice};
use comms_proto::Language;

/// A task assigned to the recipient.
pub fn assigned(language: Language, task: &TaskNotice) -> String {
    let title = &task.title;
    match language {
        Language::En => format!("New task assigned to you: {title}"),
        Language::Es => format!("Se le ha asignado una tarea nueva: {title}"),
        Language::Fr => format!("Une nouvelle tâche vous a été attribuée : {title}"),
        Language::De => format!("Ihnen wurde eine neue Aufgabe zugewiesen: {title}"),
        Language::It => format!("Ti è stata assegnata una nuova attività: {title}"),
        Language::Pt => format!("Foi-lhe atribuída uma nova tarefa: {title}"),
        Language::Zh => format!("您有一项新任务：{title}"),
        Language::Ja => format!("新しいタスクが割り当てられました：{title}"),
    }
}

/// A task of the recipient's past its due time.
pub fn overdue(language: Language, task: &TaskNotice) -> String {
    let title = &task.title;
    match language {
        Language::En => format!("Reminder: the task \"{title}\" is overdue."),
        Language::Es => format!("Recordatorio: la tarea «{title}» está vencida."),
        Language::Fr => format!("Rappel : la tâche « {title} » est en retard."),
        Language::De => format!("Erinnerung: Die Aufgabe „{title}“ ist überfällig."),
        Language::It => format!("Promemoria: l'attività «{title}» è scaduta."),
        Language::Pt => format!("Lembrete: a tarefa «{title}» está atrasada."),
        Language::Zh => format!("提醒：任务“{title}”已逾期。"),
        Language::Ja => format!("リマインダー：タスク「{title}」の期限が過ぎています。"),
    }
}

/// A milestone of a project the recipient is a member of.
pub fn milestone(language: Language, reached: &MilestoneReached) -> String {
    let (project, milestone) = (&reached.project_name, &reached.milestone);
    match language {
        Language::En => format!("{project}: milestone reached: {milestone}"),
        Language::Es => format!("{project}: hito alcanzado: {milestone}"),
        Language::Fr => format!("{project} : jalon atteint : {milestone}"),
        Language::De => format!("{project}: Meilenstein erreicht: {milestone}"),
        Language::It => format!("{project}: traguardo raggiunto: {milestone}"),
        Language::Pt => format!("{project}: marco alcançado: {milestone}"),
        Language::Zh => format!("{project}：已达成里程碑：{milestone}"),
        Language::Ja => format!("{project}：マイルストーン達成：{milestone}"),
    }
}
