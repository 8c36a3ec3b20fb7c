//! Every CORS configuration rule is a `ConfigError` when the layer is built.

use portcullis_security_headers::ConfigError;
use portcullis_security_headers::cors::{
    AllowHeaders, AllowMethods, AllowOrigin, CorsConfig, CorsLayer, CorsPreset, ExposeHeaders,
    MaxAge, Origin, OriginPattern,
};

#[test]
fn public_suffix_wildcards_are_refused() {
    for pattern in [
        "https://*.com",
        "https://*.co.uk",
        "https://*.com.au",
        "https://*.github.io",
        "https://*.vercel.app",
        "https://*.localhost",
        "https://*.dev",
    ] {
        let error = CorsLayer::new().allow_origin(pattern).unwrap_err();
        assert!(
            matches!(error, ConfigError::CorsPublicSuffixWildcard { .. }),
            "{pattern}: {error:?}"
        );
    }
    for pattern in [
        "https://*.example.com",
        "https://*.example.co.uk",
        "https://*.me.github.io",
    ] {
        assert!(CorsLayer::new().allow_origin(pattern).is_ok(), "{pattern}");
    }
}

#[test]
fn null_origin_is_refused() {
    for text in ["null", "NULL", " null "] {
        assert!(matches!(
            CorsLayer::new().allow_origin(text),
            Err(ConfigError::CorsNullOrigin)
        ));
    }
    assert!(matches!(
        CorsLayer::new().allow_origins_list("https://a.example,null"),
        Err(ConfigError::CorsNullOrigin)
    ));
}

#[test]
fn credentials_with_any_origin_is_refused_in_either_order() {
    assert!(matches!(
        CorsLayer::new()
            .allow_credentials(true)
            .unwrap()
            .insecure_allow_any_origin(),
        Err(ConfigError::CorsCredentialsWithAnyOrigin)
    ));
    assert!(matches!(
        CorsLayer::new()
            .insecure_allow_any_origin()
            .unwrap()
            .allow_credentials(true),
        Err(ConfigError::CorsCredentialsWithAnyOrigin)
    ));
    // Turning credentials off is always fine.
    assert!(
        CorsLayer::new()
            .insecure_allow_any_origin()
            .unwrap()
            .allow_credentials(false)
            .is_ok()
    );
}

#[test]
fn any_origin_and_a_list_are_exclusive() {
    assert!(matches!(
        CorsLayer::new()
            .allow_origin("https://a.example")
            .unwrap()
            .insecure_allow_any_origin(),
        Err(ConfigError::CorsOriginsWithAnyOrigin)
    ));
    assert!(matches!(
        CorsLayer::new()
            .insecure_allow_any_origin()
            .unwrap()
            .allow_origin("https://a.example"),
        Err(ConfigError::CorsOriginsWithAnyOrigin)
    ));
    assert!(matches!(
        CorsLayer::new().allow_origin("*"),
        Err(ConfigError::CorsInvalidOrigin { .. })
    ));
}

