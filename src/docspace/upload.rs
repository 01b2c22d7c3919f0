//! Uploading report files into a DocSpace folder.

use std::path::Path;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

use super::client::{DocSpaceClient, parse_envelope};
use super::error::{AttemptError, DocSpaceError};

/// Bytes read from disk per chunk of an upload body (each read is a trip to tokio's blocking
/// pool, so small chunks cost a context switch every few KiB).
const UPLOAD_CHUNK: usize = 1024 * 1024;

/// A file DocSpace stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// The file id (a number on native storage, a string on third-party storage).
    pub id: String,
    /// The title DocSpace gave it (it may append ` (1)` and sanitises characters).
    pub title: String,
    /// The file's version after the upload.
    pub version: Option<u32>,
}

#[derive(Deserialize)]
struct FileDto {
    id: serde_json::Value,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

fn id_text(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl DocSpaceClient {
    /// Which of `titles` already exist in the folder (`POST files/{folderId}/upload/check`).
    pub async fn existing_titles(
        &self,
        folder_id: &str,
        titles: &[String],
    ) -> Result<Vec<String>, DocSpaceError> {
        let endpoint = "upload check";
        let path = format!("/api/2.0/files/{folder_id}/upload/check");
        let body = serde_json::json!({ "filesTitle": titles });
        self.with_retries(endpoint, || async {
            let request = self.request(Method::POST, &path).json(&body);
            let bytes = self
                .send_once(endpoint, request, || folder_not_found(folder_id))
                .await?;
            parse_envelope::<Vec<String>>(endpoint, &bytes).map_err(AttemptError::Fatal)
        })
        .await
    }

    /// Uploads a local file as `title` into the folder (`POST files/{folderId}/upload`).
    ///
    /// With `create_new_if_exist` false an existing file of the same title gets a new version;
    /// with true DocSpace stores a new file named `title (1)`. Only failures that happen before
    /// the server could have stored anything (429, refused connections) are retried, so a retry
    /// never stores the report twice.
    pub async fn upload_file(
        &self,
        folder_id: &str,
        title: &str,
        path: &Path,
        content_type: &str,
        create_new_if_exist: bool,
    ) -> Result<UploadedFile, DocSpaceError> {
        let endpoint = "upload";
        let url_path = format!("/api/2.0/files/{folder_id}/upload");
        let files: Vec<FileDto> = self
            .with_retries(endpoint, || async {
                let form = multipart_form(path, title, content_type)
                    .await
                    .map_err(AttemptError::Fatal)?;
                let request = self
                    .request(Method::POST, &url_path)
                    .query(&[("createNewIfExist", create_new_if_exist.to_string())])
                    .timeout(self.config.upload_timeout)
                    .multipart(form);
                let bytes = self
                    .send_once(endpoint, request, || folder_not_found(folder_id))
                    .await
                    .map_err(only_retry_unprocessed)?;
                parse_envelope::<Vec<FileDto>>(endpoint, &bytes).map_err(AttemptError::Fatal)
            })
            .await?;
        let file = files.into_iter().next().ok_or(DocSpaceError::Malformed {
            endpoint,
            detail: "the upload answer lists no file".to_owned(),
        })?;
        Ok(UploadedFile {
            id: id_text(&file.id),
            title: file.title.unwrap_or_else(|| title.to_owned()),
            version: file.version,
        })
    }

    /// Locks a file so that nobody edits it (`PUT files/file/{fileId}/lock`).
    pub async fn lock_file(&self, file_id: &str) -> Result<(), DocSpaceError> {
        let endpoint = "lock file";
        let path = format!("/api/2.0/files/file/{file_id}/lock");
        let body = serde_json::json!({ "lockFile": true });
        self.with_retries(endpoint, || async {
            let request = self.request(Method::PUT, &path).json(&body);
            let bytes = self
                .send_once(endpoint, request, || format!("file {file_id}"))
                .await?;
            parse_envelope::<serde_json::Value>(endpoint, &bytes)
                .map(|_| ())
                .map_err(AttemptError::Fatal)
        })
        .await
    }

    /// Deletes a file immediately, bypassing the trash (used to undo a partial upload).
    pub async fn delete_file(&self, file_id: &str) -> Result<(), DocSpaceError> {
        let endpoint = "delete file";
        let path = format!("/api/2.0/files/file/{file_id}");
        let body = serde_json::json!({ "deleteAfter": false, "immediately": true });
        self.with_retries(endpoint, || async {
            let request = self.request(Method::DELETE, &path).json(&body);
            self.send_once(endpoint, request, || format!("file {file_id}"))
                .await
                .map(|_| ())
        })
        .await
    }
}

fn folder_not_found(folder_id: &str) -> String {
    format!("folder {folder_id}; check spec.upload.folderId and that the key's owner can see it")
}

/// An upload that reached the server might have been stored: retrying it could store it twice.
fn only_retry_unprocessed(error: AttemptError) -> AttemptError {
    match error {
        AttemptError::Transient {
            unprocessed: true, ..
        } => error,
        other => AttemptError::Fatal(other.into_error()),
    }
}

async fn multipart_form(
    path: &Path,
    title: &str,
    content_type: &str,
) -> Result<Form, DocSpaceError> {
    let local = |source| DocSpaceError::LocalFile {
        path: path.display().to_string(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(local)?;
    let length = file.metadata().await.map_err(local)?.len();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        UPLOAD_CHUNK,
    ));
    let part = Part::stream_with_length(body, length)
        .file_name(title.to_owned())
        .mime_str(content_type)
        .map_err(|e| DocSpaceError::LocalFile {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    Ok(Form::new().part("file", part))
}
