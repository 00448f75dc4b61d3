//! provision.json: Bareon's Ironic data-driver document, checked the way
//! Bareon's schema does (same paths and messages) plus the rules Bareon
//! leaves implicit, every error reported at once.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::size::{Size, parse_size};

/// One step of the path to an element of the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum PathElement {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.write_str(key),
            Self::Index(index) => write!(f, "{index}"),
        }
    }
}

/// One finding: where in the document, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ValidationError {
    /// Keys and indexes from the document's root to the offending element.
    pub path: Vec<PathElement>,
    /// Bareon's message (schema errors) or bouture's (the implicit rules).
    pub message: String,
}

impl fmt::Display for ValidationError {
    /// Bareon's `path:joined:by:colons:message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for element in &self.path {
            write!(f, "{element}:")?;
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a document, in Bareon's order (schema errors in
/// schema-property order, then the other rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[non_exhaustive]
pub struct ValidationErrors {
    /// The findings, at least one.
    pub errors: Vec<ValidationError>,
}

impl fmt::Display for ValidationErrors {
    /// Bareon's `InputDataSchemaValidationError` text: a header, then one
    /// `    [ERROR n] path:message` line per error, no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid input data:")?;
        for (number, error) in self.errors.iter().enumerate() {
            write!(f, "\n    [ERROR {}] {error}", number + 1)?;
        }
        Ok(())
    }
}

/// `partitions_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PartitionsPolicy {
    /// Check the existing partitions (Bareon then installs no image).
    #[default]
    Verify,
    /// Wipe and repartition.
    Clean,
    /// Fuel's legacy behaviour.
    NailgunLegacy,
}

/// One entry of `images[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Image {
    /// `name`: the image's id (Bareon's `os_id`).
    pub name: String,
    /// `image_pull_url`.
    pub image_pull_url: String,
    /// `target`: where the image is deployed (`/` for an OS image).
    pub target: String,
    /// `image_name` (empty when absent, as in Bareon).
    pub image_name: String,
    /// `image_uuid` (empty when absent).
    pub image_uuid: String,
    /// `boot`: the image booted by default.
    pub boot: bool,
}

/// The kind of a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum VolumeKind {
    /// A GPT partition with a filesystem.
    Partition,
    /// A software RAID member.
    Raid,
    /// Bareon's `/boot` partition.
    Boot,
    /// An LVM physical volume.
    Pv,
    /// LVM metadata pool (accepted and ignored by Bareon).
    LvmMetaPool,
    /// An LVM logical volume (in a `vg`).
    Lv,
}

/// One volume of a disk or volume group.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Volume {
    /// Its index in `volumes[]`.
    pub index: usize,
    /// `type`.
    pub kind: VolumeKind,
    /// `size`, parsed.
    pub size: Size,
    /// `mount`; `None` for `none` or no mount.
    pub mount: Option<String>,
    /// `file_system`, lower-cased (Bareon's default: `xfs`).
    pub file_system: String,
    /// `images` as written; `None` means the first image.
    pub images: Option<Vec<String>>,
    /// `fstab_options` (default `defaults`).
    pub fstab_options: String,
    /// `fstab_enabled` (default true).
    pub fstab_enabled: bool,
    /// `name` (raid, lv) or `disk_label` (partition): the partition name.
    pub name: Option<String>,
    /// `vg` of a physical volume.
    pub vg: Option<String>,
}

/// A `disk` entry of `partitions[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Disk {
    /// Its index in `partitions[]`.
    pub index: usize,
    /// `id.type`: `scsi`, `path` or `name`.
    pub id_type: String,
    /// `id.value`.
    pub id: String,
    /// `size` in bytes.
    pub size: Size,
    /// `volumes`.
    pub volumes: Vec<Volume>,
}

/// A `vg` entry of `partitions[]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct VolumeGroup {
    /// Its index in `partitions[]`.
    pub index: usize,
    /// `id`.
    pub id: String,
    /// Its logical volumes.
    pub volumes: Vec<Volume>,
}

/// A valid provision.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Provision {
    /// `images`.
    pub images: Vec<Image>,
    /// `partitions_policy`.
    pub partitions_policy: PartitionsPolicy,
    /// The `disk` entries of `partitions`, in order.
    pub disks: Vec<Disk>,
    /// The `vg` entries of `partitions`, in order.
    pub volume_groups: Vec<VolumeGroup>,
    /// `deploy_data.kernel_params` (empty when absent).
    pub kernel_params: String,
}

