//! Long operations (a support bundle) as tasks a client polls through the appliance face's
//! `/tasks`. Kept in memory only: a restart forgets every task (and whatever a running one
//! was doing), which `docs/operations.md` says. At most [`KEPT`] tasks are kept; the oldest
//! finished ones go first.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The appliance's time, in milliseconds since the Unix epoch.
pub type Now = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The most tasks kept.
pub const KEPT: usize = 100;

/// A task's status, as the appliance spec's `Task.status` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    Queued,
    Running,
    Success,
    Error,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "QUEUED",
            TaskStatus::Running => "RUNNING",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Error => "ERROR",
        }
    }

    fn finished(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Error)
    }
}

/// What a client sees of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskInfo {
    pub id: String,
    /// The operation, e.g. `generate-support-bundle`.
    pub kind: &'static str,
    pub description: String,
    pub status: TaskStatus,
    /// Why it failed (status `Error`); never a secret.
    pub error: Option<String>,
    /// What it made (status `Success`).
    pub result: Option<serde_json::Value>,
    pub progress: u8,
    /// Milliseconds since the Unix epoch.
    pub start_time: Option<i64>,
    pub complete_time: Option<i64>,
}

/// The tasks of this server process.
pub struct Tasks {
    now: Now,
    tasks: Mutex<VecDeque<TaskInfo>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").finish_non_exhaustive()
    }
}

impl Tasks {
    /// Tasks whose times are read from `now` (the appliance's clock).
    pub fn new(now: Now) -> Self {
        Self {
            now,
            tasks: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<TaskInfo>> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new task, queued; its handle reports what becomes of it.
    pub fn start(self: &Arc<Self>, kind: &'static str, description: &str) -> TaskHandle {
        let info = TaskInfo {
            id: uuid::Uuid::new_v4().to_string(),
            kind,
            description: description.to_owned(),
            status: TaskStatus::Queued,
            error: None,
            result: None,
            progress: 0,
            start_time: None,
            complete_time: None,
        };
        let id = info.id.clone();
        let mut tasks = self.lock();
        if tasks.len() >= KEPT {
            // The oldest finished task goes; if none has finished, the oldest.
            let at = tasks.iter().position(|t| t.status.finished()).unwrap_or(0);
            tasks.remove(at);
        }
        tasks.push_back(info);
        TaskHandle {
            tasks: self.clone(),
            id,
        }
    }

    /// Every task kept, oldest first.
    pub fn list(&self) -> Vec<TaskInfo> {
        self.lock().iter().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<TaskInfo> {
        self.lock().iter().find(|t| t.id == id).cloned()
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut TaskInfo, i64)) {
        let now = (self.now)();
        if let Some(task) = self.lock().iter_mut().find(|t| t.id == id) {
            f(task, now);
        }
    }
}

/// The running side of one task. Dropped without an outcome (a panic in the work), the task
/// ends in `ERROR`, so no task stays `RUNNING` forever.
#[derive(Debug)]
pub struct TaskHandle {
    tasks: Arc<Tasks>,
    id: String,
}

impl TaskHandle {
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The task as it is now.
    pub fn info(&self) -> TaskInfo {
        self.tasks
            .get(&self.id)
            .expect("a task outlives its handle")
    }

    pub fn running(&self) {
        self.tasks.update(&self.id, |t, now| {
            t.status = TaskStatus::Running;
            t.start_time = Some(now);
        });
    }

    pub fn progress(&self, percent: u8) {
        self.tasks
            .update(&self.id, |t, _| t.progress = percent.min(100));
    }

    pub fn succeed(self, result: serde_json::Value) {
        self.finish(TaskStatus::Success, None, Some(result));
    }

    pub fn fail(self, error: String) {
        self.finish(TaskStatus::Error, Some(error), None);
    }

    fn finish(&self, status: TaskStatus, error: Option<String>, result: Option<serde_json::Value>) {
        self.tasks.update(&self.id, |t, now| {
            if t.status.finished() {
                return;
            }
            t.status = status;
            t.error = error;
            t.result = result;
            if status == TaskStatus::Success {
                t.progress = 100;
            }
            t.start_time.get_or_insert(now);
            t.complete_time = Some(now);
        });
    }
}

impl Drop for TaskHandle {
    fn drop(&mut self) {
        self.finish(
            TaskStatus::Error,
            Some("The task ended unexpectedly; the server log has the cause.".into()),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_goes_from_queued_to_its_outcome() {
        let tasks = Arc::new(Tasks::new(Arc::new(|| 1_700_000_000_000)));
        let t = tasks.start("test", "a test");
        let id = t.id().to_owned();
        assert_eq!(tasks.get(&id).unwrap().status, TaskStatus::Queued);
        t.running();
        t.progress(50);
        let info = tasks.get(&id).unwrap();
        assert_eq!((info.status, info.progress), (TaskStatus::Running, 50));
        assert!(info.start_time.is_some() && info.complete_time.is_none());
        t.succeed(serde_json::json!({"key": "k"}));
        let info = tasks.get(&id).unwrap();
        assert_eq!((info.status, info.progress), (TaskStatus::Success, 100));
        assert_eq!(info.result, Some(serde_json::json!({"key": "k"})));
        assert!(info.complete_time.is_some());

        let dropped = tasks.start("test", "dropped");
        let id = dropped.id().to_owned();
        drop(dropped);
        let info = tasks.get(&id).unwrap();
        assert_eq!(info.status, TaskStatus::Error);
        assert!(info.error.is_some());
    }

    #[test]
    fn the_oldest_finished_task_makes_room() {
        let tasks = Arc::new(Tasks::new(Arc::new(|| 1_700_000_000_000)));
        let first = tasks.start("test", "first, still running");
        let first_id = first.id().to_owned();
        let second = tasks.start("test", "second, finished");
        let second_id = second.id().to_owned();
        second.succeed(serde_json::Value::Null);
        let rest: Vec<_> = (2..KEPT).map(|_| tasks.start("test", "more")).collect();
        assert_eq!(tasks.list().len(), KEPT);
        let _one_more = tasks.start("test", "one more");
        assert_eq!(tasks.list().len(), KEPT);
        assert!(tasks.get(&first_id).is_some());
        assert!(tasks.get(&second_id).is_none());
        drop(rest);
        drop(first);
    }
}
