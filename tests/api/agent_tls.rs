//! The agent over HTTPS, as in a customer's network: the server behind a TLS front whose
//! certificate is signed by the company's own authority, given to the agent with `--ca-file`.
//! The certificates in `tests/fixtures/tls` are for these tests only (127.0.0.1, 100 years).

use std::path::PathBuf;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig};

use crate::cloud_agent::{AgentProcess, connection_on, create_agent, fast, sandbox, until_online};
use crate::helpers::spawn_app_with;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A TLS front on 127.0.0.1 for the app at `upstream` (`host:port`), as a load balancer
/// terminating HTTPS would be; its `https://` address.
async fn tls_front(upstream: String) -> String {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(fixture("server.pem"))
            .expect("the server certificate")
            .collect::<Result<_, _>>()
            .expect("the server certificate");
    let key = PrivateKeyDer::from_pem_file(fixture("server-key.pem")).expect("the server key");
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certificates, key)
            .expect("the server's certificate and key");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("its address").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
            tokio::spawn(async move {
                // A handshake the client refused ends here, as on a real front.
                let Ok(mut client) = acceptor.accept(client).await else {
                    return;
                };
                if let Ok(mut app) = TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut app).await;
                }
            });
        }
    });
    format!("https://127.0.0.1:{port}")
}

#[actix_web::test]
async fn the_agent_works_over_https_with_the_companys_own_authority_given_by_ca_file() {
    let app = spawn_app_with(fast).await;
    let tune = sandbox().await;
    let (agent, token) = create_agent(&app, "Office LAN").await;
    let id = connection_on(&app, "Internal TUNE", agent, &tune).await;
    let front = tls_front(app.address.trim_start_matches("http://").to_string()).await;
    let ca = fixture("ca.pem");

    let process =
        AgentProcess::start_with(&front, &token, &["--ca-file", ca.to_str().unwrap()]).await;
    until_online(&app, agent, &process).await;
    let tested = app.post_htmx(&format!("/connections/{id}/test"), &[]).await;

    assert!(
        tested.body.contains("Connected to TUNE network")
            && tested.body.contains("Ran on agent “Office LAN”"),
        "{}\nagent:\n{}",
        tested.body,
        process.output()
    );
}

#[actix_web::test]
async fn without_ca_file_the_agent_refuses_the_certificate_and_says_what_to_do() {
    let app = spawn_app_with(fast).await;
    let (_agent, token) = create_agent(&app, "Office LAN").await;
    let front = tls_front(app.address.trim_start_matches("http://").to_string()).await;

    let mut process = AgentProcess::start(&front, &token).await;

    assert_eq!(process.exited().await, Some(1), "{}", process.output());
    let output = process.output();
    assert!(
        output.contains("the server's HTTPS certificate is not trusted by this agent")
            && output.contains("--ca-file"),
        "{output}"
    );
}
