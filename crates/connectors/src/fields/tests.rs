use super::*;

const URL: FieldSpec = FieldSpec {
    name: "base_url",
    label: "Base URL",
    help: "",
    required: true,
    kind: FieldKind::Url,
    placeholder: "https://api.example.com",
    missing: "Enter the address.",
};
const USER: FieldSpec = FieldSpec {
    name: "username",
    label: "Username",
    help: "",
    required: false,
    kind: FieldKind::Text,
    placeholder: "",
    missing: "",
};
const MODE: FieldSpec = FieldSpec {
    name: "mode",
    label: "Mode",
    help: "",
    required: true,
    kind: FieldKind::Choice(&[Choice {
        value: "a",
        label: "A",
    }]),
    placeholder: "",
    missing: "Choose A.",
};
const PASSWORD: FieldSpec = FieldSpec {
    name: "password",
    label: "Password",
    help: "",
    required: true,
    kind: FieldKind::Secret(SecretShape::Password),
    placeholder: "",
    missing: "Enter the password.",
};

fn layout(own: &'static [FormItem]) -> Vec<FormItem> {
    let mut items: Vec<FormItem> = GenericField::ALL
        .into_iter()
        .map(FormItem::Generic)
        .collect();
    items.extend_from_slice(own);
    items
}

fn form_of(items: Vec<FormItem>) -> ConnectorForm {
    ConnectorForm {
        layout: Vec::leak(items),
        query_help: None,
    }
}

fn form() -> ConnectorForm {
    form_of(layout(&[
        FormItem::Own(&URL),
        FormItem::Own(&USER),
        FormItem::Own(&MODE),
        FormItem::Own(&PASSWORD),
    ]))
}

fn check(values: &[(&str, &str)], secret: Option<&str>, stored: bool) -> CheckedFields {
    let values: FieldValues = values.iter().copied().collect();
    let secret = secret.map(SecretString::from);
    check_by_kind(
        &form(),
        &TypedFields {
            values: &values,
            secret: secret.as_ref(),
            secret_stored: stored,
        },
    )
}

#[test]
fn a_complete_form_is_stored_normalised() {
    let checked = check(
        &[
            ("base_url", " HTTPS://API.Example.com:443/ "),
            ("username", " ops "),
            ("mode", "a"),
            ("unknown", "ignored"),
        ],
        Some("pa ss"),
        false,
    );
    assert!(checked.problems.is_empty(), "{:?}", checked.problems);
    assert_eq!(
        checked.values.get("base_url"),
        Some("https://api.example.com")
    );
    assert_eq!(checked.values.get("username"), Some("ops"));
    assert_eq!(checked.values.get("unknown"), None, "only described fields");
    assert_eq!(
        checked.secret.as_ref().map(|s| s.expose_secret()),
        Some("pa ss"),
        "a password may hold spaces"
    );
    assert_eq!(
        checked.values.get("password"),
        None,
        "never among the fields"
    );
}

/// Why, the values typed, the secret typed, whether one is stored, the field, its message.
type RefusalCase<'a> = (
    &'a str,
    &'a [(&'a str, &'a str)],
    Option<&'a str>,
    bool,
    &'a str,
    &'a str,
);

#[test]
fn each_kind_refuses_what_it_cannot_hold_with_the_connectors_words() {
    let long = "x".repeat(201);
    let cases: &[RefusalCase<'_>] = &[
        (
            "blank URL",
            &[("mode", "a")],
            Some("p"),
            false,
            "base_url",
            "Enter the address.",
        ),
        (
            "relative URL",
            &[("base_url", "api.example.com"), ("mode", "a")],
            Some("p"),
            false,
            "base_url",
            "e.g. https://api.example.com",
        ),
        (
            "ftp",
            &[("base_url", "ftp://x.example"), ("mode", "a")],
            Some("p"),
            false,
            "base_url",
            "Only http",
        ),
        (
            "fragment",
            &[("base_url", "https://x.example/#top"), ("mode", "a")],
            Some("p"),
            false,
            "base_url",
            "#fragment",
        ),
        (
            "space",
            &[("base_url", "https://x .example"), ("mode", "a")],
            Some("p"),
            false,
            "base_url",
            "no spaces",
        ),
        (
            "unknown choice",
            &[("base_url", "https://x.example"), ("mode", "b")],
            Some("p"),
            false,
            "mode",
            "Choose A.",
        ),
        (
            "long text",
            &[
                ("base_url", "https://x.example"),
                ("mode", "a"),
                ("username", &long),
            ],
            Some("p"),
            false,
            "username",
            "at most 200",
        ),
        (
            "control character",
            &[
                ("base_url", "https://x.example"),
                ("mode", "a"),
                ("username", "a\u{7}b"),
            ],
            Some("p"),
            false,
            "username",
            "control characters",
        ),
        (
            "no secret on create",
            &[("base_url", "https://x.example"), ("mode", "a")],
            None,
            false,
            "password",
            "Enter the password.",
        ),
        (
            "secret with a line break",
            &[("base_url", "https://x.example"), ("mode", "a")],
            Some("a\nb"),
            false,
            "password",
            "no line breaks",
        ),
    ];
    for (why, values, secret, stored, field, expected) in cases {
        let checked = check(values, *secret, *stored);
        let message = checked
            .problems
            .get(field)
            .unwrap_or_else(|| panic!("{why}: no message for {field}"));
        assert!(message.contains(expected), "{why}: {message}");
    }
    let kept = check(
        &[("base_url", "https://x.example"), ("mode", "a")],
        Some("  "),
        true,
    );
    assert!(
        kept.problems.is_empty(),
        "a blank secret keeps the stored one"
    );
    assert!(kept.secret.is_none());
}