/// The largest provision.json [`Provision::read`] reads.
pub const PROVISION_LIMIT: u64 = 16 * 1024 * 1024;

impl Provision {
    /// Read (at most [`PROVISION_LIMIT`] bytes, a regular file; the path
    /// given by the caller may be a symbolic link), parse and validate a
    /// provision.json file.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the file cannot be read,
    /// [`Error::Invalid`] with every finding when it is not valid.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let text = bouture_fs::read_bounded(path, PROVISION_LIMIT, bouture_fs::Links::Follow)?;
        Ok(Self::from_json(&text)?)
    }

    /// Parse and validate a provision.json document (duplicate keys refused).
    pub fn from_json(text: &[u8]) -> Result<Self, ValidationErrors> {
        let value = crate::parse_strict(text).map_err(|error| ValidationErrors {
            errors: vec![ValidationError {
                path: Vec::new(),
                message: format!("not valid JSON: {error}"),
            }],
        })?;
        Self::from_value(&value)
    }

    /// Validate an already parsed document.
    pub fn from_value(value: &Value) -> Result<Self, ValidationErrors> {
        let mut checker = Checker::default();
        let parsed = checker.document(value);
        let schema_clean = checker.errors.is_empty();
        checker.references(value);
        if let (Some(provision), true) = (&parsed, schema_clean) {
            checker.semantics(provision);
        }
        match parsed {
            Some(provision) if checker.errors.is_empty() => Ok(provision),
            _ => Err(ValidationErrors {
                errors: checker.errors,
            }),
        }
    }

    /// The images owning each volume (explicit `images`, else the first image).
    pub(crate) fn owners<'a>(&'a self, volume: &'a Volume) -> Vec<&'a str> {
        match &volume.images {
            Some(images) => images.iter().map(String::as_str).collect(),
            None => self
                .images
                .first()
                .map(|i| i.name.as_str())
                .into_iter()
                .collect(),
        }
    }
}

/// Python's `repr` of a JSON value, as jsonschema prints it (bounded).
fn repr(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", crate::excerpt(text, 80)),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(number) => number.to_string(),
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Array(_) => "[...]".into(),
        Value::Object(_) => "{...}".into(),
    }
}

fn one_of(options: &[&str]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("'{o}'")).collect();
    format!("[{}]", quoted.join(", "))
}

#[derive(Default)]
struct Checker {
    errors: Vec<ValidationError>,
    path: Vec<PathElement>,
}

/// The JSON types of Bareon's schema.
#[derive(Clone, Copy)]
enum Kind {
    String,
    Bool,
    Integer,
    Object,
    Array,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Bool => "boolean",
            Kind::Integer => "integer",
            Kind::Object => "object",
            Kind::Array => "array",
        }
    }
    fn matches(self, value: &Value) -> bool {
        match self {
            Kind::String => value.is_string(),
            Kind::Bool => value.is_boolean(),
            Kind::Integer => value.is_i64() || value.is_u64(),
            Kind::Object => value.is_object(),
            Kind::Array => value.is_array(),
        }
    }
}

impl Checker {
    fn error_at(&mut self, extra: &[PathElement], message: impl Into<String>) {
        let mut path = self.path.clone();
        path.extend_from_slice(extra);
        self.errors.push(ValidationError {
            path,
            message: message.into(),
        });
    }

    fn error(&mut self, message: impl Into<String>) {
        self.error_at(&[], message);
    }

    fn at<T>(&mut self, element: PathElement, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(element);
        let result = f(self);
        self.path.pop();
        result
    }

