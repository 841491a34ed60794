//! What a kubelet log file's name says: the namespace, pod and container that wrote it.
//!
//! The kubelet writes each container's output to
//! `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log` (rotated to
//! `<restart>.log.<timestamp>`, gzipped later) and links it as
//! `/var/log/containers/<pod>_<namespace>_<container>-<container id>.log`. Namespaces, pod
//! and container names are DNS labels or subdomains, so none holds `_`: the parts split
//! unambiguously. Any other name says nothing ([`Pod::of_path`] is `None`).

/// The Kubernetes names a log file belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pod {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name within the pod.
    pub container: String,
}

/// A DNS label or subdomain as Kubernetes names them (lower-case letters, digits, `-`, `.`),
/// which is also what keeps a name from a file name from being anything else.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
}

impl Pod {
    /// Reads the names off a path, as the kubelet names its files (`/` separated; the
    /// directories above `pods/` or `containers/` may be anything, so a copy of a node's
    /// `/var/log` is read the same).
    pub fn of_path(path: &str) -> Option<Pod> {
        let mut parts = path.rsplit('/');
        let file = parts.next()?;
        let parent = parts.next()?;
        let pod = if parent == "containers" {
            Self::of_container_link(file)
        } else {
            let dir = parts.next()?;
            (parts.next() == Some("pods")).then(|| Self::of_pods_dir(dir, parent, file))?
        }?;
        (is_name(&pod.namespace) && is_name(&pod.pod) && is_name(&pod.container)).then_some(pod)
    }

    /// `<pod>_<namespace>_<container>-<64 hex digits>.log`.
    fn of_container_link(file: &str) -> Option<Pod> {
        let stem = file.strip_suffix(".log")?;
        let mut it = stem.split('_');
        let (pod, namespace, rest) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let (container, id) = rest.rsplit_once('-')?;
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        Some(Pod {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
        })
    }

    /// `<namespace>_<pod>_<uid>` / `<container>` / `<restart>.log[.<rotation suffix>]`.
    fn of_pods_dir(dir: &str, container: &str, file: &str) -> Option<Pod> {
        let (restart, _) = file.split_once(".log")?;
        if restart.is_empty() || !restart.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut it = dir.split('_');
        let (namespace, pod, uid) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || uid.is_empty() {
            return None;
        }
        Some(Pod {
            namespace: namespace.to_owned(),
            pod: pod.to_owned(),
            container: container.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, pod: &str, c: &str) -> Option<Pod> {
        Some(Pod {
            namespace: ns.into(),
            pod: pod.into(),
            container: c.into(),
        })
    }

    const ID: &str = "6f0b5a3c1d2e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90";

    #[test]
    fn a_containers_link_names_pod_namespace_and_container() {
        let p = format!("/var/log/containers/api-7d9f8b-x2kq_shop_web-server-{ID}.log");
        assert_eq!(
            Pod::of_path(&p),
            pod("shop", "api-7d9f8b-x2kq", "web-server")
        );
        // A copy of a node's logs elsewhere, and a relative path, read the same.
        let p = format!("node-logs/containers/a_b_c-{ID}.log");
        assert_eq!(Pod::of_path(&p), pod("b", "a", "c"));
    }

    #[test]
    fn a_pods_directory_file_and_its_rotations_name_them_too() {
        let dir = "/var/log/pods/shop_api-7d9f8b-x2kq_0d1c2b3a-4e5f-6789-abcd-ef0123456789";
        for file in [
            "0.log",
            "12.log",
            "0.log.20261130-035500",
            "0.log.20261130-035500.gz",
        ] {
            assert_eq!(
                Pod::of_path(&format!("{dir}/web/{file}")),
                pod("shop", "api-7d9f8b-x2kq", "web"),
                "{file}"
            );
        }
    }

    #[test]
    fn other_names_say_nothing() {
        for p in [
            "app.log".to_string(),
            "/var/log/app/app.log".into(),
            "<stdin>".into(),
            // No container id, a short one, a non-hex one.
            "/var/log/containers/a_b_c.log".into(),
            "/var/log/containers/a_b_c-abc.log".into(),
            format!("/var/log/containers/a_b_c-{}.log", "z".repeat(64)),
            // Too many or too few parts; upper case is no Kubernetes name.
            format!("/var/log/containers/a_b_c_d-{ID}.log"),
            format!("/var/log/containers/a_b-{ID}.log"),
            format!("/var/log/containers/A_b_c-{ID}.log"),
            // Not a restart count, not under pods/, no uid.
            "/var/log/pods/ns_pod_uid/c/app.log".into(),
            "/var/log/other/ns_pod_uid/c/0.log".into(),
            "/var/log/pods/ns_pod/c/0.log".into(),
            "/var/log/pods/ns_pod_/c/0.log".into(),
        ] {
            assert_eq!(Pod::of_path(&p), None, "{p}");
        }
    }
}
