//! Accessibility checks with axe-core (vendored as `axe.min.js`, version in its header).
//!
//! WebDriver's "execute script" runs outside the page's Content-Security-Policy, so the app's
//! `script-src 'self'` does not stop the injection.

use serde_json::{Value, json};

use crate::browser::Browser;

/// axe-core's own build, unmodified (MPL-2.0, see its header).
const AXE: &str = include_str!("axe.min.js");

/// Impacts that fail a test ("moderate" and "minor" ones pass; today there are none either).
const FAILING: &[&str] = &["serious", "critical"];

impl Browser {
    /// Runs axe-core (WCAG 2 A/AA rules and best practices) on the current page and fails on any
    /// serious or critical violation, naming the rule, the elements and what to fix.
    pub(crate) async fn assert_accessible(&self, page: &str) {
        let loaded = self
            .script("return typeof window.axe === 'object';", vec![])
            .await;
        if loaded != Value::Bool(true) {
            // axe's bundle attaches itself to `window` when run as a function body.
            self.script(&format!("{AXE}\n;return true;"), vec![]).await;
        }
        let result = self
            .client
            .execute_async(
                r#"
                const done = arguments[arguments.length - 1];
                const failing = arguments[0];
                window.axe
                  .run(document, {
                    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"] },
                    resultTypes: ["violations"],
                  })
                  .then((r) => done(r.violations
                    .filter((v) => failing.includes(v.impact))
                    .map((v) => `${v.impact} ${v.id}: ${v.help}\n` + v.nodes
                      .map((n) => `    at ${n.target.join(" ")}: ${n.failureSummary.replace(/\s+/g, " ")}`)
                      .join("\n"))))
                  .catch((e) => done([`axe could not run: ${e}`]));
                "#,
                vec![json!(FAILING)],
            )
            .await
            .unwrap_or_else(|e| panic!("run axe-core on {page}: {e}"));
        let violations: Vec<String> = serde_json::from_value(result).expect("axe's findings");
        assert!(
            violations.is_empty(),
            "axe-core finds serious or critical accessibility problems on {page}:\n{}",
            violations.join("\n")
        );
    }
}
