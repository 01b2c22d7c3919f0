//! The DocSpace HTTP client: authentication, the response envelope, typed errors, retries,
//! paging of audit events and login history, and uploads. It knows nothing of Kubernetes.

mod api_key;
pub mod catalog;
mod client;
pub mod dates;
mod error;
mod key_info;
mod model;
mod paging;
mod settings;
mod upload;

pub use api_key::ApiKey;
pub use client::{ClientConfig, DocSpaceClient, ResponseObserver, RetryPolicy};
pub use error::DocSpaceError;
pub use key_info::{KeyInfo, READ_SCOPE, UPLOAD_SCOPE};
pub use model::{Event, Source};
pub use paging::{AuditPager, FetchWindow, LoginPager, PAGE_SIZE, PagingStats, parse_page};
pub use settings::AuditLifetime;
pub use upload::{FolderFile, UploadedFile};
