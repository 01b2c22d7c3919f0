//! The upload step, all or nothing: honour `onExisting`, record every change this run makes
//! in the folder (a new file, or a new version of an existing one), and if anything fails undo
//! all of them (delete the new files, delete the added versions), so the folder holds the
//! previous complete set or the new one, never a mix. When the server may have acted on a
//! failed request, the folder is looked up before deciding what changed. What cannot be
//! undone is listed by name in the error. The run's deadline holds here too: past it, no
//! further upload starts and what was uploaded is undone like after a failure.

use tokio::time::Instant;

use super::{CycleError, UploadOutcome, not_uploaded};
use crate::docspace::{DocSpaceClient, DocSpaceError, FolderFile};
use crate::report::Artefact;
use crate::spec::{OnExisting, UploadSpec};

/// One change this run made in the folder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// A file that did not exist before.
    Created { id: String, title: String },
    /// A version added to an existing file.
    NewVersion {
        id: String,
        title: String,
        version: u32,
    },
}

impl Change {
    fn describe(&self) -> String {
        match self {
            Self::Created { id, title } => format!("{title} (new file {id})"),
            Self::NewVersion { id, title, version } => {
                format!("{title} (file {id}, version {version} added)")
            }
        }
    }
}

/// The part of a file name DocSpace keeps in `name (1).ext` too: the name without extension.
fn base_name(title: &str) -> &str {
    match title.rfind('.') {
        Some(dot) if dot > 0 => &title[..dot],
        _ => title,
    }
}

/// What changed between two listings of the files like `title`.
fn changes_between(before: &[FolderFile], after: &[FolderFile], title: &str) -> Vec<Change> {
    let base = base_name(title);
    after
        .iter()
        .filter(|f| f.title.starts_with(base))
        .filter_map(|f| match before.iter().find(|b| b.id == f.id) {
            None => Some(Change::Created {
                id: f.id.clone(),
                title: f.title.clone(),
            }),
            Some(old) if f.version > old.version => Some(Change::NewVersion {
                id: f.id.clone(),
                title: f.title.clone(),
                version: f.version,
            }),
            Some(_) => None,
        })
        .collect()
}

fn upload_error(file_name: String, source: DocSpaceError, rollback: String) -> CycleError {
    CycleError::Upload {
        file_name,
        source,
        rollback,
    }
}

/// Where and how a run uploads.
pub(super) struct Target<'a> {
    /// The portal.
    pub client: &'a DocSpaceClient,
    /// The folder and what to do with existing files.
    pub spec: &'a UploadSpec,
    /// Files that already exist are taken as uploaded by an earlier attempt at the same run.
    pub resume: bool,
    /// The run's deadline and its limit in seconds: past it, the upload stops and is undone.
    pub deadline: Option<(Instant, u64)>,
}

impl Target<'_> {
    /// Whether the run's deadline has passed.
    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|(at, _)| Instant::now() >= at)
    }

    /// Runs a request that changes nothing within the deadline; `None` when it passed first.
    async fn look_within_deadline<T>(&self, look: impl Future<Output = T>) -> Option<T> {
        match self.deadline {
            Some((at, _)) => tokio::time::timeout_at(at, look).await.ok(),
            None => Some(look.await),
        }
    }

    fn deadline_error(&self, rollback: String) -> CycleError {
        CycleError::DeadlineExceeded {
            seconds: self
                .deadline
                .map(|(_, seconds)| seconds)
                .unwrap_or_default(),
            stage: "uploading",
            rollback,
        }
    }
}

/// Why one upload did not finish.
enum UploadStop {
    /// The portal failed it.
    Failed(DocSpaceError),
    /// The run's deadline passed before the upload started.
    Deadline,
}

/// Uploads every artefact, or none (see the module), within the run's deadline. The deadline
/// is checked before each upload, not during one: an upload cut off in flight might still be
/// stored after the run had looked, so it would never be undone. An upload that is slow
/// therefore overruns the deadline by at most its own request timeouts, and then the whole set
/// is undone.
pub(super) async fn upload_all(
    target: &Target<'_>,
    artefacts: &[Artefact],
) -> Result<Vec<UploadOutcome>, CycleError> {
    let (client, spec) = (target.client, target.spec);
    let titles: Vec<String> = artefacts.iter().map(|a| a.file_name.clone()).collect();
    let existing = target
        .look_within_deadline(client.existing_titles(&spec.folder_id, &titles))
        .await
        .ok_or_else(|| target.deadline_error("; nothing was uploaded".to_owned()))?
        .map_err(|source| upload_error(titles.join(", "), source, String::new()))?;
    let mut changes: Vec<Change> = Vec::new();
    let mut outcomes = Vec::with_capacity(artefacts.len());
    for artefact in artefacts {
        if target.past_deadline() {
            let rollback = roll_back(client, &changes).await;
            return Err(target.deadline_error(rollback));
        }
        let exists = existing.iter().any(|t| t == &artefact.file_name);
        if exists && (target.resume || spec.on_existing == OnExisting::Skip) {
            tracing::info!(file = %artefact.file_name, resume = target.resume, "file exists in the folder; not uploading it again");
            outcomes.push(not_uploaded(artefact, true));
            continue;
        }
        match upload_one(target, artefact, exists).await {
            Ok((outcome, change)) => {
                changes.push(change);
                outcomes.push(outcome);
            }
            Err((stop, changed)) => {
                changes.extend(changed);
                let rollback = roll_back(client, &changes).await;
                return Err(match stop {
                    UploadStop::Failed(source) => {
                        upload_error(artefact.file_name.clone(), source, rollback)
                    }
                    UploadStop::Deadline => target.deadline_error(rollback),
                });
            }
        }
    }
    if spec.lock {
        for outcome in &outcomes {
            let Some(id) = &outcome.file_id else { continue };
            if target.past_deadline() {
                let rollback = roll_back(client, &changes).await;
                return Err(target.deadline_error(rollback));
            }
            if let Err(source) = client.lock_file(id).await {
                let rollback = roll_back(client, &changes).await;
                return Err(upload_error(
                    format!("{} (lock)", outcome.file_name),
                    source,
                    rollback,
                ));
            }
        }
    }
    Ok(outcomes)
}