    fn key<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at(PathElement::Key(key.to_owned()), f)
    }

    fn index<T>(&mut self, index: usize, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at(PathElement::Index(index), f)
    }

    /// `required`: report each missing key; true when all are there.
    fn required(&mut self, object: &Map<String, Value>, keys: &[&str]) -> bool {
        let mut all = true;
        for key in keys {
            if !object.contains_key(*key) {
                self.error(format!("'{key}' is a required property"));
                all = false;
            }
        }
        all
    }

    /// A property of a given type; a wrong type is reported, absence is not.
    fn typed<'v>(
        &mut self,
        object: &'v Map<String, Value>,
        key: &str,
        kind: Kind,
    ) -> Option<&'v Value> {
        let value = object.get(key)?;
        if kind.matches(value) {
            Some(value)
        } else {
            self.key(key, |c| {
                c.error(format!("{} is not of type '{}'", repr(value), kind.name()));
            });
            None
        }
    }

    fn string(&mut self, object: &Map<String, Value>, key: &str) -> Option<String> {
        self.typed(object, key, Kind::String)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn bool(&mut self, object: &Map<String, Value>, key: &str) -> Option<bool> {
        self.typed(object, key, Kind::Bool).and_then(Value::as_bool)
    }

    fn size(&mut self, object: &Map<String, Value>, key: &str) -> Option<Size> {
        let text = self.string(object, key)?;
        let size = parse_size(&text);
        if size.is_none() {
            self.key(key, |c| {
                c.error(format!(
                    "{} is not a size (a number of MiB, or with a unit among %, s, B, KB..PB, KiB..PiB; or 'remaining')",
                    repr(&Value::String(text.clone()))
                ));
            });
        }
        size
    }

    fn document(&mut self, value: &Value) -> Option<Provision> {
        let Some(root) = value.as_object() else {
            self.error(format!("{} is not of type 'object'", repr(value)));
            return None;
        };
        self.required(root, &["partitions", "images"]);
        let images = self.typed(root, "images", Kind::Array).map(|images| {
            self.key("images", |c| {
                let items = images.as_array().map(Vec::as_slice).unwrap_or_default();
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| c.index(i, |c| c.image(item)))
                    .collect::<Vec<_>>()
            })
        });
        self.typed(root, "image_deploy_flags", Kind::Object);
        let policy = self
            .typed(root, "partitions_policy", Kind::String)
            .and_then(|value| match value.as_str() {
                Some("verify") => Some(PartitionsPolicy::Verify),
                Some("clean") => Some(PartitionsPolicy::Clean),
                Some("nailgun_legacy") => Some(PartitionsPolicy::NailgunLegacy),
                _ => {
                    self.key("partitions_policy", |c| {
                        c.error(format!(
                            "{} is not one of {}",
                            repr(value),
                            one_of(&["verify", "clean", "nailgun_legacy"])
                        ));
                    });
                    None
                }
            });
        let spaces = self.typed(root, "partitions", Kind::Array).map(|spaces| {
            self.key("partitions", |c| {
                let items = spaces.as_array().map(Vec::as_slice).unwrap_or_default();
                if items.is_empty() {
                    c.error("[] is too short");
                }
                if has_duplicates(items) {
                    c.error("[...] has non-unique elements");
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| c.index(i, |c| c.space(i, item)))
                    .collect::<Vec<_>>()
            })
        });
        let kernel_params = self
            .typed(root, "deploy_data", Kind::Object)
            .and_then(Value::as_object)
            .and_then(|data| self.key("deploy_data", |c| c.string(data, "kernel_params")))
            .unwrap_or_default();

        let images: Vec<Image> = images?.into_iter().flatten().collect();
        let mut disks = Vec::new();
        let mut volume_groups = Vec::new();
        for space in spaces?.into_iter().flatten() {
            match space {
                Space::Disk(disk) => disks.push(disk),
                Space::Vg(vg) => volume_groups.push(vg),
            }
        }
        Some(Provision {
            images,
            partitions_policy: policy.unwrap_or_default(),
            disks,
            volume_groups,
            kernel_params,
        })
    }

    fn image(&mut self, value: &Value) -> Option<Image> {
        let Some(object) = value.as_object() else {
            self.error(format!("{} is not of type 'object'", repr(value)));
            return None;
        };
        let complete = self.required(object, &["name", "image_pull_url", "target"]);
        let name = self.string(object, "name");
        let image_pull_url = self.string(object, "image_pull_url");
        let target = self.string(object, "target");
        let image_name = self.string(object, "image_name").unwrap_or_default();
        let image_uuid = self.string(object, "image_uuid").unwrap_or_default();
        let boot = match object.get("boot") {
            None => Some(false),
            Some(Value::Bool(boot)) => Some(*boot),
            Some(number) if number.is_i64() || number.is_u64() => {
                Some(number.as_i64().is_none_or(|n| n != 0))
            }
            Some(other) => {
                self.key("boot", |c| {
                    c.error(format!(
                        "{} is not valid under any of the given schemas",
                        repr(other)
                    ));
                });
                None
            }
        };
        if !complete {
            return None;
        }
        Some(Image {
            name: name?,
            image_pull_url: image_pull_url?,
            target: target?,
            image_name,
            image_uuid,
            boot: boot?,
        })
    }

    /// Bareon's `anyOf` chosen by `type`.
    fn type_of<'v>(&mut self, object: &'v Map<String, Value>, allowed: &[&str]) -> Option<&'v str> {
        let Some(kind) = object.get("type") else {
            self.error(" could not be validated, 'type' is a required property");
            return None;
        };
        match kind.as_str() {
            Some(kind) if allowed.contains(&kind) => Some(kind),
            _ => {
                self.error(format!(
                    " could not be validated, {} is not one of {}",
                    repr(kind),
                    one_of(allowed)
                ));
                None
            }
        }
    }

    fn space(&mut self, index: usize, value: &Value) -> Option<Space> {
        let Some(object) = value.as_object() else {
            self.error(format!("{} is not of type 'object'", repr(value)));
            return None;
        };
        match self.type_of(object, &["disk", "vg"])? {
            "disk" => self.disk(index, object).map(Space::Disk),
            _ => self.vg(index, object).map(Space::Vg),
        }
    }

    fn disk(&mut self, index: usize, object: &Map<String, Value>) -> Option<Disk> {
        let complete = self.required(object, &["type", "id", "size", "volumes"]);
        let id = self.typed(object, "id", Kind::Object).and_then(|id| {
            self.key("id", |c| {
                let id = id.as_object()?;
                let complete = c.required(id, &["type", "value"]);
                let id_type = c.string(id, "type").and_then(|t| {
                    if ["scsi", "path", "name"].contains(&t.as_str()) {
                        Some(t)
                    } else {
                        c.key("type", |c| {
                            c.error(format!(
                                "{} is not one of {}",
                                repr(&Value::String(t)),
                                one_of(&["scsi", "path", "name"])
                            ));
                        });
                        None
                    }
                });
                let value = c.string(id, "value");
                if complete {
                    Some((id_type?, value?))
                } else {
                    None
                }
            })
        });
        let size = self.size(object, "size");
        self.string(object, "name");
        let volumes = self.volumes(
            object,
            &["pv", "raid", "partition", "boot", "lvm_meta_pool"],
        );
        if !complete {
            return None;
        }
        let (id_type, id) = id?;
        Some(Disk {
            index,
            id_type,
            id,
            size: size?,
            volumes: volumes?,
        })
    }

    fn vg(&mut self, index: usize, object: &Map<String, Value>) -> Option<VolumeGroup> {
        let complete = self.required(object, &["type", "id", "volumes"]);
        let id = self.string(object, "id");
        self.string(object, "label");
        self.typed(object, "min_size", Kind::Integer);
        self.string(object, "_allocate_size");
        self.bool(object, "keep_data");
        let volumes = self.volumes(object, &["lv"]);
        if !complete {
            return None;
        }
        Some(VolumeGroup {
            index,
            id: id?,
            volumes: volumes?,
        })
    }

    fn volumes(&mut self, object: &Map<String, Value>, allowed: &[&str]) -> Option<Vec<Volume>> {
        let volumes = self.typed(object, "volumes", Kind::Array)?.as_array()?;
        self.key("volumes", |c| {
            let parsed: Vec<Option<Volume>> = volumes
                .iter()
                .enumerate()
                .map(|(i, volume)| c.index(i, |c| c.volume(i, volume, allowed)))
                .collect();
            parsed.into_iter().collect()
        })
    }

    fn volume(&mut self, index: usize, value: &Value, allowed: &[&str]) -> Option<Volume> {
        let Some(object) = value.as_object() else {
            self.error(format!("{} is not of type 'object'", repr(value)));
            return None;
        };
        let kind = match self.type_of(object, allowed)? {
            "pv" => VolumeKind::Pv,
            "raid" => VolumeKind::Raid,
            "partition" => VolumeKind::Partition,
            "boot" => VolumeKind::Boot,
            "lvm_meta_pool" => VolumeKind::LvmMetaPool,
            _ => VolumeKind::Lv,
        };
        let required: &[&str] = match kind {
            VolumeKind::Pv => &["type", "size", "vg"],
            VolumeKind::Raid | VolumeKind::Partition => &["type", "size", "mount"],
            VolumeKind::Lv => &["type", "size", "name"],
            VolumeKind::Boot | VolumeKind::LvmMetaPool => &["type", "size"],
        };
        let complete = self.required(object, required);
        let size = self.size(object, "size");
        let mount = self.string(object, "mount");
        let file_system = self.string(object, "file_system");
        let name = self.string(object, "name");
        let disk_label = self.string(object, "disk_label");
        let vg = self.string(object, "vg");
        self.bool(object, "keep_data");
        self.string(object, "lvm_meta_size");
        let fstab_options = self.string(object, "fstab_options");
        let fstab_enabled = self.bool(object, "fstab_enabled");
        let images = self
            .typed(object, "images", Kind::Array)
            .and_then(|images| {
                self.key("images", |c| {
                    let items = images.as_array()?;
                    let names: Vec<Option<String>> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| {
                            c.index(i, |c| {
                                if let Some(name) = item.as_str() {
                                    Some(name.to_owned())
                                } else {
                                    c.error(format!("{} is not of type 'string'", repr(item)));
                                    None
                                }
                            })
                        })
                        .collect();
                    names.into_iter().collect::<Option<Vec<String>>>()
                })
            });
        if !complete {
            return None;
        }
        let mount = mount.filter(|m| !m.eq_ignore_ascii_case("none"));
        Some(Volume {
            index,
            kind,
            size: size?,
            mount,
            file_system: file_system.map_or_else(|| "xfs".to_owned(), |f| f.to_lowercase()),
            images,
            fstab_options: fstab_options.unwrap_or_else(|| "defaults".to_owned()),
            fstab_enabled: fstab_enabled.unwrap_or(true),
            name: name.or(disk_label),
            vg,
        })
    }

    /// Rules that only need names: checked on the raw document, even when
    /// the schema failed elsewhere.
    fn references(&mut self, document: &Value) {
        let names: Vec<&str> = document
            .get("images")
            .and_then(Value::as_array)
            .map(|images| {
                images
                    .iter()
                    .filter_map(|i| i.get("name")?.as_str())
                    .collect()
            })
            .unwrap_or_default();
        let quoted: Vec<String> = names
            .iter()
            .map(|n| format!("\"{}\"", crate::excerpt(n, 80)))
            .collect();
        let spaces = document
            .get("partitions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (s, space) in spaces.iter().enumerate() {
            let volumes = space
                .get("volumes")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (v, volume) in volumes.iter().enumerate() {
                let images = volume
                    .get("images")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                for (i, image) in images.iter().enumerate() {
                    let Some(image) = image.as_str() else {
                        continue;
                    };
                    if names.contains(&image) {
                        continue;
                    }
                    self.errors.push(ValidationError {
                        path: vec![
                            PathElement::Key("partitions".into()),
                            PathElement::Index(s),
                            PathElement::Key("volumes".into()),
                            PathElement::Index(v),
                            PathElement::Key("images".into()),
                            PathElement::Index(i),
                        ],
                        message: format!(
                            "Try to claim not existing operating systems: \"{}\" (the images are {})",
                            crate::excerpt(image, 80),
                            quoted.join(", ")
                        ),
                    });
                }
            }
        }
    }

    #[allow(clippy::too_many_lines)]
    fn semantics(&mut self, provision: &Provision) {
        // Images: names unique and usable as GRUB ids, exactly one boot.
        if provision.images.is_empty() {
            self.key("images", |c| {
                c.error("[] is too short: at least one image is needed");
            });
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, image) in provision.images.iter().enumerate() {
            let path = [PathElement::Key("images".into()), PathElement::Index(i)];
            if let Some(first) = seen.insert(image.name.as_str(), i) {
                self.error_at(
                    &[
                        path[0].clone(),
                        path[1].clone(),
                        PathElement::Key("name".into()),
                    ],
                    format!(
                        "duplicate image name '{}' (also images:{first})",
                        image.name
                    ),
                );
            }
            if !valid_name(&image.name) {
                self.error_at(
                    &[path[0].clone(), path[1].clone(), PathElement::Key("name".into())],
                    format!(
                        "'{}' is not a usable image name (1 to 64 letters, digits, '.', '_', '+', '-'; it becomes the boot entry id image-<name>)",
                        crate::excerpt(&image.name, 80)
                    ),
                );
            }
            if image.target != "/" {
                self.error_at(
                    &[
                        path[0].clone(),
                        path[1].clone(),
                        PathElement::Key("target".into()),
                    ],
                    format!(
                        "'{}': only OS images (target '/') are supported, not utility images",
                        crate::excerpt(&image.target, 80)
                    ),
                );
            }
        }
        let booted: Vec<&str> = provision
            .images
            .iter()
            .filter(|i| i.boot)
            .map(|i| i.name.as_str())
            .collect();
        if booted.len() != 1 && !provision.images.is_empty() {
            self.key("images", |c| {
                c.error(format!(
                    "exactly one image must have boot: true, found {}{}",
                    booted.len(),
                    if booted.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", booted.join(", "))
                    }
                ));
            });
        }
        if !valid_kernel_params(&provision.kernel_params) {
            self.at(PathElement::Key("deploy_data".into()), |c| {
                c.key("kernel_params", |c| {
                    c.error("kernel parameters must be printable ASCII without quotes, backslashes, '$', ';', '{', '}', '#' or newlines (they go into grub.cfg)");
                });
            });
        }

        // Disks.
        if provision.disks.is_empty() {
            self.key("partitions", |c| {
                c.error("Invalid partition schema: You must specify at least one disk.");
            });
        }
        let mut disk_ids: BTreeMap<&str, usize> = BTreeMap::new();
        let vg_ids: Vec<&str> = provision
            .volume_groups
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        let mut vgs_with_pv: Vec<&str> = Vec::new();
        // (image, mount) -> first volume path
        let mut mounts: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut roots: BTreeMap<String, usize> = BTreeMap::new();
        for disk in &provision.disks {
            self.key("partitions", |c| {
                c.index(disk.index, |c| {
                    if let Some(first) = disk_ids.insert(disk.id.as_str(), disk.index) {
                        c.key("id", |c| {
                            c.error(format!(
                                "duplicate disk '{}' (also partitions:{first})",
                                crate::excerpt(&disk.id, 80)
                            ));
                        });
                    }
                    if !matches!(disk.size, Size::Bytes(_)) {
                        c.key("size", |c| {
                            c.error("a disk's size must be absolute (not '%' nor 'remaining')");
                        });
                    }
                    c.remaining(&disk.volumes, &format!("disk: {}", disk.id));
                    let boots: Vec<&Volume> = disk
                        .volumes
                        .iter()
                        .filter(|v| v.kind == VolumeKind::Boot)
                        .collect();
                    if boots.len() > 1 {
                        c.error(format!("Multiple bootable partitions on {}", disk.id));
                    }
                    for volume in &disk.volumes {
                        if volume.kind == VolumeKind::Pv
                            && let Some(vg) = &volume.vg
                        {
                            vgs_with_pv.push(vg.as_str());
                            if !vg_ids.contains(&vg.as_str()) {
                                c.key("volumes", |c| {
                                    c.index(volume.index, |c| {
                                        c.error(format!(
                                            "Following LVMpv refer to missing VG: \"{vg}\""
                                        ));
                                    });
                                });
                            }
                        }
                    }
                });
            });
        }
        let mut orphan: Vec<&str> = provision
            .volume_groups
            .iter()
            .map(|v| v.id.as_str())
            .filter(|id| !vgs_with_pv.contains(id))
            .collect();
        orphan.sort_unstable();
        if !orphan.is_empty() {
            self.key("partitions", |c| {
                c.error(format!(
                    "Following LVMvg have no any PV: \"{}\"",
                    orphan.join("\", \"")
                ));
            });
        }
        for vg in &provision.volume_groups {
            self.key("partitions", |c| {
                c.index(vg.index, |c| {
                    c.remaining(&vg.volumes, &format!("lvm-vg: {}", vg.id));
                });
            });
        }

        // Mount points: per image, unique, no separate /boot, one `/`.
        let spaces = provision.disks.iter().map(|d| (d.index, &d.volumes)).chain(
            provision
                .volume_groups
                .iter()
                .map(|v| (v.index, &v.volumes)),
        );
        for (space, volumes) in spaces {
            for volume in volumes {
                let here = format!("partitions:{space}:volumes:{}", volume.index);
                self.key("partitions", |c| {
                    c.index(space, |c| {
                        c.key("volumes", |c| {
                            c.index(volume.index, |c| {
                                c.volume_rules(provision, volume, &here, &mut mounts, &mut roots);
                            });
                        });
                    });
                });
            }
        }
        for (i, image) in provision.images.iter().enumerate() {
            if !roots.contains_key(&image.name) && image.target == "/" {
                self.key("images", |c| {
                    c.index(i, |c| {
                        c.error(format!(
                            "Error: device with / mountpoint has not been found (image '{}' owns no '/' filesystem)",
                            image.name
                        ));
                    });
                });
            }
        }
    }

    fn remaining(&mut self, volumes: &[Volume], owner: &str) {
        let remaining: Vec<String> = volumes
            .iter()
            .filter(|v| v.size == Size::Remaining)
            .map(|v| format!("volumes:{}", v.index))
            .collect();
        if remaining.len() > 1 {
            self.error(format!(
                "Multiple requests on \"remaining\" space. {owner}, volumes: {}",
                remaining.join(", ")
            ));
        }
    }

    fn volume_rules(
        &mut self,
        provision: &Provision,
        volume: &Volume,
        here: &str,
        mounts: &mut BTreeMap<(String, String), String>,
        roots: &mut BTreeMap<String, usize>,
    ) {
        if volume.kind == VolumeKind::Boot {
            self.error("a separate /boot is not supported: each image's kernel must be on its '/' (Bareon's boot volume type)");
        }
        if volume.size == Size::Bytes(0) {
            self.key("size", |c| c.error("'0' is not a usable size"));
        }
        if !valid_token(&volume.fstab_options) {
            self.key("fstab_options", |c| {
                c.error("fstab options must be one word of printable ASCII");
            });
        }
        if !volume
            .file_system
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
            || volume.file_system.is_empty()
        {
            self.key("file_system", |c| {
                c.error(format!(
                    "'{}' is not a filesystem type",
                    crate::excerpt(&volume.file_system, 40)
                ));
            });
        }
        if let Some(name) = &volume.name
            && !valid_name(name)
        {
            self.key("name", |c| c.error(format!("'{}' is not a usable partition name (1 to 64 letters, digits, '.', '_', '+', '-')", crate::excerpt(name, 80))));
        }
        let Some(mount) = &volume.mount else { return };
        let swap = volume.file_system == "swap";
        if swap {
            if mount != "swap" {
                self.key("mount", |c| {
                    c.error(format!(
                        "a swap volume's mount must be 'swap' or 'none', not '{}'",
                        crate::excerpt(mount, 80)
                    ));
                });
            }
            return;
        }
        if !valid_mount(mount) {
            self.key("mount", |c| {
                c.error(format!(
                    "'{}' is not a mount point (an absolute, normalised path of printable ASCII without spaces, or 'none')",
                    crate::excerpt(mount, 80)
                ));
            });
            return;
        }
        if mount == "/boot" || mount.starts_with("/boot/") {
            self.key("mount", |c| c.error(format!("a separate {mount} is not supported: each image's kernel must be on its '/' (os-prober and the boot entries look there)")));
        }
        let owners = provision.owners(volume);
        for owner in owners {
            if let Some(first) = mounts.insert((owner.to_owned(), mount.clone()), here.to_owned()) {
                self.key("mount", |c| {
                    c.error(format!(
                        "'{mount}' is already mounted for image '{owner}' by {first}"
                    ));
                });
            }
            if mount == "/" {
                *roots.entry(owner.to_owned()).or_default() += 1;
            }
        }
    }
}

enum Space {
    Disk(Disk),
    Vg(VolumeGroup),
}

fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items.iter().skip(i + 1).any(|b| a == b))
}

/// Image and partition names: they become GRUB ids, labels and file names.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && !name.starts_with(['.', '-'])
}

fn valid_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 1024
        && text.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

fn valid_mount(mount: &str) -> bool {
    mount.starts_with('/')
        && mount.len() <= 1024
        && mount
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\')
        && (mount == "/"
            || (!mount.ends_with('/')
                && mount
                    .split('/')
                    .skip(1)
                    .all(|part| !part.is_empty() && part != "." && part != "..")))
}

fn valid_kernel_params(params: &str) -> bool {
    params.len() <= 4096
        && params
            .bytes()
            .all(|b| (b.is_ascii_graphic() || b == b' ') && !b"'\"\\$;{}#".contains(&b))
}
