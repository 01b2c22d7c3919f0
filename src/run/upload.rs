//! The upload step: honour `onExisting`, and undo this run's new files if a later one fails.

use super::{RunError, UploadOutcome, not_uploaded};
use crate::docspace::DocSpaceClient;
use crate::report::Artefact;
use crate::spec::{OnExisting, UploadSpec};

/// Uploads every artefact, or none: on failure the files this run created are deleted. With
/// `resume`, files that already exist are taken as uploaded by an earlier attempt.
pub(super) async fn upload_all(
    client: &DocSpaceClient,
    spec: &UploadSpec,
    artefacts: &[Artefact],
    resume: bool,
) -> Result<Vec<UploadOutcome>, RunError> {
    let titles: Vec<String> = artefacts.iter().map(|a| a.file_name.clone()).collect();
    let existing = client
        .existing_titles(&spec.folder_id, &titles)
        .await
        .map_err(|source| RunError::Upload {
            file_name: titles.join(", "),
            source,
            rollback: String::new(),
        })?;
    let mut created: Vec<String> = Vec::new();
    let mut outcomes = Vec::with_capacity(artefacts.len());
    for artefact in artefacts {
        let exists = existing.iter().any(|t| t == &artefact.file_name);
        if exists && (resume || spec.on_existing == OnExisting::Skip) {
            tracing::info!(file = %artefact.file_name, resume, "file exists in the folder; not uploading it again");
            outcomes.push(not_uploaded(artefact, true));
            continue;
        }
        let rename = spec.on_existing == OnExisting::Rename;
        let result = client
            .upload_file(
                &spec.folder_id,
                &artefact.file_name,
                &artefact.path,
                artefact.kind.content_type(),
                rename,
            )
            .await;
        match result {
            Ok(file) => {
                if rename || !exists {
                    created.push(file.id.clone());
                }
                let mut outcome = not_uploaded(artefact, false);
                outcome.file_id = Some(file.id);
                outcome.stored_title = Some(file.title);
                outcomes.push(outcome);
            }
            Err(source) => {
                let rollback = roll_back(client, &created).await;
                return Err(RunError::Upload {
                    file_name: artefact.file_name.clone(),
                    source,
                    rollback,
                });
            }
        }
    }
    if spec.lock {
        for outcome in &outcomes {
            let Some(id) = &outcome.file_id else { continue };
            if let Err(source) = client.lock_file(id).await {
                let rollback = roll_back(client, &created).await;
                return Err(RunError::Upload {
                    file_name: format!("{} (lock)", outcome.file_name),
                    source,
                    rollback,
                });
            }
        }
    }
    Ok(outcomes)
}

async fn roll_back(client: &DocSpaceClient, created: &[String]) -> String {
    if created.is_empty() {
        return String::new();
    }
    let mut failed = Vec::new();
    for id in created {
        if let Err(e) = client.delete_file(id).await {
            tracing::error!(file_id = %id, error = %e, "could not delete a file of the failed run");
            failed.push(id.clone());
        }
    }
    if failed.is_empty() {
        format!(
            "; the {} file(s) this run had uploaded were deleted again",
            created.len()
        )
    } else {
        format!(
            "; could not delete file(s) {} uploaded by this run, remove them by hand",
            failed.join(", ")
        )
    }
}
