use super::*;

#[test]
fn tls_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let e = tls_config(&cert, &key).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read {}", cert.display())),
        "{e}"
    );
    std::fs::write(&cert, "no PEM here\n").unwrap();
    let e = tls_config(&cert, &key).unwrap_err().to_string();
    assert_eq!(e, format!("{}: holds no certificate (PEM)", cert.display()));
    // A certificate, whatever its contents: the key is read next.
    std::fs::write(
        &cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = tls_config(&cert, &key).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read {}", key.display())),
        "{e}"
    );
    std::fs::write(&key, "").unwrap();
    let e = tls_config(&cert, &key).unwrap_err().to_string();
    assert_eq!(e, format!("{}: holds no private key (PEM)", key.display()));
}
