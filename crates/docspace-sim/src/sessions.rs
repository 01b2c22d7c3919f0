//! Chunked upload sessions (§4.2) and the size caps of single uploads: a request body over
//! 100 MiB is refused with 413 (the Files service's body cap), so large reports must go through
//! a session: `POST files/{folderId}/upload/create_session`, chunks of at most 10 MiB to
//! `POST files/{folderId}/session/{sessionId}` (the last one answers 201 with the file), and
//! `DELETE files/{folderId}/session/{sessionId}` to abort.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::dto::file_dto;
use super::envelope::{self, RequestUrl};
use super::files::sanitize_title;
use super::guid::uuid_from;
use super::state::SimState;
use super::upload::existing_folder;

/// The Files service's request-body cap (`Program.cs`): a larger single upload gets 413.
pub(crate) const MAX_REQUEST_BODY: usize = 100 << 20;
/// The largest chunk a session accepts (`files:uploader:chunk-size`).
pub(crate) const MAX_CHUNK: usize = 10 << 20;
/// The largest file a session accepts (the plan's `maxFileSize`).
const MAX_FILE: u64 = 1 << 30;

/// An upload session in progress.
#[derive(Debug)]
pub(crate) struct Session {
    folder_id: i64,
    title: String,
    size: u64,
    create_new_if_exist: bool,
    received: Vec<u8>,
}

/// Body of `create_session`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateSession {
    file_name: String,
    file_size: u64,
    #[serde(default)]
    create_new_if_exist: bool,
}

/// `POST /api/2.0/files/{folderId}/upload/create_session`.
pub(crate) async fn create(
    State(state): State<Arc<SimState>>,
    Path(raw_folder): Path<String>,
    url: RequestUrl,
    axum::Json(body): axum::Json<CreateSession>,
) -> Response {
    let Some(folder_id) = existing_folder(&state, &raw_folder) else {
        return envelope::folder_not_found();
    };
    if body.file_size > MAX_FILE {
        return envelope::payment_required();
    }
    let title = sanitize_title(&body.file_name);
    if title.is_empty() {
        return envelope::bad_argument("Title can not be empty");
    }
    let id = uuid_from(&mut fastrand::Rng::new());
    state.sessions().insert(
        id.clone(),
        Session {
            folder_id,
            title,
            size: body.file_size,
            create_new_if_exist: body.create_new_if_exist,
            received: Vec::new(),
        },
    );
    let data = serde_json::json!({
        "id": id,
        "path": [folder_id],
        "location": format!("{}/ChunkedUploader.ashx?uid={id}", url.base),
        "bytes_total": body.file_size,
        "bytes_uploaded": 0,
    });
    envelope::success_object(&url, &serde_json::json!({"success": true, "data": data}))
}

/// `POST /api/2.0/files/{folderId}/session/{sessionId}`: one chunk (multipart part `File`).
pub(crate) async fn chunk(
    State(state): State<Arc<SimState>>,
    Path((raw_folder, session_id)): Path<(String, String)>,
    url: RequestUrl,
    mut multipart: Multipart,
) -> Response {
    if existing_folder(&state, &raw_folder).is_none() {
        return envelope::folder_not_found();
    }
    let mut bytes = None;
    while let Ok(Some(field)) = multipart.next_field().await {
        if field.name().is_some_and(|n| n.eq_ignore_ascii_case("file")) && bytes.is_none() {
            match field.bytes().await {
                Ok(b) => bytes = Some(b),
                Err(e) => return envelope::bad_argument(&e.body_text()),
            }
        }
    }
    let Some(bytes) = bytes else {
        return envelope::bad_argument("No file to upload");
    };
    if bytes.len() > MAX_CHUNK {
        return envelope::bad_argument("The chunk is larger than files:uploader:chunk-size");
    }
    let finished = {
        let mut sessions = state.sessions();
        let Some(session) = sessions.get_mut(&session_id) else {
            return envelope::bad_argument("The upload session was not found or has expired");
        };
        session.received.extend_from_slice(&bytes);
        let received = session.received.len() as u64;
        if received > session.size {
            sessions.remove(&session_id);
            return envelope::bad_argument("More bytes than the session announced");
        }
        if received == session.size {
            sessions.remove(&session_id)
        } else {
            let progress = serde_json::json!({
                "id": session_id, "folderId": session.folder_id, "title": session.title,
                "uploaded": false, "bytesUploaded": received
            });
            return envelope::success_object(&url, &progress);
        }
    };
    let Some(session) = finished else {
        return envelope::bad_argument("The upload session was not found");
    };
    let now = chrono::Utc::now().timestamp();
    let meta = state.files().upload(
        session.folder_id,
        &session.title,
        session.received,
        session.create_new_if_exist,
        now,
    );
    let dto = file_dto(
        &state.world,
        &meta,
        state.config.portal_time_zone,
        &url.base,
    );
    let done = serde_json::json!({
        "id": meta.id, "folderId": meta.folder_id, "version": meta.version, "title": meta.title,
        "uploaded": true, "file": dto
    });
    envelope::success_object_with(&url, StatusCode::CREATED, &done)
}

/// `DELETE /api/2.0/files/{folderId}/session/{sessionId}`: aborts a session.
pub(crate) async fn abort(
    State(state): State<Arc<SimState>>,
    Path((_, session_id)): Path<(String, String)>,
    url: RequestUrl,
) -> Response {
    state.sessions().remove(&session_id);
    envelope::success_object(&url, &serde_json::json!({}))
}
