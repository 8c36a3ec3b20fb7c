use super::*;

fn one(directive: Directive, sources: impl IntoIterator<Item = Source>) -> String {
    Policy::new()
        .directive(directive, sources)
        .unwrap()
        .to_string()
}

#[test]
fn every_source_directive_renders_its_name() {
    let cases = [
        (Directive::DefaultSrc, "default-src 'self'"),
        (Directive::ScriptSrc, "script-src 'self'"),
        (Directive::ScriptSrcElem, "script-src-elem 'self'"),
        (Directive::ScriptSrcAttr, "script-src-attr 'self'"),
        (Directive::StyleSrc, "style-src 'self'"),
        (Directive::StyleSrcElem, "style-src-elem 'self'"),
        (Directive::StyleSrcAttr, "style-src-attr 'self'"),
        (Directive::ImgSrc, "img-src 'self'"),
        (Directive::FontSrc, "font-src 'self'"),
        (Directive::ConnectSrc, "connect-src 'self'"),
        (Directive::MediaSrc, "media-src 'self'"),
        (Directive::ObjectSrc, "object-src 'self'"),
        (Directive::FrameSrc, "frame-src 'self'"),
        (Directive::ChildSrc, "child-src 'self'"),
        (Directive::WorkerSrc, "worker-src 'self'"),
        (Directive::ManifestSrc, "manifest-src 'self'"),
        (Directive::FencedFrameSrc, "fenced-frame-src 'self'"),
        (Directive::BaseUri, "base-uri 'self'"),
        (Directive::FormAction, "form-action 'self'"),
        (Directive::FrameAncestors, "frame-ancestors 'self'"),
    ];
    for (directive, expected) in cases {
        assert_eq!(one(directive, [Source::SelfOrigin]), expected);
    }
}

#[test]
fn non_source_directives_render() {
    let policy = Policy::new()
        .directive(Directive::DefaultSrc, [Source::None])
        .unwrap()
        .sandbox([SandboxFlag::AllowScripts, SandboxFlag::AllowForms])
        .unwrap()
        .require_trusted_types_for_script()
        .upgrade_insecure_requests()
        .report_uri("https://example.com/csp")
        .unwrap()
        .report_to("csp-endpoint")
        .unwrap();
    assert_eq!(
        policy.to_string(),
        "default-src 'none'; sandbox allow-scripts allow-forms; \
         require-trusted-types-for 'script'; upgrade-insecure-requests; \
         report-uri https://example.com/csp; report-to csp-endpoint"
    );
    let nonce = CspNonce::generate();
    assert!(
        !policy
            .to_header_string(&nonce, false)
            .contains("upgrade-insecure-requests")
    );
    assert_eq!(Policy::new().sandbox([]).unwrap().to_string(), "sandbox");
}

#[test]
fn sources_keep_order_and_drop_repeats() {
    assert_eq!(
        one(
            Directive::ScriptSrc,
            [
                Source::SelfOrigin,
                Source::Nonce,
                Source::SelfOrigin,
                Source::host("https://cdn.example.com").unwrap(),
                Source::scheme("https").unwrap(),
                Source::sha256_of(""),
                Source::StrictDynamic,
                Source::ReportSample,
            ]
        ),
        "script-src 'self' 'nonce-…' https://cdn.example.com https: \
         'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' 'strict-dynamic' 'report-sample'"
    );
}

#[test]
fn rule_duplicate_directive() {
    let policy = Policy::new()
        .directive(Directive::ImgSrc, [Source::SelfOrigin])
        .unwrap();
    assert!(matches!(
        policy.directive(Directive::ImgSrc, [Source::None]),
        Err(ConfigError::DuplicateDirective {
            directive: "img-src"
        })
    ));
    let twice = Policy::new().report_to("a").unwrap().report_to("b");
    assert!(matches!(
        twice,
        Err(ConfigError::DuplicateDirective {
            directive: "report-to"
        })
    ));
    let twice = Policy::new().report_uri("/a").unwrap().report_uri("/b");
    assert!(matches!(
        twice,
        Err(ConfigError::DuplicateDirective {
            directive: "report-uri"
        })
    ));
}

#[test]
fn rule_empty_and_none_with_others() {
    assert!(matches!(
        Policy::new().directive(Directive::ImgSrc, []),
        Err(ConfigError::EmptySourceList { .. })
    ));
    assert!(matches!(
        Policy::new().directive(Directive::ImgSrc, [Source::None, Source::SelfOrigin]),
        Err(ConfigError::NoneWithOtherSources { .. })
    ));
}

#[test]
fn rule_strict_dynamic_needs_nonce_or_hash() {
    assert!(matches!(
        Policy::new().directive(
            Directive::ScriptSrc,
            [Source::StrictDynamic, Source::SelfOrigin]
        ),
        Err(ConfigError::StrictDynamicWithoutNonceOrHash {
            directive: "script-src"
        })
    ));
    assert!(
        Policy::new()
            .directive(
                Directive::ScriptSrc,
                [Source::StrictDynamic, Source::sha256_of("x")]
            )
            .is_ok()
    );
    assert!(
        Policy::new()
            .directive(Directive::ScriptSrc, [Source::Nonce, Source::StrictDynamic])
            .is_ok()
    );
}

