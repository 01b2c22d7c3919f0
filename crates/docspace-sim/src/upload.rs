//! Handlers of the files endpoints: upload (§4.1), upload/check (§4.4), folder listing and
//! file deletion.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::dto::{FileDto, file_dto};
use super::envelope::{self, RequestUrl};
use super::files::sanitize_title;
use super::guid::uuid_from;
use super::query::Params;
use super::state::SimState;

/// The folder id of the route if it is an existing upload folder.
pub(crate) fn existing_folder(state: &SimState, raw: &str) -> Option<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| state.config.folders.contains(id))
}

/// `POST /api/2.0/files/{folderId}/upload` (multipart, part `file`/`File`).
pub(crate) async fn upload(
    State(state): State<Arc<SimState>>,
    Path(folder): Path<String>,
    url: RequestUrl,
    params: Params,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some(folder_id) = existing_folder(&state, &folder) else {
        return envelope::folder_not_found();
    };
    let create_new = match params.get("createNewIfExist") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            let key = "CreateNewIfExist";
            return envelope::invalid_parameter(&url, key, envelope::not_valid(key, v));
        }
    };
    let Ok(mut multipart) = multipart else {
        return envelope::bad_argument("No file to upload");
    };
    let mut upload: Option<(String, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let is_file = field.name().is_some_and(|n| n.eq_ignore_ascii_case("file"));
                let file_name = field.file_name().map(str::to_owned);
                if let (true, None, Some(name)) = (is_file, &upload, file_name) {
                    match field.bytes().await {
                        Ok(bytes) => upload = Some((name, Vec::from(bytes))),
                        Err(e) => return multipart_error(&e),
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return multipart_error(&e),
        }
    }
    let Some((name, content)) = upload else {
        return envelope::bad_argument("No file to upload");
    };
    let title = sanitize_title(&name);
    if title.is_empty() {
        return envelope::bad_argument("Title can not be empty");
    }
    let now = chrono::Utc::now().timestamp();
    let meta = state
        .files()
        .upload(folder_id, &title, content, create_new, now);
    let dto = file_dto(
        &state.world,
        &meta,
        state.config.portal_time_zone,
        &url.base,
    );
    envelope::success_list(&url, &[dto])
}

/// 413 for a body over the request cap (as the Files service answers), else 400.
fn multipart_error(e: &axum::extract::multipart::MultipartError) -> Response {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        envelope::empty(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
    } else {
        envelope::bad_argument(&e.body_text())
    }
}

#[derive(Debug, Deserialize)]
struct CheckRequest {
    #[serde(
        default,
        rename = "filesTitle",
        alias = "FilesTitle",
        alias = "filestitle"
    )]
    files_title: Vec<String>,
}

