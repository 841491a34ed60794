//! Python: what a frame's path says about whose code it is, and how it reads on any machine.
//! The one place that knows CPython's and pip's directory layouts.

/// Whether a frame belongs to aiohttp, asyncio, uvloop or CPython's standard library.
pub fn is_library(path: &str) -> bool {
    if path.starts_with('<') {
        // `<frozen runpy>`, `<string>`: no file of the user's.
        return true;
    }
    let parts = || path.split(['/', '\\']);
    if parts().any(|c| matches!(c, "aiohttp" | "asyncio" | "uvloop")) {
        return true;
    }
    if parts().any(|c| matches!(c, "site-packages" | "dist-packages")) {
        return false;
    }
    // `…/lib/python3.12/x.py` (POSIX) or `…\\Lib\\x.py` (Windows installs).
    // `python3.12`, and `python3.13t` for free-threaded builds.
    let is_version = |c: &str| {
        c.strip_prefix("python")
            .map(|v| v.strip_suffix('t').unwrap_or(v))
            .is_some_and(|v| {
                !v.is_empty()
                    && v.split('.')
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    parts()
        .zip(parts().skip(1))
        .any(|(a, b)| a.eq_ignore_ascii_case("lib") && is_version(b))
        || parts().any(|c| c == "Lib")
}

/// Whether a frame's file belongs to an installed package (`site-packages`, `dist-packages`):
/// library code for its users, though not aiohttp's.
pub fn is_installed(path: &str) -> bool {
    path.split(['/', '\\'])
        .any(|c| matches!(c, "site-packages" | "dist-packages"))
}

/// Home Assistant's integrations are the code its users write or pick: a frame in one counts
/// as the application even when Home Assistant is installed as a package.
pub fn is_integration(path: &str) -> bool {
    // Asked of every installed frame of every finding: no copy unless the path needs one.
    let p = if path.contains('\\') {
        std::borrow::Cow::Owned(path.replace('\\', "/"))
    } else {
        std::borrow::Cow::Borrowed(path)
    };
    p.contains("/homeassistant/components/") || p.contains("custom_components/")
}

/// What follows the last `site-packages/` or `dist-packages/` of a path: the package's own
/// path, the same on every machine.
fn in_packages(path: &str) -> Option<String> {
    let p = path.replace('\\', "/");
    ["/site-packages/", "/dist-packages/"]
        .iter()
        .filter_map(|m| p.rfind(m).map(|at| at + m.len()))
        .max()
        .map(|at| p[at..].to_string())
}

/// A path shortened for a table: what follows `site-packages/` or `dist-packages/`, or the
/// whole path.
pub fn short_path(path: &str) -> String {
    in_packages(path).unwrap_or_else(|| path.to_string())
}

/// A path as it reads on any machine: what follows `site-packages/` or `dist-packages/`,
/// else its last two parts.
pub fn normal_path(path: &str) -> String {
    if let Some(p) = in_packages(path) {
        return p;
    }
    let p = path.replace('\\', "/");
    let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty()).collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_frames_are_aiohttp_asyncio_uvloop_and_the_standard_library() {
        for p in [
            "/venv/lib/python3.12/site-packages/aiohttp/client.py",
            "/usr/lib/python3.11/asyncio/base_events.py",
            "/root/.pyenv/versions/3.12.1/lib/python3.12/runpy.py",
            "<frozen runpy>",
            "C:\\Python311\\Lib\\threading.py",
            "/venv/lib/python3.12/site-packages/uvloop/__init__.py",
            "/usr/lib/python3.13t/threading.py",
        ] {
            assert!(is_library(p), "{p}");
        }
        for p in [
            "/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/aiohttp_handler.py",
            "/app/main.py",
            "main.py",
            "/home/me/lib/python3-tools/x.py",
            "C:\\Python311\\Lib\\site-packages\\litellm\\main.py",
        ] {
            assert!(!is_library(p), "{p}");
        }
    }

    #[test]
    fn paths_read_from_the_package_on_and_else_by_their_last_two_parts() {
        let p = "/venv/lib/python3.12/site-packages/litellm/llms/custom_httpx/http_handler.py";
        assert_eq!(short_path(p), "litellm/llms/custom_httpx/http_handler.py");
        assert_eq!(normal_path(p), "litellm/llms/custom_httpx/http_handler.py");
        let d = "C:\\venv\\Lib\\site-packages\\gql\\client.py";
        assert_eq!(normal_path(d), "gql/client.py");
        assert_eq!(short_path("/app/svc/prices.py"), "/app/svc/prices.py");
        assert_eq!(normal_path("/app/svc/prices.py"), "svc/prices.py");
        assert_eq!(normal_path("prices.py"), "prices.py");
    }
}