#[test]
fn rule_script_sources_only_where_they_mean_something() {
    for source in [
        Source::Nonce,
        Source::sha256_of("x"),
        Source::UnsafeInline,
        Source::UnsafeEval,
        Source::StrictDynamic,
    ] {
        for directive in [
            Directive::ImgSrc,
            Directive::FrameAncestors,
            Directive::BaseUri,
            Directive::ConnectSrc,
        ] {
            assert!(matches!(
                Policy::new().directive(directive, [source.clone()]),
                Err(ConfigError::SourceNotAllowed { .. })
            ));
        }
    }
}

#[test]
fn rule_report_values_are_checked() {
    assert!(matches!(
        Policy::new().report_uri("https://e.example/r p"),
        Err(ConfigError::InvalidReportValue { .. })
    ));
    assert!(matches!(
        Policy::new().report_uri("javascript:alert(1)"),
        Err(ConfigError::InvalidReportValue { .. })
    ));
    assert!(matches!(
        Policy::new().report_to("a;b"),
        Err(ConfigError::InvalidReportValue { .. })
    ));
}

#[test]
fn unsafe_inline_script_detection_follows_fallbacks() {
    let inline_default = Policy::new()
        .directive(Directive::DefaultSrc, [Source::UnsafeInline])
        .unwrap();
    assert_eq!(
        inline_default.unsafe_inline_script_directive(),
        Some("default-src")
    );
    let shadowed = inline_default
        .clone()
        .directive(Directive::ScriptSrc, [Source::Nonce])
        .unwrap()
        .directive(Directive::ScriptSrcAttr, [Source::None])
        .unwrap()
        .directive(Directive::ScriptSrcElem, [Source::Nonce])
        .unwrap();
    assert_eq!(shadowed.unsafe_inline_script_directive(), None);
    let elem = Policy::new()
        .directive(
            Directive::ScriptSrcElem,
            [Source::Nonce, Source::UnsafeInline],
        )
        .unwrap();
    assert_eq!(
        elem.unsafe_inline_script_directive(),
        Some("script-src-elem")
    );
    assert_eq!(Policy::strict().unsafe_inline_script_directive(), None);
}

#[test]
fn edits_add_sources_from_the_inherited_list() {
    let mut policy = Policy::strict();
    let api = Source::host("https://api.example.com").unwrap();
    policy.apply(&PolicyEdit::AddSource(Directive::ConnectSrc, api.clone()));
    assert_eq!(
        policy.sources(Directive::ConnectSrc),
        Some(&[Source::SelfOrigin, api.clone()][..])
    );
    // media-src inherits 'none' from default-src: the new source replaces it.
    policy.apply(&PolicyEdit::AddSource(Directive::MediaSrc, api.clone()));
    assert_eq!(
        policy.sources(Directive::MediaSrc),
        Some(&[api.clone()][..])
    );
    // Unrestricted directives stay unrestricted.
    let mut open = Policy::new()
        .directive(Directive::ImgSrc, [Source::SelfOrigin])
        .unwrap();
    open.apply(&PolicyEdit::AddSource(Directive::ConnectSrc, api.clone()));
    assert_eq!(open.sources(Directive::ConnectSrc), None);
    // Replace; empty means 'none'.
    policy.apply(&PolicyEdit::Replace(Directive::FrameAncestors, vec![]));
    assert_eq!(
        policy.sources(Directive::FrameAncestors),
        Some(&[Source::None][..])
    );
    policy.apply(&PolicyEdit::Replace(
        Directive::WorkerSrc,
        vec![api.clone()],
    ));
    assert_eq!(policy.sources(Directive::WorkerSrc), Some(&[api][..]));
}

#[test]
fn deserializes_from_a_directive_map() {
    let policy: Policy = serde_json::from_str(
        r#"{
            "default-src": ["'none'"],
            "script-src": ["'nonce'", "'strict-dynamic'"],
            "img-src": ["'self'", "data:"],
            "upgrade-insecure-requests": [],
            "report-to": ["csp-endpoint"]
        }"#,
    )
    .unwrap();
    assert_eq!(
        policy.to_string(),
        "default-src 'none'; img-src 'self' data:; script-src 'nonce-…' 'strict-dynamic'; \
         upgrade-insecure-requests; report-to csp-endpoint"
    );
    for bad in [
        r#"{"script-source": ["'self'"]}"#,
        r#"{"script-src": ["self"]}"#,
        r#"{"script-src": ["'strict-dynamic'"]}"#,
        r#"{"report-to": ["a", "b"]}"#,
        r#"{"sandbox": ["allow-everything"]}"#,
    ] {
        assert!(serde_json::from_str::<Policy>(bad).is_err(), "{bad}");
    }
}
