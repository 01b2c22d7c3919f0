//! What this run's manifest links to. The evidence lives in the DocSpace folder, so the link
//! is the newest earlier manifest of the same report found there (read and checked); the
//! resource's status is only a cache, used when the folder has none. Deleting and re-creating
//! the resource therefore continues the chain, and the manifest says where the link came from.

use chrono::{DateTime, Utc};

use super::CycleRequest;
use crate::docspace::{DocSpaceClient, FolderFile};
use crate::integrity::Manifest;
use crate::schedule::ReportPeriod;

/// Manifests downloaded at most while looking for the previous one (newest first).
const MAX_CANDIDATES: usize = 12;

/// The link of this run's manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    /// SHA-256 of the previous manifest's bytes.
    pub sha256: Option<String>,
    /// Where the link came from.
    pub source: String,
    /// Why the chain starts over here, when it does.
    pub restart: Option<String>,
}

impl ChainLink {
    /// One sentence for the coverage section.
    pub fn describe(&self) -> String {
        match (&self.sha256, &self.restart) {
            (Some(sha256), _) => format!(
                "The manifest of this run links to the previous one (SHA-256 {sha256}), found in {}.",
                self.source
            ),
            (None, Some(reason)) => format!("The chain of manifests starts here ({reason})."),
            (None, None) => "The manifest of this run links to no previous one.".to_owned(),
        }
    }

    /// The link the request carries (status or `--previous-manifest`), without looking.
    pub(super) fn given(request: &CycleRequest) -> Self {
        match &request.previous_manifest_sha256 {
            Some(sha256) => Self {
                sha256: Some(sha256.clone()),
                source: request.previous_manifest_origin.clone(),
                restart: None,
            },
            None => Self {
                sha256: None,
                source: "none".to_owned(),
                restart: Some("first run: no previous manifest was given".to_owned()),
            },
        }
    }
}

/// The newest manifest in the folder of `request`'s report that ends no later than `period`
/// starts, with its bytes.
async fn previous_in_folder(
    client: &DocSpaceClient,
    request: &CycleRequest,
    period: &ReportPeriod,
) -> Result<Option<(FolderFile, Vec<u8>)>, crate::docspace::DocSpaceError> {
    let resource = format!("{}/{}", request.resource.namespace, request.resource.name);
    let portal = request.validated.portal_url.to_string();
    let mut candidates = client
        .files_like(&request.spec.upload.folder_id, ".manifest.json")
        .await?;
    candidates.retain(|f| f.title.ends_with(".manifest.json"));
    candidates.sort_by_key(|f| std::cmp::Reverse(f.updated));
    let mut best: Option<(DateTime<Utc>, FolderFile, Vec<u8>)> = None;
    for file in candidates.into_iter().take(MAX_CANDIDATES) {
        let bytes = client.download(&file.id).await?;
        let Ok(manifest) = Manifest::from_json(&bytes) else {
            tracing::warn!(file = %file.title, "a manifest in the folder does not read as one; ignored");
            continue;
        };
        let Ok((_, to)) = manifest.period() else {
            continue;
        };
        if manifest.resource != resource || manifest.portal != portal || to > period.from {
            continue;
        }
        if best.as_ref().is_none_or(|(best_to, _, _)| to > *best_to) {
            best = Some((to, file, bytes.to_vec()));
        }
    }
    Ok(best.map(|(_, file, bytes)| (file, bytes)))
}

/// Finds the link: the previous manifest in the folder, else the request's (status) link.
pub(super) async fn resolve(
    client: &DocSpaceClient,
    request: &CycleRequest,
    period: &ReportPeriod,
) -> ChainLink {
    let given = ChainLink::given(request);
    match previous_in_folder(client, request, period).await {
        Ok(Some((file, bytes))) => {
            let sha256 = {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&bytes))
            };
            let mut source = format!(
                "the DocSpace folder: {} (file {}, version {})",
                file.title, file.id, file.version
            );
            if let Some(cached) = given.sha256.as_ref().filter(|c| **c != sha256) {
                source.push_str(&format!(
                    "; the {} named another manifest ({cached}), which is not in the folder",
                    request.previous_manifest_origin
                ));
            }
            ChainLink {
                sha256: Some(sha256),
                source,
                restart: None,
            }
        }
        Ok(None) => match given.sha256 {
            Some(_) => ChainLink {
                source: format!(
                    "{} (no earlier manifest of this report is in the folder)",
                    given.source
                ),
                ..given
            },
            None => ChainLink {
                sha256: None,
                source: "none".to_owned(),
                restart: Some(
                    "first run: no earlier manifest of this report in the folder or the status"
                        .to_owned(),
                ),
            },
        },
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for the previous manifest in the folder");
            ChainLink {
                source: format!("{} (the folder could not be searched: {e})", given.source),
                ..given
            }
        }
    }
}