#[test]
fn port_wildcards_only_in_development_and_only_for_loopback() {
    for layer in [CorsLayer::new(), CorsLayer::strict(), CorsLayer::api()] {
        assert!(matches!(
            layer.allow_origin("http://localhost:*"),
            Err(ConfigError::CorsPortWildcard { .. })
        ));
    }
    assert!(
        CorsLayer::development()
            .allow_origin("http://localhost:*")
            .is_ok()
    );
    for pattern in ["http://dev.example.com:*", "https://*.example.com:*"] {
        assert!(
            matches!(
                CorsLayer::development().allow_origin(pattern),
                Err(ConfigError::CorsPortWildcard { .. })
            ),
            "{pattern}"
        );
    }
    // Also through a list and a config file.
    assert!(matches!(
        CorsLayer::api().allow_origins_list("https://a.example,http://127.0.0.1:*"),
        Err(ConfigError::CorsPortWildcard { .. })
    ));
    let config: CorsConfig =
        serde_json::from_str(r#"{"allowed_origins": "http://localhost:*"}"#).unwrap();
    assert!(matches!(
        CorsLayer::from_config(config),
        Err(ConfigError::CorsPortWildcard { .. })
    ));
}

#[test]
fn bad_origin_strings_are_refused() {
    for text in [
        "app.example.com",
        "https://",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?x",
        "https://user@app.example.com",
        "https://app..example.com",
        "https://app.example.com:",
        "https://app.example.com:99999",
        "https://app.example.com:http",
        "1ttp://app.example.com",
        "https://app example.com",
        "https://*",
        "https://a.*.example.com",
        "https://*.*.example.com",
        "https://*.127.0.0.1",
        "https://*.[::1]",
        "https://[::1",
        "https://exämple.com",
    ] {
        let error = CorsLayer::new().allow_origin(text).unwrap_err();
        assert!(
            matches!(error, ConfigError::CorsInvalidOrigin { .. }),
            "{text}: {error:?}"
        );
        assert!(error.to_string().contains(text.trim()), "{error}");
    }
    assert!(matches!(
        "https://*.example.com".parse::<Origin>(),
        Err(ConfigError::CorsInvalidOrigin { .. })
    ));
}

#[test]
fn invalid_header_names_are_refused() {
    for text in ["x header", "x-header:", "*", "content-type, x(y)", "ü"] {
        assert!(
            matches!(
                text.parse::<AllowHeaders>(),
                Err(ConfigError::CorsInvalidHeaderName { .. })
            ),
            "{text}"
        );
        assert!(
            matches!(
                text.parse::<ExposeHeaders>(),
                Err(ConfigError::CorsInvalidHeaderName { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn invalid_methods_are_refused() {
    for text in ["GE T", "*", "GET, P@ST", "GET;", "É"] {
        assert!(
            matches!(
                text.parse::<AllowMethods>(),
                Err(ConfigError::CorsInvalidMethod { .. })
            ),
            "{text}"
        );
    }
}

#[test]
fn lists_tolerate_blanks_and_normalize() {
    let origins: AllowOrigin = " https://A.example.com:443 ,, https://b.example.com:8443 ,"
        .parse()
        .unwrap();
    assert_eq!(
        origins.to_string(),
        "https://a.example.com,https://b.example.com:8443"
    );
    let pattern: OriginPattern = "HTTPS://*.Example.com".parse().unwrap();
    assert_eq!(pattern.to_string(), "https://*.example.com");
    let methods: AllowMethods = "get,, delete ,PATCH".parse().unwrap();
    assert_eq!(methods.header_value(), "GET, DELETE, PATCH");
    let headers: AllowHeaders = "X-A, x-a, X-B".parse().unwrap();
    assert_eq!(headers.header_value().unwrap(), "x-a, x-b");
}

#[test]
fn config_files_deserialize_and_are_checked() {
    let config: CorsConfig = serde_json::from_str(
        r#"{
            "preset": "api",
            "allowed_origins": ["https://app.example.com", "https://*.example.com"],
            "allow_credentials": true,
            "allow_headers": "content-type, x-csrf-token",
            "expose_headers": ["etag"],
            "max_age": 60,
            "reject_disallowed_origins": true
        }"#,
    )
    .unwrap();
    assert_eq!(config.preset, CorsPreset::Api);
    assert_eq!(config.max_age, Some(MaxAge::from_secs(60)));
    let layer = CorsLayer::from_config(config).unwrap();
    assert_eq!(layer.allowed_origins().len(), 2);

    for bad in [
        r#"{"allowed_origins": "https://*.co.uk"}"#,
        r#"{"allowed_origins": ["null"]}"#,
        r#"{"allow_methods": "GET, *"}"#,
        r#"{"allow_headers": ["bad header"]}"#,
        r#"{"unknown_field": 1}"#,
        r#"{"preset": "lenient"}"#,
    ] {
        assert!(serde_json::from_str::<CorsConfig>(bad).is_err(), "{bad}");
    }
    let any_with_credentials: CorsConfig =
        serde_json::from_str(r#"{"insecure_allow_any_origin": true, "allow_credentials": true}"#)
            .unwrap();
    assert!(matches!(
        CorsLayer::from_config(any_with_credentials),
        Err(ConfigError::CorsCredentialsWithAnyOrigin)
    ));
}

#[test]
fn errors_explain_themselves() {
    let error = CorsLayer::new()
        .allow_origin("https://*.co.uk")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"CORS origin pattern "https://*.co.uk" covers the public suffix "co.uk""#
    );
    let error = CorsLayer::new()
        .allow_origin("https://app.example.com/")
        .unwrap_err();
    assert!(error.to_string().contains("trailing `/`"), "{error}");
}
