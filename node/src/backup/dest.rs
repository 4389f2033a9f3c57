//! Where backups go: an object store named by a URL.
//!
//! - `file:///path` or a plain path: a local directory (the default; no cloud needed).
//! - `s3://bucket/prefix`: S3 or an S3-compatible store (MinIO, Ceph RGW, ...), with the
//!   standard `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//!   `AWS_REGION`, `AWS_ENDPOINT` for a non-AWS endpoint, `AWS_ALLOW_HTTP=true` for http).
//! - `gs://bucket/prefix`: Google Cloud Storage (`GOOGLE_SERVICE_ACCOUNT`, ...).
//! - `az://container/prefix`: Azure Blob Storage (`AZURE_STORAGE_ACCOUNT_NAME`, ...).

use std::sync::Arc;

use anyhow::{bail, Context};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, PutPayload};

use super::manifest::{Manifest, MANIFEST};

/// The log archive's directory under the prefix, beside the backups' ids.
pub const ARCHIVE_DIR: &str = "archive";

#[derive(Clone)]
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    prefix: ObjPath,
    url: String,
    /// The directory, for a local destination: emptied backup dirs are removed too (a
    /// directory is not an object, and would otherwise linger in listings).
    local: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url)
    }
}

/// A backup in a listing: its manifest, or only its id when it has none (incomplete).
#[derive(Debug)]
pub enum Listed {
    Complete(Box<Manifest>),
    Incomplete(String),
}

impl Destination {
    pub fn open(url: &str) -> anyhow::Result<Destination> {
        let parsed = match url::Url::parse(url) {
            Ok(u) if u.scheme().len() > 1 => u,
            // A plain path (a one-letter "scheme" is a Windows drive, never ours).
            _ => {
                let abs = std::path::absolute(url).with_context(|| format!("bad path {url}"))?;
                url::Url::from_file_path(&abs)
                    .map_err(|_| anyhow::anyhow!("bad path {}", abs.display()))?
            }
        };
        let prefix =
            ObjPath::from_url_path(parsed.path()).with_context(|| format!("bad path in {url}"))?;
        let mut local = None;
        let (store, prefix): (Arc<dyn ObjectStore>, ObjPath) = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|_| anyhow::anyhow!("bad file URL {url}"))?;
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)
                    .with_context(|| format!("opening {}", dir.display()))?;
                local = Some(dir);
                (Arc::new(fs), ObjPath::default())
            }
            "s3" | "s3a" => {
                let s3 = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .build()
                    .with_context(|| format!("configuring S3 for {url}"))?;
                (Arc::new(s3), prefix)
            }
            "gs" => {
                let gcs = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .with_context(|| format!("configuring GCS for {url}"))?;
                (Arc::new(gcs), prefix)
            }
            "az" | "azure" | "abfs" | "abfss" => {
                let az = object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .with_context(|| format!("configuring Azure for {url}"))?;
                (Arc::new(az), prefix)
            }
            other => bail!("unsupported backup destination scheme {other}:// (file, s3, gs, az)"),
        };
        Ok(Destination {
            store,
            prefix,
            url: url.trim_end_matches('/').to_string(),
            local,
        })
    }

    fn path(&self, backup: &str, name: &str) -> ObjPath {
        self.prefix.child(backup).child(name)
    }

    pub async fn put(&self, backup: &str, name: &str, bytes: Bytes) -> anyhow::Result<()> {
        let path = self.path(backup, name);
        self.store
            .put(&path, PutPayload::from_bytes(bytes))
            .await
            .with_context(|| format!("writing {}/{backup}/{name}", self.url))?;
        Ok(())
    }

    pub async fn get(&self, backup: &str, name: &str) -> anyhow::Result<Bytes> {
        let path = self.path(backup, name);
        let read = async { self.store.get(&path).await?.bytes().await };
        read.await
            .with_context(|| format!("reading {}/{backup}/{name}", self.url))
    }

    pub async fn manifest(&self, backup: &str) -> anyhow::Result<Manifest> {
        let bytes = self.get(backup, MANIFEST).await?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}/{backup}/{MANIFEST} is not a cairn manifest", self.url))?;
        m.check()?;
        Ok(m)
    }

    /// Every backup under the prefix, oldest first (ids sort by creation time).
    pub async fn list(&self) -> anyhow::Result<Vec<Listed>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .with_context(|| format!("listing {}", self.url))?;
        let mut ids: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .filter(|id| id != ARCHIVE_DIR)
            .collect();
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.manifest(&id).await {
                Ok(m) => out.push(Listed::Complete(Box::new(m))),
                Err(e) if is_not_found(&e) => {
                    if !self.objects(&id).await?.is_empty() {
                        out.push(Listed::Incomplete(id));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The complete backups, oldest first.
    pub async fn complete(&self) -> anyhow::Result<Vec<Manifest>> {
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter_map(|l| match l {
                Listed::Complete(m) => Some(*m),
                Listed::Incomplete(_) => None,
            })
            .collect())
    }

    /// Deletes a backup: its manifest first, so it never looks complete half-deleted.
    pub async fn delete(&self, backup: &str) -> anyhow::Result<()> {
        let manifest = self.path(backup, MANIFEST);
        match self.store.delete(&manifest).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e).with_context(|| format!("deleting {manifest}")),
        }
        for path in self.objects(backup).await? {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e).with_context(|| format!("deleting {path}")),
            }
        }
        if let Some(root) = &self.local {
            let _ = std::fs::remove_dir(root.join(self.prefix.as_ref()).join(backup));
        }
        Ok(())
    }

    /// The objects stored under a backup's id.
    async fn objects(&self, backup: &str) -> anyhow::Result<Vec<ObjPath>> {
        let dir = self.prefix.child(backup);
        self.store
            .list(Some(&dir))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .with_context(|| format!("listing {}/{backup}", self.url))
    }

    /// The objects directly under `dir` (the archive's segments): names and sizes.
    pub async fn files(&self, dir: &str) -> anyhow::Result<Vec<(String, u64)>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.prefix.child(dir)))
            .await
            .with_context(|| format!("listing {}/{dir}", self.url))?;
        Ok(listing
            .objects
            .into_iter()
            .filter_map(|o| Some((o.location.filename()?.to_string(), o.size)))
            .collect())
    }

    /// Deletes one object (gone already is fine).
    pub async fn remove(&self, dir: &str, name: &str) -> anyhow::Result<()> {
        match self.store.delete(&self.path(dir, name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {}/{dir}/{name}", self.url)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Deletes the named parts of a backup that failed midway (best effort: the backup has
    /// no manifest, so it is incomplete either way).
    pub async fn discard(&self, backup: &str, names: &[String]) {
        for name in names {
            if let Err(e) = self.store.delete(&self.path(backup, name)).await {
                tracing::warn!(backup, name, error = %e, "could not remove a part of a failed backup");
            }
        }
    }
}

fn is_not_found(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<object_store::Error>(),
            Some(object_store::Error::NotFound { .. })
        )
    })
}
