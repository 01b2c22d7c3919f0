//! JSON objects of the files endpoints (`FileDto`), serialized with `serde`. Event objects
//! are written without `serde`: see [`super::events`] and [`super::render`].

use chrono_tz::Tz;
use serde::Serialize;

use super::dates::format_api_date;
use super::files::{FileMeta, extension, file_type, size_string};
use super::world::World;

/// The creator/updater of uploaded files (the API key's owner).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EmployeeDto {
    pub id: String,
    pub display_name: String,
    pub avatar_small: String,
    pub profile_url: String,
    pub has_avatar: bool,
    pub is_anonim: bool,
}

/// `FileDto` (§4.1), the fields a client reads.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FileDto {
    pub folder_id: i64,
    pub version: u32,
    pub version_group: u32,
    pub content_length: String,
    pub pure_content_length: u64,
    pub file_status: u8,
    pub mute: bool,
    pub view_url: String,
    pub web_url: String,
    pub short_web_url: String,
    pub file_type: u8,
    pub file_exst: String,
    pub thumbnail_status: u8,
    pub deny_download: bool,
    pub deny_sharing: bool,
    pub file_entry_type: u8,
    pub id: i64,
    pub root_folder_id: i64,
    pub can_share: bool,
    pub title: String,
    pub access: u8,
    pub shared: bool,
    pub created: String,
    pub created_by: EmployeeDto,
    pub updated: String,
    pub root_folder_type: u8,
    pub parent_id: i64,
    pub updated_by: EmployeeDto,
}

fn employee(world: &World, base_url: &str) -> EmployeeDto {
    let owner = &world.users[0];
    EmployeeDto {
        id: owner.id.clone(),
        display_name: owner.display_name.clone(),
        avatar_small: "/static/images/default_user_photo_size_32-32.png".to_owned(),
        profile_url: format!("{base_url}/accounts/people/filter?email={}", owner.email),
        has_avatar: false,
        is_anonim: false,
    }
}

/// Builds the JSON object of an uploaded file.
pub(crate) fn file_dto(world: &World, meta: &FileMeta, tz: Tz, base_url: &str) -> FileDto {
    let ext = extension(&meta.title);
    FileDto {
        folder_id: meta.folder_id,
        version: meta.version,
        version_group: meta.version,
        content_length: size_string(meta.size),
        pure_content_length: meta.size,
        file_status: 0,
        mute: false,
        view_url: format!(
            "{base_url}/filehandler.ashx?action=download&fileid={}",
            meta.id
        ),
        web_url: format!(
            "{base_url}/doceditor?fileid={}&version={}",
            meta.id, meta.version
        ),
        short_web_url: String::new(),
        file_type: file_type(&ext),
        file_exst: ext,
        thumbnail_status: 0,
        deny_download: false,
        deny_sharing: false,
        file_entry_type: 2,
        id: meta.id,
        root_folder_id: meta.folder_id,
        can_share: true,
        title: meta.title.clone(),
        access: 0,
        shared: false,
        created: format_api_date(meta.created, tz),
        created_by: employee(world, base_url),
        updated: format_api_date(meta.updated, tz),
        root_folder_type: 14,
        parent_id: meta.folder_id,
        updated_by: employee(world, base_url),
    }
}