#[test]
fn credentials_in_a_url_are_refused_and_never_shown_again() {
    let cases = [
        (
            "https://x.example/api?NetworkToken=NET123&NetworkId=demo",
            "https://x.example/api?NetworkId=demo",
            "NetworkToken",
        ),
        (
            "https://x.example/?API_KEY=abc",
            "https://x.example/",
            "API_KEY",
        ),
        (
            "https://x.example/?api%5Fkey=abc",
            "https://x.example/",
            "api_key",
        ),
        (
            "https://x.example/?access-token=abc&page=2",
            "https://x.example/?page=2",
            "access-token",
        ),
        (
            "https://x.example/#token=abc",
            "https://x.example/",
            "token",
        ),
        (
            "https://ops:hunter2@x.example/api",
            "https://x.example/api",
            "user:password",
        ),
        ("x.example?key=abc", "x.example", "key"),
    ];
    for (typed, shown, named) in cases {
        let checked = check(&[("base_url", typed), ("mode", "a")], Some("p"), false);
        let message = checked
            .problems
            .get("base_url")
            .unwrap_or_else(|| panic!("{typed}: refused"));
        assert!(
            message.contains("Password field"),
            "{typed}: points to the secret field: {message}"
        );
        assert!(message.contains(named), "{typed}: names {named}: {message}");
        assert!(
            !message.contains("abc") && !message.contains("NET123") && !message.contains("hunter2"),
            "{typed}: no value in {message}"
        );
        assert_eq!(
            checked.values.get("base_url"),
            Some(shown),
            "{typed}: shown again without it"
        );
    }
    let in_text = check(
        &[
            ("base_url", "https://x.example"),
            ("mode", "a"),
            ("username", "see https://x.example/?token=abc"),
        ],
        Some("p"),
        false,
    );
    let message = in_text
        .problems
        .get("username")
        .expect("a text field holding an address is checked too");
    assert!(
        message.contains("token") && !message.contains("abc"),
        "{message}"
    );
    assert_eq!(
        in_text.values.get("username"),
        Some("see https://x.example/")
    );
    let pasted_key = check(
        &[
            (
                "base_url",
                "https://x.example/?NETabcdef0123456789abcdef0123=1&x=2",
            ),
            ("mode", "a"),
        ],
        Some("p"),
        false,
    );
    assert!(
        pasted_key.problems.get("base_url").is_none(),
        "an odd name is no credential by itself"
    );
}

#[test]
fn credential_names_are_recognised_in_any_spelling() {
    for name in [
        "NetworkToken",
        "networktoken",
        "api_key",
        "ApiKey",
        "X-Api-Key",
        "key",
        "token",
        "access_token",
        "client_secret",
        "password",
        "pwd",
        "sig",
        "Authorization",
        "session_id",
        "api%5Fkey",
    ] {
        assert!(is_credential_parameter(name), "{name}");
    }
    for name in ["NetworkId", "page", "limit", "format", "Target"] {
        assert!(!is_credential_parameter(name), "{name}");
    }
}

#[test]
fn a_secret_stays_only_with_the_address_and_choices_it_was_entered_for() {
    let form = form();
    let stored: FieldValues = [
        ("base_url", "https://x.example/api"),
        ("mode", "a"),
        ("username", "ops"),
    ]
    .into_iter()
    .collect();
    let same_origin: FieldValues = [
        ("base_url", "https://X.example:443/other"),
        ("mode", "a"),
        ("username", "other"),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        may_keep_secret_by_kind(&form, &stored, &same_origin),
        Ok(())
    );
    for (why, url) in [
        ("scheme", "http://x.example/api"),
        ("host", "https://y.example/api"),
        ("port", "https://x.example:8443/api"),
    ] {
        let moved: FieldValues = [("base_url", url), ("mode", "a")].into_iter().collect();
        let refused = may_keep_secret_by_kind(&form, &stored, &moved).expect_err(why);
        assert!(
            refused.contains("Enter the Password again"),
            "{why}: {refused}"
        );
    }
}

#[test]
fn a_form_the_web_app_could_not_draw_is_refused() {
    assert_eq!(form().check(), Ok(()));
    let mut missing_agent = layout(&[]);
    missing_agent.retain(|item| *item != FormItem::Generic(GenericField::CloudAgent));
    assert!(
        form_of(missing_agent)
            .check()
            .unwrap_err()
            .contains("Cloud Agent")
    );
    let mut twice = layout(&[]);
    twice.push(FormItem::NotUsed(GenericField::Query));
    assert!(form_of(twice).check().unwrap_err().contains("Query"));
    let mut name_not_used = layout(&[]);
    name_not_used[0] = FormItem::NotUsed(GenericField::Name);
    assert!(
        form_of(name_not_used)
            .check()
            .unwrap_err()
            .contains("cannot be marked not used")
    );
    const CLASH: FieldSpec = FieldSpec {
        name: "query",
        ..USER
    };
    assert!(
        form_of(layout(&[FormItem::Own(&CLASH)]))
            .check()
            .unwrap_err()
            .contains("not free")
    );
    const SECOND: FieldSpec = FieldSpec {
        name: "token",
        ..PASSWORD
    };
    let two_secrets = form_of(layout(&[FormItem::Own(&PASSWORD), FormItem::Own(&SECOND)]));
    assert!(two_secrets.check().unwrap_err().contains("one secret"));
}