/// `POST /api/2.0/files/{folderId}/upload/check` with `{"filesTitle":[...]}`.
pub(crate) async fn check(
    State(state): State<Arc<SimState>>,
    Path(folder): Path<String>,
    url: RequestUrl,
    body: Bytes,
) -> Response {
    let request: CheckRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return envelope::invalid_parameter(&url, "$", e.to_string()),
    };
    let Some(folder_id) = existing_folder(&state, &folder) else {
        return envelope::folder_not_found();
    };
    let existing = state
        .files()
        .existing_titles(folder_id, &request.files_title);
    envelope::success_list(&url, &existing)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FolderRef {
    id: i64,
    title: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FolderContentDto {
    files: Vec<FileDto>,
    folders: Vec<FolderRef>,
    current: FolderRef,
    path_parts: Vec<FolderRef>,
    start_index: usize,
    count: usize,
    total: usize,
    new: usize,
}

/// `GET /api/2.0/files/{folderId}`: files of an upload folder (`filterValue` is a
/// case-insensitive substring match, `startIndex`/`count` page; no recursion).
pub(crate) async fn list_folder(
    State(state): State<Arc<SimState>>,
    Path(folder): Path<String>,
    url: RequestUrl,
    params: Params,
) -> Response {
    let Some(folder_id) = existing_folder(&state, &folder) else {
        return envelope::folder_not_found();
    };
    let needle = params.get("filterValue").map(str::to_lowercase);
    let start_index = params
        .get("startIndex")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let count = params
        .get("count")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 100);
    let mut files = state.files().list(folder_id);
    if let Some(needle) = needle {
        files.retain(|f| f.title.to_lowercase().contains(&needle));
    }
    let total = files.len();
    let tz = state.config.portal_time_zone;
    let page: Vec<FileDto> = files
        .iter()
        .skip(start_index)
        .take(count)
        .map(|meta| file_dto(&state.world, meta, tz, &url.base))
        .collect();
    let title = state
        .world
        .rooms
        .iter()
        .find(|r| r.id == folder_id)
        .map_or_else(|| format!("Folder {folder_id}"), |r| r.title.to_owned());
    let content = FolderContentDto {
        count: page.len(),
        files: page,
        folders: Vec::new(),
        current: FolderRef {
            id: folder_id,
            title: title.clone(),
        },
        path_parts: vec![
            FolderRef {
                id: 1,
                title: "Rooms".to_owned(),
            },
            FolderRef {
                id: folder_id,
                title,
            },
        ],
        start_index,
        total,
        new: 0,
    };
    envelope::success_object(&url, &content)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileOperationDto {
    id: String,
    operation: u8,
    progress: u8,
    error: &'static str,
    processed: &'static str,
    finished: bool,
}

/// Body of `PUT files/file/{fileId}/lock`.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LockRequest {
    #[serde(default)]
    lock_file: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LockedDto {
    id: i64,
    title: String,
    locked: bool,
}

/// `PUT /api/2.0/files/file/{fileId}/lock` with `{"lockFile": true|false}`.
pub(crate) async fn lock_file(
    State(state): State<Arc<SimState>>,
    Path(file): Path<String>,
    url: RequestUrl,
    axum::Json(body): axum::Json<LockRequest>,
) -> Response {
    let Some(meta) = file
        .parse::<i64>()
        .ok()
        .and_then(|id| state.files().set_locked(id, body.lock_file))
    else {
        return envelope::file_not_found();
    };
    envelope::success_object(
        &url,
        &LockedDto {
            id: meta.id,
            title: meta.title,
            locked: body.lock_file,
        },
    )
}

/// How long a deletion takes: the server deletes in a background file operation.
const DELETE_TAKES: std::time::Duration = std::time::Duration::from_millis(300);

/// `DELETE /api/2.0/files/file/{fileId}` (body `{"deleteAfter":false,"immediately":true}`):
/// as on the server, the answer is a file operation that has not finished; the file goes
/// when it finishes (`GET files/fileops` tells).
pub(crate) async fn delete_file(
    State(state): State<Arc<SimState>>,
    Path(file): Path<String>,
    url: RequestUrl,
) -> Response {
    let Some(id) = file
        .parse::<i64>()
        .ok()
        .filter(|id| state.files().list_all().iter().any(|f| f.id == *id))
    else {
        return envelope::file_not_found();
    };
    let mut rng = fastrand::Rng::new();
    let operation_id = uuid_from(&mut rng);
    state.start_operation(operation_id.clone());
    let (later, op) = (state.clone(), operation_id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(DELETE_TAKES).await;
        later.files().delete(id);
        later.finish_operation(&op);
    });
    let operation = FileOperationDto {
        id: operation_id,
        operation: 2,
        progress: 0,
        error: "",
        processed: "0",
        finished: false,
    };
    envelope::success_list(&url, &[operation])
}

/// `GET /api/2.0/files/fileops`: the file operations and whether each has finished.
pub(crate) async fn operations(State(state): State<Arc<SimState>>, url: RequestUrl) -> Response {
    let list: Vec<FileOperationDto> = state
        .operations()
        .into_iter()
        .map(|(id, finished)| FileOperationDto {
            id,
            operation: 2,
            progress: if finished { 100 } else { 50 },
            error: "",
            processed: if finished { "1" } else { "0" },
            finished,
        })
        .collect();
    envelope::success_list(&url, &list)
}

/// Body of `PUT files/fileops/deleteversion`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeleteVersionRequest {
    file_id: serde_json::Value,
    #[serde(default)]
    versions: Vec<u32>,
}

/// `PUT /api/2.0/files/fileops/deleteversion`: removes versions of a file (the operation
/// finishes at once here); an error is reported in the operation, as the server does.
pub(crate) async fn delete_version(
    State(state): State<Arc<SimState>>,
    url: RequestUrl,
    axum::Json(body): axum::Json<DeleteVersionRequest>,
) -> Response {
    let id = match &body.file_id {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let result = match id {
        Some(id) => state.files().delete_versions(id, &body.versions),
        None => Err(super::files::VersionError::NoFile),
    };
    let error = match result {
        Ok(_) => "",
        Err(super::files::VersionError::NoFile) => "The file was not found",
        Err(super::files::VersionError::NoVersion) => "The version was not found",
        Err(super::files::VersionError::LastVersion) => {
            "The only version of a file cannot be deleted"
        }
    };
    let mut rng = fastrand::Rng::new();
    let operation = FileOperationDto {
        id: uuid_from(&mut rng),
        operation: 10,
        progress: 100,
        error,
        processed: "1",
        finished: true,
    };
    envelope::success_list(&url, &[operation])
}

/// `GET /filehandler.ashx?action=download&fileid=N`: the current version's bytes.
pub(crate) async fn download(State(state): State<Arc<SimState>>, params: Params) -> Response {
    let id = params.get("fileid").and_then(|v| v.parse::<i64>().ok());
    let content = id.and_then(|id| {
        state
            .files()
            .snapshot()
            .into_iter()
            .find(|f| f.id == id)
            .map(|f| f.content)
    });
    match (params.get("action"), content) {
        (Some("download"), Some(content)) => axum::response::IntoResponse::into_response((
            [(axum::http::header::CONTENT_TYPE, "application/octet-stream")],
            content,
        )),
        _ => envelope::file_not_found(),
    }
}
