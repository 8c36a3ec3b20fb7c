//! Which domains are public suffixes, for refusing `https://*.co.uk`.
//!
//! A compact, embedded list rather than the full [Public Suffix
//! List](https://publicsuffix.org/) through the `psl` or `publicsuffix` crates: the
//! only question asked here is "does this wildcard pattern cover sites of unrelated
//! owners?", once, when the layer is built. Erring on the side of refusing is safe
//! (the user lists the origins instead), so the rules are deliberately broad:
//!
//! - every single-label domain (`com`, `dev`, `localhost`, any TLD) is a public suffix;
//! - `SLD.cc` for a two-letter country code and a generic second level (`co.uk`,
//!   `com.au`, `or.jp`, `gov.br`, …) is a public suffix;
//! - a short list of well-known multi-label suffixes, mostly hosting platforms where
//!   every customer gets a subdomain (`github.io`, `vercel.app`, `herokuapp.com`, …).
//!
//! That keeps the crate free of a megabyte of generated tables and of a list that goes
//! stale between releases, at the price of not knowing every private registry.

/// Second-level labels that, under a two-letter country code, are open registries.
const GENERIC_SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gen", "go", "gob", "gov", "govt", "int", "info", "ltd", "me", "mil",
    "ne", "net", "nhs", "nic", "nom", "or", "org", "plc", "sch",
];

/// Well-known multi-label public suffixes that the rule above does not cover.
const MULTI_LABEL: &[&str] = &[
    "amazonaws.com",
    "appspot.com",
    "azurestaticapps.net",
    "azurewebsites.net",
    "blogspot.com",
    "bitbucket.io",
    "cloudfront.net",
    "codeberg.page",
    "elasticbeanstalk.com",
    "fastly.net",
    "firebaseapp.com",
    "fly.dev",
    "github.io",
    "githubusercontent.com",
    "gitlab.io",
    "glitch.me",
    "herokuapp.com",
    "netlify.app",
    "ngrok-free.app",
    "ngrok.app",
    "ngrok.io",
    "onrender.com",
    "pages.dev",
    "railway.app",
    "readthedocs.io",
    "s3.amazonaws.com",
    "translate.goog",
    "vercel.app",
    "web.app",
    "workers.dev",
];

/// Whether `domain` (lower case, no leading dot) is a public suffix.
pub(crate) fn is_public_suffix(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    match labels.as_slice() {
        [_] => true,
        [second, tld] if tld.len() == 2 && GENERIC_SECOND_LEVEL.contains(second) => true,
        _ => MULTI_LABEL.contains(&domain),
    }
}

#[cfg(test)]
mod tests {
    use super::is_public_suffix;

    #[test]
    fn known_suffixes() {
        for suffix in [
            "com",
            "dev",
            "localhost",
            "co.uk",
            "com.au",
            "or.jp",
            "github.io",
        ] {
            assert!(is_public_suffix(suffix), "{suffix}");
        }
        for domain in [
            "example.com",
            "example.co.uk",
            "user.github.io",
            "google.com",
        ] {
            assert!(!is_public_suffix(domain), "{domain}");
        }
    }
}