/// Uploads one artefact and tells what it changed in the folder. On failure, the changes the
/// server may still have made (found by listing the folder) come with the error.
async fn upload_one(
    target: &Target<'_>,
    artefact: &Artefact,
    exists: bool,
) -> Result<(UploadOutcome, Change), (UploadStop, Vec<Change>)> {
    let (client, spec) = (target.client, target.spec);
    let title = &artefact.file_name;
    let before = target
        .look_within_deadline(client.files_like(&spec.folder_id, base_name(title)))
        .await
        .ok_or((UploadStop::Deadline, Vec::new()))?
        .map_err(|e| (UploadStop::Failed(e), Vec::new()))?;
    let rename = spec.on_existing == OnExisting::Rename;
    let uploaded = client
        .upload_file(
            &spec.folder_id,
            title,
            &artefact.path,
            artefact.content_type(),
            rename,
        )
        .await;
    let file = match uploaded {
        Ok(file) => file,
        Err(error) => {
            let error = UploadStop::Failed(error);
            // The server may have stored the file before the failure (a lost answer, an answer
            // without an id): look.
            let changed = match client.files_like(&spec.folder_id, base_name(title)).await {
                Ok(after) => changes_between(&before, &after, title),
                Err(e) => {
                    tracing::error!(file = %title, error = %e, "cannot tell whether the failed upload was stored");
                    Vec::new()
                }
            };
            return Err((error, changed));
        }
    };
    let previous = before.iter().find(|f| f.id == file.id);
    let mut outcome = not_uploaded(artefact, false);
    let change = match previous {
        Some(old) if !rename && exists => Change::NewVersion {
            id: file.id.clone(),
            title: file.title.clone(),
            version: file.version.unwrap_or(old.version + 1),
        },
        _ => {
            if exists && !rename {
                // A version was asked for, but the existing file is locked or being edited:
                // DocSpace stored a second file with the same title.
                outcome.note = Some(format!(
                    "DocSpace stored a second file titled {} (id {}) instead of a new version: the existing file is locked or open in the editor",
                    file.title, file.id
                ));
                tracing::warn!(file = %file.title, id = %file.id, "same-title upload became a second file, not a version");
            }
            Change::Created {
                id: file.id.clone(),
                title: file.title.clone(),
            }
        }
    };
    outcome.file_id = Some(file.id);
    outcome.stored_title = Some(file.title);
    Ok((outcome, change))
}

/// Undoes `changes`, newest first; returns what to add to the error message.
async fn roll_back(client: &DocSpaceClient, changes: &[Change]) -> String {
    if changes.is_empty() {
        return "; nothing in the folder was changed".to_owned();
    }
    let mut not_undone = Vec::new();
    for change in changes.iter().rev() {
        let result = match change {
            Change::Created { id, .. } => client.delete_file(id).await,
            Change::NewVersion { id, version, .. } => client.delete_version(id, *version).await,
        };
        if let Err(e) = result {
            tracing::error!(change = %change.describe(), error = %e, "could not undo a change of the failed run");
            not_undone.push(change.describe());
        }
    }
    if not_undone.is_empty() {
        format!(
            "; the folder holds the previous set again: undone {}",
            changes
                .iter()
                .map(Change::describe)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "; could not undo {} (restore or remove them by hand); the rest was undone",
            not_undone.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(id: &str, title: &str, version: u32) -> FolderFile {
        FolderFile {
            id: id.into(),
            title: title.into(),
            version,
            updated: None,
        }
    }

    #[test]
    fn listings_tell_new_files_and_new_versions() {
        let before = [
            file("1", "r-2025-03.csv", 1),
            file("2", "r-2025-03 (1).csv", 1),
        ];
        let after = [
            file("1", "r-2025-03.csv", 2),
            file("2", "r-2025-03 (1).csv", 1),
            file("3", "r-2025-03 (2).csv", 1),
            file("4", "other.csv", 1),
        ];
        assert_eq!(
            changes_between(&before, &after, "r-2025-03.csv"),
            [
                Change::NewVersion {
                    id: "1".into(),
                    title: "r-2025-03.csv".into(),
                    version: 2
                },
                Change::Created {
                    id: "3".into(),
                    title: "r-2025-03 (2).csv".into()
                }
            ]
        );
        assert!(changes_between(&before, &before, "r-2025-03.csv").is_empty());
    }
}
