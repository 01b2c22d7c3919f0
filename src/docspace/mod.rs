//! The DocSpace HTTP client: authentication, the response envelope, typed errors, retries, the
//! per-portal rate limiter, paging of audit events (as concurrent time slices) and login
//! history behind one [`Pager`] trait, and uploads. It knows nothing of Kubernetes.

mod api_key;
pub use docspace_catalog as catalog;
mod client;
pub mod dates;
mod error;
mod key_info;
pub mod limiter;
mod model;
mod paging;
mod settings;
mod sliced;
pub mod slots;
mod upload;

pub use api_key::ApiKey;
pub use client::{ClientConfig, DocSpaceClient, ResponseObserver, RetryPolicy};
pub use error::DocSpaceError;
pub use key_info::{KeyInfo, READ_SCOPE, UPLOAD_SCOPE};
pub use limiter::{PortalLimiter, PortalLimiters, PortalLimits};
pub use model::{Event, Source};
pub use paging::{Batch, FetchWindow, LoginPager, Pager, PagingStats, ServerFilter, parse_page};
pub use settings::AuditLifetime;
pub use sliced::{SlicedAuditFetch, slices};
pub use upload::{FolderFile, UploadedFile};
