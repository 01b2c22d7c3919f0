//! HTTP tests of upload, upload/check, listing and deletion.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use super::SimConfig;
use super::test_support::{TestClient, march, send_json, start};

fn form(part_name: &str, file_name: &str, content: Vec<u8>) -> Form {
    Form::new()
        .text("createNewIfExist", "ignored-form-field")
        .part(
            part_name.to_owned(),
            Part::bytes(content).file_name(file_name.to_owned()),
        )
}

async fn upload(client: &TestClient, path_and_query: &str, form: Form) -> (u16, Value) {
    send_json(client.request(Method::POST, path_and_query).multipart(form)).await
}

async fn check(client: &TestClient, folder: i64, titles: &[&str]) -> (u16, Value) {
    let path = format!("/api/2.0/files/{folder}/upload/check");
    send_json(
        client
            .request(Method::POST, &path)
            .json(&json!({ "filesTitle": titles })),
    )
    .await
}

#[tokio::test]
async fn upload_versions_and_renames() {
    let config = SimConfig {
        portal_time_zone: chrono_tz::Europe::Berlin,
        ..march(0, 0)
    };
    let (sim, client) = start(config).await;
    let path = "/api/2.0/files/1045/upload";
    let (status, body) = upload(
        &client,
        path,
        form("file", "audit-2025-03.pdf", b"v1".to_vec()),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"], 1);
    let file = &body["response"][0];
    assert_eq!(file["title"], "audit-2025-03.pdf");
    assert_eq!(file["folderId"], 1045);
    assert_eq!(file["version"], 1);
    assert_eq!(file["versionGroup"], 1);
    assert_eq!(file["pureContentLength"], 2);
    assert_eq!(file["contentLength"], "2 bytes");
    assert_eq!(file["fileExst"], ".pdf");
    let id = file["id"].as_i64().unwrap();
    assert!(file["viewUrl"].as_str().unwrap().contains(&id.to_string()));
    assert!(file["webUrl"].as_str().unwrap().starts_with(&client.base));
    let created = file["created"].as_str().unwrap();
    assert!(
        created.ends_with("+01:00") || created.ends_with("+02:00"),
        "{created}"
    );
    assert!(file["updated"].is_string());

    // Same title, default createNewIfExist=false: a new version of the same file.
    let (_, body) = upload(
        &client,
        path,
        form("File", "audit-2025-03.pdf", b"version two".to_vec()),
    )
    .await;
    assert_eq!(body["response"][0]["id"], id);
    assert_eq!(body["response"][0]["version"], 2);
    let (_, body) = upload(
        &client,
        &format!("{path}?createNewIfExist=false"),
        form("FILE", "audit-2025-03.pdf", b"v3".to_vec()),
    )
    .await;
    assert_eq!(
        (
            body["response"][0]["id"].as_i64(),
            body["response"][0]["version"].as_i64()
        ),
        (Some(id), Some(3))
    );

    // createNewIfExist=true: renamed copies.
    let (_, body) = upload(
        &client,
        &format!("{path}?createNewIfExist=true"),
        form("file", "audit-2025-03.pdf", b"c1".to_vec()),
    )
    .await;
    assert_eq!(body["response"][0]["title"], "audit-2025-03 (1).pdf");
    assert_ne!(body["response"][0]["id"], id);
    let (_, body) = upload(
        &client,
        &format!("{path}?createNewIfExist=True"),
        form("file", "audit-2025-03.pdf", b"c2".to_vec()),
    )
    .await;
    assert_eq!(body["response"][0]["title"], "audit-2025-03 (2).pdf");

    // Sanitized file name.
    let (_, body) = upload(
        &client,
        path,
        form("file", "a:b?c*<d>|\"e\".csv", b"x".to_vec()),
    )
    .await;
    assert_eq!(body["response"][0]["title"], "a_b_c__d___e_.csv");

    let stored = sim.uploads();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0].id, id);
    assert_eq!(stored[0].version, 3);
    assert_eq!(stored[0].content, b"v3");
    assert_eq!(stored[0].folder_id, 1045);

    // Bad flag value.
    let (status, body) = upload(
        &client,
        &format!("{path}?createNewIfExist=maybe"),
        form("file", "x.pdf", vec![1]),
    )
    .await;
    assert_eq!((status, body["status"].as_i64()), (400, Some(1)));
    // No file part.
    let (status, body) = upload(&client, path, form("attachment", "x.pdf", vec![1])).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["type"], "System.ArgumentException");
}

