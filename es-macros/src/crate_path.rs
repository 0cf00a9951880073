//! The path of `es-core` in generated code: `::es_core`, or `crate = path` for a crate that
//! renamed its dependency. Without `crate = ...`, a renamed dependency would only show as
//! "cannot find `es_core`" on generated code, so the user's manifest is read to say what to write.

use crate::errors::Errors;
use proc_macro2::Span;

/// Reports a renamed `es-core` dependency when the macro was not given `crate = ...`. `example`
/// is the attribute of this macro with the key filled in, `{}` standing for the name.
pub(crate) fn check_renamed(given: bool, example: &str, errors: &mut Errors) {
    if given {
        return;
    }
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let Ok(manifest) = std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml"))
    else {
        return;
    };
    if let Some(name) = renamed_dependency(&manifest) {
        let name = name.replace('-', "_");
        errors.error_at(
            Span::call_site(),
            format!(
                "this crate depends on `es-core` under the name `{name}` (Cargo.toml), so the generated code cannot name it `::es_core`: add `crate = {name}` to the attribute, `{}`",
                example.replace("{}", &name)
            ),
        );
    }
}

/// The name under which `manifest` depends on `es-core` when it renamed it (`my_es = { package =
/// "es-core", ... }` or `[dependencies.my_es]` with `package = "es-core"`), unless it also depends
/// on it under its own name. A line-based reading of the usual layouts, not a TOML parser: it
/// only decides whether to explain an error that would happen anyway.
pub(crate) fn renamed_dependency(manifest: &str) -> Option<String> {
    let mut section = String::new();
    let mut renamed = None;
    let mut plain = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = header.trim().to_owned();
            continue;
        }
        let in_deps = |s: &str| s.ends_with("dependencies");
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().trim_matches('"'), value.trim());
        let names_es_core = |v: &str| {
            v.split("package").nth(1).is_some_and(|rest| {
                rest.trim_start()
                    .strip_prefix('=')
                    .is_some_and(|r| r.trim_start().starts_with("\"es-core\""))
            })
        };
        if in_deps(&section) {
            if ["es-core", "es_core"]
                .iter()
                .any(|n| key == *n || key.strip_prefix(n).is_some_and(|r| r.starts_with('.')))
            {
                plain = true;
            } else if names_es_core(value) {
                renamed = Some(key.to_owned());
            }
        } else if let Some((deps, name)) = section.rsplit_once('.')
            && in_deps(deps)
            && key == "package"
            && value == "\"es-core\""
        {
            renamed = Some(name.trim_matches('"').to_owned());
        } else if let Some((deps, name)) = section.rsplit_once('.')
            && in_deps(deps)
            && (name == "es-core" || name == "es_core")
        {
            plain = true;
        }
    }
    renamed.filter(|_| !plain)
}

#[cfg(test)]
mod tests {
    use super::renamed_dependency;

    #[test]
    fn finds_a_renamed_dependency() {
        let inline = "[package]\nname = \"app\"\n\n[dependencies]\nmy_es = { package = \"es-core\", path = \"../es-core\" }\nserde = \"1\"\n";
        assert_eq!(renamed_dependency(inline).as_deref(), Some("my_es"));
        let table = "[dependencies.wallet-es]\npackage = \"es-core\"\nversion = \"0.1\"\n";
        assert_eq!(renamed_dependency(table).as_deref(), Some("wallet-es"));
        let dev =
            "[dev-dependencies]\nes = { version = \"0.1\", package = \"es-core\" } # renamed\n";
        assert_eq!(renamed_dependency(dev).as_deref(), Some("es"));
    }

    #[test]
    fn ignores_plain_and_unrelated_dependencies() {
        assert_eq!(
            renamed_dependency("[dependencies]\nes-core = \"0.1\"\n"),
            None
        );
        assert_eq!(
            renamed_dependency(
                "[dependencies]\nes-core.workspace = true\nother = { package = \"es-core-x\" }\n"
            ),
            None
        );
        // Both names: `::es_core` resolves.
        assert_eq!(
            renamed_dependency(
                "[dependencies]\nes-core = \"0.1\"\nmy_es = { package = \"es-core\" }\n"
            ),
            None
        );
        // `package` in [package] is not a dependency.
        assert_eq!(renamed_dependency("[package]\nname = \"es-core\"\n"), None);
    }
}
