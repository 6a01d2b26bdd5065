//! Import in the browser: a file chosen on the Import page, its preview, then Apply.

use crate::support::{World, seed_connection};

fn file(rows: &[(&str, u32)]) -> String {
    let connections: Vec<serde_json::Value> = rows
        .iter()
        .map(|(name, timeout)| {
            serde_json::json!({
                "name": name,
                "connector": "hasoffers",
                "is_active": true,
                "cloud_agent": "IConduct",
                "is_source": true,
                "is_target": false,
                "timeout_ms": timeout,
                "query": "SELECT id, name FROM Offer",
                "fields": {"implementation_type": "network_api", "server_url": "https://demo.api.hasoffers.com"},
                "monitoring": {"check_every": "60m", "check_query": false, "failure_threshold": 2},
                "tags": []
            })
        })
        .collect();
    serde_json::json!({"format_version": 1, "exported_at": "2026-12-03T10:00:00Z", "connections": connections})
        .to_string()
}

#[actix_web::test]
async fn an_administrator_previews_an_import_with_its_diff_and_reasons_then_applies_one() {
    let Some(world) = World::signed_in().await else {
        return;
    };
    let b = &world.browser;
    seed_connection(
        &world.app,
        "Existing",
        "https://demo.api.hasoffers.com",
        crate::helpers::API_KEY,
    )
    .await;
    let dir = tempfile::tempdir().expect("a folder for the files");
    let refused = dir.path().join("refused.json");
    std::fs::write(
        &refused,
        file(&[("Fresh", 30000), ("Existing", 45000), ("Broken", 0)]),
    )
    .unwrap();
    let good = dir.path().join("good.json");
    std::fs::write(&good, file(&[("Fresh", 30000), ("Existing", 45000)])).unwrap();

    // Connections → Import → a file with a bad row: the preview says why, and offers no Apply.
    b.open("/connections").await;
    b.link("Import").await.click().await.expect("click Import");
    b.wait_for_heading("Import connections").await;
    b.assert_accessible("the Import page").await;
    b.field("Export file")
        .await
        .send_keys(refused.to_str().unwrap())
        .await
        .expect("choose the file");
    b.button("Preview import")
        .await
        .click()
        .await
        .expect("click Preview");
    b.wait_for_heading("Import preview").await;
    b.wait_for_text("1 new, 1 changed, 0 unchanged, 1 invalid.")
        .await;
    b.wait_for_text("Use a timeout between 1 and 600000 milliseconds")
        .await;
    b.assert_accessible("the import preview").await;
    b.screenshot("import-preview").await;
    let text = b.text().await;
    assert!(
        text.contains("Timeout (ms)") && text.contains("45000"),
        "{text}"
    );
    assert!(
        b.find_all("//button[normalize-space(.) = 'Apply import']")
            .await
            .is_empty()
    );

    // The corrected file: Apply, and the new connection waits for its key.
    b.link("Upload another file")
        .await
        .click()
        .await
        .expect("click");
    b.wait_for_heading("Import connections").await;
    b.field("Export file")
        .await
        .send_keys(good.to_str().unwrap())
        .await
        .expect("choose the file");
    b.button("Preview import")
        .await
        .click()
        .await
        .expect("click Preview");
    b.wait_for_text("1 new, 1 changed, 0 unchanged, 0 invalid.")
        .await;
    b.button("Apply import")
        .await
        .click()
        .await
        .expect("click Apply");
    b.wait_for_region("status", "Import applied.").await;
    b.wait_for_heading("Connections").await;
    b.wait_for_text("Needs a key").await;
    world.close().await;
}