#[tokio::test]
async fn unknown_folder_is_404() {
    let config = SimConfig {
        folders: vec![7, 8],
        ..march(0, 0)
    };
    let (sim, client) = start(config).await;
    for folder in ["1045", "abc"] {
        let (status, body) = upload(
            &client,
            &format!("/api/2.0/files/{folder}/upload"),
            form("file", "r.pdf", vec![1]),
        )
        .await;
        assert_eq!(status, 404, "{folder}");
        assert_eq!(body["status"], 1);
        assert_eq!(body["statusCode"], 404);
        assert_eq!(
            body["error"]["type"],
            "System.IO.DirectoryNotFoundException"
        );
    }
    let (status, _) = upload(
        &client,
        "/api/2.0/files/8/upload",
        form("file", "r.pdf", vec![1]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = check(&client, 9, &["r.pdf"]).await;
    assert_eq!(status, 404);
    assert_eq!(sim.uploads().len(), 1);
}

#[tokio::test]
async fn check_list_and_delete() {
    let (sim, client) = start(march(0, 0)).await;
    let path = "/api/2.0/files/1045/upload";
    let (_, body) = upload(
        &client,
        path,
        form("file", "audit-2025-03.pdf", b"pdf".to_vec()),
    )
    .await;
    let id = body["response"][0]["id"].as_i64().unwrap();
    upload(
        &client,
        path,
        form("file", "audit-2025-03.csv", b"csv".to_vec()),
    )
    .await;

    let (status, body) = check(
        &client,
        1045,
        &[
            "audit-2025-03.pdf",
            "audit-2025-04.pdf",
            "audit-2025-03.csv",
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["response"],
        json!(["audit-2025-03.pdf", "audit-2025-03.csv"])
    );
    assert_eq!(body["count"], 2);
    assert_eq!(body["links"][0]["action"], "POST");

    let (status, listing) = client
        .get_json("/api/2.0/files/1045?filterType=1&filterValue=.PDF&withSubFolders=false")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        listing["response"]["files"][0]["title"],
        "audit-2025-03.pdf"
    );
    assert_eq!(listing["response"]["total"], 1);
    assert_eq!(listing["response"]["current"]["title"], "Legal");

    let delete = |id: i64| {
        client
            .request(Method::DELETE, &format!("/api/2.0/files/file/{id}"))
            .json(&json!({"deleteAfter": false, "immediately": true}))
            .send()
    };
    let response = delete(id).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 0);
    // The deletion runs as a file operation: not finished at first, the file still there.
    assert_eq!(body["response"][0]["finished"], false);
    let operation = body["response"][0]["id"].clone();
    assert_eq!(sim.uploads().len(), 2);
    let finished = loop {
        let (_, ops) = client.get_json("/api/2.0/files/fileops").await;
        let op = ops["response"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == operation)
            .cloned()
            .unwrap();
        if op["finished"] == true {
            break op;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(finished["progress"], 100);
    assert_eq!(sim.uploads().len(), 1);
    let (_, body) = check(&client, 1045, &["audit-2025-03.pdf"]).await;
    assert_eq!(body["response"], json!([]));
    let response = delete(id).await.unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "System.IO.FileNotFoundException");
}

#[tokio::test]
async fn large_bodies_are_accepted() {
    let (sim, client) = start(march(0, 0)).await;
    let content: Vec<u8> = (0..24 * 1024 * 1024)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let (status, body) = upload(
        &client,
        "/api/2.0/files/1045/upload",
        form("file", "big.csv", content.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["response"][0]["pureContentLength"], content.len());
    assert_eq!(body["response"][0]["contentLength"], "24 MB");
    assert!(sim.uploads()[0].content == content);
}
