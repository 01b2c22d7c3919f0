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
    #[serde(default)]
    updated: Option<String>,
}

fn id_text(id: &serde_json::Value) -> String {
    match id {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Checks an id from an answer before it goes into a request path: DocSpace ids are numbers,
/// or strings on third-party storage (which may hold `/` or `|`, percent-encoded on the way
/// back), but never empty, `.` or `..`, control characters, or longer than 1,024 characters.
pub(crate) fn checked_id(endpoint: &'static str, id: &str) -> Result<(), DocSpaceError> {
    let bad = id.is_empty()
        || id == "."
        || id == ".."
        || id.len() > 1024
        || id.chars().any(char::is_control);
    if bad {
        return Err(DocSpaceError::Malformed {
            endpoint,
            detail: format!(
                "the answer names an unusable file id {:?}",
                id.chars().take(80).collect::<String>()
            ),
        });
    }
    Ok(())
}

/// A file as the folder listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderFile {
    /// The file id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its current version.
    pub version: u32,
    /// When its current version was stored, if the listing says.
    pub updated: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct FolderContent {
    #[serde(default)]
    files: Vec<FileDto>,
}

#[derive(Deserialize)]
struct FileOperation {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    finished: bool,
}

/// Files larger than this are uploaded through a chunked session: a single request is capped
/// at 100 MiB by the server (402 above `available-file-size`, 413 above the body cap).
pub const CHUNKED_UPLOAD_THRESHOLD: u64 = 64 << 20;
/// Bytes per chunk of a session (the server's default `files:uploader:chunk-size`).
pub const UPLOAD_CHUNK_SIZE: usize = 10 << 20;

/// The answer of `upload/create_session` (`{success, data: {id, ...}}`) or of `/session`
/// (the session object itself).
#[derive(Deserialize)]
struct SessionCreated {
    #[serde(default)]
    data: Option<SessionId>,
    #[serde(default)]
    id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct SessionId {
    id: serde_json::Value,
}

/// The answer to a chunk: progress, or (`uploaded`) the stored file.
#[derive(Deserialize)]
struct ChunkAnswer {
    #[serde(default)]
    uploaded: bool,
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    file: Option<FileDto>,
}

/// Pages of a folder listing read at most (100 files each).
const MAX_LISTING_PAGES: usize = 50;
/// Polls of a file operation that has not finished.
const MAX_OPERATION_POLLS: usize = 60;
/// Time between polls of a file operation.
const OPERATION_POLL: std::time::Duration = std::time::Duration::from_millis(500);

impl DocSpaceClient {
    /// Sends `method` to the portal URL plus `segments`, as `build` completes the request,
    /// under the retry policy; returns the envelope's `response`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        method: Method,
        segments: &[&str],
        build: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
        not_found: impl Fn() -> String,
    ) -> Result<T, DocSpaceError> {
        self.with_retries(endpoint, || async {
            let request = build(
                self.request_to(method.clone(), segments)
                    .map_err(AttemptError::Fatal)?,
            );
            let bytes = self.send_once(endpoint, request, &not_found).await?;
            parse_envelope::<T>(endpoint, &bytes).map_err(AttemptError::Fatal)
        })
        .await
    }

    /// The files of a folder whose title contains `needle` (`GET files/{folderId}` with
    /// `filterValue`, paged), with their ids and current versions.
    pub async fn files_like(
        &self,
        folder_id: &str,
        needle: &str,
    ) -> Result<Vec<FolderFile>, DocSpaceError> {
        let endpoint = "folder listing";
        let url = ["api", "2.0", "files", folder_id];
        let mut files = Vec::new();
        for page in 0..MAX_LISTING_PAGES {
            let query = [
                ("filterValue", needle.to_owned()),
                ("count", "100".to_owned()),
                ("startIndex", (page * 100).to_string()),
            ];
            let content: FolderContent = self
                .call(
                    endpoint,
                    Method::GET,
                    &url,
                    |r| r.query(&query),
                    || folder_not_found(folder_id),
                )
                .await?;
            let last = content.files.len() < 100;
            for file in content.files {
                let id = id_text(&file.id);
                checked_id(endpoint, &id)?;
                files.push(FolderFile {
                    id,
                    title: file.title.unwrap_or_default(),
                    version: file.version.unwrap_or(1),
                    updated: file
                        .updated
                        .as_deref()
                        .and_then(|d| super::dates::parse(d).ok()),
                });
            }
            if last {
                break;
            }
        }
        Ok(files)
    }

    /// Deletes one version of a file (`PUT files/fileops/deleteversion`), waiting for the file
    /// operation to finish; deleting the current version makes the previous one current.
    pub async fn delete_version(&self, file_id: &str, version: u32) -> Result<(), DocSpaceError> {
        let endpoint = "delete version";
        checked_id(endpoint, file_id)?;
        let id: serde_json::Value = file_id
            .parse::<i64>()
            .map_or_else(|_| file_id.into(), Into::into);
        let body = serde_json::json!({ "fileId": id, "versions": [version] });
        let operations: Vec<FileOperation> = self
            .call(
                endpoint,
                Method::PUT,
                &["api", "2.0", "files", "fileops", "deleteversion"],
                |r| r.json(&body),
                || format!("file {file_id}"),
            )
            .await?;
        self.wait_for_operations(endpoint, operations).await
    }

    /// Waits (polling `GET files/fileops` every half second, a bounded number of times) until the
    /// file operations `started` has finished; an operation's error is the error.
    async fn wait_for_operations(
        &self,
        endpoint: &'static str,
        started: Vec<FileOperation>,
    ) -> Result<(), DocSpaceError> {
        let mut pending = started;
        for _ in 0..=MAX_OPERATION_POLLS {
            if let Some(error) = pending
                .iter()
                .filter_map(|o| o.error.as_deref())
                .find(|e| !e.is_empty())
            {
                return Err(DocSpaceError::Rejected {
                    endpoint,
                    status: 200,
                    message: error.to_owned(),
                });
            }
            let waiting: Vec<String> = pending
                .iter()
                .filter(|o| !o.finished)
                .filter_map(|o| o.id.clone())
                .collect();
            if waiting.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(OPERATION_POLL).await;
            let all: Vec<FileOperation> = self
                .get_json("file operations", "/api/2.0/files/fileops", &[])
                .await?;
            // An operation no longer listed has finished.
            pending = all
                .into_iter()
                .filter(|o| o.id.as_ref().is_some_and(|id| waiting.contains(id)))
                .collect();
        }
        Err(DocSpaceError::Rejected {
            endpoint,
            status: 200,
            message: format!(
                "the file operation did not finish within {} s",
                OPERATION_POLL.as_secs_f64() * MAX_OPERATION_POLLS as f64
            ),
        })
    }

    /// The content of a file's current version (`GET filehandler.ashx?action=download`), at
    /// most the client's answer cap.
    pub async fn download(&self, file_id: &str) -> Result<bytes::Bytes, DocSpaceError> {
        let endpoint = "download";
        checked_id(endpoint, file_id)?;
        let query = [
            ("action", "download".to_owned()),
            ("fileid", file_id.to_owned()),
        ];
        self.with_retries(endpoint, || async {
            let request = self.request(Method::GET, "/filehandler.ashx").query(&query);
            self.send_once(endpoint, request, || format!("file {file_id}"))
                .await
        })
        .await
    }

    /// Which of `titles` already exist in the folder (`POST files/{folderId}/upload/check`).
    pub async fn existing_titles(
        &self,
        folder_id: &str,
        titles: &[String],
    ) -> Result<Vec<String>, DocSpaceError> {
        let endpoint = "upload check";
        let url = ["api", "2.0", "files", folder_id, "upload", "check"];
        let body = serde_json::json!({ "filesTitle": titles });
        self.call(
            endpoint,
            Method::POST,
            &url,
            |r| r.json(&body),
            || folder_not_found(folder_id),
        )
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
        let size = tokio::fs::metadata(path)
            .await
            .map_err(|source| DocSpaceError::LocalFile {
                path: path.display().to_string(),
                source,
            })?
            .len();
        if size > CHUNKED_UPLOAD_THRESHOLD {
            return self
                .upload_in_session(folder_id, title, path, size, create_new_if_exist)
                .await;
        }
        let endpoint = "upload";
        let url = ["api", "2.0", "files", folder_id, "upload"];
        let files: Vec<FileDto> = self
            .with_retries(endpoint, || async {
                let form = multipart_form(path, title, content_type)
                    .await
                    .map_err(AttemptError::Fatal)?;
                let request = self
                    .request_to(Method::POST, &url)
                    .map_err(AttemptError::Fatal)?
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
        let id = id_text(&file.id);
        checked_id(endpoint, &id)?;
        Ok(UploadedFile {
            id,
            title: file.title.unwrap_or_else(|| title.to_owned()),
            version: file.version,
        })
    }

    /// Uploads a large file through a chunked session (`upload/create_session`, then chunks of
    /// [`UPLOAD_CHUNK_SIZE`] read from disk one at a time, so memory stays flat), aborting the
    /// session if anything fails.
    async fn upload_in_session(
        &self,
        folder_id: &str,
        title: &str,
        path: &Path,
        size: u64,
        create_new_if_exist: bool,
    ) -> Result<UploadedFile, DocSpaceError> {
        let endpoint = "upload session";
        let url = ["api", "2.0", "files", folder_id, "upload", "create_session"];
        let body = serde_json::json!({
            "fileName": title, "fileSize": size, "createNewIfExist": create_new_if_exist
        });
        let created: SessionCreated = self
            .call(
                endpoint,
                Method::POST,
                &url,
                |r| r.json(&body),
                || folder_not_found(folder_id),
            )
            .await?;
        let session = created
            .data
            .map(|d| d.id)
            .or(created.id)
            .map(|id| id_text(&id))
            .ok_or_else(|| DocSpaceError::Malformed {
                endpoint,
                detail: "the upload session has no id".to_owned(),
            })?;
        checked_id(endpoint, &session)?;
        let sent = self.send_chunks(folder_id, &session, title, path).await;
        if sent.is_err() {
            let abort = [
                "api",
                "2.0",
                "files",
                folder_id,
                "session",
                session.as_str(),
            ];
            if let Ok(request) = self.request_to(Method::DELETE, &abort) {
                let _ = self
                    .send_once(endpoint, request, || "upload session".to_owned())
                    .await;
            }
        }
        sent
    }

    async fn send_chunks(
        &self,
        folder_id: &str,
        session: &str,
        title: &str,
        path: &Path,
    ) -> Result<UploadedFile, DocSpaceError> {
        use tokio::io::AsyncReadExt;
        let endpoint = "upload chunk";
        let local = |source| DocSpaceError::LocalFile {
            path: path.display().to_string(),
            source,
        };
        let url = ["api", "2.0", "files", folder_id, "session", session];
        let mut file = tokio::fs::File::open(path).await.map_err(local)?;
        loop {
            let mut chunk = bytes::BytesMut::with_capacity(UPLOAD_CHUNK_SIZE);
            while chunk.len() < UPLOAD_CHUNK_SIZE {
                if file.read_buf(&mut chunk).await.map_err(local)? == 0 {
                    break;
                }
            }
            if chunk.is_empty() {
                return Err(DocSpaceError::Malformed {
                    endpoint,
                    detail: "the server did not report the upload complete after the last chunk"
                        .to_owned(),
                });
            }
            let chunk = chunk.freeze();
            let answer: ChunkAnswer = self
                .with_retries(endpoint, || async {
                    let part = Part::stream_with_length(
                        reqwest::Body::from(chunk.clone()),
                        chunk.len() as u64,
                    )
                    .file_name(title.to_owned());
                    let request = self
                        .request_to(Method::POST, &url)
                        .map_err(AttemptError::Fatal)?
                        .timeout(self.config.upload_timeout)
                        .multipart(Form::new().part("file", part));
                    let bytes = self
                        .send_once(endpoint, request, || format!("upload session {session}"))
                        .await
                        .map_err(only_retry_unprocessed)?;
                    parse_envelope::<ChunkAnswer>(endpoint, &bytes).map_err(AttemptError::Fatal)
                })
                .await?;
            if answer.uploaded {
                let (id, stored_title, version) = match answer.file {
                    Some(file) => (id_text(&file.id), file.title, file.version),
                    None => (
                        answer.id.as_ref().map(id_text).unwrap_or_default(),
                        answer.title,
                        answer.version,
                    ),
                };
                checked_id(endpoint, &id)?;
                return Ok(UploadedFile {
                    id,
                    title: stored_title.unwrap_or_else(|| title.to_owned()),
                    version,
                });
            }
        }
    }

    /// Locks a file so that nobody edits it (`PUT files/file/{fileId}/lock`).
    pub async fn lock_file(&self, file_id: &str) -> Result<(), DocSpaceError> {
        let endpoint = "lock file";
        checked_id(endpoint, file_id)?;
        let url = ["api", "2.0", "files", "file", file_id, "lock"];
        let body = serde_json::json!({ "lockFile": true });
        self.call::<serde_json::Value>(
            endpoint,
            Method::PUT,
            &url,
            |r| r.json(&body),
            || format!("file {file_id}"),
        )
        .await
        .map(|_| ())
    }

    /// Deletes a file immediately, bypassing the trash (used to undo a partial upload), and
    /// waits until the server's file operation has finished.
    pub async fn delete_file(&self, file_id: &str) -> Result<(), DocSpaceError> {
        let endpoint = "delete file";
        checked_id(endpoint, file_id)?;
        let url = ["api", "2.0", "files", "file", file_id];
        let body = serde_json::json!({ "deleteAfter": false, "immediately": true });
        let operations = self
            .with_retries(endpoint, || async {
                let request = self
                    .request_to(Method::DELETE, &url)
                    .map_err(AttemptError::Fatal)?
                    .json(&body);
                let bytes = self
                    .send_once(endpoint, request, || format!("file {file_id}"))
                    .await?;
                // Older servers answer without an operation list: nothing to wait for.
                Ok(parse_envelope::<Vec<FileOperation>>(endpoint, &bytes).unwrap_or_default())
            })
            .await?;
        self.wait_for_operations(endpoint, operations).await
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
        }
        | AttemptError::Throttled { .. } => error,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docspace::{ApiKey, ClientConfig};

    #[test]
    fn ids_stay_one_path_segment_and_unusable_ids_are_refused() {
        let config = ClientConfig::new(
            url::Url::parse("https://portal.example/").unwrap(),
            ApiKey::new("sk-x").unwrap(),
        );
        let client = DocSpaceClient::new(config).unwrap();
        let url = client
            .url(&["api", "2.0", "files", "file", "9000/../../../people/u1"])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://portal.example/api/2.0/files/file/9000%2F..%2F..%2F..%2Fpeople%2Fu1"
        );
        let third_party = client
            .url(&["api", "2.0", "files", "file", "sbox-1-|/a b?"])
            .unwrap();
        assert_eq!(
            third_party.path(),
            "/api/2.0/files/file/sbox-1-|%2Fa%20b%3F"
        );
        for bad in ["", ".", "..", "12\n34", &"9".repeat(1025)] {
            assert!(checked_id("delete file", bad).is_err(), "{bad:?}");
        }
        assert!(checked_id("delete file", "9000").is_ok());
    }
}
