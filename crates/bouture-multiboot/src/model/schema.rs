//! The structural checks of Bareon's JSON schema (types, required keys,
//! enumerations), with jsonschema's paths and messages, and the name
//! references checked even when the schema fails elsewhere.

use serde_json::{Map, Value};

use super::{
    Disk, Image, PartitionsPolicy, PathElement, Provision, ValidationError, Volume, VolumeGroup,
    VolumeKind,
};
use crate::size::{Size, parse_size};

/// Python's `repr` of a JSON value, as jsonschema prints it (bounded).
fn repr(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", bouture_text::truncate(text, 80)),
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

/// Collects every finding, each at its path in the document.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) errors: Vec<ValidationError>,
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
    pub(super) fn error_at(&mut self, extra: &[PathElement], message: impl Into<String>) {
        let mut path = self.path.clone();
        path.extend_from_slice(extra);
        self.errors.push(ValidationError {
            path,
            message: message.into(),
        });
    }

    pub(super) fn error(&mut self, message: impl Into<String>) {
        self.error_at(&[], message);
    }

    pub(super) fn at<T>(&mut self, element: PathElement, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(element);
        let result = f(self);
        self.path.pop();
        result
    }

    pub(super) fn key<T>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at(PathElement::Key(key.to_owned()), f)
    }

    pub(super) fn index<T>(&mut self, index: usize, f: impl FnOnce(&mut Self) -> T) -> T {
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

    pub(super) fn document(&mut self, value: &Value) -> Option<Provision> {
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
        let image_deploy_flags = self
            .typed(root, "image_deploy_flags", Kind::Object)
            .and_then(Value::as_object)
            .cloned();
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
            partitions_policy: policy,
            image_deploy_flags,
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
        let keep_data = self.bool(object, "keep_data");
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
            keep_data: keep_data.unwrap_or(false),
        })
    }

    /// Rules that only need names: checked on the raw document, even when
    /// the schema failed elsewhere.
    pub(super) fn references(&mut self, document: &Value) {
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
            .map(|n| format!("\"{}\"", bouture_text::truncate(n, 80)))
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
                            bouture_text::truncate(image, 80),
                            quoted.join(", ")
                        ),
                    });
                }
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
